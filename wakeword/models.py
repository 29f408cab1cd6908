"""Where the wake-word models live, and how keepmum opens them.

The models come with the installed backend's package (:mod:`wakeword.backend`): openWakeWord
0.5.1's ``.onnx`` files on Python 3.10-3.11, pyopen-wakeword's ``.tflite`` files (the same
openWakeWord models, byte for byte the ``.tflite`` files openWakeWord 0.5.1 ships) on 3.12+.
Nothing is downloaded at run time. A wake-word model is named either by its built-in name
(``alexa``, ``hey_jarvis`` ...) or by the path of a model file the backend runs (``.onnx`` or
``.tflite``) of the same kind: input ``(1, N, 96)`` speech-embedding features, output ``(1, C)``
scores.

Every ONNX session is opened the way openWakeWord opens its own (one intra-op and one inter-op
thread, CPU execution provider), and every TFLite interpreter on one thread, so that a core runs
one model at a time and a process pool of ``n`` workers uses ``n`` cores, not ``n`` times all of
them.
"""

from __future__ import annotations

import difflib
import json
from dataclasses import dataclass
from pathlib import Path

from keepmum.errors import DetectorError
from wakeword.backend import Backend, Session, installed_backend
from wakeword.sessions import open_session

__all__ = [
    "BUILTIN_MODELS",
    "EMBEDDING_MODEL",
    "MEL_MODEL",
    "MODELS_DIR",
    "ModelSpec",
    "class_labels",
    "open_session",
    "resolve_model",
]

_BACKEND = installed_backend()

MODELS_DIR: Path = _BACKEND.models_dir
"""The folder of the installed backend's bundled models."""

MEL_MODEL: Path = _BACKEND.mel_model
"""Audio (float32 of int16 samples) to 32-bin mel frames, one every 160 samples (10 ms)."""

EMBEDDING_MODEL: Path = _BACKEND.embedding_model
"""76 mel frames to one 96-dimensional speech embedding (Google's ``speech_embedding``)."""

BUILTIN_MODELS: tuple[str, ...] = _BACKEND.builtin_models
"""Names of the wake-word models bundled with the installed backend."""


@dataclass(frozen=True)
class ModelSpec:
    """A wake-word model: the name its scores are reported under and its model file."""

    name: str
    """Built-in name (``alexa``) or, for a file, its stem (``my_word`` for ``my_word.onnx``)."""
    path: Path
    """The ``.onnx`` or ``.tflite`` file."""


def resolve_model(name_or_path: str, backend: Backend | None = None) -> ModelSpec:
    """The model a user named: a built-in name, or the path of a model file the backend runs.

    Raises :class:`DetectorError` naming the value and the backend, with its built-in names,
    when it is neither. A path is checked to be a loadable wake-word model here, at the edge, so
    that a typo fails before any audio is read.
    """
    backend = backend if backend is not None else _BACKEND
    key = name_or_path.strip()
    if key in backend.builtin_files:
        return ModelSpec(key, backend.builtin(key))
    path = Path(key).expanduser()
    known = ", ".join(backend.builtin_models)
    if path.suffix.lower() != backend.suffix:
        what = f"a {path.suffix} file" if path.suffix else "not a built-in model"
        close = difflib.get_close_matches(key, backend.builtin_models, n=1, cutoff=0.6)
        if close and not path.suffix:
            what += f" (did you mean {close[0]!r}?)"
        raise DetectorError(
            f"wake-word model {name_or_path!r}: {what}; the {backend.name} backend "
            f"({backend.package}) runs {backend.suffix} files and the built-in models {known}"
        )
    if not path.is_file():
        raise DetectorError(
            f"wake-word model {name_or_path!r}: file not found (expected a {backend.suffix} "
            f"file or one of the built-in models: {known})"
        )
    spec = ModelSpec(path.stem, path)
    session = backend.open_session(path)
    inputs = session.get_inputs()
    shape = inputs[0].shape if inputs else []
    if len(inputs) != 1 or len(shape) != 3 or shape[2] != 96 or not isinstance(shape[1], int):
        raise DetectorError(
            f"wake-word model {name_or_path!r}: expected one input of shape (1, N, 96) "
            f"speech-embedding features, got {[(i.name, i.shape) for i in inputs]}"
        )
    return spec


def class_labels(spec: ModelSpec, session: Session) -> tuple[tuple[int, str], ...]:
    """The (output column, score name) pairs a model reports.

    A single-output model reports one score under its own name. A multi-class model reports one
    score per class label: openWakeWord's multi-class models (``timer``) carry their class
    mapping as JSON in the output's name (``{"1": "1_minute_timer", ...}``), and keepmum names
    the scores exactly as openWakeWord does (``1_minute_timer``; column 0, "no timer", is not
    reported). A multi-class model without such a mapping reports ``<model>:<column>`` for every
    column, so that two models never share a score name.
    """
    output = session.get_outputs()[0]
    n_outputs = output.shape[1] if len(output.shape) == 2 else 1
    if not isinstance(n_outputs, int) or n_outputs == 1:
        return ((0, spec.name),)
    try:
        mapping = json.loads(output.name)
    except ValueError:
        mapping = None
    if isinstance(mapping, dict) and all(str(k).isdigit() for k in mapping):
        return tuple((int(k), str(v)) for k, v in mapping.items())
    return tuple((i, f"{spec.name}:{i}") for i in range(n_outputs))
