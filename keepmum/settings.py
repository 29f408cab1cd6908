"""Each setting declared once: its unit, range, default, help and command-line option.

A settings class (``SpeakerSettings``, ``VadSettings`` ...) is a frozen dataclass whose fields are
made with :func:`setting`; the declaration rides in the field's metadata. From it:

- :func:`check_settings` validates an instance (the class's ``__post_init__`` calls it), with one
  message form for every setting: ``speaker.silence_ms must be in 80..10000, got 5``;
- ``sim.config`` loads the ``config.toml`` section into the class, ``sim.commands._common`` makes
  a command-line option of each setting that names one (``--silence-ms``), and
  ``python -m sim.settings_doc`` writes the docs' configuration table.

Adding or removing a setting is adding or removing its field; nothing else lists settings.
This module imports none of keepmum's layers.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from keepmum.errors import ConfigError

__all__ = ["Declared", "check_settings", "declared", "setting"]

_KEY = "keepmum.setting"


@dataclass(frozen=True)
class Declared:
    """What one setting is, besides its name and default."""

    unit: str
    """``ms``, ``s``, ``dB``, ``h``, ``frames``, ``probability`` ... ("" for names and flags)."""
    help: str
    """One line for ``--help`` and the docs table."""
    low: float | None = None
    """Smallest value allowed (None: no bound, and no number check)."""
    high: float | None = None
    """Largest value allowed (None: unbounded above, but always finite)."""
    low_open: bool = False
    """``low`` itself is refused: the range is ``(low, high]``."""
    choices: tuple[int | str, ...] = ()
    """The only values allowed, when they are a few (numbers, or words such as ``discard``)."""
    option: str | None = None
    """The command-line option of ``replay``/``listen`` that sets it (``--silence-ms``), if any."""

    def allowed(self) -> str:
        """The allowed values as the error message and the docs say them: ``80..10000``,
        ``(0, 1]``, ``0, 1, 2 or 3``, ``>= 1`` ("" when anything goes)."""
        if self.choices:
            *rest, last = (str(c) for c in self.choices)
            return f"{', '.join(rest)} or {last}" if rest else last
        if self.low is None:
            return ""
        if self.high is None:
            return f"{'>' if self.low_open else '>='} {self.low:g}"
        if self.low_open:
            return f"({self.low:g}, {self.high:g}]"
        return f"{self.low:g}..{self.high:g}"

    def accepts(self, value: Any) -> bool:
        """Whether ``value`` is in range (a finite number within the bounds, or one of
        ``choices``); True for a setting without a range."""
        if self.choices:
            return value in self.choices and not isinstance(value, bool)
        if self.low is None:
            return True
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return False
        if not math.isfinite(value):
            return False
        above = value > self.low if self.low_open else value >= self.low
        return above and (self.high is None or value <= self.high)


def setting(
    default: Any,
    *,
    unit: str,
    help: str,
    low: float | None = None,
    high: float | None = None,
    low_open: bool = False,
    choices: tuple[int | str, ...] = (),
    option: str | None = None,
) -> Any:
    """A dataclass field carrying its setting's declaration (see :class:`Declared`)."""
    declaration = Declared(unit, help, low, high, low_open, choices, option)
    return dataclasses.field(default=default, metadata={_KEY: declaration})


def declared(cls: type) -> Iterator[tuple[dataclasses.Field[Any], Declared]]:
    """Each declared setting of a settings class (or instance), in field order."""
    for f in dataclasses.fields(cls):
        declaration = f.metadata.get(_KEY)
        if declaration is not None:
            yield f, declaration


def check_settings(settings: Any, section: str) -> None:
    """Raise :class:`ConfigError` naming the first setting of ``settings`` out of its declared
    range, as ``section.name``: called at construction, so an invalid one cannot exist."""
    for f, declaration in declared(type(settings)):
        value = getattr(settings, f.name)
        bounded = declaration.low is not None and declaration.high is not None
        allowed = f"in {declaration.allowed()}" if bounded else declaration.allowed()
        whole = isinstance(f.default, int) and not isinstance(f.default, bool)
        if whole and declaration.low is not None and not isinstance(value, int):
            raise ConfigError(f"{section}.{f.name} must be a whole number {allowed}, got {value!r}")
        if not declaration.accepts(value):
            raise ConfigError(f"{section}.{f.name} must be {allowed}, got {value!r}")
