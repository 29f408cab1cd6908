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

from keepmum.errors import ConfigError
from sim.config import read_user_text, unknown_name

__all__ = [
    "Expectation",
    "check_expectations",
    "expectations_text",
    "expected_from_events",
    "load_expectations",
    "parse_expectations",
]

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


def load_expectations(path: Path, *, default_tolerance_s: float = 0.5) -> list[Expectation]:
    """Read and validate an expectations file (ConfigError naming the file and the entry).
    ``default_tolerance_s`` is the tolerance of an entry that gives none."""
    text = read_user_text(path, "expectations file")
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{path}: not valid JSON ({exc})") from None
    return parse_expectations(data, str(path), default_tolerance_s=default_tolerance_s)


def parse_expectations(
    data: Any, where: str, *, default_tolerance_s: float = 0.5
) -> list[Expectation]:
    """Validate a list of expected events already read (``where`` names it in errors)."""
    if not isinstance(data, list):
        raise ConfigError(f"{where}: expected a JSON list of events, got {type(data).__name__}")
    out = []
    for number, item in enumerate(data):
        entry = f"{where}: entry {number}"
        if not isinstance(item, dict):
            raise ConfigError(
                f'{entry}: expected an object such as {{"event": "wake"}}, got {item!r}'
            )
        for key in item:
            if key not in _KEYS:
                raise ConfigError(f"{entry}: {unknown_name('key', str(key), _KEYS)}")
        if item.get("event") not in _KINDS:
            if isinstance(item.get("event"), str):
                raise ConfigError(f"{entry}: {unknown_name('event', item['event'], _KINDS)}")
            raise ConfigError(f'{entry}: needs "event" one of {", ".join(_KINDS)}, got {item!r}')
        try:
            t = None if item.get("t") is None else float(item["t"])
            tolerance = float(item.get("tolerance_s", default_tolerance_s))
        except (TypeError, ValueError):
            raise ConfigError(f"{entry}: t and tolerance_s must be numbers, got {item!r}") from None
        if not (t is None or math.isfinite(t)) or not math.isfinite(tolerance) or tolerance < 0:
            raise ConfigError(
                f"{entry}: t and tolerance_s must be finite, tolerance_s >= 0, got {item!r}"
            )
        out.append(Expectation(item["event"], t, tolerance, item.get("model"), item.get("file")))
    return out


def expected_from_events(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The expectations a run meets: each of its events of a checked kind with its model and
    time (to 0.01 s), and its file's name when the run heard more than one; no tolerance, so
    the checker's default applies."""
    checked = [e for e in events if e.get("event") in _KINDS]
    several_files = len({e["file"] for e in checked if e.get("file")}) > 1
    out: list[dict[str, Any]] = []
    for event in checked:
        entry: dict[str, Any] = {"event": event["event"]}
        if event.get("model"):
            entry["model"] = event["model"]
        entry["t"] = round(float(event.get("t", 0.0)), 2)
        if several_files and event.get("file"):
            entry["file"] = Path(str(event["file"])).name
        out.append(entry)
    return out


def expectations_text(expected: list[dict[str, Any]]) -> str:
    """An expectations file's text: a JSON list, one event a line (as household.expect.json)."""
    lines = ",\n".join(" " + json.dumps(entry) for entry in expected)
    return f"[\n{lines}\n]\n" if expected else "[]\n"


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
