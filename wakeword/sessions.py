"""ONNX Runtime sessions, opened the way openWakeWord opens its own.

One intra-op and one inter-op thread on the CPU execution provider, so that a core runs one model
at a time and a process pool of ``n`` workers uses ``n`` cores, not ``n`` times all of them.
:func:`open_session` opens a model file (a wake-word model, the mel or embedding model);
:func:`session_from_model` opens a graph rewritten in memory (:mod:`wakeword.batch`,
:mod:`wakeword.incremental`, :mod:`wakeword.phases`).
"""

from __future__ import annotations

from pathlib import Path

import onnxruntime as ort

from keepmum.errors import DetectorError

__all__ = ["open_session", "session_from_model"]


def _options() -> ort.SessionOptions:
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    options.log_severity_level = 3  # keep onnxruntime's warnings off the user's terminal
    return options


def open_session(path: Path) -> ort.InferenceSession:
    """An ONNX Runtime session on one thread, the way openWakeWord opens its models."""
    try:
        return ort.InferenceSession(
            str(path), sess_options=_options(), providers=["CPUExecutionProvider"]
        )
    except Exception as exc:  # onnxruntime raises its own untyped errors for a bad file
        raise DetectorError(
            f"wake-word model {str(path)!r}: not a loadable ONNX model ({exc})"
        ) from exc


def session_from_model(model: object) -> ort.InferenceSession | None:
    """A session on an in-memory ``onnx.ModelProto``, or None when onnxruntime will not take
    the graph (the caller falls back to the model as shipped)."""
    try:
        return ort.InferenceSession(
            model.SerializeToString(),  # type: ignore[attr-defined]
            sess_options=_options(),
            providers=["CPUExecutionProvider"],
        )
    except Exception:  # a rewritten graph onnxruntime will not take: the caller falls back
        return None
