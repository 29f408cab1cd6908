"""The speech embedding streamed: each frame's embedding from the layers' new rows only.

Consecutive embedding windows overlap by 68 of their 76 mel rows. The embedding model
(Google's ``speech_embedding``, as openWakeWord 0.5.1 ships it) is convolutional in time with
no padding in time; its only time strides are three max-pools of stride 2, so the total stride
is 8 mel rows, one frame. Cut after each of those pools it is four stages::

    stage  input rows (one window)  time convs (kernel 3)  pool  output rows
    A      76 mel rows              2  (loses 4)           /2    36
    B      36                       4  (loses 8)           /2    14
    C      14                       4  (loses 8)           /2     3
    D       3                       1  (loses 2)            -     1 (the embedding)

The next window starts 8 mel rows later, so its stage outputs are the previous window's shifted
by 4, 2, 1 and 1 rows plus that many new rows. A new frame's embedding therefore needs stage A
over the last 12 mel rows (8 new, 4 of context), stage B over the last 8 rows of its input
kept from before plus the 4 new ones, C over 8 kept plus 2 new, D over 2 kept plus 1 new:
about a sixth of the whole window's work (the early, wide layers no longer recompute the rows
that neighbouring windows share).

:func:`stream_embedder` builds the four stages from the model with the ``onnx`` package (the
stages' time dimension freed) and checks on probe mel rows, once per process, that every way
the device uses them (a first window, several windows at once after a VAD-gate gap, then one
new window at a time) gives the window-by-window model's embeddings bit for bit; when a backend
or model cannot be cut so (TFLite), or the check fails, it returns None and the device runs the
whole model per window, as before (same scores, slower).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from wakeword.shapes import EMBEDDING_DIM, EMBEDDING_WINDOW, MEL_BINS, MEL_ROWS_PER_FRAME

if TYPE_CHECKING:
    from wakeword.features import MelFeatureModels

__all__ = ["StreamEmbedder", "StreamState", "stream_embedder"]

Rows = npt.NDArray[np.float32]

WholeWindows = Callable[[Rows], Rows]
"""``(windows, 76, 32)`` mel windows -> ``(windows, 96)``: the embedding model, window by window."""


@dataclass(frozen=True)
class _Stage:
    session: Any
    input_name: str
    context: int
    """Input rows a run needs before the first new one (2 per kernel-3 time conv)."""
    pool: int
    """Time stride of the stage's final pool (1: none)."""


class StreamState:
    """What one audio stream keeps between frames: the last input rows of stages B-D, and the
    window they belong to. ``None`` until a window is computed or after the stream skipped one."""

    __slots__ = ("tails", "window")

    def __init__(self) -> None:
        self.tails: list[Rows] | None = None
        self.window = -1
        """Index of the last window (frame) embedded with these tails."""

    def continues_at(self, first: int) -> bool:
        """Whether the kept rows belong to window ``first - 1``, so window ``first`` can be
        embedded from its new rows only."""
        return self.tails is not None and self.window == first - 1

    def clear(self) -> None:
        """Forget (a new stream, or a gap in the windows)."""
        self.tails = None
        self.window = -1


class StreamEmbedder:
    """The embedding model in four stages (module docstring), shared by every stream of a
    process; each stream keeps its own :class:`StreamState`."""

    def __init__(self, stages: Sequence[_Stage]) -> None:
        self._stages = tuple(stages)
        self.new_rows = MEL_ROWS_PER_FRAME + self._stages[0].context
        """Mel rows one new window needs (12): its 8 new rows and 4 of context."""

    def _run(self, stage: _Stage, rows: Rows) -> Rows:
        out: Rows = stage.session.run(None, {stage.input_name: rows})[0]
        return out

    def rows_needed(self, first: int, n: int, state: StreamState) -> int:
        """Mel rows :meth:`embed` reads for windows ``first`` .. ``first + n - 1``: the last
        8 n + 4 when ``state`` holds window ``first - 1``, else the windows' 76 + 8 (n - 1)."""
        if state.continues_at(first):
            return MEL_ROWS_PER_FRAME * (n - 1) + self.new_rows
        return MEL_ROWS_PER_FRAME * (n - 1) + EMBEDDING_WINDOW

    def embed(self, mel: Rows, first: int, n: int, state: StreamState) -> Rows:
        """Embeddings ``(n, 96)`` of the windows ``first`` .. ``first + n - 1``; ``mel`` ends
        with the last window's last row and holds at least :meth:`rows_needed` rows (only those
        are read). Continues from ``state`` when it holds window ``first - 1``, else starts
        from scratch; leaves ``state`` holding the last window."""
        incremental = state.continues_at(first)
        mel = mel[mel.shape[0] - self.rows_needed(first, n, state) :]
        # stage A reads NCHW (1, 1, rows, 32) mel rows; later stages (1, C, rows, F)
        x: Rows = np.ascontiguousarray(mel, dtype=np.float32)[None, None]
        tails: list[Rows] = []
        for index, stage in enumerate(self._stages):
            if index:
                if incremental:
                    assert state.tails is not None
                    x = np.concatenate((state.tails[index - 1], x), axis=2)
                tails.append(x[:, :, x.shape[2] - stage.context :].copy())
            x = self._run(stage, x)
        state.tails = tails
        state.window = first + n - 1
        out: Rows = x.reshape(EMBEDDING_DIM, n).T.copy()
        return out


def _stages_from(path: str) -> list[tuple[Any, int, int]] | None:
    """The embedding model cut after each time-stride pool: (onnx model, context, pool) per
    stage, or None when the graph is not the expected chain."""
    import onnx
    from onnx import helper

    model = onnx.load(path)
    graph = model.graph
    nodes = list(graph.node)
    if len(nodes) < 3 or nodes[0].op_type != "Reshape" or nodes[-1].op_type != "Reshape":
        return None
    body = nodes[1:-1]
    cuts: list[int] = []
    context_of = [0] * len(body)  # rows a node's time kernel loses (kernel - 1; 0 but for Conv)
    for i, node in enumerate(body):
        attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
        if node.op_type == "MaxPool":
            strides = list(attrs.get("strides", [1, 1]))
            kernel = list(attrs.get("kernel_shape", [1, 1]))
            if list(attrs.get("pads", [0, 0, 0, 0]))[::2] != [0, 0]:
                return None
            if strides[0] == 2 and kernel[0] == 2:
                cuts.append(i)
            elif strides[0] != 1 or kernel[0] != 1:
                return None
        elif node.op_type == "Conv":
            kernel = list(attrs.get("kernel_shape", []))
            pads = list(attrs.get("pads", [0, 0, 0, 0]))
            if (
                len(kernel) != 2
                or list(attrs.get("strides", [1, 1])) != [1, 1]
                or list(attrs.get("dilations", [1, 1])) != [1, 1]
                or pads[0] != 0
                or pads[2] != 0
            ):
                return None
            context_of[i] = int(kernel[0]) - 1
        elif node.op_type not in ("LeakyRelu", "Max", "Relu"):
            return None
    if len(cuts) != 3:
        return None
    initializers = {i.name: i for i in graph.initializer}
    bounds = [(0, cuts[0] + 1), (cuts[0] + 1, cuts[1] + 1), (cuts[1] + 1, cuts[2] + 1)]
    bounds.append((cuts[2] + 1, len(body)))
    stages: list[tuple[Any, int, int]] = []
    for lo, hi in bounds:
        part = body[lo:hi]
        context = sum(context_of[lo:hi])
        pool = 2 if part[-1].op_type == "MaxPool" else 1
        needed = {name for node in part for name in node.input if name in initializers}
        inputs = [
            helper.make_tensor_value_info(
                part[0].input[0], onnx.TensorProto.FLOAT, ["batch", "channels", "rows", "bins"]
            )
        ]
        outputs = [
            helper.make_tensor_value_info(
                part[-1].output[0], onnx.TensorProto.FLOAT, ["batch", "c", "r", "b"]
            )
        ]
        sub = helper.make_graph(
            part, f"stage_{lo}", inputs, outputs, [initializers[n] for n in sorted(needed)]
        )
        stage_model = helper.make_model(sub, opset_imports=model.opset_import)
        stage_model.ir_version = model.ir_version
        stages.append((stage_model, context, pool))
    return stages


def _build(path: str) -> StreamEmbedder | None:
    try:
        import onnx  # noqa: F401
    except ImportError:  # pragma: no cover - onnx is a dependency
        return None
    from wakeword.sessions import session_from_model

    cut = _stages_from(path)
    if cut is None:
        return None
    stages: list[_Stage] = []
    for stage_model, context, pool in cut:
        session = session_from_model(stage_model)
        if session is None:
            return None
        stages.append(_Stage(session, session.get_inputs()[0].name, context, pool))
    if (
        stages[0].context
        + stages[0].pool
        * (
            stages[1].context
            + stages[1].pool * (stages[2].context + stages[2].pool * stages[3].context)
        )
        != EMBEDDING_WINDOW - MEL_ROWS_PER_FRAME
    ):
        return None  # the stages do not add up to a 76-row window with an 8-row stride
    return StreamEmbedder(stages)


def _check(embedder: StreamEmbedder, whole: WholeWindows) -> bool:
    """Whether every way a stream uses the stages gives the embeddings of ``whole``, the
    device's window-by-window path (:meth:`MelFeatureModels.embed`), bit for bit."""
    rng = np.random.default_rng(5)
    windows = 48
    mel = (
        rng.standard_normal((EMBEDDING_WINDOW + MEL_ROWS_PER_FRAME * (windows - 1), MEL_BINS)) * 2
    ).astype(np.float32)
    mel[:40] = 1.0  # the ring's start rows of ones
    starts = np.lib.stride_tricks.sliding_window_view(mel, (EMBEDDING_WINDOW, MEL_BINS))
    expected = whole(np.ascontiguousarray(starts[::MEL_ROWS_PER_FRAME, 0]))
    got = np.full_like(expected, np.nan)
    state = StreamState()
    # A first window, one at a time, a gap then 16 at once, one at a time, 3 at once, one more.
    plan = [(0, 1), *((k, 1) for k in range(1, 20)), (23, 16), *((k, 1) for k in range(39, 44))]
    plan += [(44, 3), (47, 1)]
    try:
        for first, count in plan:
            if first != state.window + 1:
                state.clear()
            end = EMBEDDING_WINDOW + MEL_ROWS_PER_FRAME * (first + count - 1)
            got[first : first + count] = embedder.embed(mel[:end], first, count, state)
    except Exception:  # onnxruntime's errors are untyped; the whole model is always right
        return False
    covered = [k for first, count in plan for k in range(first, first + count)]
    return bool(np.array_equal(got[covered], expected[covered]))


_BUILT: dict[str, StreamEmbedder | None] = {}
"""Per embedding model file: its checked stages, or None (whole windows)."""


def stream_embedder(models: MelFeatureModels) -> StreamEmbedder | None:
    """The staged embedding model for ``models``' backend (built and checked once per process),
    or None: run whole windows."""
    if models.backend.suffix != ".onnx":
        return None
    path = str(models.backend.embedding_model)
    if path not in _BUILT:
        embedder = _build(path)
        # onnxruntime may pick other kernels for other input lengths on another CPU: the stages
        # are used only where they give the whole model's numbers bit for bit, here and now.
        _BUILT[path] = embedder if embedder is not None and _check(embedder, models.embed) else None
    return _BUILT[path]
