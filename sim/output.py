"""Where commands print: one JSON object a line with ``--json``, a rich console otherwise."""

from __future__ import annotations

import json
import math
import re
import sys
from typing import Any

from rich.console import Console
from rich.markup import escape as _escape_markup

__all__ = ["Output", "escape", "visible"]

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


def escape(value: object) -> str:
    """A user-supplied value (a file name, a member, an audit detail) ready to go inside rich
    markup: shown as given, never read as markup such as ``[/x]``, and :func:`visible`."""
    return _escape_markup(visible(str(value)))


def _jsonable(value: Any) -> Any:
    """Round floats so that lines stay readable and stable; NaN becomes null."""
    if isinstance(value, float):
        return None if math.isnan(value) else round(value, 4)
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    return value


class Output:
    """A command's printer. Human text goes to a rich console (stderr when ``--json`` is on, so
    stdout carries only JSON lines); machine lines go to stdout."""

    def __init__(self, json_lines: bool, file: Any = None) -> None:
        self.json_lines = json_lines
        self._file = file if file is not None else sys.stdout
        self.console = Console(stderr=json_lines, highlight=False)

    def emit(self, obj: dict[str, Any]) -> None:
        """Print one JSON object as a line (only in ``--json`` mode) and flush, for pipes."""
        if self.json_lines:
            self._file.write(json.dumps(_jsonable(obj), sort_keys=False) + "\n")
            self._file.flush()

    def say(self, text: str) -> None:
        """Print a human line with rich markup (suppressed in ``--json`` mode). Values a user
        supplied go in through :func:`escape`."""
        if not self.json_lines:
            self.console.print(visible(text), soft_wrap=True)

    def say_plain(self, text: str) -> None:
        """Print a human line verbatim: no markup, so user text such as a purpose, a URL or an
        age recipient is shown exactly as given (suppressed in ``--json`` mode)."""
        if not self.json_lines:
            self.console.print(visible(text), markup=False, soft_wrap=True)
