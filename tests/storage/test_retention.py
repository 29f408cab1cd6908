"""Expiry and capacity with an injected clock: FIFO, at every store, at open and on purge."""

from __future__ import annotations

from pathlib import Path

import pytest

from device.errors import ConfigError
from storage import audit
from storage.settings import VaultSettings
from tests.storage.vaulthelp import FakeClock, open_vault, utterance


def test_records_expire_after_retention_h(home: Path, clock: FakeClock) -> None:
    with open_vault(home, clock, retention_h=2.0) as v:
        first = v.store(utterance(0.1, seed=1), "alice")
        clock.advance(3600)
        second = v.store(utterance(0.1, seed=2), "bob")
        clock.advance(3599)
        assert v.purge().all == []
        clock.advance(1)  # first is exactly 2 h old
        result = v.purge()
        assert [d.record for d in result.expired] == [first]
        assert [m.id for m in v.records()] == [second]
        (entry,) = audit.entries(v.connection, event="expired")
        assert (entry.record, entry.member, entry.at) == (first, "alice", clock.t)


def test_expiry_is_enforced_at_every_store(home: Path, clock: FakeClock) -> None:
    with open_vault(home, clock, retention_h=1.0) as v:
        old = v.store(utterance(0.1, seed=1), "alice")
        clock.advance(7200)
        new = v.store(utterance(0.1, seed=2), "alice")
        assert [m.id for m in v.records()] == [new]
        assert [e.record for e in audit.entries(v.connection, event="expired")] == [old]


def test_expiry_is_enforced_at_open(home: Path, clock: FakeClock) -> None:
    with open_vault(home, clock) as v:
        v.store(utterance(0.1), "alice")
    clock.advance(24 * 3600 + 1)
    with open_vault(home, clock) as v:
        assert v.records() == []
        assert len(audit.entries(v.connection, event="expired")) == 1


def test_lowering_retention_shortens_the_life_of_kept_records(
    home: Path, clock: FakeClock
) -> None:
    with open_vault(home, clock, retention_h=24.0) as v:
        v.store(utterance(0.1), "alice")
    clock.advance(3601)
    with open_vault(home, clock, retention_h=1.0) as v:
        assert v.records() == []


def test_capacity_deletes_the_first_stored_first(home: Path, clock: FakeClock) -> None:
    with open_vault(home, clock, capacity_s=1.0) as v:
        ids = []
        for i in range(5):
            ids.append(v.store(utterance(0.3, seed=i), "alice" if i % 2 else "bob"))
            clock.advance(1)
        # 5 x 0.3 s into 1.0 s: the first two go, in order.
        assert [m.id for m in v.records()] == ids[2:]
        gone = audit.entries(v.connection, event="capacity_deleted")
        assert [e.record for e in gone] == ids[:2]
        assert sum(m.duration_s for m in v.records()) <= 1.0


def test_capacity_is_enforced_at_open_with_a_smaller_capacity(
    home: Path, clock: FakeClock
) -> None:
    with open_vault(home, clock) as v:
        ids = [v.store(utterance(0.5, seed=i), "alice") for i in range(4)]
    with open_vault(home, clock, capacity_s=1.2) as v:
        assert [m.id for m in v.records()] == ids[2:]


def test_an_utterance_longer_than_the_capacity_is_not_kept(
    home: Path, clock: FakeClock
) -> None:
    with open_vault(home, clock, capacity_s=0.5) as v:
        small = v.store(utterance(0.4, seed=1), "alice")
        assert v.store(utterance(0.6, seed=2), "alice") is None
        # FIFO first took the older record, then the new one itself: nothing overflows.
        assert v.records() == []
        gone = audit.entries(v.connection, event="capacity_deleted")
        assert len(gone) == 2 and gone[0].record == small


def test_retention_zero_keeps_nothing_but_reports(home: Path, clock: FakeClock) -> None:
    with open_vault(home, clock, retention_h=0) as v:
        for i in range(4):
            assert v.store(utterance(0.2, seed=i), "bob") is None
        assert v.records() == []
        notes = audit.entries(v.connection, event="not_stored_retention_zero")
        assert [(e.member, e.details["duration_s"]) for e in notes] == [("bob", 0.2)] * 4
        assert v.connection.execute("SELECT count(*) FROM records").fetchone()[0] == 0


def test_retention_zero_at_open_empties_the_vault(home: Path, clock: FakeClock) -> None:
    with open_vault(home, clock) as v:
        v.store(utterance(0.2), "alice")
    with open_vault(home, clock, retention_h=0) as v:
        assert v.records() == []


@pytest.mark.parametrize(
    "kwargs", [{"retention_h": -1}, {"capacity_s": -0.1}, {"retention_h": float("nan")},
               {"capacity_s": float("inf")}, {"retention_h": "24"}, {"capacity_s": True}],
)
def test_bad_settings_are_config_errors(kwargs: dict[str, object]) -> None:
    with pytest.raises(ConfigError, match=r"vault\."):
        VaultSettings(**kwargs)  # type: ignore[arg-type]


def test_settings_defaults() -> None:
    s = VaultSettings()
    assert (s.retention_h, s.capacity_s, s.retention_s, s.keeps_nothing) == (24.0, 600.0,
                                                                             86400.0, False)
    assert VaultSettings(retention_h=0).keeps_nothing
