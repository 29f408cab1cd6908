"""The audio fixtures bundled with keepmum, by name: ``path("alexa_time")``.

They are the clips that ``sim/data/fixtures.json`` lists (espeak-ng speech made by
scripts/make_fixtures.py: positives, near misses, negatives, a wake word followed by silence)
and the 53 s ``household`` scenario with its expected events (``expected("household")``).
"""

from __future__ import annotations

import json
from functools import cache
from importlib.resources import files
from pathlib import Path
from typing import Any

__all__ = ["describe", "expected", "names", "path"]

_SCENARIOS = {"household": "a 53 s home scenario: a request, a false wake, talk, television"}
"""Bundled recordings that are not clips of fixtures.json, with what they hold."""


def _data() -> Path:
    # An installed package's folder (keepmum is never run from a zip); sim/data in a checkout.
    return Path(str(files("sim").joinpath("data")))


@cache
def _manifest() -> dict[str, dict[str, Any]]:
    clips = json.loads((_data() / "fixtures.json").read_text(encoding="utf-8"))["clips"]
    entries = {Path(c["file"]).stem: dict(c) for c in clips}
    for name, text in _SCENARIOS.items():
        entries[name] = {"file": f"{name}.wav", "kind": "scenario", "text": text}
    return entries


def names(kind: str | None = None) -> list[str]:
    """Every fixture's name, sorted; only one ``kind`` if given (``positive``, ``negative``,
    ``near_miss``, ``wake_then_silence``, ``scenario``)."""
    return sorted(n for n, c in _manifest().items() if kind is None or c["kind"] == kind)


def describe(name: str) -> dict[str, Any]:
    """What the manifest says of a fixture: ``kind``, ``model`` (for a wake word), ``text``,
    ``duration_s`` ..."""
    from keepmum.errors import ConfigError
    from sim.config import unknown_name

    entry = _manifest().get(name)
    if entry is None:
        raise ConfigError(unknown_name("fixture", name, _manifest()))
    return dict(entry)


def path(name: str) -> Path:
    """The fixture's audio file (ConfigError, with the names there are, for an unknown one)."""
    return _data() / str(describe(name)["file"])


def expected(name: str) -> Path:
    """The expected-events file of a scenario (``household``), for :func:`keepmum.assert_events`
    or ``keepmum replay --expect``."""
    from keepmum.errors import ConfigError

    found = path(name).with_suffix(".expect.json")
    if not found.is_file():
        raise ConfigError(f"fixture {name!r} has no expected-events file")
    return found
