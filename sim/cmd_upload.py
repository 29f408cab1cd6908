"""``keepmum upload [--dry-run]``: send what live consent covers, to its endpoint, and only that."""

from __future__ import annotations

from pathlib import Path

import click

from sim.cli import cli
from sim.options import home_option, json_option
from sim.output import Output
from sim.vault_cli import opened_vault
from storage.upload import PlannedUpload, Uploader

__all__ = ["upload"]


@cli.command()
@click.option("--dry-run", is_flag=True, help="Show exactly what would leave; send nothing.")
@home_option
@json_option
def upload(dry_run: bool, home: Path | None, json_lines: bool) -> None:
    """Send the upload queue: each record only if a live grant covers it, only to its endpoint.

    With --json, one object per record sent (record, grant, endpoint, bytes) and nothing else.
    """
    out = Output(json_lines)
    verb = "would send" if dry_run else "sent"

    def show(item: PlannedUpload) -> None:
        out.emit({**item.as_json(), "dry_run": dry_run})
        out.say_plain(f"{verb} record {item.record} of {item.member} under grant {item.grant} "
                 f"to {item.endpoint}: {item.bytes} bytes")

    with opened_vault(home) as vault:
        uploader = Uploader(vault)
        if dry_run:
            done = uploader.plan()
            for item in done:
                show(item)
        else:
            done = uploader.upload(on_sent=show)
    total = sum(item.bytes for item in done)
    if done:
        out.say_plain(f"{verb} {len(done)} record(s), {total} bytes in all")
    else:
        out.say_plain("nothing to send: no queued record is covered by a live grant")
