"""Where members' passphrases come from: a hidden prompt, or ``--passphrase-file NAME=FILE``.

Files are for scripts and tests: the passphrase is the file's first line, without its line
ending. Passphrases live in RAM only; keepmum never writes or prints one.

A new passphrase (``init``, ``member add``) must have at least :data:`MIN_PASSPHRASE_CHARS`
characters: a member's identity file is sealed with age's scrypt, which slows a guess down but
cannot save a one-letter passphrase from being tried in seconds by anyone who copies the file.
Existing passphrases are never re-checked, so a vault made before the rule still opens.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

import click

from device.errors import ConfigError
from sim.options import require_stdin
from sim.textfile import read_user_text

__all__ = [
    "MIN_PASSPHRASE_CHARS",
    "check_new_passphrase",
    "parse_passphrase_files",
    "passphrase_file_option",
    "read_passphrase",
    "read_passphrase_file",
]

F = TypeVar("F", bound=Callable[..., Any])

MIN_PASSPHRASE_CHARS = 8
"""The shortest new passphrase accepted (characters)."""


def check_new_passphrase(member: str, passphrase: str) -> str:
    """``passphrase`` if it is long enough for a new identity; ConfigError otherwise."""
    if len(passphrase) < MIN_PASSPHRASE_CHARS:
        raise ConfigError(
            f"member {member!r}: a new passphrase needs at least {MIN_PASSPHRASE_CHARS} "
            f"characters, got {len(passphrase)}"
        )
    return passphrase


def passphrase_file_option(func: F) -> F:
    """``--passphrase-file NAME=FILE`` (repeatable)."""
    return click.option(
        "--passphrase-file", "passphrase_files", multiple=True, metavar="NAME=FILE",
        help="Read member NAME's passphrase from the first line of FILE instead of prompting "
             "(repeatable).",
    )(func)


def parse_passphrase_files(specs: Sequence[str]) -> dict[str, Path]:
    """``["alice=a.txt", ...]`` as ``{"alice": Path("a.txt")}``; ConfigError if malformed."""
    files: dict[str, Path] = {}
    for spec in specs:
        name, sep, file = spec.partition("=")
        if not sep or not name or not file:
            # Not echoed: a malformed value is often the passphrase itself, typed by mistake.
            raise ConfigError("--passphrase-file: expected NAME=FILE (a member's name and the "
                              "file holding their passphrase; the value given is not shown)")
        if name in files and files[name] != Path(file):
            raise ConfigError(f"--passphrase-file: two files given for member {name!r}")
        files[name] = Path(file)
    return files


def read_passphrase_file(path: Path) -> str:
    """The first line of ``path`` without its line ending; ConfigError if missing or empty."""
    text = read_user_text(path, "passphrase file")
    first = text.split("\n", 1)[0].removesuffix("\r")
    if not first:
        raise ConfigError(f"{path}: the first line (the passphrase) is empty")
    return first


def read_passphrase(
    member: str,
    passphrase_files: Sequence[str] = (),
    *,
    confirm: bool = False,
    prompt: Callable[..., Any] = click.prompt,
) -> str:
    """``member``'s passphrase: from its ``--passphrase-file`` if given, else a hidden prompt.

    ``confirm`` asks twice (for a new passphrase, at ``init`` and ``member add``).
    """
    files = parse_passphrase_files(passphrase_files)
    if member in files:
        value = read_passphrase_file(files[member])
        return check_new_passphrase(member, value) if confirm else value
    require_stdin(f"{member}'s passphrase", f"use --passphrase-file {member}=FILE")
    value = prompt(
        f"Passphrase for {member}" + (" (new)" if confirm else ""),
        hide_input=True,
        confirmation_prompt=confirm,
    )
    if not value:
        raise ConfigError(f"member {member!r}: the passphrase must not be empty")
    return check_new_passphrase(member, str(value)) if confirm else str(value)
