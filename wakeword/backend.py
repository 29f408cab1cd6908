"""Which wake-word runtime this install has, and where its model files come from.

keepmum runs its own streaming pipeline (mel spectrogram -> speech embedding -> wake-word
models, :mod:`wakeword.features`) on one of two sets of the same openWakeWord models:

* ``onnx`` (Python 3.10-3.11, the reference): openWakeWord 0.5.1's bundled ``.onnx`` models on
  onnxruntime. openWakeWord cannot be installed on 3.12+ (it requires tflite-runtime on Linux,
  which has no wheel past 3.11).
* ``tflite`` (Python 3.12+): the ``.tflite`` models bundled with pyopen-wakeword (Home
  Assistant's wake-word runtime) on the TensorFlow Lite C library embedded in its wheel
  (:mod:`wakeword.tflite`). pyopen-wakeword ships no ONNX models and no Silero VAD model.

pyproject.toml installs one or the other by Python version; :func:`installed_backend` picks
openWakeWord's when both are present (the reference). Nothing is downloaded at run time.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Protocol

from keepmum.errors import DetectorError

__all__ = [
    "BACKEND_NAMES",
    "Backend",
    "Session",
    "available_backends",
    "backend_named",
    "installed_backend",
    "vad_model_path",
]

BACKEND_NAMES: tuple[str, ...] = ("onnx", "tflite")
"""The backends keepmum knows, in order of preference."""


class Session(Protocol):
    """The part of ``onnxruntime.InferenceSession`` keepmum uses; :class:`TfliteSession` too."""

    def run(self, output_names: Any, feeds: dict[str, Any]) -> list[Any]: ...

    def get_inputs(self) -> Any: ...

    def get_outputs(self) -> Any: ...


@dataclass(frozen=True)
class Backend:
    """One runtime and its bundled model files."""

    name: str
    """``onnx`` or ``tflite``."""
    package: str
    """The Python package the models come from, with its version (``openwakeword 0.5.1``)."""
    runtime: str
    """What runs them (``onnxruntime 1.20.1``, ``TensorFlow Lite (embedded in ...)``)."""
    models_dir: Path
    """The folder of the package's bundled models."""
    suffix: str
    """The model file suffix this backend runs (``.onnx`` or ``.tflite``)."""
    builtin_files: dict[str, str]
    """Built-in wake-word names and their file names in :attr:`models_dir`."""
    mel_file: str
    embedding_file: str
    batch_invariant: bool
    """Whether a batched model run gives exactly the single runs' results. onnxruntime's CPU
    kernels do for these models; TFLite's embedding and wake-word kernels do not (measured: they
    differ in the last bits), so on TFLite every embedding is computed one window at a time and
    streaming, gated and batch scores stay bit-for-bit equal."""
    opener: Callable[[Path], Session] = field(repr=False, compare=False)

    @property
    def mel_model(self) -> Path:
        return self.models_dir / self.mel_file

    @property
    def embedding_model(self) -> Path:
        return self.models_dir / self.embedding_file

    @property
    def builtin_models(self) -> tuple[str, ...]:
        return tuple(self.builtin_files)

    def builtin(self, name: str) -> Path:
        return self.models_dir / self.builtin_files[name]

    def open_session(self, path: Path) -> Session:
        """A session on one thread for a model file of this backend; DetectorError names it."""
        return self.opener(path)

    def describe(self) -> str:
        """One line for ``config show`` and ``bench``."""
        return f"{self.name} ({self.package}, {self.runtime})"


def _package_dir(module: str) -> Path | None:
    # Found without importing the package: openwakeword's __init__ imports the tflite runtime
    # probe and its Silero VAD, pyopen_wakeword's loads its C library; keepmum needs neither.
    spec = importlib.util.find_spec(module)
    if spec is None or spec.origin is None:
        return None
    return Path(spec.origin).parent


def _version(dist: str) -> str:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:  # pragma: no cover - a broken install
        return "?"


def _open_onnx(path: Path) -> Session:
    from wakeword.sessions import open_session

    session: Session = open_session(path)
    return session


def _open_tflite(path: Path) -> Session:
    from wakeword.tflite import TfliteSession

    return TfliteSession(path)


def _onnx_backend() -> Backend | None:
    root = _package_dir("openwakeword")
    if root is None:
        return None
    return Backend(
        name="onnx",
        package=f"openwakeword {_version('openwakeword')}",
        runtime=f"onnxruntime {_version('onnxruntime')}",
        models_dir=root / "resources" / "models",
        suffix=".onnx",
        builtin_files={
            "alexa": "alexa_v0.1.onnx",
            "hey_jarvis": "hey_jarvis_v0.1.onnx",
            "hey_mycroft": "hey_mycroft_v0.1.onnx",
            "hey_rhasspy": "hey_rhasspy_v0.1.onnx",
            "timer": "timer_v0.1.onnx",
            "weather": "weather_v0.1.onnx",
        },
        mel_file="melspectrogram.onnx",
        embedding_file="embedding_model.onnx",
        batch_invariant=True,
        opener=_open_onnx,
    )


def _tflite_backend() -> Backend | None:
    root = _package_dir("pyopen_wakeword")
    if root is None:
        return None
    return Backend(
        name="tflite",
        package=f"pyopen-wakeword {_version('pyopen-wakeword')}",
        runtime="TensorFlow Lite (the library embedded in pyopen-wakeword)",
        models_dir=root / "models",
        suffix=".tflite",
        builtin_files={
            name: f"{name}.tflite"
            for name in ("alexa", "hey_jarvis", "hey_mycroft", "hey_rhasspy", "okay_nabu")
        },
        mel_file="melspectrogram.tflite",
        embedding_file="embedding_model.tflite",
        batch_invariant=False,
        opener=_open_tflite,
    )


@lru_cache(maxsize=1)
def available_backends() -> tuple[Backend, ...]:
    """Every backend whose package is installed, the reference (onnx) first."""
    found = (_onnx_backend(), _tflite_backend())
    return tuple(b for b in found if b is not None)


def installed_backend() -> Backend:
    """The backend keepmum uses: openWakeWord's ONNX models when installed, else TFLite."""
    backends = available_backends()
    if not backends:
        raise DetectorError(
            "no wake-word runtime installed: expected openwakeword==0.5.1 (Python 3.10-3.11) or "
            "pyopen-wakeword (Python 3.12+); reinstall keepmum with pip"
        )
    return backends[0]


def backend_named(name: str) -> Backend:
    """An installed backend by name; DetectorError says which ones are installed."""
    for backend in available_backends():
        if backend.name == name:
            return backend
    have = ", ".join(b.name for b in available_backends()) or "none"
    raise DetectorError(f"wake-word backend {name!r} is not installed here (installed: {have})")


def vad_model_path() -> Path | None:
    """The Silero VAD model the request decision runs, on every backend.

    Only openWakeWord's wheel ships it and pyopen-wakeword (the 3.12+ backend) has none, so
    keepmum carries the same file (:func:`wakeword.silero.silero_model_path`); None only if that
    package data is missing from a broken install.
    """
    from wakeword.silero import silero_model_path

    try:
        return silero_model_path()
    except DetectorError:
        return None
