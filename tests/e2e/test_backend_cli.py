"""The real ``keepmum`` on the wake-word backend: which one runs, its models, custom model files,
and the input devices a user picks from (``listen --list-devices``)."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

from tests.conftest import require_system, require_tool
from tests.e2e.conftest import run_keepmum
from tests.e2e.test_listen_mic import input_device_names
from tests.e2e.test_replay_cli import assert_one_line_error
from wakeword.backend import available_backends, installed_backend

DATA = Path(__file__).resolve().parents[2] / "sim" / "data"
EXPECTED = "onnx" if sys.version_info < (3, 12) else "tflite"
"""pyproject.toml's environment markers: openWakeWord 0.5.1 (onnx) on 3.10-3.11, else tflite."""


def test_config_show_names_the_backend(tmp_path: Path) -> None:
    result = run_keepmum("config", "show", "--json", home=tmp_path)
    assert result.returncode == 0, result
    (config,) = result.events
    assert config["backend"]["name"] == EXPECTED
    assert Path(config["backend"]["models_dir"]).is_dir()
    text = run_keepmum("config", "show", home=tmp_path)
    assert f"# wake-word backend: {EXPECTED} (" in text.stdout


def test_models_lists_this_installs_models_with_their_backend(tmp_path: Path) -> None:
    result = run_keepmum("models", "--json", home=tmp_path)
    assert result.returncode == 0, result
    rows = result.events
    in_use = {r["model"] for r in rows if r["in_use"]}
    assert all(r["backend"] == EXPECTED for r in rows if r["in_use"])
    assert {"alexa", "hey_jarvis", "hey_mycroft", "hey_rhasspy"} <= in_use
    assert ("okay_nabu" in in_use) == (EXPECTED == "tflite")  # only pyopen-wakeword ships it
    assert ("timer" in in_use) == (EXPECTED == "onnx")
    assert all(Path(r["file"]).is_file() for r in rows)
    assert {r["backend"] for r in rows} == {b.name for b in available_backends()}


def test_okay_nabu_wakes_on_tflite_and_is_refused_naming_the_backend_on_onnx(
    tmp_path: Path,
) -> None:
    clip = DATA / "alexa_time.wav"  # any audio: the point is whether the model loads
    result = run_keepmum(
        "replay", "--no-store", "--json", "--model", "okay_nabu", clip, home=tmp_path
    )
    if EXPECTED == "tflite":
        assert result.returncode == 0, result
        assert result.summary["files"] == 1
    else:
        assert_one_line_error(result, "'okay_nabu'", "onnx backend", "openwakeword")


def test_a_model_file_of_the_other_backend_is_one_line_exit_2(tmp_path: Path) -> None:
    backend = installed_backend()
    other = ".tflite" if backend.suffix == ".onnx" else ".onnx"
    wrong = tmp_path / f"my_word{other}"
    wrong.write_bytes(b"\0" * 64)
    result = run_keepmum(
        "replay", "--no-store", "--model", wrong, DATA / "alexa_time.wav", home=tmp_path
    )
    assert_one_line_error(
        result, f"my_word{other}", f"the {backend.name} backend", f"runs {backend.suffix} files"
    )


def test_a_model_file_of_the_backend_wakes_under_its_own_name(tmp_path: Path) -> None:
    backend = installed_backend()
    mine = tmp_path / f"my_alexa{backend.suffix}"
    shutil.copy(backend.builtin("alexa"), mine)
    result = run_keepmum(
        "replay", "--no-store", "--json", "--model", mine, DATA / "alexa_time.wav", home=tmp_path
    )
    assert result.returncode == 0, result
    assert [w["model"] for w in result.of("wake")] == ["my_alexa"]


@pytest.mark.system
@pytest.mark.sound_device
def test_listen_list_devices_shows_what_input_device_accepts(tmp_path: Path) -> None:
    require_tool("pactl")
    names = input_device_names()
    require_system(names is not None, "PortAudio (libportaudio2)")
    require_system(bool(names), "PortAudio input devices (ALSA's pulse plugin: libasound2-plugins)")
    result = run_keepmum("listen", "--list-devices", "--json", home=tmp_path)
    assert result.returncode == 0, result
    assert [d["name"] for d in result.events] == names
    assert all(d["channels"] >= 1 and d["default_samplerate"] > 0 for d in result.events)
    assert sum(d["default"] for d in result.events) <= 1
    text = run_keepmum("listen", "--list-devices", home=tmp_path)
    assert text.returncode == 0 and "--input-device" in text.stdout
    assert all(name in text.stdout for name in names)
