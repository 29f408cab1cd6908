"""``keepmum export``: a member's own recordings, checked record by record, encrypted to them."""

from __future__ import annotations

from pathlib import Path

import click

from keepmum.files import guard_output_path
from sim.commands._common import (
    KeepmumCommand,
    force_option,
    home_option,
    json_option,
    opened_vault,
    passphrase_file_option,
    read_passphrase,
    resolve_home,
)
from sim.commands._output import Output
from storage.export import export_member

__all__ = ["export"]


@click.command(cls=KeepmumCommand)
@click.option("--member", required=True, help="The data subject: whose recordings to export.")
@click.option(
    "--out",
    "out_file",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="The bundle to write (an age file holding a tar).",
)
@click.option(
    "--recipient",
    default=None,
    metavar="AGE_RECIPIENT",
    help="Encrypt to this age recipient instead of the member's own.",
)
@force_option
@passphrase_file_option
@home_option
@json_option
def export(
    member: str,
    out_file: Path,
    recipient: str | None,
    force: bool,
    passphrase_files: tuple[str, ...],
    home: Path | None,
    json_lines: bool,
) -> None:
    """Export one member's own recordings for them (data-subject access, GDPR art. 15/20).

    Fails closed: every record is checked first, and the file is written whole or not at all.

    Opens with the standard age tool: age -d -i IDENTITY FILE | tar -t
    """
    out = Output(json_lines)
    guard_output_path(out_file, home=resolve_home(home), option="--out", overwrite=force)
    with opened_vault(home) as vault:
        vault.member(member)
        passphrase = read_passphrase(member, passphrase_files)
        result = export_member(
            vault,
            member=member,
            passphrase=passphrase,
            out=out_file,
            recipient=recipient,
            overwrite=force,
        )
    out.emit(
        {
            "event": "exported",
            "member": result.member,
            "out": str(result.out),
            "records": result.records,
            "bytes": result.bytes,
            "recipient": result.recipient,
            "sha256": result.sha256,
        }
    )
    out.say_plain(
        f"exported {result.records} record(s) of {member} to {result.out} "
        f"({result.bytes} bytes, encrypted to {result.recipient}); "
        f"open with: age -d -i IDENTITY {result.out} | tar -t"
    )
