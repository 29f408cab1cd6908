"""Human output shows user text as given: never read as rich markup, never as terminal codes;
JSON lines round floats without flattening small ones."""

from __future__ import annotations

import io
import json
import math

from rich.console import Console

from sim.commands._output import Output, escape, visible


def test_control_characters_and_undecodable_bytes_become_visible() -> None:
    assert visible("a\x1b[31mred\x07\x9b") == "a\\x1b[31mred\\x07\\x9b"
    assert visible("b\udcffad.wav") == "b\\xffad.wav"
    assert visible("two\nlines\tok") == "two\nlines\tok"


def test_escaped_values_print_exactly_inside_markup() -> None:
    out = Output(False)
    out.console = Console(file=io.StringIO(), width=200, highlight=False)
    name = "d[/x]e\x1b[2Jx[bold].wav"
    out.say(f"[dim]{escape(name)}[/] wake")
    text = out.console.file.getvalue()  # type: ignore[attr-defined]
    assert "d[/x]e\\x1b[2Jx[bold].wav" in text
    assert "\x1b" not in text  # the raw escape character never reaches the terminal


def test_json_lines_keep_small_values_and_round_the_rest() -> None:
    buffer = io.StringIO()
    Output(True, file=buffer).emit(
        {"low": 1.23456789e-5, "frr": 0.123456789, "t": 3601.123456, "nan": math.nan, "n": 3}
    )
    line = json.loads(buffer.getvalue())
    # Below 1: 6 significant digits (an interval's lower end is not flattened to 0).
    assert line["low"] == 1.23457e-5
    assert line["frr"] == 0.123457
    # From 1 up: 4 decimals (event times over an hour's run stay at 0.1 ms).
    assert line["t"] == 3601.1235
    assert line["nan"] is None and line["n"] == 3
