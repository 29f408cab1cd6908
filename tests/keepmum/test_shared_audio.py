"""The issue's bar on human recordings (../shared/audio): a wake word followed by a request is
kept, the wake word alone is discarded, in process, from arrays and from a 48 kHz stream."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

import keepmum

pytestmark = pytest.mark.shared_audio

RATE = 16000


def _clip(folder: Path, relative: str) -> np.ndarray:
    samples, rate = sf.read(folder / relative, dtype="float32")
    assert rate == RATE
    return samples


def _pause(seconds: float) -> np.ndarray:
    return np.zeros(int(seconds * RATE), dtype=np.float32)


@pytest.fixture
def wake_and_request(shared_audio: Path) -> tuple[np.ndarray, np.ndarray]:
    wake = _clip(shared_audio, "wake/wyoming/alexa.wav")
    # The clip's last words: "turn on the office lights".
    speech = _clip(shared_audio, "speech/openwakeword/turn_on_the_office_lights_test_clip.wav")
    return wake, speech[-int(2.5 * RATE) :]


def test_a_request_after_a_human_wake_word_is_kept(
    wake_and_request: tuple[np.ndarray, np.ndarray],
) -> None:
    wake, request = wake_and_request
    run = keepmum.replay(np.concatenate([wake, _pause(0.2), request, _pause(1.0)]))
    assert [w["model"] for w in run.wakes] == ["alexa"]
    assert len(run.kept) == 1 and run.discarded == []


def test_a_human_wake_word_alone_is_discarded(
    wake_and_request: tuple[np.ndarray, np.ndarray],
) -> None:
    wake, _ = wake_and_request
    run = keepmum.Device().replay(np.concatenate([wake, _pause(3.0)]))
    assert len(run.wakes) == 1 and run.kept == [] and len(run.discarded) == 1


def test_the_same_audio_as_a_48k_stream_is_kept(
    wake_and_request: tuple[np.ndarray, np.ndarray],
) -> None:
    wake, request = wake_and_request
    audio = np.concatenate([wake, _pause(0.2), request, _pause(1.0)])
    upsampled = np.interp(np.arange(len(audio) * 3) / 3, np.arange(len(audio)), audio)
    chunks = (upsampled[i : i + 4800] for i in range(0, len(upsampled), 4800))
    run = keepmum.replay(chunks, rate=48000)
    keepmum.assert_events(run, [{"event": "wake", "model": "alexa"}, {"event": "utterance_end"}])
