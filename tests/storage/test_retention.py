"""Expiry and capacity with an injected clock: FIFO, at every store, at open and on purge."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from keepmum.errors import ConfigError, VaultError
from storage import audit, retention
from storage.index import connect
from storage.settings import VaultSettings
from tests.storage.vault_fixtures import T0, FakeClock, open_vault, utterance


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


HOUR = 3600.0


@pytest.fixture
def index(tmp_path: Path) -> sqlite3.Connection:
    """A bare index (no age keys needed): the retention rules only read the records table."""
    conn = connect(tmp_path / "vault.db", create=True)
    for name in ("alice", "bob"):
        conn.execute(
            "INSERT INTO members (name, recipient, created) VALUES (?, ?, ?)", (name, "age1", T0)
        )
    return conn


def _row(
    conn: sqlite3.Connection,
    rid: str,
    *,
    created: float = T0,
    expires: float = T0 + 24 * HOUR,
    duration_s: float = 0.5,
    member: str = "alice",
) -> tuple[str, str, float]:
    """Insert a record row (its audio is beside the point here); what the rules return for it."""
    conn.execute(
        "INSERT INTO records (id, member, start, start_t, duration_s, samples, sample_rate, model,"
        " score, end_reason, source, created, expires, ciphertext, sha256, meta_sha256)"
        " VALUES (?, ?, 0, 0, ?, 0, 16000, 'm', 0.9, 'silence', 's.wav', ?, ?, x'00', '', '')",
        (rid, member, duration_s, created, expires),
    )
    return (rid, member, duration_s)


@pytest.mark.parametrize("hours", [1.0, 1.5, 24.0])
def test_older_than_counts_hours_of_3600_seconds_and_includes_exactly_h(
    index: sqlite3.Connection, hours: float
) -> None:
    row = _row(index, "r1", member="bob", duration_s=0.75)
    stored_h_ago = T0 + hours * HOUR  # the moment the record is exactly `hours` old
    assert retention.due_older_than(index, stored_h_ago - 1, hours) == []  # a second short
    assert retention.due_older_than(index, stored_h_ago, hours) == [row]  # exactly H: due
    assert retention.due_older_than(index, stored_h_ago + 1, hours) == [row]


def test_purge_older_than_one_hour_keeps_a_record_of_59_minutes(
    home: Path, clock: FakeClock
) -> None:
    # Issue 30: hours computed as minutes would delete everything older than a minute.
    with open_vault(home, clock) as v:
        old = v.store(utterance(0.1), "alice")
        clock.advance(59 * 60)
        assert v.older_than(1.0) == [] and v.purge_older_than(1.0) == []
        clock.advance(60)
        assert [d.record for d in v.purge_older_than(1.0)] == [old]


def test_expiry_includes_the_moment_of_expiry(index: sqlite3.Connection) -> None:
    row = _row(index, "r1", expires=T0 + HOUR)
    assert retention.due_for_expiry(index, T0 + HOUR - 0.001) == []
    assert retention.due_for_expiry(index, T0 + HOUR) == [row]


def test_the_clock_skew_allowance_is_one_hour_exactly(index: sqlite3.Connection) -> None:
    # A record stored by a clock one hour fast is trusted; a second more and it expires now.
    row = _row(index, "r1", created=T0 + HOUR, expires=T0 + 25 * HOUR)
    assert retention.CLOCK_SKEW_S == HOUR
    assert retention.due_for_expiry(index, T0) == []
    assert retention.due_for_expiry(index, T0 - 1) == [row]
    assert retention.due_for_expiry(index, T0 - 10 * HOUR) == [row]


def test_expiry_in_one_call_goes_oldest_first_and_audits_in_that_order(
    index: sqlite3.Connection,
) -> None:
    # Stored out of id order, two in the same second (then in the order they were stored).
    rows = [
        _row(index, "c", created=T0, expires=T0 + HOUR, member="bob"),
        _row(index, "a", created=T0 + 1, expires=T0 + HOUR + 1, duration_s=0.25),
        _row(index, "b", created=T0 + 1, expires=T0 + HOUR + 1),
        _row(index, "z", created=T0 + 2, expires=T0 + HOUR + 2),
    ]
    young = _row(index, "y", created=T0 + 3, expires=T0 + 2 * HOUR)
    now = T0 + HOUR + 2
    assert retention.due_for_expiry(index, now) == rows
    calls: list[tuple[str, str | None, str | None, dict[str, object]]] = []

    def record_audit(
        conn: sqlite3.Connection, event: str, *, member: str, record: str, **details: object
    ) -> None:
        assert conn is index
        calls.append((event, member, record, details))

    result = retention.purge(index, now, VaultSettings(), record_audit)
    assert result.expired == [retention.Deleted(r, m, d, "expired") for r, m, d in rows]
    assert result.capacity_deleted == [] and result.all == result.expired
    assert calls == [("expired", m, r, {"duration_s": d}) for r, m, d in rows]
    remaining = index.execute("SELECT id FROM records").fetchall()
    assert remaining == [(young[0],)]


def test_purge_expires_first_then_deletes_for_capacity_oldest_first(
    index: sqlite3.Connection,
) -> None:
    expired = _row(index, "e", created=T0, expires=T0 + HOUR, duration_s=2.0)
    first = _row(index, "f", created=T0 + 1, duration_s=0.5)
    second = _row(index, "s", created=T0 + 2, duration_s=0.5)
    kept = _row(index, "k", created=T0 + 3, duration_s=0.5)
    settings = VaultSettings(capacity_s=0.5)
    events: list[str] = []
    result = retention.purge(
        index, T0 + HOUR, settings, lambda _c, event, **_kw: events.append(event)
    )
    assert [d.record for d in result.expired] == [expired[0]]
    assert [d.record for d in result.capacity_deleted] == [first[0], second[0]]
    assert [d.event for d in result.all] == ["expired", "capacity_deleted", "capacity_deleted"]
    assert [d.record for d in result.all] == ["e", "f", "s"]
    assert events == ["expired", "capacity_deleted", "capacity_deleted"]
    assert index.execute("SELECT id FROM records").fetchall() == [(kept[0],)]


def test_capacity_keeps_records_that_fit_exactly_despite_float_sums(
    index: sqlite3.Connection,
) -> None:
    rows = [_row(index, f"r{i}", created=T0 + i, duration_s=0.1) for i in range(3)]
    assert 0.1 + 0.1 + 0.1 > 0.3  # a float sum a hair over the capacity ...
    assert retention.due_for_capacity(index, VaultSettings(capacity_s=0.3)) == []  # ... fits
    assert retention.due_for_capacity(index, VaultSettings(capacity_s=0.2)) == rows[:1]
    assert retention.due_for_capacity(index, VaultSettings(capacity_s=0.1999)) == rows[:2]
    assert retention.due_for_capacity(index, VaultSettings(capacity_s=0)) == rows


def test_delete_rows_deletes_only_the_rows_named(index: sqlite3.Connection) -> None:
    gone = _row(index, "g", duration_s=1.25, member="bob")
    _row(index, "k")
    deleted = retention.delete_rows(index, [gone], "deleted", lambda *_a, **_k: None)
    assert deleted == [retention.Deleted("g", "bob", 1.25, "deleted")]
    assert index.execute("SELECT id FROM records").fetchall() == [("k",)]
