"""The newcomer's findings about output: tables piped whole, progress of long jobs when piped,
the picovoice protocol's hours and disk said before it starts, a near-miss model name."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from rich.console import Console
from rich.table import Table

from keepmum.errors import ConfigError, DetectorError
from sim.commands._output import Output, plain_table
from sim.commands._progress import ProgressDisplay
from sim.commands._protocol import announce_build
from sim.research.protocols import ProtocolSettings, stream_bytes
from wakeword.models import resolve_model

LONG = "device_vad_gate_" * 8  # 128 characters: rich cuts it at 80 columns when piped


def _wide_table() -> Table:
    table = Table(title="a [b]wide[/b] table")
    for column in ("condition", "value", "reasons"):
        table.add_column(column)
    table.add_row(LONG, "12.345678 (1.2345-99.8765)", "a, b")
    table.add_row("quiet", "3", "")
    return table


def test_a_piped_table_is_tab_separated_and_nothing_is_cut() -> None:
    assert plain_table(_wide_table()) == [
        "# a wide table",
        "condition\tvalue\treasons",
        f"{LONG}\t12.345678 (1.2345-99.8765)\ta, b",
        "quiet\t3\t",
    ]


def test_a_table_without_a_header_has_none_piped() -> None:
    table = Table(show_header=False)
    table.add_column()
    table.add_column()
    table.add_row("heard", "12.0 s")
    assert plain_table(table) == ["heard\t12.0 s"]


def test_output_draws_on_a_terminal_and_writes_lines_to_a_pipe() -> None:
    out = Output(json_lines=False)
    out.console = Console(file=io.StringIO(), force_terminal=False, width=80)
    out.table(_wide_table())
    piped = out.console.file.getvalue()  # type: ignore[attr-defined]
    assert piped.splitlines()[2] == f"{LONG}\t12.345678 (1.2345-99.8765)\ta, b"
    out.console = Console(file=io.StringIO(), force_terminal=True, width=200)
    out.table(_wide_table())
    drawn = out.console.file.getvalue()  # type: ignore[attr-defined]
    assert "\t" not in drawn and "─" in drawn and "12.345678" in drawn


def test_json_mode_prints_no_table() -> None:
    out = Output(json_lines=True, file=io.StringIO())
    out.console = Console(file=io.StringIO(), force_terminal=False)
    out.table(_wide_table())
    assert out.console.file.getvalue() == ""  # type: ignore[attr-defined]


class _Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_long_task_reports_plain_lines_at_each_tenth_when_piped() -> None:
    clock = _Clock()
    console = Console(file=io.StringIO(), force_terminal=False, width=80)
    display = ProgressDisplay(console=console, clock=clock)
    assert not display.enabled and display.lines
    with display.task("scoring the stream", long=True) as update:
        clock.now += 60
        update(5, 100)  # under a tenth: nothing yet
        update(10, 100)
        clock.now += 120
        update(35, 100)
        update(36, 100)  # the same tenth: nothing
        update(100, 100)
    lines = console.file.getvalue().splitlines()  # type: ignore[attr-defined]
    assert lines == [
        "keepmum: scoring the stream: 10 % (1:00 elapsed, about 9:00 left)",
        "keepmum: scoring the stream: 30 % (3:00 elapsed, about 5:34 left)",
        "keepmum: scoring the stream: 100 % (3:00 elapsed)",
    ]


def test_a_short_task_says_nothing_when_piped() -> None:
    console = Console(file=io.StringIO(), force_terminal=False)
    with ProgressDisplay(console=console).task("scoring") as update:
        update(50, 100)
        update(100, 100)
    assert console.file.getvalue() == ""  # type: ignore[attr-defined]


def test_the_picovoice_stream_says_hours_and_disk_before_it_starts(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = ProtocolSettings(protocol="picovoice", hours=24.0)
    assert stream_bytes(24.0) == 44 + 2 * 24 * 3600 * 16000  # 2.76 GB
    announce_build(settings, 12, tmp_path / "work", free_bytes=lambda _: 10**12)
    err = capsys.readouterr().err
    assert "24 h of audio around 12 keywords, 2.76 GB in" in err
    assert "--protocol-hours" in err and "scoring all 24 h" in err


def test_the_picovoice_stream_is_refused_before_writing_when_the_disk_is_short(
    tmp_path: Path,
) -> None:
    settings = ProtocolSettings(protocol="picovoice", hours=24.0)
    with pytest.raises(ConfigError, match=r"needs 2\.76 GB .* 1\.00 GB free"):
        announce_build(settings, 12, tmp_path / "work", free_bytes=lambda _: 10**9)
    assert list(tmp_path.iterdir()) == []


def test_a_near_miss_model_name_suggests_the_built_in_one() -> None:
    with pytest.raises(
        DetectorError, match=r"'alexx': not a built-in model \(did you mean 'alexa'\?\)"
    ):
        resolve_model("alexx")
    with pytest.raises(DetectorError) as far_off:
        resolve_model("zzzz")
    assert "did you mean" not in str(far_off.value)


def test_a_long_task_ending_short_of_its_total_says_it_ended() -> None:
    clock = _Clock()
    console = Console(file=io.StringIO(), force_terminal=False)
    with ProgressDisplay(console=console, clock=clock).task("building", long=True) as update:
        update(95, 100)
        clock.now += 5
    assert console.file.getvalue().splitlines() == [  # type: ignore[attr-defined]
        "keepmum: building: 90 % (0:00 elapsed, about 0:00 left)",
        "keepmum: building: 100 % (0:05 elapsed)",
    ]
