"""Where commands print: one JSON object a line with ``--json``, a rich console otherwise.

Also the human-readable lines for device events and run summaries, and the report of a vault,
which both ``report`` and ``demo`` print (one command does not import another).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape as _escape_markup
from rich.table import Table
from rich.text import Text

from sim.commands._base import visible
from sim.json_lines import jsonable
from storage.report import MEMBER_TALLIES, Report, build_report
from storage.vault import Vault

__all__ = [
    "Output",
    "escape",
    "event_line",
    "plain_table",
    "print_report",
    "summary_table",
    "visible",
]


def escape(value: object) -> str:
    """A user-supplied value (a file name, a member, an audit detail) ready to go inside rich
    markup: shown as given, never read as markup such as ``[/x]``, and :func:`visible`."""
    return _escape_markup(visible(str(value)))


class Output:
    """A command's printer. Human text goes to a rich console (stderr when ``--json`` is on, so
    stdout carries only JSON lines); machine lines go to stdout."""

    def __init__(self, json_lines: bool, file: Any = None) -> None:
        self.json_lines = json_lines
        self._file = file if file is not None else sys.stdout
        self.console = Console(stderr=json_lines, highlight=False)

    def emit(self, obj: dict[str, Any]) -> None:
        """Print one JSON object as a line (only in ``--json`` mode) and flush, for pipes."""
        if self.json_lines:
            self._file.write(json.dumps(jsonable(obj), sort_keys=False) + "\n")
            self._file.flush()

    def say(self, text: str) -> None:
        """Print a human line with rich markup (suppressed in ``--json`` mode). Values a user
        supplied go in through :func:`escape`."""
        if not self.json_lines:
            self.console.print(visible(text), soft_wrap=True)

    def table(self, table: Table) -> None:
        """Print a table: drawn by rich on a terminal; when stdout is a pipe or a file, in
        :func:`plain_table`'s complete form instead (rich would cut cells to fit 80 columns:
        "con...", "device_va..."). Nothing in ``--json`` mode."""
        if self.json_lines:
            return
        if self.console.is_terminal:
            self.console.print(table)
        else:
            # Written as is: rich would expand the tabs into spaces.
            self.console.file.write("".join(f"{visible(line)}\n" for line in plain_table(table)))
            self.console.file.flush()

    def say_plain(self, text: str) -> None:
        """Print a human line verbatim: no markup, so user text such as a purpose, a URL or an
        age recipient is shown exactly as given (suppressed in ``--json`` mode)."""
        if not self.json_lines:
            self.console.print(visible(text), markup=False, soft_wrap=True)


def _plain(cell: object) -> str:
    text = cell.plain if isinstance(cell, Text) else Text.from_markup(str(cell)).plain
    return " ".join(text.split())  # one line: no tab or line break inside a field


def plain_table(table: Table) -> list[str]:
    """A table as lines of tab-separated fields, every cell whole: ``# title``, then the
    header (when the table shows one), then one line a row. For pipes and files, where a drawn
    table would be cut at 80 columns."""
    lines = [f"# {_plain(table.title)}"] if table.title else []
    columns = table.columns
    if table.show_header:
        lines.append("\t".join(_plain(c.header) for c in columns))
    cells = [[_plain(cell) for cell in column.cells] for column in columns]
    for row in zip(*cells, strict=True):
        lines.append("\t".join(row))
    return lines


_STYLE = {
    "wake": "bold cyan",
    "listening": "cyan",
    "utterance_end": "green",
    "stored": "bold green",
    "discarded": "yellow",
    "mute": "magenta",
    "unmute": "magenta",
}


def event_line(event: dict[str, Any]) -> str:
    """One rich-markup line for an event's JSON form."""
    kind = event["event"]
    name = Path(event.get("file") or "").name
    where = f"[dim]{escape(name)}[/] " if name else ""
    detail = {
        "wake": lambda e: f"{escape(e['model'])} score {e['score']:.2f}",
        "listening": lambda e: f"for a request, up to {e['listen_s']:.1f} s after the wake word",
        "utterance_end": lambda e: (
            f"{e['duration_s']:.2f} s kept in RAM (ended: {e['reason']}; "
            f"{e.get('request_speech_ms', 0)} ms of request speech; "
            f"{e.get('gap_ms', 0)} ms pause before it not kept)"
        ),
        "stored": lambda e: (
            f"record {e['record']} for {escape(e['member'])}, encrypted ({e['duration_s']:.2f} s)"
            + (f", voice score {e['voice_score']:.2f}" if "voice_score" in e else "")
        ),
        "discarded": lambda e: (
            f"{e['duration_s']:.2f} s dropped unwritten ({e['reason']}; "
            f"{e.get('request_speech_ms', 0)} ms of request speech)"
        ),
        "mute": lambda e: "microphone muted",
        "unmute": lambda e: "microphone unmuted",
    }.get(kind, lambda e: "")(event)
    style = _STYLE.get(kind, "")
    return f"{where}{event['t']:7.2f}s  [{style}]{kind:<13}[/] {detail}"


def summary_table(summary: dict[str, Any], title: str = "heard versus kept") -> Table:
    """The run's totals as a small table."""
    table = Table(title=title, show_header=False, box=None, pad_edge=False)
    table.add_column(style="bold")
    table.add_column(justify="right")
    heard = summary["heard_s"]
    kept = summary["kept_s"]
    share = f" ({100 * kept / heard:.1f} % of what it heard)" if heard else ""
    table.add_row("heard", f"{heard:.1f} s")
    table.add_row("kept", f"{kept:.1f} s{share}")
    table.add_row("discarded unwritten", f"{summary['discarded_s']:.1f} s")
    if summary.get("muted_s"):
        table.add_row("muted (never processed)", f"{summary['muted_s']:.1f} s")
    table.add_row("wakes", str(summary["wakes"]))
    table.add_row("stored (encrypted)", str(summary["stored"]))
    table.add_row("uploaded", f"{summary['uploaded_bytes']} bytes")
    if summary.get("dropped_frames"):
        table.add_row("microphone frames lost", str(summary["dropped_frames"]))
    return table


_LABELS = {
    "stored": "kept in the vault",
    "not_stored": "kept, not stored (retention 0)",
    "expired": "expired",
    "capacity_deleted": "deleted for capacity",
    "deleted": "deleted",
    "forgotten": "forgotten (member erased)",
    "held": "held now",
}


def print_report(out: Output, vault: Vault) -> Report:
    """Build the report of ``vault`` from one snapshot and print it (one JSON object, or a
    table): ``keepmum report``, and the end of ``keepmum demo``."""
    with vault.snapshot() as conn:
        rep = build_report(conn)
    out.emit(rep.as_json())
    out.table(_table(rep))
    return rep


def _cell(count: int, seconds: float) -> str:
    return f"{count} / {seconds:.1f} s"


def _table(rep: Report) -> Table:
    members = list(rep.members)
    table = Table(title=f"What the device did ({rep.runs} runs, {rep.wakes} wakes)")
    table.add_column("")
    table.add_column("total", justify="right")
    for m in members:
        table.add_column(m, justify="right")
    table.add_row("heard", f"{rep.heard_s:.1f} s", *["" for _ in members])
    table.add_row(
        "discarded (false wakes)",
        _cell(rep.discarded.count, rep.discarded.seconds),
        *["" for _ in members],
    )
    for name in MEMBER_TALLIES:
        t = rep.total[name]
        table.add_row(
            _LABELS[name],
            _cell(t.count, t.seconds),
            *[_cell(rep.members[m][name].count, rep.members[m][name].seconds) for m in members],
        )
    table.add_row("uploaded", f"{rep.uploaded_bytes} bytes", *["" for _ in members])
    if rep.erasures_pending:
        table.add_row(
            "erasure requests unconfirmed", str(rep.erasures_pending), *["" for _ in members]
        )
    if rep.unconfirmed_bytes:
        table.add_row(
            "left without confirmation", f"{rep.unconfirmed_bytes} bytes", *["" for _ in members]
        )
    return table
