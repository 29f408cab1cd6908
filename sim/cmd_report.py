"""``keepmum report``: what the device heard, kept, discarded, expired, deleted and uploaded."""

from __future__ import annotations

from pathlib import Path

from rich.table import Table

from sim.cli import cli
from sim.options import home_option, json_option, resolve_home
from sim.output import Output
from sim.vault_cli import opened_vault
from storage.report import MEMBER_TALLIES, Report, build_report
from storage.settings import VaultSettings

__all__ = ["print_report", "report"]

_LABELS = {
    "stored": "kept in the vault", "not_stored": "kept, not stored (retention 0)",
    "expired": "expired", "capacity_deleted": "deleted for capacity", "deleted": "deleted",
    "forgotten": "forgotten (member erased)", "held": "held now",
}


def print_report(out: Output, home: Path, settings: VaultSettings | None = None) -> Report:
    """Build the report of ``home``'s vault and print it (one JSON object, or a table).

    Opens the vault as every command does (config.toml's settings); ``settings`` is kept for
    callers that pass them and no longer needed. Reads one snapshot.
    """
    del settings
    with opened_vault(home, read_only=True) as v, v.snapshot() as conn:
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
    table.add_row("discarded (false wakes)", _cell(rep.discarded.count, rep.discarded.seconds),
                  *["" for _ in members])
    for name in MEMBER_TALLIES:
        t = rep.total[name]
        table.add_row(_LABELS[name], _cell(t.count, t.seconds),
                      *[_cell(rep.members[m][name].count, rep.members[m][name].seconds)
                        for m in members])
    table.add_row("uploaded", f"{rep.uploaded_bytes} bytes", *["" for _ in members])
    if rep.erasures_pending:
        table.add_row("erasure requests unconfirmed", str(rep.erasures_pending),
                      *["" for _ in members])
    if rep.unconfirmed_bytes:
        table.add_row("left without confirmation", f"{rep.unconfirmed_bytes} bytes",
                      *["" for _ in members])
    return table


@cli.command()
@home_option
@json_option
def report(home: Path | None, json_lines: bool) -> None:
    """What the device heard, kept, discarded, expired and deleted, per member and in total."""
    print_report(Output(json_lines), resolve_home(home))
