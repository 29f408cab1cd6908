"""The ``keepmum`` command: a click group whose subcommands live in ``sim/cmd_*.py``.

Errors: every :class:`device.errors.KeepmumError` becomes one line on stderr and its exit code
(2 bad input, 1 a failed check, 130/143 an interrupted run); click's usage errors are one line
and exit 2 as well. No traceback reaches a user.
"""

from __future__ import annotations

import sys
from collections import Counter
from typing import Any

import click

from device.errors import Interrupted, KeepmumError
from sim.output import visible
from storage.redact import redact

__all__ = ["KeepmumCommand", "KeepmumGroup", "cli", "disable_core_dumps", "main"]


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

            raise click.UsageError(unknown_name("command", args[0], self.commands), ctx) from exc


@click.group(cls=KeepmumGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="keepmum")
def cli() -> None:
    """A smart speaker that hears everything and keeps almost nothing."""


def _register() -> None:
    # Each module adds its commands to ``cli``; imported here, not at the top, so that a
    # command's heavy imports (onnxruntime, matplotlib) load only when it runs.
    from sim import (  # noqa: F401
        cmd_audit,
        cmd_bench,
        cmd_cloud,
        cmd_consent,
        cmd_corpus,
        cmd_device,
        cmd_export,
        cmd_far,
        cmd_models,
        cmd_report,
        cmd_upload,
        cmd_vault,
    )


def disable_core_dumps() -> None:
    """Make this process (and its children) unable to write a core dump.

    A core dump of ``vault play`` or ``export`` would hold the passphrase, the unlocked secret
    key and decrypted audio in a file nobody asked for. Both limits go to 0, so the process
    cannot raise them again either.
    """
    if sys.platform == "win32":  # no core dumps to switch off (and no ``resource`` module)
        return
    import resource

    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


def main(argv: list[str] | None = None) -> None:
    """Entry point of the console script."""
    disable_core_dumps()
    _register()
    try:
        status = cli.main(args=argv, prog_name="keepmum", standalone_mode=False)
    except click.exceptions.Abort as exc:
        if isinstance(exc.__context__, EOFError):  # input ended at a prompt: not an interrupt
            click.echo("keepmum: error: standard input ended before the answer to a question "
                       "(use --passphrase-file NAME=FILE, or --yes where offered)", err=True)
            sys.exit(2)
        click.echo("keepmum: aborted", err=True)
        sys.exit(130)
    except click.exceptions.NoArgsIsHelpError as exc:  # `keepmum` or `keepmum vault` alone
        click.echo(exc.format_message())
        sys.exit(0)
    except click.UsageError as exc:
        # One line, like every other error, instead of click's usage block and hint.
        where = exc.ctx.command_path if exc.ctx is not None else "keepmum"
        shown = redact(visible(exc.format_message()))
        click.echo(f"keepmum: error: {shown} (see {where} --help)", err=True)
        sys.exit(exc.exit_code)
    except click.ClickException as exc:
        click.echo(f"keepmum: error: {redact(visible(exc.format_message()))}", err=True)
        sys.exit(exc.exit_code)
    except Interrupted as exc:  # a clean stop on a signal: not an error of the user's
        click.echo(f"keepmum: {exc}", err=True)
        sys.exit(exc.exit_code)
    except KeepmumError as exc:
        click.echo(f"keepmum: error: {redact(visible(str(exc)))}", err=True)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        sys.exit(130)
    except BrokenPipeError:
        sys.exit(0)
    # With standalone_mode off, click returns ctx.exit()'s code (e.g. --help gives 0).
    sys.exit(status if isinstance(status, int) else 0)
