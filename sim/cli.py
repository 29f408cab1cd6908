"""The ``keepmum`` command: a lazy click group whose subcommands live in ``sim/commands/``.

:data:`COMMANDS` maps each name to ``module:function``; a command's module is imported when it
runs, never for ``keepmum --help``, and no command module imports this one.

Errors: every :class:`keepmum.errors.KeepmumError` becomes one line on stderr and its exit code
(2 bad input, 1 a failed check, 130/143 an interrupted run); click's usage errors are one line
and exit 2 as well. No traceback reaches a user. A confirmation answered no exits 1
(:data:`DECLINED_EXIT`: the check "may I?" failed, nothing was changed), not 130, which is
Ctrl-C's.
"""

from __future__ import annotations

import importlib
import io
import sys
from collections.abc import Mapping
from typing import Any

import click

from keepmum.errors import Interrupted, KeepmumError
from sim.commands._base import KeepmumCommand, KeepmumGroup, visible
from storage.redact import redact

__all__ = [
    "COMMANDS",
    "KeepmumCommand",
    "KeepmumGroup",
    "LazyGroup",
    "LostOutput",
    "cli",
    "disable_core_dumps",
    "load_command",
    "main",
]


class LazyGroup(KeepmumGroup):
    """The top-level group: each subcommand is imported only when it runs (click's "Lazily
    Loading Subcommands" pattern), so ``keepmum --help`` loads no model runtime or plotting
    library. The listing shows :data:`COMMANDS`' short help without importing anything;
    tests/sim/test_cli_lazy.py checks that it matches each command's own."""

    def __init__(self, *args: Any, lazy: Mapping[str, tuple[str, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.lazy = dict(lazy)

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *self.lazy})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in self.lazy:
            return load_command(self.lazy[cmd_name][0])
        return super().get_command(ctx, cmd_name)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        names = self.list_commands(ctx)
        if not names:
            return
        # The width click's own listing allows for the short help (click.Group.format_commands).
        limit = formatter.width - 6 - max(len(name) for name in names)
        rows = [(name, self._short_help(ctx, name, limit)) for name in names]
        with formatter.section("Commands"):
            formatter.write_dl(rows)

    def _short_help(self, ctx: click.Context, name: str, limit: int) -> str:
        if name in self.lazy:
            return click.Command(name, help=self.lazy[name][1]).get_short_help_str(limit)
        command = super().get_command(ctx, name)
        return command.get_short_help_str(limit) if command is not None else ""


COMMANDS: dict[str, tuple[str, str]] = {
    # name: ("module:function", the first paragraph of its help, which `keepmum --help` lists)
    "audit": ("sim.commands.audit:audit", "The audit chain: every vault event, no audio."),
    "bench": (
        "sim.commands.bench:bench",
        "Measure keepmum against its wake-word library's own streaming loop (openWakeWord's on "
        "the onnx backend, pyopen-wakeword's on tflite); exit 1 if a bar fails.",
    ),
    "cloud": (
        "sim.commands.cloud:cloud",
        "A local receiving endpoint with its own age identity (for seeing what consent sends).",
    ),
    "config": ("sim.commands.device:config_group", "The device configuration."),
    "consent": (
        "sim.commands.consent:consent",
        "The consent ledger: nothing leaves the device without a live grant.",
    ),
    "corpus": (
        "sim.commands.corpus:corpus",
        "Synthetic corpora: spoken phrases (espeak-ng) and long benchmark streams.",
    ),
    "demo": (
        "sim.commands.device:demo",
        "Replay a bundled household scenario through the whole device, then show what it kept.",
    ),
    "export": (
        "sim.commands.export:export",
        "Export one member's own recordings for them (data-subject access, GDPR art. 15/20).",
    ),
    "far": (
        "sim.commands.far:far",
        "False-wake benchmark: FRR, false accepts per hour and kept seconds, per threshold.",
    ),
    "init": (
        "sim.commands.vault:init",
        "Create a device home: configuration, vault, and one identity per member.",
    ),
    "listen": (
        "sim.commands.device:listen",
        "Run the device on a live microphone, with a live view (press m to mute, Ctrl-C to stop).",
    ),
    "member": ("sim.commands.vault:member", "The household's members and their keys."),
    "models": (
        "sim.commands.models:models",
        "List the built-in wake-word models of every installed backend; the device uses the first.",
    ),
    "replay": (
        "sim.commands.device:replay",
        "Run the device on recorded audio (WAV/FLAC/OGG, any rate and channels; - reads raw "
        "s16le 16 kHz mono from stdin, e.g. from arecord, or a 16-bit WAV file, known by its "
        "header).",
    ),
    "report": (
        "sim.commands.report:report",
        "What the device heard, kept, discarded, expired and deleted, per member and in total.",
    ),
    "upload": (
        "sim.commands.upload:upload",
        "Send the upload queue: each record only if a live grant covers it, only to its endpoint.",
    ),
    "vault": ("sim.commands.vault:vault", "Look into and manage the encrypted vault."),
    "voices": (
        "sim.commands.voices:voices",
        "Measure voice attribution on folders of speakers (SPEAKERS_DIR/<corpus>/<speaker>/audio).",
    ),
}


def load_command(target: str) -> click.Command:
    """The command object named ``"module:function"``, importing its module now."""
    module_name, attribute = target.split(":")
    command = getattr(importlib.import_module(module_name), attribute)
    if not isinstance(command, click.Command):
        raise TypeError(f"{target} is not a click command")
    return command


@click.group(cls=LazyGroup, lazy=COMMANDS, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="keepmum")
def cli() -> None:
    """A smart speaker that hears everything and keeps almost nothing."""


PR_SET_DUMPABLE = 4
"""prctl(2) option: 0 makes the process non-dumpable (linux/prctl.h)."""


def disable_core_dumps() -> None:
    """Make this process (and its children) unable to write a core dump, and on Linux
    non-dumpable.

    A core dump of ``vault play`` or ``export`` would hold the passphrase, the unlocked secret
    key and decrypted audio in a file nobody asked for. Both limits go to 0, so the process
    cannot raise them again either. Non-dumpable (``PR_SET_DUMPABLE`` 0) also keeps another
    process of the same user from reading this one's memory through ``/proc/PID/mem`` or
    ptrace: the same secrets, without a core file.
    """
    if sys.platform == "win32":  # no core dumps to switch off (and no ``resource`` module)
        return
    import resource

    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    if sys.platform.startswith("linux"):
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        if libc.prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0:  # pragma: no cover - cannot fail
            raise OSError(ctypes.get_errno(), "prctl(PR_SET_DUMPABLE, 0) failed")


class LostOutput(io.TextIOBase):
    """Standard output when file descriptor 1 is closed (``>&-``; Python then has no
    ``sys.stdout``): what a command prints is counted and dropped, so the command still does
    its work (a replay still writes its audit entry), and :func:`main` then fails in one line
    instead of a traceback at the first print."""

    def __init__(self) -> None:
        super().__init__()
        self.chars = 0
        """Characters the command tried to print."""

    def write(self, text: str) -> int:
        self.chars += len(text)
        return len(text)

    def isatty(self) -> bool:
        return False


DECLINED_EXIT = 1
"""Exit status when the user answers no to a confirmation (``vault forget``, ``vault purge``)."""


def main(argv: list[str] | None = None) -> None:
    """Entry point of the console script."""
    disable_core_dumps()
    lost = None
    if sys.stdout is None:
        lost = LostOutput()
        sys.stdout = lost
    try:
        _main(argv)
    except SystemExit as exc:
        if lost is not None and lost.chars and exc.code in (0, None):
            click.echo(
                f"keepmum: error: standard output is closed; {lost.chars} characters of output "
                "were lost (the command itself ran to its end)",
                err=True,
            )
            sys.exit(2)
        raise


def _main(argv: list[str] | None) -> None:
    """Run the command; every way it ends is one ``sys.exit`` with its status."""
    try:
        status = cli.main(args=argv, prog_name="keepmum", standalone_mode=False)
    except click.exceptions.Abort as exc:
        if isinstance(exc.__context__, EOFError):  # input ended at a prompt: not an interrupt
            click.echo(
                "keepmum: error: standard input ended before the answer to a question "
                "(use --passphrase-file NAME=FILE, or --yes where offered)",
                err=True,
            )
            sys.exit(2)
        if exc.__context__ is None:  # a question answered no (click.confirm(abort=True))
            click.echo("keepmum: not confirmed; nothing was changed", err=True)
            sys.exit(DECLINED_EXIT)
        click.echo("keepmum: aborted", err=True)  # Ctrl-C at a prompt
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
