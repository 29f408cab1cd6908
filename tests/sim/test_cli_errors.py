"""Bad input on the command line: one line on stderr naming its real source, exit 2, no traceback.

Pure validation, so the real ``keepmum`` entry point runs in-process (``sim.cli.main``, as the
console script calls it); cases where the process itself matters (signals, stdin, PortAudio,
file names) are in ``tests/e2e/test_bad_input.py`` and ``tests/e2e/test_interrupts.py``.
"""

from __future__ import annotations

from pathlib import Path

import click
import pytest

from sim.cli import cli, main
from sim.commands._common import _SIMPLE, FiniteFloat
from storage.vault import Vault

CLIP = Path(__file__).resolve().parents[2] / "sim" / "data" / "alexa_time.wav"


def run(args: list[str | Path], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    """``keepmum ARGS`` in-process: (exit status, stdout, stderr)."""
    try:
        main([str(a) for a in args])
        code = 0
    except SystemExit as exc:
        code = int(exc.code or 0)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def one_error_line(code: int, err: str, expected_code: int = 2) -> str:
    assert code == expected_code, err
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1, f"expected one line on stderr, got:\n{err}"
    return lines[0]


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A home with a vault, one member and a valid default config.toml."""
    from sim.config import write_default_config

    folder = tmp_path_factory.mktemp("home")
    with Vault.create(folder) as vault:
        vault.add_member("alice", "alice's long passphrase")
    write_default_config(folder)
    return folder


@pytest.mark.parametrize(
    ("args", "wanted", "unwanted"),
    [
        (["replay", "--no-store", "--refractory-s", "inf", CLIP], "'--refractory-s'", None),
        (["replay", "--no-store", "--max-utterance-s", "nan", CLIP], "not a finite", None),
        (["listen", "--no-store", "--duration", "nan"], "'--duration'", None),
        (["replay", "--no-store", "--threshold", "nan", CLIP], "--threshold nan", None),
        (["replay", "--no-store", "--threshold", "2", CLIP], "--threshold 2", "defaults"),
        (
            ["replay", "--no-store", "--threshold", "0.3", "--threshold", "0.4", CLIP],
            "a second threshold",
            None,
        ),
        (
            ["replay", "--no-store", "--threshold", "jarvis=0.5", CLIP],
            "--threshold jarvis=0.5",
            None,
        ),
        (
            ["far", "--positives", CLIP.parent, "--no-cache", "--thresholds", "0.1:inf:0.1"],
            "--thresholds '0.1:inf:0.1'",
            None,
        ),
        (["replay", "--no-store", "--json", "--json", CLIP], "--json given 2 times", None),
    ],
)
def test_bad_options_name_the_option(
    capsys: pytest.CaptureFixture[str], args: list[str | Path], wanted: str, unwanted: str | None
) -> None:
    code, out, err = run(args, capsys)
    line = one_error_line(code, err)
    assert wanted in line
    if unwanted is not None:
        assert unwanted not in line
    assert out.strip() == "" or '"summary"' not in out


def test_an_option_out_of_range_is_blamed_on_the_option_not_the_file(
    home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run(["replay", "--home", home, "--vad-aggressiveness", "7", CLIP], capsys)
    line = one_error_line(code, err)
    assert line.startswith("keepmum: error: --vad-aggressiveness 7")
    assert "config.toml" not in line


OUT_OF_RANGE = {
    "--trigger-frames": "0",
    "--refractory-s": "-1",
    "--vad-aggressiveness": "7",
    "--preroll-ms": "-1",
    "--silence-ms": "-1",
    "--max-utterance-s": "0",
    "--speech-timeout-ms": "-1",
    "--min-speech-ms": "-1",
    "--wake-tail-ms": "-1",
    "--speech-window-ms": "-1",
    "--short-request-ms": "6000",
    "--wake-again-gap-ms": "-1",
    "--request-range-db": "-3",
    "--room-margin-db": "41",
    "--late-room-margin-db": "41",
    "--silero-threshold": "2",
    "--noise-margin-db": "99",
    "--loud-margin-db": "-1",
    "--loud-silero-threshold": "2",
    "--retention-h": "-1",
    "--voice-threshold": "1.5",
    "--unattributed": "keep",
}
"""A value out of range for every device option of the table."""


def test_an_option_of_words_shows_its_words_in_help(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["replay", "--help"], capsys)
    assert code == 0 and "--unattributed [discard|default]" in out


def test_every_device_option_has_an_out_of_range_case() -> None:
    # A new option in the table must be added above, so the test below covers it.
    assert set(OUT_OF_RANGE) == {option for option, *_ in _SIMPLE}


@pytest.mark.parametrize("command", ["replay", "listen"])
@pytest.mark.parametrize(("option", "value"), sorted(OUT_OF_RANGE.items()))
def test_every_device_option_reaches_its_setting_and_is_blamed_for_it(
    capsys: pytest.CaptureFixture[str], command: str, option: str, value: str
) -> None:
    # The device options travel as one DeviceOptions to the config: a value out of range is
    # refused by the setting it sets, named by the option that gave it.
    args: list[str | Path] = [command, "--no-store", option, value]
    code, _, err = run([*args, CLIP] if command == "replay" else args, capsys)
    assert one_error_line(code, err).startswith(f"keepmum: error: {option} {value}")


def test_a_threshold_for_a_model_not_loaded_lists_the_loaded_ones(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, _, err = run(
        ["replay", "--no-store", "--model", "alexa", "--threshold", "hey_jarvi=0.5", CLIP], capsys
    )
    line = one_error_line(code, err)
    assert "'hey_jarvi'" in line and "known: alexa" in line


@pytest.mark.parametrize(
    ("toml", "wanted"),
    [
        ("[wakeword]\nthresholds = {jarvis = 0.3}\n", "unknown score name 'jarvis'"),
        ("[vad]\naggresiveness = 1\n", "did you mean 'aggressiveness'?"),
        ("[speakr]\nsilence_ms = 500\n", "did you mean 'speaker'?"),
        ("[wakeword]\nrefractory_s = inf\n", "finite"),
        ("[speaker]\nmax_utterance_s = nan\n", "finite"),
    ],
)
def test_config_mistakes_name_the_file_and_the_known_names(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], toml: str, wanted: str
) -> None:
    config = tmp_path / "c.toml"
    config.write_text(toml)
    code, _, err = run(["replay", "--no-store", "--config", config, CLIP], capsys)
    line = one_error_line(code, err)
    assert str(config) in line and wanted in line


def test_an_unknown_key_in_an_expect_file_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    expect = tmp_path / "e.json"
    expect.write_text('[{"event": "wake", "t": 1.0, "tolerence_s": 0.5}]')
    code, _, err = run(["replay", "--no-store", "--expect", expect, CLIP], capsys)
    line = one_error_line(code, err)
    assert str(expect) in line and "'tolerence_s'" in line and "did you mean 'tolerance_s'" in line


def test_audit_show_refuses_an_unknown_event(
    home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(["audit", "show", "--home", home, "--event", "stord"], capsys)
    line = one_error_line(code, err)
    assert "did you mean 'stored'" in line and "member_added" in line
    assert out == ""


@pytest.mark.parametrize(
    "endpoint", ["http://127.0.0.1:99999", "http://127.0.0.1:0", "http://[::1]:70000"]
)
def test_consent_grant_refuses_a_port_out_of_range(
    home: Path, capsys: pytest.CaptureFixture[str], endpoint: str
) -> None:
    code, _, err = run(
        [
            "consent",
            "grant",
            "--home",
            home,
            "--member",
            "alice",
            "--purpose",
            "x",
            "--endpoint",
            endpoint,
            "--all-future",
        ],
        capsys,
    )
    line = one_error_line(code, err)
    assert endpoint in line and "1 to 65535" in line


def test_a_one_character_passphrase_is_refused_at_init(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    secret = tmp_path / "pw"
    secret.write_text("x\n")
    home = tmp_path / "home"
    code, _, err = run(
        ["init", "--home", home, "--member", "alice", "--passphrase-file", f"alice={secret}"],
        capsys,
    )
    line = one_error_line(code, err)
    assert "at least 8 characters" in line
    assert not Vault.exists(home)


def _commands(
    group: click.Group, path: tuple[str, ...] = ()
) -> list[tuple[tuple[str, ...], click.Command]]:
    found: list[tuple[tuple[str, ...], click.Command]] = []
    ctx = click.Context(group)
    for name in group.list_commands(ctx):
        command = group.get_command(ctx, name)
        assert command is not None
        found.append(((*path, name), command))
        if isinstance(command, click.Group):
            found += _commands(command, (*path, name))
    return found


def _all_commands() -> list[tuple[tuple[str, ...], click.Command]]:
    return [((), cli), *_commands(cli)]


def test_no_repeated_option_is_silently_reduced_to_its_last_value(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Every option of every command either collects repeats (multiple=True) or refuses them."""
    checked = 0
    for path, command in _all_commands():
        for param in command.params:
            if not isinstance(param, click.Option) or param.multiple or param.count:
                continue
            opt = max(param.opts, key=len)
            once = [opt] if param.is_flag else [opt, "1"]
            code, _, err = run([*path, *once, *once], capsys)
            line = one_error_line(code, err)
            assert f"{'/'.join(param.opts)} given 2 times" in line, (path, opt, line)
            checked += 1
    assert checked > 50  # the walk really covered the tree


def test_every_number_option_refuses_nan_and_infinity() -> None:
    """One validator for floats: no option uses click's float, which takes NaN and inf."""
    for path, command in _all_commands():
        for param in command.params:
            if isinstance(param.type, (click.types.FloatParamType, click.FloatRange)):
                assert isinstance(param.type, FiniteFloat), (path, param.name)
                with pytest.raises(click.BadParameter):
                    param.type.convert("nan", param, None)


def test_a_group_alone_shows_its_help_and_a_typo_is_one_line(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out, err = run(["vault"], capsys)
    assert code == 0 and out.startswith("Usage: keepmum vault") and err == ""
    code, _, err = run(["vault", "lsit"], capsys)
    line = one_error_line(code, err)
    assert "unknown command 'lsit' (did you mean 'list'?" in line and "verify" in line


@pytest.mark.parametrize(
    ("args", "wanted"),
    [
        ([], "give recordings of the member, or --mic to record them live"),
        ([CLIP, "--mic"], "give recordings of the member, or --mic to record them live"),
        ([CLIP, "--phrases", "2"], "--phrases and --input-device go with --mic"),
        ([CLIP, "--input-device", "0"], "--phrases and --input-device go with --mic"),
        (["--mic", "--phrases", "0"], "'--phrases'"),
        (["--mic", "--phrases", "11"], "'--phrases'"),
    ],
)
def test_enrol_takes_files_or_the_microphone(
    home: Path, capsys: pytest.CaptureFixture[str], args: list[str | Path], wanted: str
) -> None:
    code, _, err = run(["member", "enrol", "alice", *args, "--home", home], capsys)
    assert wanted in one_error_line(code, err)


def test_live_enrolment_asks_the_passphrase_before_the_microphone(
    home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    wrong = tmp_path / "wrong.pass"
    wrong.write_text("not alice's passphrase\n")
    args = ["member", "enrol", "alice", "--mic", "--home", home]
    code, _, err = run([*args, "--passphrase-file", f"alice={wrong}"], capsys)
    line = one_error_line(code, err)
    assert "wrong passphrase for member 'alice'" in line and "phrase 1" not in err
