"""The newcomer's findings on the real command: declining exits 1 and changes nothing, the hint
on a fresh home runs as written, a WAV piped into ``replay -`` is heard as the file is, and a
mistyped model name gets the closest built-in one."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

from tests.e2e.conftest import FIXTURES, run_keepmum
from tests.e2e.vault_fixtures import init_home, keepmum_ok, write_passphrase_files

CLIP = FIXTURES / "alexa_time.wav"


def test_declining_a_confirmation_exits_1_and_changes_nothing(tmp_path: Path) -> None:
    home = tmp_path / "home"
    init_home(home, tmp_path / "pass", ("alice", "bob"))
    asked = run_keepmum("vault", "forget", "bob", "--home", home, input="n\n")
    assert asked.returncode == 1, asked
    assert asked.stderr.strip().endswith("keepmum: not confirmed; nothing was changed")
    members = keepmum_ok("member", "list", "--home", home, "--json")
    assert sorted(e["member"] for e in members.events if "member" in e) == ["alice", "bob"]


def test_the_hint_on_a_fresh_home_runs_as_written(tmp_path: Path) -> None:
    home = tmp_path / "a fresh home"  # a space: the hint must quote it
    listed = run_keepmum("vault", "list", "--home", home)
    assert listed.returncode == 2, listed
    [hint] = re.findall(r"make one: (keepmum init [^)]*)\)", listed.stderr)
    words = shlex.split(hint.replace("NAME", "alice"))
    assert words[:2] == ["keepmum", "init"] and "--member" in words
    pass_args = write_passphrase_files(tmp_path / "pass", {"alice": "alice's long passphrase"})
    keepmum_ok(*words[1:], *pass_args)
    keepmum_ok("vault", "list", "--home", home)


def test_a_wav_piped_into_replay_is_heard_as_the_file_is(tmp_path: Path) -> None:
    by_path = keepmum_ok("replay", "--no-store", "--json", CLIP, home=tmp_path)
    piped = keepmum_ok(
        "replay", "--no-store", "--json", "-", input=CLIP.read_bytes(), home=tmp_path
    )
    assert [e["event"] for e in piped.events] == [e["event"] for e in by_path.events]
    assert piped.summary["heard_s"] == by_path.summary["heard_s"]
    assert piped.summary["wakes"] == by_path.summary["wakes"] >= 1
    # Raw s16le still reads as raw: the same samples without their 44-byte header.
    raw = keepmum_ok(
        "replay", "--no-store", "--json", "-", input=CLIP.read_bytes()[44:], home=tmp_path
    )
    assert raw.summary["wakes"] == by_path.summary["wakes"]


def test_a_float_wav_piped_into_replay_is_refused_in_one_line(tmp_path: Path) -> None:
    import soundfile

    data, rate = soundfile.read(CLIP, dtype="float32")
    float_wav = tmp_path / "float.wav"
    soundfile.write(float_wav, data, rate, subtype="FLOAT")
    result = run_keepmum("replay", "--no-store", "-", input=float_wav.read_bytes(), home=tmp_path)
    assert result.returncode == 2, result
    [line] = result.stderr.strip().splitlines()
    assert "WAV file" in line and "give its path instead" in line


def test_a_mistyped_model_gets_the_closest_built_in_name(tmp_path: Path) -> None:
    result = run_keepmum("replay", "--no-store", "--model", "alexx", CLIP, home=tmp_path)
    assert result.returncode == 2, result
    [line] = result.stderr.strip().splitlines()
    assert "(did you mean 'alexa'?)" in line
