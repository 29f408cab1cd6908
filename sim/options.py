"""Options shared by every subcommand, and where the device home is."""

from __future__ import annotations

import math
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from device.errors import ConfigError

__all__ = [
    "FiniteFloat",
    "default_home",
    "force_option",
    "home_option",
    "json_option",
    "require_stdin",
    "resolve_home",
]

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


def require_stdin(question: str, instead: str) -> None:
    """ConfigError before asking ``question`` when standard input is closed (``<&-``: Python
    then has no ``sys.stdin``, and click and getpass would fail with a traceback)."""
    if sys.stdin is None:
        raise ConfigError(f"cannot ask for {question}: standard input is closed; {instead}")


def force_option(func: F) -> F:
    """``--force``: replace an existing output file (never one inside the device home, never
    through a symbolic link: see :func:`device.files.guard_output_path`)."""
    return click.option(
        "--force", is_flag=True, help="Replace the output file if it exists."
    )(func)


def json_option(func: F) -> F:
    """``--json``: one JSON object a line on stdout."""
    return click.option("--json", "json_lines", is_flag=True, help="Print one JSON object a line.")(
        func
    )


class FiniteFloat(click.FloatRange):
    """A number option: NaN and infinity are refused with the option's name (click's own
    ``float`` and ``FloatRange`` accept both, and NaN passes every range check).

    ``allow_inf`` is for the few options where infinity has a documented meaning (``--snr-db
    inf``: no noise).
    """

    name = "number"

    def __init__(
        self,
        min: float | None = None,
        max: float | None = None,
        *,
        allow_inf: bool = False,
    ) -> None:
        super().__init__(min=min, max=max)
        self.allow_inf = allow_inf

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        number = super().convert(value, param, ctx)
        if math.isnan(number) or (math.isinf(number) and not self.allow_inf):
            self.fail(f"{value!r} is not a finite number", param, ctx)
        return number
