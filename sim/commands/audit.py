"""``keepmum audit show / verify``: the hash-chained log of every vault event."""

from __future__ import annotations

import time
from pathlib import Path

import click

from keepmum.errors import CheckFailed
from sim.commands._common import (
    KeepmumGroup,
    home_option,
    json_option,
    opened_vault,
    require_stdin,
    resolve_home,
)
from sim.commands._output import Output, escape
from sim.config import unknown_name
from storage import audit as chain
from storage.chainhead import HEAD_FILE, read_head
from storage.ledger import live_grants
from storage.vault import Vault

__all__ = ["audit"]


@click.group(cls=KeepmumGroup)
def audit() -> None:
    """The audit chain: every vault event, no audio."""


def _short(value: object) -> str:
    """Hashes and long floats cut for reading (``--json`` prints them whole)."""
    if isinstance(value, float):
        return f"{value:.4g}"
    text = str(value)
    return text[:12] + "…" if len(text) > 40 else text


@audit.command("show")
@click.option("--event", default=None, help="Only this event (e.g. stored, forgotten).")
@click.option("--member", default=None, help="Only entries about this member.")
@click.option("--record", default=None, help="Only entries about this record.")
@click.option("--last", type=click.IntRange(min=1), default=None, help="Only the last N entries.")
@home_option
@json_option
def audit_show(
    event: str | None,
    member: str | None,
    record: str | None,
    last: int | None,
    home: Path | None,
    json_lines: bool,
) -> None:
    """Print the chain's entries, oldest first, then its head (keep it to detect truncation)."""
    out = Output(json_lines)
    if event is not None and event not in chain.EVENTS:
        # A typo would otherwise show an empty log, as if nothing had happened.
        raise click.BadParameter(unknown_name("event", event, chain.EVENTS), param_hint="'--event'")
    with opened_vault(home, read_only=True) as v, v.snapshot():
        entries = chain.entries(v.connection, event=event, member=member, record=record)
        seq, head = chain.head(v.connection)
        head_file = v.home / HEAD_FILE
        # Opening checked it; it may lag the database (never lead it), so show it as it is.
        kept = read_head(head_file)
    if last is not None:
        entries = entries[-last:]
    for e in entries:
        out.emit(e.as_json())
        details = " ".join(f"{k}={_short(val)}" for k, val in e.details.items())
        when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(e.at))
        who = " ".join(x for x in (e.member or "", e.record or "") if x)
        out.say(f"{e.seq:>6} {when} [bold]{e.event}[/] {escape(who)} {escape(details)}")
    out.emit(
        {
            "event": "head",
            "seq": seq,
            "hash": head,
            "head_file": str(head_file),
            "head_file_seq": kept[0] if kept else None,
            "head_file_hash": kept[1] if kept else None,
        }
    )
    out.say(f"head: entry {seq}, hash {head}")
    out.say(f"head file {head_file}: " + (f"entry {kept[0]}, hash {kept[1]}" if kept else "none"))


@audit.command("verify")
@click.option(
    "--anchor",
    default=None,
    metavar="HASH",
    help="A head hash noted earlier: the chain must still contain it.",
)
@home_option
@json_option
def audit_verify(anchor: str | None, home: Path | None, json_lines: bool) -> None:
    """Recompute every link; report every edited, inserted or removed entry; exit 1 if any."""
    out = Output(json_lines)
    with opened_vault(home, read_only=True) as v, v.snapshot():
        defects = chain.verify_chain(v.connection, anchor=anchor)
        seq, head = chain.head(v.connection)
    for d in defects:
        out.emit({"event": "defect", "seq": d.seq, "problem": d.problem})
        out.say(
            f"[red]defect[/] entry {d.seq}: {d.problem}" if d.seq else f"[red]defect[/] {d.problem}"
        )
    out.emit(
        {
            "event": "audit_verify",
            "ok": not defects,
            "entries": seq,
            "head": head,
            "defects": len(defects),
        }
    )
    if defects:
        raise CheckFailed(f"audit verify: {len(defects)} defect(s) in the chain")
    out.say(f"ok: {seq} entries, head {head}")


@audit.command("adopt-head")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@home_option
@json_option
def audit_adopt_head(yes: bool, home: Path | None, json_lines: bool) -> None:
    """Recover a lost head file: record the chain's head again, after showing what it adopts.

    Only for an audit.head that was really lost (missing or damaged). Adopting accepts vault.db
    as it is: if an older copy was restored, its revoked grants are live again (they are shown
    first).
    """
    out = Output(json_lines)
    with Vault.open_lost_head(resolve_home(home)) as v:
        seq, head = chain.head(v.connection)
        last = chain.entries(v.connection, since_seq=seq - 1)
        live = live_grants(v.connection, v.now())
        members = [m.name for m in v.members()]
        out.emit(
            {
                "event": "head_to_adopt",
                "entries": seq,
                "hash": head,
                "last_at": last[0].at if last else None,
                "members": members,
                "live_grants": [g.grant_id for g in live],
            }
        )
        when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(last[0].at)) if last else "-"
        out.say(f"the audit chain has {seq} entries, the last of {when}; head {head}")
        out.say(f"members: {escape(', '.join(members)) or 'none'}")
        for g in live:
            out.say_plain(f"live grant {g.grant_id}: {g.member} -> {g.endpoint} ({g.purpose!r})")
        if not yes:
            require_stdin("a confirmation", "add --yes to adopt without asking")
            click.confirm(
                "Adopt this chain as the vault's (revoked grants of an older copy come back)?",
                abort=True,
                err=True,
            )
        seq, head = v.adopt_head()
    out.emit({"event": "head_adopted", "seq": seq, "hash": head})
    out.say(f"adopted: head file {escape(v.home / HEAD_FILE)} records entry {seq}")
