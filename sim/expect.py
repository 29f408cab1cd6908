"""``replay --expect``: check a run's events against a tester's list of expected events.

The file is a JSON list of objects: ``event`` (wake, utterance_end, discarded, stored), optional
``model``, ``file`` (matched against the end of the event's file path), ``t`` (seconds) and
``tolerance_s`` (default 0.5). Each expected event must match a distinct actual event. For every
event kind that appears in the list, an actual event of that kind that matches nothing is a failure
too: a test that expects one wake must fail on a second, false wake.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from device.errors import ConfigError
from sim.config import read_user_text, unknown_name

__all__ = ["Expectation", "check_expectations", "load_expectations"]

_KINDS = ("wake", "listening", "utterance_end", "discarded", "stored", "mute", "unmute")
_KEYS = ("event", "t", "tolerance_s", "model", "file")
"""Every key an expected event may have: a typo such as ``tolerence_s`` must not be ignored."""


@dataclass(frozen=True)
class Expectation:
    """One expected event."""

    event: str
    t: float | None
    tolerance_s: float
    model: str | None = None
    file: str | None = None

    def matches(self, actual: dict[str, Any]) -> bool:
        """Same kind, model and file, and within the time tolerance."""
        if actual.get("event") != self.event:
            return False
        if self.model is not None and actual.get("model") != self.model:
            return False
        if self.file is not None and not str(actual.get("file", "")).endswith(self.file):
            return False
        return self.t is None or abs(float(actual.get("t", 0.0)) - self.t) <= self.tolerance_s

    def describe(self) -> str:
        parts = [self.event]
        if self.model:
            parts.append(f"model={self.model}")
        if self.t is not None:
            parts.append(f"t={self.t:.2f}±{self.tolerance_s:g}s")
        if self.file:
            parts.append(f"file={self.file}")
        return " ".join(parts)


def load_expectations(path: Path) -> list[Expectation]:
    """Read and validate an expectations file (ConfigError naming the file and the entry)."""
    text = read_user_text(path, "expectations file")
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{path}: not valid JSON ({exc})") from None
    if not isinstance(data, list):
        raise ConfigError(f"{path}: expected a JSON list of events, got {type(data).__name__}")
    out = []
    for number, item in enumerate(data):
        where = f"{path}: entry {number}"
        if not isinstance(item, dict):
            raise ConfigError(
                f'{where}: expected an object such as {{"event": "wake"}}, got {item!r}'
            )
        for key in item:
            if key not in _KEYS:
                raise ConfigError(f"{where}: {unknown_name('key', str(key), _KEYS)}")
        if item.get("event") not in _KINDS:
            if isinstance(item.get("event"), str):
                raise ConfigError(f"{where}: {unknown_name('event', item['event'], _KINDS)}")
            raise ConfigError(f'{where}: needs "event" one of {", ".join(_KINDS)}, got {item!r}')
        try:
            t = None if item.get("t") is None else float(item["t"])
            tolerance = float(item.get("tolerance_s", 0.5))
        except (TypeError, ValueError):
            raise ConfigError(f"{where}: t and tolerance_s must be numbers, got {item!r}") from None
        if not (t is None or math.isfinite(t)) or not math.isfinite(tolerance) or tolerance < 0:
            raise ConfigError(
                f"{where}: t and tolerance_s must be finite, tolerance_s >= 0, got {item!r}"
            )
        out.append(Expectation(item["event"], t, tolerance, item.get("model"), item.get("file")))
    return out


def check_expectations(expected: list[Expectation], actual: list[dict[str, Any]]) -> list[str]:
    """Differences, one readable line each; empty when the run did what was expected."""
    kinds = {e.event for e in expected}
    candidates = [a for a in actual if a.get("event") in kinds]
    used: set[int] = set()
    problems: list[str] = []
    for expectation in sorted(expected, key=lambda e: (e.t is None, e.t or 0.0)):
        best = None
        for i, event in enumerate(candidates):
            if i in used or not expectation.matches(event):
                continue
            distance = abs(float(event.get("t", 0.0)) - (expectation.t or 0.0))
            if best is None or distance < best[0]:
                best = (distance, i)
        if best is None:
            problems.append(f"missing:    {expectation.describe()}")
        else:
            used.add(best[1])
    for i, event in enumerate(candidates):
        if i not in used:
            extra = " ".join(
                f"{k}={event[k]}" for k in ("model", "reason", "record") if event.get(k) is not None
            )
            problems.append(
                f"unexpected: {event['event']} t={float(event.get('t', 0.0)):.2f}s {extra} "
                f"file={event.get('file', '')}".rstrip()
            )
    return problems
