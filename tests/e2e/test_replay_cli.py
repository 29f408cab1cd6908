"""The replay command's contract: exit codes, one-line errors that name the input, JSON lines."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from tests.e2e.conftest import run_keepmum


def assert_one_line_error(result: object, *needles: str) -> None:
    rc = result.returncode  # type: ignore[attr-defined]
    stderr = result.stderr.strip()  # type: ignore[attr-defined]
    assert rc == 2, result
    assert "Traceback" not in stderr, result
    assert len(stderr.splitlines()) == 1, result
    for needle in needles:
        assert needle in stderr, result


@pytest.fixture
def quiet_wav(tmp_path: Path) -> Path:
    path = tmp_path / "quiet.wav"
    rng = np.random.default_rng(0)
    sf.write(path, (rng.standard_normal(16000 * 3) * 30).astype(np.int16), 16000, subtype="PCM_16")
    return path


def test_quiet_room_gives_no_wake_and_a_summary(quiet_wav: Path, tmp_path: Path) -> None:
    result = run_keepmum("replay", "--no-store", "--json", quiet_wav, home=tmp_path / "h")
    assert result.returncode == 0, result
    assert result.other_lines == []
    assert result.of("wake") == []
    summary = result.summary
    assert summary["heard_s"] == pytest.approx(5.04, abs=0.1)  # 3 s + 1 s of silence each side
    assert summary["kept_s"] == 0 and summary["uploaded_bytes"] == 0


def test_raw_pcm_on_stdin(tmp_path: Path) -> None:
    pcm = np.zeros(16000, dtype="<i2").tobytes()
    result = run_keepmum("replay", "--no-store", "--json", "-", input=pcm, home=tmp_path)
    assert result.returncode == 0, result
    assert result.summary["files"] == 1


@pytest.mark.parametrize(
    ("content", "needle"),
    [
        (b"", "not a readable audio file"),
        (b"RIFF\x00\x00\x00\x00WAVEfmt garbage" * 3, "not a readable audio file"),
        (b"hello, I am a text file pretending to be audio\n" * 20, "not a readable audio file"),
    ],
)
def test_bad_audio_files_exit_2_naming_the_file(
    tmp_path: Path, content: bytes, needle: str
) -> None:
    bad = tmp_path / "bad.wav"
    bad.write_bytes(content)
    assert_one_line_error(run_keepmum("replay", "--no-store", bad, home=tmp_path), str(bad), needle)


def test_missing_file_is_named_even_after_good_ones(quiet_wav: Path, tmp_path: Path) -> None:
    missing = tmp_path / "nope.flac"
    result = run_keepmum("replay", "--no-store", "--json", quiet_wav, missing, home=tmp_path)
    assert_one_line_error(result, str(missing))
    assert result.events == []  # validated before anything was heard


def test_odd_byte_raw_input(tmp_path: Path) -> None:
    result = run_keepmum("replay", "--no-store", "-", input=b"\x00\x01\x02", home=tmp_path)
    assert_one_line_error(result, "odd byte count")


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--model", "alexandria"], "alexandria"),
        (["--model", "/nonexistent/model.onnx"], "model.onnx"),
        (["--threshold", "1.7"], "threshold"),
        (["--threshold", "alexa=high"], "high"),
        (["--vad-aggressiveness", "5"], "aggressiveness"),
        (["--silence-ms", "0"], "silence_ms"),
    ],
)
def test_invalid_settings_exit_2(
    quiet_wav: Path, tmp_path: Path, args: list[str], needle: str
) -> None:
    assert_one_line_error(
        run_keepmum("replay", "--no-store", *args, quiet_wav, home=tmp_path), needle
    )


def test_malformed_config_file(quiet_wav: Path, tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text("[speaker\nsilence_ms = 3")
    result = run_keepmum("replay", "--no-store", "--config", config, quiet_wav, home=tmp_path)
    assert_one_line_error(result, str(config), "malformed TOML")


def test_storing_without_a_vault_says_how_to_make_one(quiet_wav: Path, tmp_path: Path) -> None:
    result = run_keepmum("replay", quiet_wav, home=tmp_path / "empty")
    assert_one_line_error(result, "keepmum init")


def test_expect_file_errors_are_bad_input(quiet_wav: Path, tmp_path: Path) -> None:
    expect = tmp_path / "expect.json"
    expect.write_text("{not json")
    result = run_keepmum("replay", "--no-store", "--expect", expect, quiet_wav, home=tmp_path)
    assert_one_line_error(result, str(expect))


def test_expect_fails_with_exit_1_and_a_readable_difference(
    quiet_wav: Path, tmp_path: Path
) -> None:
    expect = tmp_path / "expect.json"
    expect.write_text('[{"event": "wake", "model": "alexa", "t": 1.0}]')
    result = run_keepmum("replay", "--no-store", "--expect", expect, quiet_wav, home=tmp_path)
    assert result.returncode == 1, result
    assert "missing:" in result.stderr and "wake model=alexa" in result.stderr
    assert "Traceback" not in result.stderr


def test_config_show_prints_the_defaults(tmp_path: Path) -> None:
    result = run_keepmum("config", "show", "--json", home=tmp_path)
    assert result.returncode == 0, result
    (config,) = result.events
    assert config["speaker"]["silence_ms"] == 700 and config["wakeword"]["models"] == ["alexa"]
