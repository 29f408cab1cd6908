"""Human output shows user text as given: never read as rich markup, never as terminal codes."""

from __future__ import annotations

import io

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
