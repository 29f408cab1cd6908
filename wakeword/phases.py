"""A file's scores at other frame phases: the same audio, its 80 ms frames starting elsewhere.

The device cuts what it hears into 1280-sample frames wherever the stream happens to start, so
the phase of the frames against the words is arbitrary, and the scores depend on it (a near-miss
phrase scored 0.61, 0.80, 0.97, 0.62 and 0.98 at different offsets). Phase ``d`` (samples, 0 to
1279) is the replay's framing with ``d`` more samples of silence before the file and ``d`` fewer
after it, so every phase has the same number of frames and frame ``k`` of phase ``d`` ends ``d``
samples earlier in the audio than frame ``k`` of phase 0.

The mel spectrogram works on raw audio, so each phase needs its own mel pass (cheap, about
2,000x real time). The speech embedding, most of the cost, is shared differently: the embedding
model is convolutional in time with no padding in time and a total time stride of 8 mel rows
(three max-pools of stride 2), so run once over a whole strip of mel rows it yields the
embeddings of every 76-row window that starts a multiple of 8 rows after the strip's start, which
are exactly one phase's windows. :func:`strip_embedder` rewrites the model's fixed 76-row input
into a free length (and its output reshape into a transpose), and checks on probe strips that
the results equal the window-by-window ones bit for bit; measured here it is about 6x cheaper
than the window-by-window runs (0.20 s against 1.24 s of CPU for 1,000 windows), because the
early layers no longer recompute the 68 rows that neighbouring windows share. A backend or model
it cannot rewrite (TFLite) runs window by window (same scores, slower).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import numpy.typing as npt

from device.audio import FRAME_SAMPLES, Pcm
from device.sources import REPLAY_PAD_S
from wakeword.batch import BLOCK_FRAMES, BatchScorer, BatchStream, Scores, device_frames
from wakeword.features import EMBEDDING_DIM, EMBEDDING_WINDOW, MEL_BINS, MEL_ROWS_PER_FRAME

__all__ = ["STRIP_ROWS", "PhaseScorer", "phase_frames", "strip_embedder"]

STRIP_ROWS = 8 * 1024 + EMBEDDING_WINDOW - MEL_ROWS_PER_FRAME
"""Mel rows per strip run (1,024 embeddings): bounds the early layers' activations."""

StripFn = Callable[[npt.NDArray[np.float32]], npt.NDArray[np.float32]]
"""``(rows, 32)`` mel rows -> ``((rows - 76) // 8 + 1, 96)`` embeddings."""


def strip_embedder(scorer: BatchScorer) -> StripFn | None:
    """The embedding model run over a whole strip of mel rows, or None when the model cannot
    be rewritten or the rewrite is not bit-exact on probe strips (see the module docstring)."""
    backend = scorer.features.backend
    if backend.suffix != ".onnx":
        return None
    try:
        import onnx
        from onnx import helper, numpy_helper
    except ImportError:  # pragma: no cover - onnx is a dependency
        return None
    from wakeword.sessions import session_from_model

    model = onnx.load(str(backend.embedding_model))
    graph = model.graph
    reshapes = [n for n in graph.node if n.op_type == "Reshape"]
    if len(reshapes) != 2 or graph.node[0] is not reshapes[0] or graph.node[-1] is not reshapes[1]:
        return None
    initializers = {i.name: i for i in graph.initializer}
    shape = initializers.get(reshapes[0].input[1])
    if shape is None or list(numpy_helper.to_array(shape)) != [-1, 1, EMBEDDING_WINDOW, MEL_BINS]:
        return None
    # (1, rows, 32, 1) -> (1, 1, rows, 32): the graph's own NCHW layout, time free.
    shape.CopyFrom(
        numpy_helper.from_array(np.array([1, 1, -1, MEL_BINS], dtype=np.int64), shape.name)
    )
    last = graph.node[-1]
    graph.node.remove(last)
    # (1, 96, windows, 1) -> (1, windows, 1, 96)
    graph.node.append(
        helper.make_node("Transpose", [last.input[0]], [last.output[0]], perm=[0, 2, 3, 1])
    )
    graph.initializer.remove(initializers[last.input[1]])
    dims = graph.input[0].type.tensor_type.shape.dim
    dims[1].ClearField("dim_value")
    dims[1].dim_param = "rows"
    for i, dim in enumerate(graph.output[0].type.tensor_type.shape.dim):
        dim.ClearField("dim_value")
        dim.dim_param = f"out_{i}"
    session = session_from_model(model)
    if session is None:
        return None
    name = session.get_inputs()[0].name

    def run(rows: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
        out = session.run(None, {name: np.ascontiguousarray(rows[None, :, :, None])})[0]
        result: npt.NDArray[np.float32] = out.reshape(-1, EMBEDDING_DIM)
        return result

    rng = np.random.default_rng(3)
    for windows in (1, 5, 40):
        probe = (rng.standard_normal((EMBEDDING_WINDOW + 8 * (windows - 1), MEL_BINS)) * 2).astype(
            np.float32
        )
        starts = np.lib.stride_tricks.sliding_window_view(probe, (EMBEDDING_WINDOW, MEL_BINS))
        expected = scorer.features.embed(np.ascontiguousarray(starts[::MEL_ROWS_PER_FRAME, 0]))
        try:
            if not np.array_equal(run(probe), expected.reshape(-1, EMBEDDING_DIM)):
                return None
        except Exception:  # onnxruntime's errors are untyped; the slow path is always right
            return None
    return run


class _StripStream(BatchStream):
    """A :class:`BatchStream` whose embeddings come from strip runs (same scores)."""

    def __init__(self, scorer: BatchScorer, strip: StripFn) -> None:
        super().__init__(scorer)
        self._strip = strip

    def _embeddings(self, ring: npt.NDArray[np.float32], n: int) -> npt.NDArray[np.float32]:
        first = ring.shape[0] - MEL_ROWS_PER_FRAME * (n - 1) - EMBEDDING_WINDOW
        out = np.empty((n, EMBEDDING_DIM), dtype=np.float32)
        per_strip = (STRIP_ROWS - EMBEDDING_WINDOW) // MEL_ROWS_PER_FRAME + 1
        for i in range(0, n, per_strip):
            count = min(per_strip, n - i)
            lo = first + MEL_ROWS_PER_FRAME * i
            hi = lo + EMBEDDING_WINDOW + MEL_ROWS_PER_FRAME * (count - 1)
            out[i : i + count] = self._strip(ring[lo:hi])
        return out


def phase_frames(samples: Pcm, offset: int, pad_s: float = REPLAY_PAD_S) -> npt.NDArray[np.int16]:
    """The replay's ``(frames, 1280)`` framing of a file at phase ``offset`` (samples, 0-1279):
    ``offset`` more samples of silence before, as many fewer after (the same frame count)."""
    if not 0 <= offset < FRAME_SAMPLES:
        raise ValueError(f"phase offset must be 0..{FRAME_SAMPLES - 1} samples, got {offset}")
    flat = device_frames(samples, pad_s).reshape(-1)
    if offset:
        # The trailing padding is silence (pad_s >= 80 ms), so only zeros fall off the end.
        flat = np.concatenate((np.zeros(offset, dtype=np.int16), flat[:-offset]))
    return flat.reshape(-1, FRAME_SAMPLES)


class PhaseScorer:
    """Scores a file at several frame phases, with the embeddings from strip runs when the
    model allows (:func:`strip_embedder`); the scores are :class:`BatchScorer`'s bit for bit."""

    def __init__(self, scorer: BatchScorer) -> None:
        self.scorer = scorer
        self.strip = strip_embedder(scorer)
        """The strip run, or None (window by window)."""

    def score_frames(self, frames: npt.NDArray[np.int16]) -> dict[str, Scores]:
        """Per-frame scores of consecutive frames from a fresh start, block by block."""
        stream = (
            _StripStream(self.scorer, self.strip)
            if self.strip is not None
            else BatchStream(self.scorer)
        )
        parts = [
            stream.push(frames[i : i + BLOCK_FRAMES]) for i in range(0, len(frames), BLOCK_FRAMES)
        ]
        if not parts:
            return {name: np.zeros(0, dtype=np.float32) for name in self.scorer.names}
        return {name: np.concatenate([p[name] for p in parts]) for name in self.scorer.names}

    def score(
        self, samples: Pcm, offsets: Sequence[int], pad_s: float = REPLAY_PAD_S
    ) -> list[dict[str, Scores]]:
        """Per-frame scores at each phase offset (samples), in the order given."""
        return [self.score_frames(phase_frames(samples, d, pad_s)) for d in offsets]
