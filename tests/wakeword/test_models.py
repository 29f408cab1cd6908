"""Naming and opening wake-word models: built-ins, .onnx/.tflite paths, and clear refusals."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

from keepmum.errors import DetectorError
from tests.conftest import backend_or_skip
from wakeword.backend import Backend, installed_backend, vad_model_path
from wakeword.detector import OpenWakeWordDetector, load_models
from wakeword.models import (
    BUILTIN_MODELS,
    EMBEDDING_MODEL,
    MEL_MODEL,
    class_labels,
    open_session,
    resolve_model,
)


def test_every_builtin_resolves_to_a_bundled_file(backend: Backend) -> None:
    for name in backend.builtin_models:
        spec = resolve_model(name, backend)
        assert spec.name == name and spec.path.is_file() and spec.path.suffix == backend.suffix
    assert backend.mel_model.is_file() and backend.embedding_model.is_file()


def test_installed_backend_is_the_reference_where_openwakeword_installs() -> None:
    # openWakeWord 0.5.1 installs only on 3.10-3.11 (pyproject.toml's markers); pyopen-wakeword
    # on 3.12+ (and with .[test] everywhere). keepmum prefers the reference when both are here.
    expected = "onnx" if sys.version_info < (3, 12) else "tflite"
    backend = installed_backend()
    assert backend.name == expected
    assert backend.mel_model == MEL_MODEL and backend.embedding_model == EMBEDDING_MODEL
    assert backend.builtin_models == BUILTIN_MODELS
    # keepmum carries its own Silero VAD model (v6), the same on every backend.
    silero = vad_model_path()
    assert silero is not None and silero.name == "silero_vad_v6.onnx" and silero.is_file()


def test_a_path_is_named_by_its_stem(tmp_path: Path, backend: Backend) -> None:
    copy = tmp_path / f"my_word{backend.suffix}"
    shutil.copy(resolve_model("alexa", backend).path, copy)
    spec = resolve_model(str(copy), backend)
    assert spec.name == "my_word" and spec.path == copy
    detector = OpenWakeWordDetector((str(copy), "alexa"), backend=backend)
    assert detector.names == ("my_word", "alexa")


def test_a_file_of_the_other_backend_is_refused_naming_the_backend(
    tmp_path: Path, backend: Backend
) -> None:
    other = ".tflite" if backend.suffix == ".onnx" else ".onnx"
    path = tmp_path / f"word{other}"
    path.write_bytes(b"whatever")
    with pytest.raises(
        DetectorError,
        match=rf"word\{other}'?: a \{other} file; the {backend.name} backend .* runs "
        rf"\{backend.suffix} files",
    ):
        resolve_model(str(path), backend)


def test_a_garbage_tflite_file_is_refused(tmp_path: Path) -> None:
    tflite = backend_or_skip("tflite")
    garbage = tmp_path / "garbage.tflite"
    garbage.write_bytes(b"not a model at all")
    with pytest.raises(DetectorError, match=r"garbage\.tflite.*not a loadable TFLite model"):
        resolve_model(str(garbage), tflite)
    wrong = tmp_path / "mel.tflite"
    shutil.copy(tflite.mel_model, wrong)
    with pytest.raises(DetectorError, match=r"mel\.tflite.*expected one input of shape"):
        resolve_model(str(wrong), tflite)


def test_refusals_name_the_value(tmp_path: Path) -> None:
    backend_or_skip("onnx")  # the ONNX files below; test_a_garbage_tflite_file_is_refused too
    with pytest.raises(DetectorError, match=r"'model\.tflite'.*alexa, hey_jarvis"):
        resolve_model("model.tflite")
    garbage = tmp_path / "garbage.onnx"
    garbage.write_bytes(b"not a model at all")
    with pytest.raises(DetectorError, match=r"garbage\.onnx.*not a loadable ONNX model"):
        resolve_model(str(garbage))
    wrong = tmp_path / "mel.onnx"
    shutil.copy(MEL_MODEL, wrong)
    with pytest.raises(DetectorError, match=r"mel\.onnx.*expected one input of shape \(1, N, 96\)"):
        resolve_model(str(wrong))
    with pytest.raises(DetectorError, match="already"):
        load_models(("alexa", "alexa"))
    with pytest.raises(DetectorError, match="at least one"):
        load_models(())


def test_class_labels() -> None:
    backend_or_skip("onnx")  # timer: openWakeWord's multi-class model, ONNX only
    alexa = resolve_model("alexa")
    assert class_labels(alexa, open_session(alexa.path)) == ((0, "alexa"),)
    timer = resolve_model("timer")
    labels = class_labels(timer, open_session(timer.path))
    assert labels[0] == (1, "1_minute_timer") and labels[-1] == (6, "1_hour_timer")
    assert len(labels) == 6  # column 0 ("no timer") is not a score, as in openWakeWord
