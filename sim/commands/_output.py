"""Where commands print: one JSON object a line with ``--json``, a rich console otherwise.

Also the human-readable lines for device events and run summaries, and the report of a vault,
which both ``report`` and ``demo`` print (one command does not import another).
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape as _escape_markup
from rich.table import Table

from sim.commands._base import visible
from storage.report import MEMBER_TALLIES, Report, build_report
from storage.vault import Vault

__all__ = ["Output", "escape", "event_line", "print_report", "summary_table", "visible"]


def escape(value: object) -> str:
    """A user-supplied value (a file name, a member, an audit detail) ready to go inside rich
    markup: shown as given, never read as markup such as ``[/x]``, and :func:`visible`."""
    return _escape_markup(visible(str(value)))


def _jsonable(value: Any) -> Any:
    """Round floats so that lines stay readable and stable: 4 decimals, or 6 significant digits
    below 1, so that small values (an interval's lower end, a false-reject rate of 1e-5) are
    not flattened to 0. NaN becomes null."""
    if isinstance(value, float):
        if math.isnan(value):
            return None
        return float(f"{value:.6g}") if abs(value) < 1 else round(value, 4)
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    return value


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
            self._file.write(json.dumps(_jsonable(obj), sort_keys=False) + "\n")
            self._file.flush()

    def say(self, text: str) -> None:
        """Print a human line with rich markup (suppressed in ``--json`` mode). Values a user
        supplied go in through :func:`escape`."""
        if not self.json_lines:
            self.console.print(visible(text), soft_wrap=True)

    def say_plain(self, text: str) -> None:
        """Print a human line verbatim: no markup, so user text such as a purpose, a URL or an
        age recipient is shown exactly as given (suppressed in ``--json`` mode)."""
        if not self.json_lines:
            self.console.print(visible(text), markup=False, soft_wrap=True)


_STYLE = {
    "wake": "bold cyan",
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
        "utterance_end": lambda e: (
            f"{e['duration_s']:.2f} s kept in RAM (ended: {e['reason']}; "
            f"{e.get('request_speech_ms', 0)} ms of request speech)"
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
    if not out.json_lines:
        out.console.print(_table(rep))
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
