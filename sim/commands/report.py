"""``keepmum report``: what the device heard, kept, discarded, expired, deleted and uploaded."""

from __future__ import annotations

from pathlib import Path

import click

from sim.commands._common import (
    KeepmumCommand,
    home_option,
    json_option,
    opened_vault,
)
from sim.commands._output import Output, print_report

__all__ = ["report"]


@click.command(cls=KeepmumCommand)
@home_option
@json_option
def report(home: Path | None, json_lines: bool) -> None:
    """What the device heard, kept, discarded, expired and deleted, per member and in total."""
    with opened_vault(home, read_only=True) as vault:
        print_report(Output(json_lines), vault)
