"""The tour's commands, read from docs/tour.md.

A runnable block is a fenced ``sh`` block right after an HTML comment that marks it:

- ``<!-- tour -->``: run as written, in order with the others, in one shell;
- ``<!-- tour: terminal FILE -->``: run in a terminal of its own (``script``), with FILE's text
  typed into it (a passphrase ``age`` asks for on the terminal, never on stdin);
- ``<!-- tour: needs a microphone -->`` or ``<!-- tour: needs ../shared -->``: not run.

Every ``sh`` block of the page must carry one of these marks, so that no command in the tour
escapes the test by being left unmarked.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass
from pathlib import Path

SKIPPED = ("needs a microphone", "needs ../shared")
"""Marks of blocks the test does not run, and why: the one audio device the test machines share
is not a microphone, and ../shared is not part of a fresh clone."""

_BLOCK = re.compile(
    r"(?:<!-- tour(?::\s*(?P<mark>[^>]*?))?\s*-->\n)?```sh\n(?P<body>.*?)\n```", re.S
)


@dataclass(frozen=True)
class Block:
    """One ``sh`` block of the tour: its text and its mark (None: unmarked)."""

    body: str
    mark: str | None
    line: int

    @property
    def runs(self) -> bool:
        return self.mark is not None and self.mark not in SKIPPED

    @property
    def terminal_input(self) -> str | None:
        """The file whose text is typed into the block's terminal, for a ``terminal`` block."""
        if self.mark is None or not self.mark.startswith("terminal"):
            return None
        return self.mark.split(maxsplit=1)[1]


def blocks(page: Path) -> list[Block]:
    """Every ``sh`` block of ``page``, in order, with its mark."""
    text = page.read_text(encoding="utf-8")
    found = []
    for match in _BLOCK.finditer(text):
        marked = match.group(0).startswith("<!--")
        mark = (match.group("mark") or "") if marked else None
        found.append(Block(match.group("body"), mark, text.count("\n", 0, match.start()) + 1))
    return found


def script(page: Path, workdir: Path) -> str:
    """One bash script that runs the page's runnable blocks in order, each announced on stderr;
    a terminal block is written to a file in ``workdir`` and run through ``script``."""
    # A block that fails leaves what it started in the background (the receiver) running:
    # stop every job when the script ends, whichever way.
    lines = ["set -euo pipefail", "trap 'kill $(jobs -p) 2>/dev/null || true' EXIT"]
    for number, block in enumerate(blocks(page)):
        if not block.runs:
            continue
        lines.append(f"echo '== docs/tour.md line {block.line}' >&2")
        typed = block.terminal_input
        if typed is None:
            lines.append(block.body)
            continue
        path = workdir / f"terminal-block-{number}.sh"
        path.write_text("set -euo pipefail\n" + block.body + "\n", encoding="utf-8")
        command = shlex.quote(f"bash {shlex.quote(str(path))}")
        lines.append(f"script -qec {command} /dev/null < {shlex.quote(typed)}")
    return "\n".join(lines) + "\n"
