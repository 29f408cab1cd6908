"""Parsing done by the consent commands, and the public surface of the consent modules."""

from __future__ import annotations

import importlib

import pytest

from keepmum.errors import ConsentError
from sim.commands.consent import parse_duration_s


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("90s", 90.0),
        ("30m", 1800.0),
        ("12h", 43200.0),
        ("7d", 604800.0),
        ("1d12h", 129600.0),
        ("1.5h", 5400.0),
    ],
)
def test_durations(text: str, seconds: float) -> None:
    assert parse_duration_s(text) == seconds


@pytest.mark.parametrize("bad", ["", "12", "h", "-1h", "0s", "3 weeks", "1h30"])
def test_bad_durations_name_the_value(bad: str) -> None:
    with pytest.raises(ConsentError, match="--expires"):
        parse_duration_s(bad)


@pytest.mark.parametrize(
    "module",
    [
        "storage.consent",
        "storage.ledger",
        "storage.wire",
        "storage.upload",
        "storage.export",
        "sim.cloud",
        "sim.commands.consent",
        "sim.commands.upload",
        "sim.commands.export",
        "sim.commands.cloud",
    ],
)
def test_public_surface_exists(module: str) -> None:
    mod = importlib.import_module(module)
    missing = [name for name in mod.__all__ if not hasattr(mod, name)]
    assert missing == []
