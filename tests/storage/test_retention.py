"""Expiry and capacity with an injected clock: FIFO, at every store, at open and on purge."""

from __future__ import annotations

from pathlib import Path

import pytest

from keepmum.errors import ConfigError, VaultError
from storage import audit
from storage.settings import VaultSettings
from tests.storage.vault_fixtures import FakeClock, open_vault, utterance


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


def test_lowering_retention_applies_to_new_records_only(home: Path, clock: FakeClock) -> None:
    # Issue 10.2: a lowered (or one-off) retention never deletes what is already kept.
    with open_vault(home, clock, retention_h=24.0) as v:
        kept = v.store(utterance(0.1), "alice")
    clock.advance(3601)
    with open_vault(home, clock, retention_h=1.0) as v:
        assert [r.id for r in v.records()] == [kept]
        new = v.store(utterance(0.1, seed=2), "alice")
        assert v.record(new).expires == clock() + 3600
    clock.advance(3600)
    with open_vault(home, clock, retention_h=1.0) as v:
        assert [r.id for r in v.records()] == [kept]  # the new one expired by its own expiry


def test_purge_older_than_shrinks_retention_of_kept_records_explicitly(
    home: Path, clock: FakeClock
) -> None:
    with open_vault(home, clock) as v:
        old = v.store(utterance(0.1), "alice")
        clock.advance(2 * 3600)
        young = v.store(utterance(0.1, seed=3), "bob")
        assert [r.id for r in v.older_than(1.0)] == [old]
        deleted = v.purge_older_than(1.0)
        assert [(d.record, d.event) for d in deleted] == [(old, "deleted")]
        assert [r.id for r in v.records()] == [young]
        (entry,) = audit.entries(v.connection, event="deleted")
        assert entry.record == old and entry.details["older_than_h"] == 1.0
        with pytest.raises(VaultError, match="older-than-h"):
            v.purge_older_than(float("nan"))


def test_records_stored_while_the_clock_ran_ten_years_fast_do_not_live_ten_years(
    home: Path, clock: FakeClock
) -> None:
    ten_years = 10 * 365 * 86400.0
    with open_vault(home, clock) as v:
        honest = v.store(utterance(0.1), "alice")
    clock.advance(ten_years)  # the clock jumps ten years ahead ...
    with open_vault(home, clock) as v:
        assert v.records() == []  # (the honest record's expiry passed, as far as it knows)
        fast = v.store(utterance(0.1, seed=4), "alice")
        assert fast is not None
    clock.advance(-ten_years + 60)  # ... and is corrected a minute after the first store
    # A clock set back looks the same as a fast clock corrected: nothing is deleted on it
    # (storage/clockmark.py) until someone who knows the clock is right says so.
    with open_vault(home, clock) as v:
        assert [r.id for r in v.records()] == [fast]
        v.purge(clock_is_right=True)
        assert v.records() == []  # not kept until 2033: stored in the future, expired now
        (entry,) = [e for e in audit.entries(v.connection, event="expired") if e.record == fast]
        assert entry.member == "alice"
        (reset,) = audit.entries(v.connection, event="clock_reset")
        assert reset.details["clock"] == clock.t and reset.details["high_water_was"] > clock.t
    with open_vault(home, clock) as v:  # from then on, this clock is the vault's
        assert v.clock_behind() is None
    assert honest != fast


def test_retention_is_bounded_at_load() -> None:
    with pytest.raises(ConfigError, match=r"vault\.retention_h must be in 0\.\.8784"):
        VaultSettings(retention_h=1e9)
    assert VaultSettings(retention_h=8784).retention_h == 8784


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


def test_capacity_is_enforced_at_open_with_a_smaller_capacity(home: Path, clock: FakeClock) -> None:
    with open_vault(home, clock) as v:
        ids = [v.store(utterance(0.5, seed=i), "alice") for i in range(4)]
    with open_vault(home, clock, capacity_s=1.2) as v:
        assert [m.id for m in v.records()] == ids[2:]


def test_an_utterance_longer_than_the_capacity_is_not_kept(home: Path, clock: FakeClock) -> None:
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


def test_retention_zero_at_open_deletes_nothing_already_kept(home: Path, clock: FakeClock) -> None:
    # Issue 10.2: `replay --retention-h 0` on a home with records kept them all.
    with open_vault(home, clock) as v:
        kept = [v.store(utterance(0.2), "alice"), v.store(utterance(0.2, seed=5), "bob")]
    with open_vault(home, clock, retention_h=0) as v:
        assert v.store(utterance(0.2, seed=6), "alice") is None
        assert [r.id for r in v.records()] == kept


@pytest.mark.parametrize(
    "kwargs",
    [
        {"retention_h": -1},
        {"capacity_s": -0.1},
        {"retention_h": float("nan")},
        {"capacity_s": float("inf")},
        {"retention_h": "24"},
        {"capacity_s": True},
    ],
)
def test_bad_settings_are_config_errors(kwargs: dict[str, object]) -> None:
    with pytest.raises(ConfigError, match=r"vault\."):
        VaultSettings(**kwargs)  # type: ignore[arg-type]


def test_settings_defaults() -> None:
    s = VaultSettings()
    assert (s.retention_h, s.capacity_s, s.retention_s, s.keeps_nothing) == (
        24.0,
        600.0,
        86400.0,
        False,
    )
    assert VaultSettings(retention_h=0).keeps_nothing
