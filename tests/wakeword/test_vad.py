"""webrtcvad on 80 ms frames."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from keepmum.errors import ConfigError
from tests.wakeword.frames import frames_of, webrtc_flags
from wakeword.vad import VadSettings, WebRtcVad


def voiced(seconds: float, seed: int = 0) -> np.ndarray:
    """A crude voiced sound: a 140 Hz pulse train through formant-like resonances, with jitter."""
    rng = np.random.default_rng(seed)
    n = int(seconds * 16000)
    t = np.arange(n) / 16000
    source = np.sign(np.sin(2 * np.pi * 140 * t)) * 0.3
    shaped = source * (
        0.6 * np.sin(2 * np.pi * 700 * t) + 0.4 * np.sin(2 * np.pi * 1200 * t)
    ) + 0.02 * rng.standard_normal(n)
    return (shaped * 12000).astype(np.int16)


def test_silence_is_not_speech_and_voice_is() -> None:
    silence = np.zeros(16000, dtype=np.int16)
    assert not webrtc_flags(frames_of(silence), VadSettings(aggressiveness=2)).any()
    flags = webrtc_flags(frames_of(voiced(2.0)), VadSettings(aggressiveness=2))
    assert flags.mean() > 0.8


@pytest.mark.parametrize("subframe_ms", [10, 20, 30])
def test_every_subframe_length_gives_the_same_picture(subframe_ms: int) -> None:
    audio = np.concatenate([np.zeros(16000, np.int16), voiced(1.5), np.zeros(16000, np.int16)])
    flags = webrtc_flags(frames_of(audio), VadSettings(subframe_ms=subframe_ms))
    assert not flags[:10].any() and flags[15:28].mean() > 0.8 and not flags[-8:].any()


def test_reset_makes_results_independent_of_history() -> None:
    vad = WebRtcVad()
    clip = frames_of(voiced(1.0, seed=3))
    first = webrtc_flags(clip, vad)
    webrtc_flags(frames_of(voiced(5.0, seed=4)), vad)
    vad.reset()
    assert np.array_equal(webrtc_flags(clip, vad), first)


@pytest.mark.parametrize(
    "arguments",
    [{"aggressiveness": 4}, {"subframe_ms": 25}, {"speech_ratio": 0.0}],
)
def test_bad_settings(arguments: dict[str, Any]) -> None:
    with pytest.raises(ConfigError):
        WebRtcVad(VadSettings(**arguments))


def test_real_speech_against_cobra_ground_truth(shared_audio) -> None:  # type: ignore[no-untyped-def]
    from device.sources import read_audio

    audio = read_audio(shared_audio / "vad/cobra/sample.wav")
    flags = webrtc_flags(frames_of(audio))
    # Ground truth in 32 ms frames: [28,53),[97,121),[163,183),[227,252) are voice.
    truth = np.zeros(len(flags), dtype=bool)
    for start, end in [(28, 53), (97, 121), (163, 183), (227, 252)]:
        truth[int(start * 0.032 / 0.08) : int(end * 0.032 / 0.08)] = True
    agreement = (flags == truth).mean()
    assert agreement > 0.8
