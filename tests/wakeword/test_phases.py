"""Scores at other frame phases: the strip-run embeddings equal the window-by-window ones bit for
bit, and phase ``d`` is the replay's framing shifted by ``d`` samples."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from device.audio import FRAME_SAMPLES
from device.sources import read_audio
from wakeword.batch import BatchScorer, device_frames
from wakeword.phases import STRIP_ROWS, PhaseScorer, phase_frames, strip_embedder

DATA = Path(__file__).resolve().parents[2] / "sim" / "data"


@pytest.fixture(scope="module")
def scorer() -> BatchScorer:
    return BatchScorer(("alexa",))


def test_phase_frames_shift_the_replay_by_the_offset_and_keep_the_frame_count() -> None:
    samples = np.arange(1, 5001, dtype=np.int16)
    base = device_frames(samples).reshape(-1)
    for offset in (0, 1, 320, 1279):
        shifted = phase_frames(samples, offset).reshape(-1)
        assert shifted.size == base.size
        assert not shifted[:offset].any()
        np.testing.assert_array_equal(shifted[offset:], base[: base.size - offset])
    with pytest.raises(ValueError, match="1280"):
        phase_frames(samples, FRAME_SAMPLES)


def test_strip_runs_give_the_window_by_window_embeddings(scorer: BatchScorer) -> None:
    strip = strip_embedder(scorer)
    if scorer.backend.suffix != ".onnx":
        assert strip is None
        return
    assert strip is not None
    frames = device_frames(read_audio(DATA / "alexa_time.wav"))
    ring = scorer.melspectrogram(frames)
    # The reference, window by window through the embedding model as the device runs it: frame
    # k's window is the 76 mel rows ending at row 81 + 8k (the first frame adds 5 rows, not 8).
    windows = [ring[end - 76 : end] for end in range(81, ring.shape[0] + 1, 8)]
    expected = np.concatenate([scorer.features.embed(w[None]) for w in windows])
    got = strip(ring[81 - 76 :])
    np.testing.assert_array_equal(got, expected)


def test_phase_scores_equal_the_batch_scorer_at_every_phase(scorer: BatchScorer) -> None:
    samples = read_audio(DATA / "alexa_lights.wav")
    phased = PhaseScorer(scorer)
    offsets = [0, 333, 640, 1279]
    results = phased.score(samples, offsets)
    for offset, result in zip(offsets, results, strict=True):
        expected = scorer.score_frames(phase_frames(samples, offset))
        np.testing.assert_array_equal(result["alexa"], expected["alexa"])
    # Different phases really are different framings (the scores move).
    assert not np.array_equal(results[0]["alexa"], results[2]["alexa"])


def test_long_inputs_are_cut_into_several_strips(scorer: BatchScorer) -> None:
    phased = PhaseScorer(scorer)
    if phased.strip is None:
        pytest.skip("the backend's embedding model cannot run on strips")
    frames_needed = STRIP_ROWS // 8 + 200  # more windows than one strip holds
    rng = np.random.default_rng(5)
    samples = (rng.standard_normal(frames_needed * FRAME_SAMPLES) * 3000).astype(np.int16)
    frames = device_frames(samples)
    np.testing.assert_array_equal(
        phased.score_frames(frames)["alexa"], scorer.score_frames(frames)["alexa"]
    )
