"""``keepmum upload [--dry-run]``: send what live consent covers, to its endpoint, and only that.

Every run also retries the erasure requests not yet confirmed
(:func:`sim.commands._common.send_erasure_requests`).
"""

from __future__ import annotations

from pathlib import Path

import click

from keepmum.errors import ConfigError
from sim.commands._common import (
    FiniteFloat,
    KeepmumCommand,
    home_option,
    json_option,
    opened_vault,
    send_erasure_requests,
)
from sim.commands._output import Output
from storage.erasure import pending_erasures
from storage.upload import DEADLINE_S, PlannedUpload, Uploader, UploadNotice, open_attempts
from storage.vault import Vault

__all__ = ["upload"]


@click.command(cls=KeepmumCommand)
@click.option("--dry-run", is_flag=True, help="Show exactly what would leave; send nothing.")
@click.option(
    "--deadline-s",
    "deadline_s",
    type=FiniteFloat(),
    default=DEADLINE_S,
    show_default=True,
    help="Total time allowed for one record's exchange with its endpoint (seconds).",
)
@home_option
@json_option
def upload(dry_run: bool, deadline_s: float, home: Path | None, json_lines: bool) -> None:
    """Send the upload queue: each record only if a live grant covers it, only to its endpoint.

    With --json, one object per record sent (record, grant, endpoint, bytes); anything else
    (a failure, an attempt whose outcome a crash left unknown, an erasure request) has an
    "event" field. A failing endpoint does not stop the others; the run then exits 2.
    """
    if deadline_s <= 0:
        raise ConfigError(f"--deadline-s {deadline_s!r}: expected a number above 0")
    out = Output(json_lines)
    verb = "would send" if dry_run else "sent"

    def show(item: PlannedUpload) -> None:
        out.emit({**item.as_json(), "dry_run": dry_run})
        out.say_plain(
            f"{verb} record {item.record} of {item.member} under grant {item.grant} "
            f"to {item.endpoint}: {item.bytes} bytes"
        )

    def notice(n: UploadNotice) -> None:
        out.emit(n.as_json())
        what = {
            "outcome_unknown": "outcome unknown (resolved now)",
            "failed": "FAILED",
            "skipped": "not tried",
            "in_flight": "in flight elsewhere",
            "grant_refused": "NOT SENT, grant refused (the audit chain does not bind it)",
        }[n.kind]
        out.say_plain(
            f"record {n.record} under grant {n.grant} to {n.endpoint}: {what}: "
            f"{n.detail} ({n.bytes_sent} bytes left)"
        )

    # A dry run only reads: it works on a read-only home too.
    with opened_vault(home, read_only=dry_run, out=out) as vault:
        if dry_run:
            for a in open_attempts(vault.connection):
                notice(
                    UploadNotice(
                        "in_flight",
                        a["record"],
                        a["grant"],
                        a["endpoint"],
                        int(a["bytes"]),
                        "in flight, outcome unknown",
                    )
                )
            done = Uploader(vault).plan(on_notice=notice)
            for item in done:
                show(item)
        else:
            send_erasure_requests(vault, out)
            try:
                done = Uploader(vault, deadline_s=deadline_s).upload(on_sent=show, on_notice=notice)
            finally:
                if not json_lines:
                    _say_pending(vault, out)
    total = sum(item.bytes for item in done)
    if done:
        out.say_plain(f"{verb} {len(done)} record(s), {total} bytes in all")
    else:
        out.say_plain("nothing to send: no queued record is covered by a live grant")


def _say_pending(vault: Vault, out: Output) -> None:
    waiting = pending_erasures(vault.connection)
    if waiting:
        out.say_plain(
            f"{len(waiting)} erasure request(s) still unconfirmed: "
            + ", ".join(f"{r.request_id} ({r.endpoint})" for r in waiting)
        )
