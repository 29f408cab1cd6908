"""Where openWakeWord's models live, and how keepmum opens them.

openWakeWord 0.5.1 ships its pre-trained models inside its wheel (``resources/models``), so
nothing is downloaded at run time. A wake-word model is named either by its built-in name
(``alexa``, ``hey_jarvis`` ...) or by the path of an ``.onnx`` file of the same kind: input
``(1, N, 96)`` speech-embedding features, output ``(1, C)`` scores.

Every ONNX session is opened the way openWakeWord opens its own (one intra-op and one inter-op
thread, CPU execution provider), so that a core runs one model at a time and a process pool of
``n`` workers uses ``n`` cores, not ``n`` times all of them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import onnxruntime as ort

from device.errors import DetectorError

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


def _models_dir() -> Path:
    # Located without importing openwakeword itself: its package __init__ imports the tflite
    # runtime probe and the Silero VAD, none of which keepmum needs.
    import importlib.util

    spec = importlib.util.find_spec("openwakeword")
    if spec is None or spec.origin is None:  # pragma: no cover - a broken install
        raise DetectorError("openwakeword is not installed (expected openwakeword==0.5.1)")
    return Path(spec.origin).parent / "resources" / "models"


MODELS_DIR: Path = _models_dir()
"""The folder of openWakeWord's bundled ``.onnx`` models."""

MEL_MODEL: Path = MODELS_DIR / "melspectrogram.onnx"
"""Audio (float32 of int16 samples) to 32-bin mel frames, one every 160 samples (10 ms)."""

EMBEDDING_MODEL: Path = MODELS_DIR / "embedding_model.onnx"
"""76 mel frames to one 96-dimensional speech embedding (Google's ``speech_embedding``)."""

_BUILTIN_FILES: dict[str, str] = {
    "alexa": "alexa_v0.1.onnx",
    "hey_jarvis": "hey_jarvis_v0.1.onnx",
    "hey_mycroft": "hey_mycroft_v0.1.onnx",
    "hey_rhasspy": "hey_rhasspy_v0.1.onnx",
    "timer": "timer_v0.1.onnx",
    "weather": "weather_v0.1.onnx",
}

BUILTIN_MODELS: tuple[str, ...] = tuple(_BUILTIN_FILES)
"""Names of the wake-word models bundled with openWakeWord 0.5.1."""


@dataclass(frozen=True)
class ModelSpec:
    """A wake-word model: the name its scores are reported under and its ONNX file."""

    name: str
    """Built-in name (``alexa``) or, for a file, its stem (``my_word`` for ``my_word.onnx``)."""
    path: Path
    """The ``.onnx`` file."""


def resolve_model(name_or_path: str) -> ModelSpec:
    """The model a user named: a built-in name, or the path of an ``.onnx`` file.

    Raises :class:`DetectorError` naming the value, with the built-in names, when it is neither.
    A path is checked to be a loadable ONNX wake-word model here, at the edge, so that a typo
    fails before any audio is read.
    """
    key = name_or_path.strip()
    if key in _BUILTIN_FILES:
        return ModelSpec(key, MODELS_DIR / _BUILTIN_FILES[key])
    path = Path(key).expanduser()
    known = ", ".join(BUILTIN_MODELS)
    if path.suffix.lower() != ".onnx":
        raise DetectorError(
            f"wake-word model {name_or_path!r}: not a built-in model ({known}) "
            "nor a path to an .onnx file"
        )
    if not path.is_file():
        raise DetectorError(
            f"wake-word model {name_or_path!r}: file not found (expected an .onnx file or one "
            f"of the built-in models: {known})"
        )
    spec = ModelSpec(path.stem, path)
    session = open_session(path)
    inputs = session.get_inputs()
    shape = inputs[0].shape if inputs else []
    if len(inputs) != 1 or len(shape) != 3 or shape[2] != 96 or not isinstance(shape[1], int):
        raise DetectorError(
            f"wake-word model {name_or_path!r}: expected one input of shape (1, N, 96) "
            f"speech-embedding features, got {[(i.name, i.shape) for i in inputs]}"
        )
    return spec


def open_session(path: Path) -> ort.InferenceSession:
    """An ONNX Runtime session on one thread, the way openWakeWord opens its models."""
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    options.log_severity_level = 3  # keep onnxruntime's warnings off the user's terminal
    try:
        return ort.InferenceSession(
            str(path), sess_options=options, providers=["CPUExecutionProvider"]
        )
    except Exception as exc:  # onnxruntime raises its own untyped errors for a bad file
        raise DetectorError(
            f"wake-word model {str(path)!r}: not a loadable ONNX model ({exc})"
        ) from exc


def class_labels(spec: ModelSpec, session: ort.InferenceSession) -> tuple[tuple[int, str], ...]:
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
