"""Progress of long work: on stderr, and only when stderr is a terminal.

Progress is for a person watching; it never goes into ``--json`` output or into stdout that a
pipe or file reads. :class:`ProgressDisplay` decides once, from its console (stderr by default)
or from the ``enabled`` argument a test passes, and does nothing at all when disabled.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from rich.console import Console

__all__ = ["ProgressDisplay"]

Update = Callable[[float, float], None]
"""``update(done, total)``: how far a task is, in its own unit."""


class ProgressDisplay:
    """Transient progress bars on a terminal's stderr (see the module docstring)."""

    def __init__(self, *, enabled: bool | None = None, console: Console | None = None) -> None:
        self.console = console if console is not None else Console(stderr=True)
        self.enabled = self.console.is_terminal if enabled is None else enabled
        """Whether anything is shown (default: whether the console is a terminal)."""

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
        self, description: str, unit: str = "s", total: float | None = None
    ) -> Iterator[Update]:
        """A bar for one piece of work, of ``total`` when known up front; yields
        ``update(done, total)`` (``unit`` after the numbers: ``s`` for seconds of audio,
        ``files``, or empty for a share)."""
        if not self.enabled:
            yield lambda done, total: None
            return
        with self._progress(description, unit) as progress:
            task = progress.add_task(description, total=total or 1.0)

            def update(done: float, total: float) -> None:
                progress.update(task, completed=done, total=total)

            yield update

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
