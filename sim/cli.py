"""The ``keepmum`` command: a click group whose subcommands live in ``sim/cmd_*.py``.

Errors: every :class:`device.errors.KeepmumError` becomes one line on stderr and its exit code
(2 bad input, 1 a failed check); click's usage errors exit 2 as well. No traceback reaches a user.
"""

from __future__ import annotations

import sys

import click

from device.errors import KeepmumError

__all__ = ["cli", "main"]


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
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


def main(argv: list[str] | None = None) -> None:
    """Entry point of the console script."""
    _register()
    try:
        status = cli.main(args=argv, prog_name="keepmum", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("keepmum: aborted", err=True)
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except KeepmumError as exc:
        click.echo(f"keepmum: error: {exc}", err=True)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        sys.exit(130)
    except BrokenPipeError:
        sys.exit(0)
    # With standalone_mode off, click returns ctx.exit()'s code (e.g. --help gives 0).
    sys.exit(status if isinstance(status, int) else 0)
