"""Naming and opening wake-word models: built-ins, .onnx paths, and clear refusals."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from device.errors import DetectorError
from wakeword.detector import OpenWakeWordDetector, load_models
from wakeword.models import (
    BUILTIN_MODELS,
    EMBEDDING_MODEL,
    MEL_MODEL,
    class_labels,
    open_session,
    resolve_model,
)


def test_every_builtin_resolves_to_a_bundled_file() -> None:
    for name in BUILTIN_MODELS:
        spec = resolve_model(name)
        assert spec.name == name and spec.path.is_file() and spec.path.suffix == ".onnx"
    assert MEL_MODEL.is_file() and EMBEDDING_MODEL.is_file()


def test_a_path_is_named_by_its_stem(tmp_path: Path) -> None:
    copy = tmp_path / "my_word.onnx"
    shutil.copy(resolve_model("alexa").path, copy)
    spec = resolve_model(str(copy))
    assert spec.name == "my_word" and spec.path == copy
    detector = OpenWakeWordDetector((str(copy), "alexa"))
    assert detector.names == ("my_word", "alexa")


def test_refusals_name_the_value(tmp_path: Path) -> None:
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
    alexa = resolve_model("alexa")
    assert class_labels(alexa, open_session(alexa.path)) == ((0, "alexa"),)
    timer = resolve_model("timer")
    labels = class_labels(timer, open_session(timer.path))
    assert labels[0] == (1, "1_minute_timer") and labels[-1] == (6, "1_hour_timer")
    assert len(labels) == 6  # column 0 ("no timer") is not a score, as in openWakeWord
