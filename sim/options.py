"""Options shared by every subcommand, and where the device home is."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

__all__ = ["default_home", "home_option", "json_option", "resolve_home"]

F = TypeVar("F", bound=Callable[..., Any])


def default_home() -> Path:
    """The platform's user data folder for keepmum; ``KEEPMUM_HOME`` overrides it."""
    env = os.environ.get("KEEPMUM_HOME")
    if env:
        return Path(env).expanduser()
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Application Support" / "keepmum"
    if sys.platform == "win32":
        return Path(os.environ.get("LOCALAPPDATA", Path.home())) / "keepmum"
    xdg = os.environ.get("XDG_DATA_HOME")
    return (Path(xdg) if xdg else Path.home() / ".local" / "share") / "keepmum"


def resolve_home(home: Path | None) -> Path:
    """``--home`` if given, else :func:`default_home`."""
    return home if home is not None else default_home()


def home_option(func: F) -> F:
    """``--home DIR``: the device home (config, vault, keys)."""
    return click.option(
        "--home",
        type=click.Path(file_okay=False, path_type=Path),
        default=None,
        help="Device home folder (default: $KEEPMUM_HOME or the user data folder).",
    )(func)


def json_option(func: F) -> F:
    """``--json``: one JSON object a line on stdout."""
    return click.option("--json", "json_lines", is_flag=True, help="Print one JSON object a line.")(
        func
    )
