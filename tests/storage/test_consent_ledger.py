"""The consent ledger over real SQLite: append-only rows, folding, liveness and expiry."""

from __future__ import annotations

import sqlite3

import pyrage
import pytest

from keepmum.errors import ConsentError
from storage.ledger import (
    Grant,
    get_grant,
    grants,
    live_grants,
    new_grant_id,
    parse_recipient,
    validate_endpoint,
)
from storage.ledger_schema import add_consent_ledger

RECIPIENT = str(pyrage.x25519.Identity.generate().to_public())


@pytest.fixture
def conn() -> sqlite3.Connection:
    c = sqlite3.connect(":memory:", isolation_level=None)
    add_consent_ledger(c)
    add_consent_ledger(c)  # idempotent: a version-3 file has the tables already
    return c


def _grant(
    conn: sqlite3.Connection,
    gid: str,
    member: str,
    at: float,
    expires: float | None = None,
    scope: str = "records",
) -> None:
    conn.execute(
        "INSERT INTO consent_events (kind, grant_id, member, purpose, endpoint, recipient, scope,"
        " records, expires, at) VALUES ('grant', ?, ?, 'p', 'http://127.0.0.1:1', ?, ?, ?, ?, ?)",
        (gid, member, RECIPIENT, scope, '["r1"]' if scope == "records" else "[]", expires, at),
    )


def test_no_grant_by_default(conn: sqlite3.Connection) -> None:
    assert grants(conn) == []
    assert live_grants(conn, 1e12) == []


def test_ledger_is_append_only(conn: sqlite3.Connection) -> None:
    _grant(conn, "g-1", "alice", 100.0)
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        conn.execute("UPDATE consent_events SET member = 'bob'")
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        conn.execute("DELETE FROM consent_events")
    assert [g.member for g in grants(conn)] == ["alice"]


def test_revoke_and_expiry_fold_into_liveness(conn: sqlite3.Connection) -> None:
    _grant(conn, "g-1", "alice", 100.0)
    _grant(conn, "g-2", "bob", 100.0, expires=200.0, scope="all_future")
    conn.execute(
        "INSERT INTO consent_events (kind, grant_id, member, at)"
        " VALUES ('revoke', 'g-1', 'alice', 150.0)"
    )
    g1 = get_grant(conn, "g-1")
    assert g1.revoked_at == 150.0 and g1.records == ("r1",)
    assert g1.live_at(149.0) and not g1.live_at(150.0)
    assert [g.grant_id for g in live_grants(conn, 120.0)] == ["g-1", "g-2"]
    assert [g.grant_id for g in live_grants(conn, 160.0)] == ["g-2"]
    assert live_grants(conn, 200.0) == []  # expired at its expiry, not after
    assert get_grant(conn, "g-2").status_at(250.0) == "expired"
    assert [g.grant_id for g in live_grants(conn, 120.0, member="bob")] == ["g-2"]
    assert [g.grant_id for g in live_grants(conn, 120.0, scope="records")] == ["g-1"]
    with pytest.raises(ConsentError, match="no such grant"):
        get_grant(conn, "g-404")


def test_scope_covers_only_the_member_and_named_or_later_records() -> None:
    named = Grant("g", "alice", "p", "http://h", RECIPIENT, "records", ("r1",), 100.0, None)
    future = Grant("g", "alice", "p", "http://h", RECIPIENT, "all_future", (), 100.0, None)
    assert named.covers("r1", "alice", 50.0)
    assert not named.covers("r2", "alice", 150.0)
    assert not named.covers("r1", "bob", 50.0)
    assert future.covers("r9", "alice", 100.0) and not future.covers("r9", "alice", 99.0)
    assert not future.covers("r9", "bob", 150.0)


def test_grant_ids_are_short_and_random(conn: sqlite3.Connection) -> None:
    ids = {new_grant_id(conn) for _ in range(50)}
    assert len(ids) == 50
    assert all(len(i) == 10 and i.startswith("g-") for i in ids)


@pytest.mark.parametrize("bad", ["ftp://x", "127.0.0.1:8765", "http://", "http://h/?a=1", ""])
def test_endpoint_must_be_an_http_base_url(bad: str) -> None:
    with pytest.raises(ConsentError, match="endpoint"):
        validate_endpoint(bad)


def test_endpoint_is_normalised() -> None:
    assert validate_endpoint("http://127.0.0.1:8765/") == "http://127.0.0.1:8765"


def test_recipient_must_be_age_x25519() -> None:
    assert str(parse_recipient(RECIPIENT + "\n", "x")) == RECIPIENT
    with pytest.raises(ConsentError, match="cloud: not an age X25519 recipient"):
        parse_recipient("ssh-ed25519 AAAA", "cloud")
