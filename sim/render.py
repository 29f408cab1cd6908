"""Human-readable lines for device events and run summaries."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rich.table import Table

from sim.output import escape

__all__ = ["event_line", "summary_table"]

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
