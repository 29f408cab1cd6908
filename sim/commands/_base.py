"""What ``keepmum`` needs before it knows which command runs: the click classes and safe text.

Kept apart from :mod:`sim.commands._common` so that ``sim/cli.py`` (and so ``keepmum --help``)
imports only click and this: no numpy, no vault, no rich (``tests/sim/test_cli_lazy.py``).
:class:`KeepmumCommand` and :class:`KeepmumGroup` refuse an option given twice that takes one
value and answer a mistyped command with the closest names; :func:`visible` makes any text safe
for a terminal (every error line goes through it).
"""

from __future__ import annotations

import re
from collections import Counter
from typing import Any

import click

__all__ = ["KeepmumCommand", "KeepmumGroup", "visible"]

# C0 and C1 control characters except newline and tab: an escape sequence in a file name or a
# purpose must not recolour, move or clear a user's terminal.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def visible(text: str) -> str:
    """``text`` safe for a terminal: control characters as ``\\xNN``, and the undecodable bytes
    of a non-UTF-8 file name (Python's surrogate escapes) as ``\\xNN`` too, instead of a crash
    when the text is printed."""
    if any("\udc80" <= ch <= "\udcff" for ch in text):
        text = text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", text)


def _refuse_repeats(order: list[Any], ctx: click.Context) -> None:
    """A usage error for an option given twice that takes one value: click would silently keep
    the last one (``--threshold 0.3 --threshold 0.9``-style mistakes must not pass)."""
    counts = Counter(p for p in order if isinstance(p, click.Option))
    for option, count in counts.items():
        if count > 1 and not option.multiple and not option.count:
            raise click.UsageError(
                f"option {'/'.join(option.opts)} given {count} times; give it once", ctx
            )


class _RefusesRepeats:
    """Wraps click's parser so that the options it saw, in order, are checked for repeats."""

    def make_parser(self, ctx: click.Context) -> Any:
        parser = super().make_parser(ctx)  # type: ignore[misc]
        parse = parser.parse_args

        def parse_args(args: list[str]) -> Any:
            opts, rest, order = parse(args=args)
            _refuse_repeats(order, ctx)
            return opts, rest, order

        parser.parse_args = parse_args
        return parser


class KeepmumCommand(_RefusesRepeats, click.Command):
    """A command that refuses repeated single-value options (see :func:`_refuse_repeats`)."""


class KeepmumGroup(_RefusesRepeats, click.Group):
    """A group whose commands and subgroups are :class:`KeepmumCommand` / ``KeepmumGroup``."""

    command_class = KeepmumCommand
    group_class = type  # subgroups are KeepmumGroups too

    def resolve_command(
        self, ctx: click.Context, args: list[str]
    ) -> tuple[str | None, click.Command | None, list[str]]:
        try:
            return super().resolve_command(ctx, args)
        except click.exceptions.NoSuchCommand as exc:
            from sim.config import unknown_name  # here: only a typo pays for the import

            known = self.list_commands(ctx)
            raise click.UsageError(unknown_name("command", args[0], known), ctx) from exc
