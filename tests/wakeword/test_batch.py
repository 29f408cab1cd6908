"""Batch scoring gives the streaming detector's scores, and the framing is the device's.

Bound: batch and streaming scores agree to atol 1e-6 (observed: bit for bit on x86-64; the
tolerance leaves room for a CPU whose batched kernels round differently).
"""

from __future__ import annotations

import numpy as np
import pytest

from device.sources import padded_frames
from tests.conftest import REFERENCE_MODELS, backend_or_skip
from wakeword.backend import BACKEND_NAMES, Backend
from wakeword.batch import (
    BatchScorer,
    batched_classifier,
    batched_melspectrogram,
    device_frames,
    frame_blocks,
)
from wakeword.detector import OpenWakeWordDetector
from wakeword.features import MelFeatureModels, StreamingFeatures

ATOL = 1e-6


def _speechlike(seconds: float, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    n = int(seconds * 16000)
    t = np.arange(n) / 16000
    envelope = np.clip(np.sin(2 * np.pi * 3 * t), 0, None) * (t % 2.0 < 1.2)
    return (9000 * envelope * rng.standard_normal(n)).astype(np.int16)


@pytest.fixture(scope="module", params=BACKEND_NAMES)
def scorer(request: pytest.FixtureRequest) -> BatchScorer:
    backend = backend_or_skip(str(request.param))
    return BatchScorer(REFERENCE_MODELS[backend.name], backend=backend)


def _streamed(
    models: tuple[str, ...], frames: np.ndarray, backend: Backend
) -> dict[str, np.ndarray]:
    detector = OpenWakeWordDetector(models, backend=backend)
    rows = [detector.process(frame) for frame in frames]
    return {n: np.array([r[n] for r in rows], dtype=np.float32) for n in detector.names}


@pytest.mark.parametrize(
    "samples",
    [
        _speechlike(7.3, seed=1),  # loud and silent stretches: per-frame mel floors differ
        _speechlike(0.03, seed=2),  # shorter than a frame
        np.zeros(0, dtype=np.int16),  # empty file: still 2 s of padding
        np.full(5000, 12000, dtype=np.int16),  # a DC step
    ],
    ids=["speechlike", "tiny", "empty", "step"],
)
def test_batch_scores_equal_streaming(scorer: BatchScorer, samples: np.ndarray) -> None:
    frames = device_frames(samples)
    batch = scorer.score(samples)
    streamed = _streamed(REFERENCE_MODELS[scorer.backend.name], frames, scorer.backend)
    assert tuple(batch) == scorer.names == tuple(streamed)
    for name in scorer.names:
        assert batch[name].dtype == np.float32 and batch[name].shape == (frames.shape[0],)
        np.testing.assert_allclose(batch[name], streamed[name], rtol=0, atol=ATOL, err_msg=name)
        assert np.all(batch[name][:5] == 0)


def test_built_in_models_really_run_batched() -> None:
    # hey_jarvis carries a verifier `If`; the rewrite must still batch it. (ONNX only: TFLite's
    # batched runs differ from single runs in the last bits, so that backend runs them singly.)
    onnx = backend_or_skip("onnx")
    scorer = BatchScorer(REFERENCE_MODELS["onnx"], backend=onnx)
    assert batched_melspectrogram(scorer.features).batched
    for model in scorer.models:
        assert batched_classifier(model).batched, model.spec.name
    assert set(m.spec.name for m in scorer.models) < set(onnx.builtin_models)


def test_device_frames_are_the_replay_frames() -> None:
    samples = _speechlike(2.5, seed=4)
    ours = device_frames(samples, pad_s=1.0)
    theirs = np.stack([f.samples for f in padded_frames([samples], "x", 1.0)])
    assert np.array_equal(ours, theirs)
    assert ours.shape == (-(-(samples.size + 32000) // 1280), 1280)


def test_mel_rows_sit_where_the_stream_puts_them(scorer: BatchScorer) -> None:
    # The embeddings over these rows reach the scores, which test_batch_scores_equal_streaming
    # compares with the streaming detector's to 1e-6.
    frames = device_frames(_speechlike(3.0, seed=5))
    stream = StreamingFeatures(MelFeatureModels(backend=scorer.backend))
    for frame in frames:
        stream.push_mel(frame)
        stream.features(1)  # as the detector asks each frame (the rows are computed lazily)
    ring = stream._mel.span(0, stream._mel.end)  # the detector's own ring (76 + 5 + 8k rows)
    mel = scorer.melspectrogram(frames)
    assert mel.shape == ring.shape == (76 + 5 + 8 * (frames.shape[0] - 1), 32)
    assert np.array_equal(mel, ring)


def test_whole_file_spectrogram_has_the_same_rows_only_approximately(backend: Backend) -> None:
    # The mel model floors its output at (max - 80 dB) over its whole input, so a file's
    # spectrogram in one piece matches the streamed rows (frames at samples 160 * j) only where
    # no frame is far quieter than the loudest; on steady noise they agree to ~2e-6.
    models = MelFeatureModels(backend=backend)
    scorer = BatchScorer(("alexa",), feature_models=models)
    noise = (np.random.default_rng(6).standard_normal(1280 * 37) * 3000).astype(np.int16)
    frames = device_frames(noise, pad_s=0.0)
    streamed = scorer.melspectrogram(frames)[76:]
    whole = models.melspectrogram(frames.reshape(-1))
    assert whole.shape[0] >= streamed.shape[0]
    np.testing.assert_allclose(whole[: streamed.shape[0]], streamed, rtol=0, atol=1e-5)
    # Silence beside loud audio: the whole-file floor lifts the silent rows, the stream's does not.
    quiet = noise.copy()
    quiet[: 1280 * 10] = 0
    frames = device_frames(quiet, pad_s=0.0)
    streamed = scorer.melspectrogram(frames)[76:]
    whole = models.melspectrogram(frames.reshape(-1))
    assert np.abs(whole[: streamed.shape[0]] - streamed).max() > 1.0


@pytest.mark.parametrize("block_frames", [1, 7, 64])
def test_scoring_in_blocks_equals_scoring_at_once(scorer: BatchScorer, block_frames: int) -> None:
    samples = _speechlike(5.0, seed=8)
    chunks = [samples[i : i + 3001] for i in range(0, samples.size, 3001)]  # odd chunk sizes
    blocks = list(frame_blocks(chunks, pad_s=1.0, block_frames=block_frames))
    assert all(b.shape[0] <= block_frames for b in blocks)
    assert np.array_equal(np.concatenate(blocks), device_frames(samples, pad_s=1.0))
    stream = scorer.stream()
    parts = [stream.push(block) for block in blocks]
    whole = scorer.score(samples)
    for name in scorer.names:
        assert np.array_equal(np.concatenate([p[name] for p in parts]), whole[name]), name
    assert stream.frames == whole["alexa"].shape[0]
