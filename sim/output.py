"""Where commands print: one JSON object a line with ``--json``, a rich console otherwise."""

from __future__ import annotations

import json
import math
import sys
from typing import Any

from rich.console import Console

__all__ = ["Output"]


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
        """Print a human line with rich markup (suppressed in ``--json`` mode)."""
        if not self.json_lines:
            self.console.print(text, soft_wrap=True)

    def say_plain(self, text: str) -> None:
        """Print a human line verbatim: no markup, so user text such as a purpose, a URL or an
        age recipient is shown exactly as given (suppressed in ``--json`` mode)."""
        if not self.json_lines:
            self.console.print(text, markup=False, soft_wrap=True)
