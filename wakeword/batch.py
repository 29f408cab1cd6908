"""Whole-file scoring: the streaming detector's scores, computed in a few batched model runs.

:class:`BatchScorer` gives, for a file, exactly the per-frame scores that
:class:`wakeword.detector.OpenWakeWordDetector` computes when the device replays it (same
framing: :data:`device.sources.REPLAY_PAD_S` of silence before and after, the last partial frame
zero-padded), without any per-frame Python work:

* **Mel spectrogram**: every frame's 1760-sample input (the frame and the 480 samples before it,
  the first frame alone) goes through the mel model as one batch, in blocks of
  :data:`MEL_BLOCK_FRAMES` frames. The rows sit at sample offsets ``160 * j``, so the spectrogram
  of the whole file in one piece gives the same rows, but only to within about 2e-6 (the model's
  FFT rounds differently on a longer input, ``tests/wakeword/test_batch.py`` checks both); the
  batched frames are bit-for-bit the streamed ones and cost about the same (mel is ~1,000x real
  time, the embedding ~40x).
* **Speech embedding**: frame ``k``'s window is mel rows ``5 + 8k`` to ``81 + 8k`` of the ring
  that starts with 76 rows of ones (verified against the streaming ring in the tests). Windows go
  through the embedding model :data:`EMBEDDING_BATCH` at a time: measured here, 1.61 ms a window
  at batch 1, 1.54 ms at 4 to 16, 1.59 ms at 32 and 2.1 ms at 128 (cache pressure), with results
  bit-for-bit equal at every batch size.
* **Wake-word models**: all ``N``-feature windows of the file in one run per
  :data:`CLASSIFIER_BLOCK` windows. The built-in models are exported with a fixed batch of 1;
  :func:`batched_classifier` rewrites the batch dimension (and ``hey_jarvis``'s verifier ``If``,
  which cannot take a batch, into an element-wise ``Where``) with the ``onnx`` package and checks
  on probe windows that the batched model gives the per-window results bit for bit; a model it
  cannot rewrite is run window by window instead (same results, slower).
* The first 5 frames score 0, as in the detector; the start features are the detector's seeded
  ones.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import onnxruntime as ort

from device.audio import FRAME_SAMPLES, Pcm
from device.sources import REPLAY_PAD_S, with_silence
from wakeword.backend import Backend, installed_backend
from wakeword.detector import WARMUP_FRAMES, WakeWordModel, load_models
from wakeword.features import (
    EMBEDDING_DIM,
    EMBEDDING_WINDOW,
    MEL_BINS,
    MEL_CONTEXT_SAMPLES,
    MEL_ROWS_PER_FRAME,
    MEL_START_ROWS,
    START_FEATURE_FRAMES,
    MelFeatureModels,
    start_features,
)
from wakeword.sessions import session_from_model

__all__ = [
    "BLOCK_FRAMES",
    "CLASSIFIER_BLOCK",
    "EMBEDDING_BATCH",
    "MEL_BLOCK_FRAMES",
    "BatchScorer",
    "BatchStream",
    "BatchedRun",
    "batched_classifier",
    "batched_melspectrogram",
    "device_frames",
    "frame_blocks",
]

EMBEDDING_BATCH = 8
"""Mel windows per embedding-model run (see the module docstring for the measurement)."""
BLOCK_FRAMES = 1536
"""Frames scored together (123 s): bounds memory on long inputs (mel inputs of a block are
11 MB); a multiple of 3 so that 30 ms VAD sub-frames never straddle two blocks."""
MEL_BLOCK_FRAMES = 1024
"""Frames per mel-model run (bounds memory: 1024 x 1760 float32 is 7 MB)."""
CLASSIFIER_BLOCK = 2048
"""Feature windows per wake-word-model run (2048 x 16 x 96 float32 is 12 MB)."""

Scores = npt.NDArray[np.float32]


@dataclass(frozen=True)
class BatchedRun:
    """A model run over a batch, and whether it really is one run (else a loop of single runs,
    the fallback for a graph that cannot take a batch; same results, slower)."""

    run: Callable[[npt.NDArray[Any]], npt.NDArray[np.float32]]
    batched: bool

    def __call__(self, inputs: npt.NDArray[Any]) -> npt.NDArray[np.float32]:
        return self.run(inputs)


def device_frames(samples: Pcm, pad_s: float = REPLAY_PAD_S) -> npt.NDArray[np.int16]:
    """A file's samples cut as the device's replay cuts them: ``(frames, 1280)`` int16.

    ``pad_s`` seconds of silence before and after (frame 0 starts ``pad_s`` before the file), and
    the last partial frame padded with zeros, like :func:`device.sources.padded_frames`.
    """
    blocks = list(frame_blocks([samples], pad_s))
    return np.concatenate(blocks) if blocks else np.zeros((0, FRAME_SAMPLES), dtype=np.int16)


def _as_batched(path: str) -> ort.InferenceSession | None:
    """The model with a free batch dimension, or None when it cannot be rewritten."""
    if not path.endswith(".onnx"):  # TFLite models: the probe found batches not bit-exact
        return None
    try:
        import onnx
        from onnx import helper
    except ImportError:  # pragma: no cover - onnx is a dependency; run per window without it
        return None
    model = onnx.load(path)
    graph = model.graph
    for value in (*graph.input, *graph.output):
        dims = value.type.tensor_type.shape.dim
        if dims:
            dims[0].ClearField("dim_value")
            dims[0].dim_param = "batch"
    rewritten = []
    for node in graph.node:
        if node.op_type in ("Loop", "Scan"):
            return None
        if node.op_type != "If":
            rewritten.append(node)
            continue
        # A per-window choice between two single-output branches (openWakeWord's verifier
        # models: "if score >= c: verifier score else score") becomes Where(cond, then, else),
        # both branches computed for every window.
        branches = {a.name: a.g for a in node.attribute}
        then_g, else_g = branches.get("then_branch"), branches.get("else_branch")
        if then_g is None or else_g is None or len(node.output) != 1:
            return None
        if len(then_g.output) != 1 or len(else_g.output) != 1:
            return None
        graph.initializer.extend([*then_g.initializer, *else_g.initializer])
        rewritten.extend([*then_g.node, *else_g.node])
        rewritten.append(
            helper.make_node(
                "Where",
                [node.input[0], then_g.output[0].name, else_g.output[0].name],
                [node.output[0]],
                name=f"{node.name}_as_where",
            )
        )
    del graph.node[:]
    graph.node.extend(rewritten)
    return session_from_model(model)


def _per_row_mel(path: str) -> ort.InferenceSession | None:
    """openWakeWord's mel model with its decibel floor taken per batch row.

    The model clips its log-mel output at ``max - 80 dB`` where the max is taken over the *whole*
    input tensor (``ReduceMax`` over every axis, then a scalar ``Clip``). Streaming runs one
    1760-sample frame at a time, so each frame gets its own floor; a batch would share one. The
    rewrite takes the max over each row (``axes=[1, 2, 3]``, kept dims) and applies the floor with
    an element-wise ``Max``, which is the same arithmetic per row.
    """
    try:
        import onnx
        from onnx import helper
    except ImportError:  # pragma: no cover - onnx is a dependency; run per frame without it
        return None
    model = onnx.load(path)
    graph = model.graph
    reduce_max = [n for n in graph.node if n.op_type == "ReduceMax"]
    if len(reduce_max) != 1 or graph.node[-1].op_type != "Clip":
        return None
    node = reduce_max[0]
    del node.attribute[:]
    node.attribute.extend(
        [helper.make_attribute("axes", [1, 2, 3]), helper.make_attribute("keepdims", 1)]
    )
    clip = graph.node[-1]
    floor = helper.make_node("Max", [clip.input[0], clip.input[1]], [clip.output[0]])
    graph.node.remove(clip)
    graph.node.append(floor)
    return session_from_model(model)


def batched_classifier(model: WakeWordModel) -> BatchedRun:
    """A function scoring ``(B, N, 96)`` feature windows at once, ``-> (B, outputs)``.

    Uses the batch-rewritten model when it reproduces the original bit for bit on probe windows
    (checked here, once), else runs the original model window by window.
    """
    name = model.input_name
    zeros = np.zeros((1, model.feature_frames, EMBEDDING_DIM), np.float32)
    n_out = int(np.asarray(model.session.run(None, {name: zeros})[0]).size)

    def per_window(windows: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
        out = np.empty((windows.shape[0], n_out), dtype=np.float32)
        for i in range(windows.shape[0]):
            out[i] = model.session.run(None, {name: windows[i : i + 1]})[0].reshape(-1)
        return out

    batched = _as_batched(str(model.spec.path))
    if batched is None:
        return BatchedRun(per_window, batched=False)
    # Probe: windows that push every branch (low and high scores) through both paths.
    rng = np.random.default_rng(1)
    probe = (rng.standard_normal((6, model.feature_frames, EMBEDDING_DIM)) * 2).astype(np.float32)
    try:
        got = batched.run(None, {name: probe})[0].reshape(probe.shape[0], -1)
    except Exception:  # onnxruntime's errors are untyped; the slow path is always right
        return BatchedRun(per_window, batched=False)
    if not np.array_equal(got, per_window(probe)):
        return BatchedRun(per_window, batched=False)

    def all_at_once(windows: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
        result: npt.NDArray[np.float32] = batched.run(None, {name: windows})[0]
        return result.reshape(windows.shape[0], -1)

    return BatchedRun(all_at_once, batched=True)


def batched_melspectrogram(features: MelFeatureModels) -> BatchedRun:
    """A function from ``(B, 1760)`` int16 frame inputs to their ``(B * 8, 32)`` mel rows.

    Each row is computed as if run alone (see :func:`_per_row_mel`); checked here, once, on probe
    inputs against single runs of the original model, else it runs them one at a time.
    """

    def one_by_one(inputs: npt.NDArray[np.int16]) -> npt.NDArray[np.float32]:
        return np.concatenate([features.melspectrogram(row) for row in inputs])

    session: Any
    if features.backend.suffix == ".onnx":
        session = _per_row_mel(str(features.backend.mel_model))
    else:  # TFLite's mel model takes a batch as is; the probe below checks it floors per row
        session = features.mel
    if session is None:
        return BatchedRun(one_by_one, batched=False)
    name = session.get_inputs()[0].name

    def batched(inputs: npt.NDArray[np.int16]) -> npt.NDArray[np.float32]:
        out = session.run(None, {name: inputs.astype(np.float32)})[0]
        rows: npt.NDArray[np.float32] = (out.reshape(-1, MEL_BINS) / 10 + 2).astype(
            np.float32, copy=False
        )
        return rows

    rng = np.random.default_rng(2)
    span = FRAME_SAMPLES + MEL_CONTEXT_SAMPLES
    probe = np.stack(
        [
            np.zeros(span, dtype=np.int16),
            rng.integers(-30000, 30000, span).astype(np.int16),
            rng.integers(-3, 3, span).astype(np.int16),
            np.concatenate((np.zeros(span - 300, np.int16), np.full(300, 20000, np.int16))),
        ]
    )
    try:
        if np.array_equal(batched(probe), one_by_one(probe)):
            return BatchedRun(batched, batched=True)
    except Exception:  # onnxruntime's errors are untyped; the slow path is always right
        pass
    return BatchedRun(one_by_one, batched=False)


class BatchScorer:
    """Scores whole files with one or more models, as the streaming detector would.

    Build one per process (loading and checking the models takes a fraction of a second) and
    call :meth:`score` for every file, or :meth:`stream` to score a long input block by block in
    bounded memory (a 24-hour stream is never held whole).
    """

    def __init__(
        self,
        models: Sequence[str] = ("alexa",),
        *,
        feature_models: MelFeatureModels | None = None,
        embedding_batch: int = EMBEDDING_BATCH,
        backend: Backend | None = None,
    ) -> None:
        if backend is None:
            backend = feature_models.backend if feature_models is not None else installed_backend()
        self.backend = backend
        """The runtime and model files the scores come from."""
        self.models = load_models(models, backend)
        self.names: tuple[str, ...] = tuple(
            label for model in self.models for _, label in model.labels
        )
        """The score names, as :attr:`OpenWakeWordDetector.names`."""
        self.features = (
            feature_models if feature_models is not None else MelFeatureModels(backend=backend)
        )
        self.embedding_batch = embedding_batch
        self.classifiers = tuple(batched_classifier(m) for m in self.models)
        self.mel_frames = batched_melspectrogram(self.features)

    def score(self, samples: Pcm, pad_s: float = REPLAY_PAD_S) -> dict[str, Scores]:
        """Per-frame scores of a file's samples, framed as the device replays it."""
        return self.score_frames(device_frames(samples, pad_s))

    def score_frames(self, frames: npt.NDArray[np.int16]) -> dict[str, Scores]:
        """Per-frame scores of consecutive ``(frames, 1280)`` int16 frames, from a fresh start."""
        stream = self.stream()
        blocks = range(0, len(frames), BLOCK_FRAMES)
        return _join(self.names, [stream.push(frames[i : i + BLOCK_FRAMES]) for i in blocks])

    def melspectrogram(self, frames: npt.NDArray[np.int16]) -> npt.NDArray[np.float32]:
        """The detector's mel ring after these frames: 76 rows of ones, then 5 + 8 per frame."""
        rows = BatchStream(self)._melspectrogram(frames)
        return np.concatenate((np.ones((MEL_START_ROWS, MEL_BINS), dtype=np.float32), rows))

    def stream(self) -> BatchStream:
        """A fresh input to score block by block (see :class:`BatchStream`)."""
        return BatchStream(self)


def _join(names: Sequence[str], parts: Sequence[dict[str, Scores]]) -> dict[str, Scores]:
    if not parts:
        return {name: np.zeros(0, dtype=np.float32) for name in names}
    return {name: np.concatenate([part[name] for part in parts]) for name in names}


class BatchStream:
    """One input scored in blocks of consecutive frames, each block in a few batched runs.

    Between blocks it carries what the next block's first frames need: the last 480 samples (mel
    context), the last 76 mel rows (the embedding window) and the last 40 features (the longest
    model window, less one). The scores are those of one :meth:`BatchScorer.score_frames` call
    over all the blocks (tested), whatever the block sizes.
    """

    def __init__(self, scorer: BatchScorer) -> None:
        self.scorer = scorer
        self.frames = 0
        """Frames scored so far."""
        self._samples_tail = np.zeros(0, dtype=np.int16)
        self._mel_tail = np.ones((MEL_START_ROWS, MEL_BINS), dtype=np.float32)
        self._features_tail = start_features(scorer.backend)

    def push(self, frames: npt.NDArray[np.int16]) -> dict[str, Scores]:
        """Scores of the next ``(n, 1280)`` int16 frames."""
        n = frames.shape[0]
        if n == 0:
            return _join(self.scorer.names, [])
        new_rows = self._melspectrogram(frames)
        ring = np.concatenate((self._mel_tail, new_rows))
        features = self._embeddings(ring, n)
        history = np.concatenate((self._features_tail, features))
        scores = self._classify(history, n)
        self._mel_tail = ring[-EMBEDDING_WINDOW:]
        self._features_tail = history[-(START_FEATURE_FRAMES - 1) :]
        self._samples_tail = frames[-1, -MEL_CONTEXT_SAMPLES:].copy()
        self.frames += n
        return scores

    def _melspectrogram(self, frames: npt.NDArray[np.int16]) -> npt.NDArray[np.float32]:
        """Mel rows of these frames: 8 a frame (5 for the input's very first frame)."""
        parts = []
        if self.frames == 0:
            parts.append(self.scorer.features.melspectrogram(frames[0]))
            flat, first = frames.reshape(-1), 1
        else:
            flat, first = np.concatenate((self._samples_tail, frames.reshape(-1))), 0
        if first >= frames.shape[0]:
            return np.concatenate(parts)
        span = FRAME_SAMPLES + MEL_CONTEXT_SAMPLES
        inputs = np.lib.stride_tricks.sliding_window_view(flat, span)
        # Frame i's input starts 480 samples before it; in `flat` (which starts 480 samples
        # before frame 0 unless this is the input's first block) that is sample 1280 * i.
        shift = MEL_CONTEXT_SAMPLES if self.frames == 0 else 0
        for lo in range(first, frames.shape[0], MEL_BLOCK_FRAMES):
            hi = min(frames.shape[0], lo + MEL_BLOCK_FRAMES)
            parts.append(self.scorer.mel_frames(inputs[np.arange(lo, hi) * FRAME_SAMPLES - shift]))
        return np.concatenate(parts)

    def _embeddings(self, ring: npt.NDArray[np.float32], n: int) -> npt.NDArray[np.float32]:
        """One feature per new frame: each window is the last 76 ring rows after its frame."""
        first = ring.shape[0] - MEL_ROWS_PER_FRAME * (n - 1) - EMBEDDING_WINDOW
        windows = np.lib.stride_tricks.sliding_window_view(ring, (EMBEDDING_WINDOW, MEL_BINS))[
            first::MEL_ROWS_PER_FRAME, 0
        ]
        batch = self.scorer.embedding_batch
        out = np.empty((n, EMBEDDING_DIM), dtype=np.float32)
        for i in range(0, n, batch):
            out[i : i + batch] = self.scorer.features.embed(windows[i : i + batch])
        return out

    def _classify(self, history: npt.NDArray[np.float32], n: int) -> dict[str, Scores]:
        offset = history.shape[0] - n  # index of the first new feature
        scores: dict[str, Scores] = {}
        for model, classify in zip(self.scorer.models, self.scorer.classifiers, strict=True):
            width = model.feature_frames
            windows = np.lib.stride_tricks.sliding_window_view(history, (width, EMBEDDING_DIM))[
                offset - width + 1 : offset - width + 1 + n, 0
            ]
            rows = np.concatenate(
                [
                    classify(np.ascontiguousarray(windows[i : i + CLASSIFIER_BLOCK]))
                    for i in range(0, n, CLASSIFIER_BLOCK)
                ]
            )
            for column, label in model.labels:
                column_scores = rows[:, column].astype(np.float32)
                column_scores[: max(0, WARMUP_FRAMES - self.frames)] = 0.0
                scores[label] = column_scores
        return scores


def frame_blocks(
    chunks: Iterable[Pcm], pad_s: float = REPLAY_PAD_S, block_frames: int = BLOCK_FRAMES
) -> Iterator[npt.NDArray[np.int16]]:
    """Re-cut an input's chunks into ``(<= block_frames, 1280)`` blocks, as the device frames it.

    ``pad_s`` of silence before and after; the last partial frame zero-padded. Concatenated, the
    blocks equal :func:`device_frames` of the whole input.
    """
    block_samples = block_frames * FRAME_SAMPLES
    pending: list[Pcm] = []
    held = 0
    for chunk in with_silence(chunks, pad_s):
        pending.append(chunk)
        held += chunk.size
        while held >= block_samples:
            flat = np.concatenate(pending)
            yield flat[:block_samples].reshape(block_frames, FRAME_SAMPLES)
            rest = flat[block_samples:]
            pending, held = [rest], rest.size
    if held:
        flat = np.concatenate(pending)
        n = -(-flat.size // FRAME_SAMPLES)
        last = np.zeros(n * FRAME_SAMPLES, dtype=np.int16)
        last[: flat.size] = flat
        yield last.reshape(n, FRAME_SAMPLES)
