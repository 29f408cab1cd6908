"""``assert_events``: a run's events against expected ones, the way ``replay --expect`` checks.

The comparison is :mod:`sim.expect`'s (each expected event must match a distinct event of the run
within its time tolerance, and an event of an expected kind that matches nothing is a
difference too). With pytest's ``--keepmum-update`` (the plugin turns :func:`set_update` on), an
expected file is rewritten from the run instead, and the assertion passes.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from keepmum.api import Run
from keepmum.files import write_file
from sim.expect import (
    check_expectations,
    expectations_text,
    expected_from_events,
    load_expectations,
    parse_expectations,
)

__all__ = ["assert_events", "set_update", "updated_files"]

_update = False
_updated: list[Path] = []


def set_update(on: bool) -> None:
    """Rewrite expected files instead of comparing (pytest ``--keepmum-update``)."""
    global _update
    _update = on


def updated_files() -> list[Path]:
    """The expected files rewritten so far (for pytest's summary)."""
    return list(_updated)


def _line(event: Mapping[str, Any]) -> str:
    parts = [f"{event.get('event')}", f"t={float(event.get('t', 0.0)):.2f}s"]
    parts += [f"{k}={event[k]}" for k in ("model", "reason") if event.get(k) is not None]
    return " ".join(parts)


def assert_events(
    run: Run | Sequence[Mapping[str, Any]],
    expected: str | os.PathLike[str] | Sequence[Mapping[str, Any]],
    *,
    tolerance_s: float = 0.25,
    update: bool | None = None,
) -> None:
    """Fail (AssertionError) with a readable difference unless the run's events match
    ``expected``: an expected-events file (``replay --expect``'s format: a JSON list of
    ``{"event", "t", "model", "tolerance_s", "file"}``) or such a list. ``tolerance_s`` is the
    time tolerance of an entry that gives none. ``update`` (default: pytest's
    ``--keepmum-update``) rewrites the file from the run instead."""
    __tracebackhide__ = True
    events = [dict(e) for e in (run.events if isinstance(run, Run) else run)]
    if isinstance(expected, (str, os.PathLike)):
        file = Path(expected)
        where = str(file)
        if _update if update is None else update:
            text = expectations_text(expected_from_events(events))
            write_file(file, text.encode("utf-8"), overwrite=True, mode=0o644)
            _updated.append(file)
            return
        if not file.exists():
            raise AssertionError(
                f"{file}: no such expected-events file "
                "(run pytest with --keepmum-update to write it from this run)"
            )
        expectations = load_expectations(file, default_tolerance_s=tolerance_s)
    else:
        where = "expected events"
        expectations = parse_expectations(
            [dict(e) for e in expected], where, default_tolerance_s=tolerance_s
        )
    problems = check_expectations(expectations, events)
    if problems:
        heard = [_line(e) for e in events if e.get("event") != "summary"] or ["(no events)"]
        raise AssertionError(
            f"{where}: the run differs from the expected events:\n  "
            + "\n  ".join(problems)
            + "\nthe run's events:\n  "
            + "\n  ".join(heard)
            + "\n(pytest --keepmum-update rewrites an expected file from the run)"
        )
