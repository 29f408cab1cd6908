"""Progress of long work: on stderr, as a bar when stderr is a terminal.

Progress is for a person watching; it never goes into ``--json`` output or into stdout that a
pipe or file reads. :class:`ProgressDisplay` decides once, from its console (stderr by default)
or from the ``enabled`` argument a test passes. When stderr is not a terminal (a CI log, ``2>
log``), a task marked ``long`` (a 24-hour protocol stream: minutes to hours) still reports, as a
plain line at every tenth of the work; other tasks say nothing there.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from rich.console import Console

__all__ = ["ProgressDisplay"]

Update = Callable[[float, float], None]
"""``update(done, total)``: how far a task is, in its own unit."""


class ProgressDisplay:
    """Transient progress bars on a terminal's stderr (see the module docstring)."""

    def __init__(
        self,
        *,
        enabled: bool | None = None,
        console: Console | None = None,
        lines: bool | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.console = console if console is not None else Console(stderr=True)
        self.enabled = self.console.is_terminal if enabled is None else enabled
        """Whether bars are shown (default: whether the console is a terminal)."""
        self.lines = (not self.enabled) if lines is None else lines
        """Whether ``long`` tasks report as plain lines (default: when bars are not shown)."""
        self._clock = clock

    def say(self, text: str) -> None:
        """A line for the person watching (a plan, an estimate); nothing when disabled."""
        if self.enabled:
            self.console.print(text, markup=False, highlight=False, soft_wrap=True)

    @contextmanager
    def stages(self, unit: str = "runs") -> Iterator[Callable[[str, float, float], None]]:
        """One bar per stage, each added when first reported; yields ``update(stage, done,
        total)``."""
        if not self.enabled:
            yield lambda stage, done, total: None
            return
        with self._progress(None, unit) as progress:
            ids: dict[str, Any] = {}

            def update(stage: str, done: float, total: float) -> None:
                if stage not in ids:
                    ids[stage] = progress.add_task(stage, total=total)
                progress.update(ids[stage], completed=done, total=total)

            yield update

    @contextmanager
    def task(
        self, description: str, unit: str = "s", total: float | None = None, *, long: bool = False
    ) -> Iterator[Update]:
        """A bar for one piece of work, of ``total`` when known up front; yields
        ``update(done, total)`` (``unit`` after the numbers: ``s`` for seconds of audio,
        ``files``, or empty for a share). ``long``: plain lines where no bar is shown."""
        if not self.enabled:
            if not (long and self.lines):
                yield _ignore
                return
            update, finish = self._line_updates(description)
            yield update
            finish()
            return
        with self._progress(description, unit) as progress:
            task = progress.add_task(description, total=total or 1.0)

            def update(done: float, total: float) -> None:
                progress.update(task, completed=done, total=total)

            yield update

    def _line_updates(self, description: str) -> tuple[Update, Callable[[], None]]:
        """``update(done, total)`` printing ``keepmum: DESCRIPTION: 30 % (2:05 elapsed, about
        4:52 left)`` each time the work passes another tenth, and ``finish()`` printing
        ``... 100 % (3:00 elapsed)`` when the work ended short of its last tenth."""
        start = self._clock()
        shown = 0

        def line(tenth: int, left: str) -> None:
            elapsed = _clock_text(self._clock() - start)
            self.console.print(
                f"keepmum: {description}: {10 * tenth} % ({elapsed} elapsed{left})",
                markup=False,
                highlight=False,
                soft_wrap=True,
            )

        def update(done: float, total: float) -> None:
            nonlocal shown
            tenth = min(10, int(10 * done / total)) if total > 0 else 0
            if tenth <= shown:
                return
            shown = tenth
            left = (self._clock() - start) * (total - done) / done
            line(tenth, f", about {_clock_text(left)} left" if tenth < 10 else "")

        def finish() -> None:
            if shown < 10:
                line(10, "")

        return update, finish

    def _progress(self, description: str | None, unit: str) -> Any:
        from rich.progress import (
            BarColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        amount: Any = (
            TextColumn(f"{{task.completed:.0f}}/{{task.total:.0f}} {unit}")
            if unit
            else TextColumn("{task.percentage:>3.0f} %")
        )
        return Progress(
            TextColumn(description if description is not None else "{task.description}"),
            BarColumn(),
            amount,
            TimeElapsedColumn(),
            TextColumn("ETA"),
            TimeRemainingColumn(),
            console=self.console,
            transient=True,
        )


def _ignore(done: float, total: float) -> None:
    """An ``update`` that shows nothing."""


def _clock_text(seconds: float) -> str:
    """``0:42``, ``12:05``, ``3:04:09``."""
    whole = max(0, round(seconds))
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"
