"""``scripts/make_request_sets.py``'s labels: where a clip's speech is.

A request placed "0.5 s after the wake word" must start 0.5 s after it. Silero VAD, judging a
clip's first 80 ms without context, gave 0.5 to a second of near-silence (-85 dBFS) that opens
some crowd-sourced keyword clips, and those requests were labelled as starting 1.2 s before
anyone spoke. The Silero stand-in here says "speech" exactly where the test wants it, so the
rule is tested without the real recordings (the sets themselves need ``../shared``).
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import numpy as np
import numpy.typing as npt
import pytest

from device.audio import FRAME_SAMPLES
from tests.e2e.conftest import REPO


@pytest.fixture(scope="module")
def script() -> ModuleType:
    path = REPO / "scripts" / "make_request_sets.py"
    spec = importlib.util.spec_from_file_location("make_request_sets", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while it loads
    spec.loader.exec_module(module)
    return module


class SileroSays:
    """A stand-in for :class:`wakeword.silero.SileroVad`: fixed per-frame probabilities."""

    def __init__(self, probabilities: list[float]) -> None:
        self._p = np.array(probabilities, dtype=np.float32)

    def frame_probabilities(self, pcm: npt.NDArray[np.int16]) -> npt.NDArray[np.float32]:
        assert len(pcm) == len(self._p) * FRAME_SAMPLES
        return self._p


def clip(levels_dbfs: list[float]) -> npt.NDArray[np.float64]:
    """One 80 ms frame of noise per level (RMS dBFS)."""
    rng = np.random.default_rng(1)
    frames = [
        rng.standard_normal(FRAME_SAMPLES) * 32768 * 10 ** (level / 20) for level in levels_dbfs
    ]
    return np.concatenate(frames)


def test_a_silent_lead_in_that_silero_calls_speech_is_not_the_start(script: ModuleType) -> None:
    levels = [-85.0] * 14 + [-44.0, -18.0, -24.0, -20.0, -55.0, -84.0]
    probabilities = [0.5] + [0.05] * 13 + [0.94, 1.0, 0.99, 0.9, 0.13, 0.4]
    region = script.speech_region(clip(levels), SileroSays(probabilities))
    assert (region.start, region.stop) == (14 * FRAME_SAMPLES, 18 * FRAME_SAMPLES)


def test_quiet_onsets_of_a_word_are_speech(script: ModuleType) -> None:
    # 26 dB under the word's peak: a real onset, kept (SPEECH_RANGE_DB is 30).
    levels = [-70.0, -44.0, -18.0, -30.0, -70.0]
    probabilities = [0.1, 0.8, 1.0, 0.9, 0.1]
    region = script.speech_region(clip(levels), SileroSays(probabilities))
    assert (region.start, region.stop) == (1 * FRAME_SAMPLES, 4 * FRAME_SAMPLES)


def test_a_clip_silero_never_calls_speech_is_taken_whole(script: ModuleType) -> None:
    samples = clip([-40.0, -30.0])
    region = script.speech_region(samples, SileroSays([0.1, 0.2]))
    assert (region.start, region.stop) == (0, len(samples))


@pytest.mark.parametrize("gain", ["11", "-41", "loud"])
def test_a_wake_gain_out_of_range_is_a_one_line_error(
    script: ModuleType, tmp_path: Path, capsys: pytest.CaptureFixture[str], gain: str
) -> None:
    (tmp_path / "wake").mkdir()
    argv = ["--shared", str(tmp_path), "--out", str(tmp_path / "out"), "--wake-gain-db", gain]
    if gain == "loud":  # argparse's own error: also status 2, naming the option
        with pytest.raises(SystemExit) as stopped:
            script.main(argv)
        assert stopped.value.code == 2
    else:
        assert script.main(argv) == 2
    err = capsys.readouterr().err
    assert "--wake-gain-db" in err and "Traceback" not in err
    assert not (tmp_path / "out").exists()


def test_each_recording_is_in_one_split_for_good(script: ModuleType) -> None:
    from sim.research.shared_audio import HEARD_POSITIVES

    splits = {name: script.split_of(f"wake/{name}") for name in HEARD_POSITIVES}
    assert set(splits.values()) == {"dev", "heldout"}  # both splits have wake words
    assert splits == {name: script.split_of(f"wake/{name}") for name in HEARD_POSITIVES}
    # Written in the script, not chosen per run: this clip is held out.
    assert script.split_of("wake/wyoming/alexa.wav") == "heldout"
    assert script.split_of(script.SAME_SPEAKER_CLIP) == "dev"
    assert script.SPLIT_SEEDS["dev"] != script.SPLIT_SEEDS["heldout"]


def test_no_held_out_same_person_pair_survives_the_leak_rule(script: ModuleType) -> None:
    # Both halves of every same-voice pair are held out, but each pair has a recording that is
    # development audio (HELD_OUT_EXCLUDED), so the held-out build writes no same_speaker folder.
    from sim.research.shared_audio import HEARD_POSITIVES

    assert len(script.SAME_VOICE_PAIRS) == 3
    for wake, request in script.SAME_VOICE_PAIRS:
        assert wake in HEARD_POSITIVES and request.startswith("wake/")
        assert script.split_of(f"wake/{wake}") == script.split_of(request) == "heldout"
        assert set(script.HELD_OUT_EXCLUDED) & {f"wake/{wake}", request}


VOICES = {0: (1.0, 0.0), 1: (0.8, 0.6), 2: (0.6, 0.8)}
"""Fake voices: 1 scores 0.80 against 0 (over the 0.75 cut), 2 scores 0.60 (under it)."""


def fake_embed(samples: npt.NDArray[np.int16]) -> npt.NDArray[np.float32]:
    """A stand-in voice encoder: the clip's first sample says whose voice it is."""
    return np.array(VOICES[int(samples[0])], dtype=np.float32)


def fake_clip(voice: int, seed: int) -> npt.NDArray[np.int16]:
    samples = np.random.default_rng(seed).integers(-3000, 3000, 1600).astype(np.int16)
    samples[0] = voice
    return samples


def test_a_held_out_clip_with_a_dev_clips_samples_or_voice_is_a_leak(script: ModuleType) -> None:
    dev = {"wake/dev.wav": fake_clip(0, seed=1)}
    held = {
        "wake/copy.flac": dev["wake/dev.wav"].copy(),  # other name and format, same samples
        "wake/kin.wav": fake_clip(1, seed=2),  # the dev clip's voice (cosine 0.80)
        "wake/other.wav": fake_clip(2, seed=3),  # another voice (cosine 0.60)
    }
    leaks = script.held_out_leaks(held, dev, fake_embed)
    assert set(leaks) == {"wake/copy.flac", "wake/kin.wav"}
    assert leaks["wake/copy.flac"] == "the same samples as wake/dev.wav"
    assert leaks["wake/kin.wav"] == "the voice of wake/dev.wav (cosine 0.80)"
    assert script.VOICE_LEAK_COSINE == 0.75


def test_a_held_out_build_refuses_a_leak_it_does_not_name(script: ModuleType) -> None:
    leaks = {
        "wake/new/clip.wav": "the same samples as wake/dev.wav",
        script.HELD_OUT_EXCLUDED[0]: "the same samples as wake/pymicro/alexa/1.wav",
        "keywords/computer/x.flac": "the voice of keywords/snowboy/y.flac (cosine 0.90)",
    }
    # Named exclusions and sifted pools are left out; anything else stops the build.
    assert script.refused_leaks(leaks) == [
        "wake/new/clip.wav: held out, but the same samples as wake/dev.wav in the development split"
    ]
    assert script.refused_leaks({}) == []


@pytest.mark.shared_audio
def test_no_held_out_recording_is_a_dev_recordings_samples(
    script: ModuleType, shared_audio: Path
) -> None:
    from sim.research.corpus import read_clip

    excluded = script.held_out_exclusions(shared_audio)
    assert excluded is not None and set(script.HELD_OUT_EXCLUDED) <= excluded
    held = [n for n in script.split_sources(shared_audio, "heldout") if n not in excluded]
    dev = script.split_sources(shared_audio, "dev")
    from sim.research.shared_audio import HEARD_POSITIVES

    assert len({f"wake/{n}" for n in HEARD_POSITIVES} & set(held)) == 4  # wake clips left
    digest = script._samples_digest
    dev_digests = {digest(read_clip(shared_audio / n)) for n in dev}
    assert not [n for n in held if digest(read_clip(shared_audio / n)) in dev_digests]


def test_pauses_are_drawn_as_people_pause(script: ModuleType) -> None:
    rng = np.random.default_rng(0)
    pauses = np.array([script.pause_draw(rng) for _ in range(4000)])
    assert pauses.min() >= 0.2 and pauses.max() <= 4.0
    shares = [
        np.mean(pauses < 1.0),
        np.mean((pauses >= 1.0) & (pauses < 2.0)),
        np.mean(pauses >= 2.0),
    ]
    assert shares == pytest.approx([0.5, 0.25, 0.25], abs=0.03)
