"""Configuration: defaults, file, overrides, and clear errors for anything malformed."""

from __future__ import annotations

from pathlib import Path

import pytest

from keepmum.errors import ConfigError
from sim.config import Config, load_config, to_toml, write_default_config


def test_defaults_round_trip_through_toml(tmp_path: Path) -> None:
    path = write_default_config(tmp_path)
    loaded = load_config(path)
    assert loaded.as_toml_dict() == Config().as_toml_dict()
    assert to_toml(loaded) == path.read_text()


def test_file_then_overrides(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text('[wakeword]\nmodels = ["hey_jarvis"]\n[speaker]\nsilence_ms = 500\n')
    config = load_config(
        path, overrides={"speaker": {"silence_ms": 900}, "vad": {"aggressiveness": 3}}
    )
    assert config.wakeword.models == ("hey_jarvis",)
    assert config.speaker.silence_ms == 900 and config.vad.aggressiveness == 3


def test_home_config_is_used_when_present(tmp_path: Path) -> None:
    (tmp_path / "config.toml").write_text("[vault]\nretention_h = 0\n")
    assert load_config(home=tmp_path).vault.retention_h == 0.0


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[speaker\n", "malformed TOML"),
        ("[nosuch]\nx = 1\n", "unknown section"),
        ("[speaker]\nsilence = 1\n", "unknown key"),
        ('[speaker]\nsilence_ms = "long"\n', "whole number"),
        ("[speaker]\nsilence_ms = 1.5\n", "whole number"),
        ("[vad]\naggressiveness = 9\n", "aggressiveness"),
        ("[wakeword]\nmodels = []\n", "at least one model"),
        ("[wakeword]\ndefault_threshold = 1.5\n", "threshold"),
        ("[vault]\nretention_h = -1\n", "retention_h"),
        ("[device]\nvad_gate = 1\n", "true or false"),
        ("[speaker]\npreroll_ms = 4000\n", "ring"),
    ],
)
def test_malformed_config_names_file_and_key(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=message) as caught:
        load_config(path)
    assert str(path) in str(caught.value)


def test_binary_and_missing_files(tmp_path: Path) -> None:
    binary = tmp_path / "b.toml"
    binary.write_bytes(b"\xff\xfe\x00")
    with pytest.raises(ConfigError, match="is not UTF-8 text"):
        load_config(binary)
    with pytest.raises(ConfigError, match="no such"):
        load_config(tmp_path / "none.toml")


def test_to_toml_escapes_what_toml_and_terminals_cannot_take(tmp_path: Path) -> None:
    import dataclasses

    config = dataclasses.replace(
        Config(),
        device=dataclasses.replace(Config().device, input_device='mic "1" \\ \x1b[2J'),
    )
    text = to_toml(config)
    assert "\x1b" not in text
    path = tmp_path / "c.toml"
    path.write_text(text)
    assert load_config(path).device.input_device == 'mic "1" \\ \x1b[2J'


@pytest.mark.parametrize(
    "text",
    [
        "a = " + "[" * 1100 + "]" * 1100,
        "a = " + "{b = " * 1100 + "1" + "}" * 1100,
        "[vault]\nretention_h = " + "[" * 1100 + "]" * 1100,
    ],
)
def test_a_config_nested_1100_deep_is_one_config_error(tmp_path: Path, text: str) -> None:
    # tomllib recurses per level: a RecursionError traceback blocked even withdrawal (issue 26).
    path = tmp_path / "config.toml"
    path.write_text(text + "\n")
    with pytest.raises(ConfigError, match="nested too deeply") as info:
        load_config(path)
    assert str(path) in str(info.value)


@pytest.mark.parametrize(
    "key", ["wake_gap_ms", "short_request_hold_ms", "quiet_wake_ms", "wake_word_ms"]
)
def test_a_removed_request_setting_is_refused_by_name(tmp_path: Path, key: str) -> None:
    # Removed on 2026-12-08 (docs/decisions/2026-12-08-request-decision-knobs.md): a config that
    # still sets one says so, rather than being silently ignored.
    path = tmp_path / "old.toml"
    path.write_text(f"[speaker]\n{key} = 160\n")
    with pytest.raises(ConfigError, match="unknown key") as caught:
        load_config(path)
    assert key in str(caught.value) and str(path) in str(caught.value)
