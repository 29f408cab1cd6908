"""Inputs that used to end in a traceback, run through the real ``keepmum`` process: no
microphone, closed stdin, a NaN float WAV (exit 2, one line), and file names that are not UTF-8
or carry rich markup and terminal escape codes (accepted, and shown escaped everywhere)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from tests.conftest import require_system
from tests.e2e.conftest import FIXTURES, Result, keepmum_command, parse_json_lines, run_keepmum
from tests.e2e.vault_fixtures import init_home

CLIP = FIXTURES / "alexa_time.wav"


def assert_one_error_line(result: Result, *fragments: str) -> str:
    assert result.returncode == 2, str(result)
    assert "Traceback" not in result.stderr, str(result)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, f"expected one line on stderr:\n{result}"
    for fragment in fragments:
        assert fragment in lines[0], str(result)
    return lines[0]


def run_with_stdin_closed(*args: str | Path) -> Result:
    """``keepmum ARGS <&-``: file descriptor 0 closed, so Python has no ``sys.stdin``."""
    proc = subprocess.run(
        [*keepmum_command(), *(str(a) for a in args)],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=300,
        preexec_fn=lambda: os.close(0),
        check=False,
    )
    events, other = parse_json_lines(proc.stdout)
    return Result(
        tuple(str(a) for a in args), proc.returncode, proc.stdout, proc.stderr, events, other
    )


def test_listen_without_any_microphone_is_one_clear_line(tmp_path: Path) -> None:
    """PortAudio pointed nowhere: PulseAudio unreachable and ALSA's default a card that does not
    exist, so there is no input device at all ("Error querying device -1" inside PortAudio)."""
    try:
        import sounddevice  # noqa: F401
    except OSError:
        require_system(False, "PortAudio (libportaudio2)")
    alsa = tmp_path / "asound.conf"
    alsa.write_text("pcm.!default { type hw card 99 }\nctl.!default { type hw card 99 }\n")
    env = {"PULSE_SERVER": f"unix:{tmp_path / 'no-such-socket'}", "ALSA_CONFIG_PATH": str(alsa)}
    result = run_keepmum("listen", "--no-store", "--duration", "1", home=tmp_path / "h", env=env)
    assert_one_error_line(result, "no microphone")


def test_replay_of_a_closed_stdin_is_one_clear_line() -> None:
    result = run_with_stdin_closed("replay", "--no-store", "-")
    assert_one_error_line(result, "standard input is closed")


def test_replay_of_an_empty_file_name_says_so_in_one_line(tmp_path: Path) -> None:
    result = run_keepmum("replay", "--no-store", "", home=tmp_path / "h")
    assert_one_error_line(result, "'': an empty file name")


def test_a_float_wav_holding_nan_is_refused_by_name(tmp_path: Path) -> None:
    pcm, rate = sf.read(CLIP, dtype="float32")
    pcm[rate] = np.nan
    bad = tmp_path / "nan.wav"
    sf.write(bad, pcm, rate, subtype="FLOAT")
    result = run_keepmum("replay", "--no-store", "--json", CLIP, bad, home=tmp_path / "h")
    assert_one_error_line(result, str(bad), "NaN")
    assert result.events == []  # refused before the device heard anything, even the good file


@pytest.fixture(scope="module")
def odd_names_home(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, bytes, Path]:
    """A home after replays of a non-UTF-8 file name and of a path with markup and escapes."""
    base = tmp_path_factory.mktemp("odd")
    home = base / "home"
    init_home(home, base / "pass", members=("alice",))
    undecodable = b"b\xffad.wav"
    shutil.copyfile(CLIP, os.fsencode(base) + b"/" + undecodable)
    (base / "d[").mkdir()
    marked = Path("d[/x]e\x1b[31mred.wav")  # relative, so that audit show prints it whole
    shutil.copyfile(CLIP, base / marked)
    for name in (undecodable, marked):
        proc = subprocess.run(
            [*keepmum_command(), "replay", "--home", home, name],
            cwd=base,
            capture_output=True,
            timeout=300,
            check=False,
        )
        assert proc.returncode == 0, proc.stderr.decode("utf-8", "replace")
        assert b"Traceback" not in proc.stderr
        assert b"\x1b[31mred" not in proc.stdout  # the human lines show the code, escaped
    return home, undecodable, marked


def test_odd_file_names_are_stored_and_shown_escaped(
    odd_names_home: tuple[Path, bytes, Path],
) -> None:
    home, _undecodable, _marked = odd_names_home
    result = run_keepmum("replay", "--home", home, "--json", CLIP)  # the vault still works
    assert result.returncode == 0, str(result)
    shown = run_keepmum("audit", "show", "--home", home)
    assert shown.returncode == 0, str(shown)
    assert "Traceback" not in shown.stderr
    assert "\x1b" not in shown.stdout
    assert "b\\xffad.wav" in shown.stdout
    assert "d[/x]e\\x1b[31mred.wav" in shown.stdout  # markup shown as text, not applied
    runs = run_keepmum("audit", "show", "--home", home, "--event", "run", "--json").of("run")
    assert len(runs) == 3, runs


def test_questions_with_stdin_closed_are_one_clear_line(
    odd_names_home: tuple[Path, bytes, Path], tmp_path: Path
) -> None:
    home = odd_names_home[0]
    record = run_keepmum("vault", "list", "--home", home, "--json").events[0]["record"]
    played = run_with_stdin_closed(
        "vault", "play", record, "--home", home, "--out", tmp_path / "x.wav"
    )
    assert_one_error_line(played, "alice's passphrase", "--passphrase-file")
    assert not (tmp_path / "x.wav").exists()
    forgotten = run_with_stdin_closed("vault", "forget", "alice", "--home", home)
    assert_one_error_line(forgotten, "--yes")
    assert len(run_keepmum("vault", "list", "--home", home, "--json").events) >= 2


def test_a_passphrase_typed_for_its_file_is_not_echoed(tmp_path: Path) -> None:
    home = tmp_path / "home"
    secret = "hunter2-correct-horse"
    result = run_keepmum(
        "init", "--member", "alice", "--passphrase-file", f"alice={secret}", home=home
    )
    line = assert_one_error_line(result, "--passphrase-file alice=...", "no such passphrase file")
    assert secret not in result.stderr + result.stdout, line
    assert not home.exists() or not any(home.iterdir())
