"""The consent ledger over real SQLite: append-only rows, folding, liveness and expiry."""

from __future__ import annotations

import sqlite3
from typing import Any

import pyrage
import pytest

from keepmum.errors import ConsentError
from storage.ledger import (
    Grant,
    append_grant,
    append_revoke,
    get_grant,
    grants,
    live_grants,
    new_grant_id,
    parse_recipient,
    revoke_member_grants,
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


# Where grants and revocations are recorded (issue 30: each test kills mutants of the ledger's
# recording and folding that the tests above let survive).


class AuditLog:
    """The vault's audit append, recorded: (event, member, details) per call, and the
    connection each was appended on (the caller's: the entry commits with the row)."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str | None, dict[str, Any]]] = []
        self.connections: list[sqlite3.Connection] = []

    def __call__(self, conn: sqlite3.Connection, event: str, **details: Any) -> None:
        member = details.pop("member", None)
        self.calls.append((event, member, details))
        self.connections.append(conn)


def _append(conn: sqlite3.Connection, audit: AuditLog, **given: Any) -> Grant:
    args: dict[str, Any] = {
        "member": "alice",
        "purpose": "improve the model",
        "endpoint": "http://127.0.0.1:8765/",
        "recipient": RECIPIENT + "\n",
        "scope": "records",
        "records": ["r1", "r2"],
        "expires": None,
        "now": 100.0,
        "audit": audit,
    }
    return append_grant(conn, **{**args, **given})


def _rows(conn: sqlite3.Connection) -> list[tuple[Any, ...]]:
    return conn.execute(
        "SELECT kind, grant_id, member, purpose, endpoint, recipient, scope, records, expires, at"
        " FROM consent_events ORDER BY seq"
    ).fetchall()


def test_a_grant_is_recorded_as_given_and_audited(conn: sqlite3.Connection) -> None:
    audit = AuditLog()
    grant = _append(conn, audit, expires=500.0)
    # The endpoint without its trailing slash, the recipient without its newline.
    assert grant == Grant(
        grant.grant_id,
        "alice",
        "improve the model",
        "http://127.0.0.1:8765",
        RECIPIENT,
        "records",
        ("r1", "r2"),
        100.0,
        500.0,
    )
    assert grants(conn) == [grant]
    assert _rows(conn) == [
        (
            "grant",
            grant.grant_id,
            "alice",
            "improve the model",
            "http://127.0.0.1:8765",
            RECIPIENT,
            "records",
            '["r1", "r2"]',
            500.0,
            100.0,
        )
    ]
    assert audit.calls == [
        (
            "consent_granted",
            "alice",
            {
                "grant": grant.grant_id,
                "purpose": "improve the model",
                "endpoint": "http://127.0.0.1:8765",
                "scope": "records",
                "records": ["r1", "r2"],
                "expires": 500.0,
                "recipient": RECIPIENT,
            },
        )
    ]
    assert audit.connections == [conn]


def test_an_all_future_grants_audit_entry_names_no_records(conn: sqlite3.Connection) -> None:
    audit = AuditLog()
    grant = _append(conn, audit, scope="all_future", records=[])
    assert grants(conn) == [grant] and grant.expires is None
    ((event, member, details),) = audit.calls
    assert (event, member) == ("consent_granted", "alice")
    assert "records" not in details and details["expires"] is None


@pytest.mark.parametrize("purpose", ["", "  \n"])
def test_a_grant_without_a_purpose_is_refused_and_nothing_written(
    conn: sqlite3.Connection, purpose: str
) -> None:
    audit = AuditLog()
    with pytest.raises(ConsentError, match=r"^purpose: expected a non-empty text"):
        _append(conn, audit, purpose=purpose)
    assert _rows(conn) == [] and audit.calls == []


def test_a_grant_must_expire_after_now(conn: sqlite3.Connection) -> None:
    audit = AuditLog()
    for expires in (100.0, 99.0):
        with pytest.raises(ConsentError, match=r"^expires: expected a time after now \(100\), got"):
            _append(conn, audit, expires=expires)
    assert _rows(conn) == [] and audit.calls == []
    assert _append(conn, audit, expires=100.5).expires == 100.5  # a moment after is allowed


def test_a_grant_to_a_bad_endpoint_or_recipient_writes_nothing(conn: sqlite3.Connection) -> None:
    audit = AuditLog()
    with pytest.raises(ConsentError, match="endpoint 'ftp://x'"):
        _append(conn, audit, endpoint="ftp://x")
    with pytest.raises(ConsentError, match=r"^recipient of http://127\.0\.0\.1:8765: not an age"):
        _append(conn, audit, recipient="age1nope")
    assert _rows(conn) == [] and audit.calls == []


def _queue(conn: sqlite3.Connection, grant_id: str, record_id: str) -> None:
    conn.execute(
        "INSERT INTO upload_queue (grant_id, record_id, ciphertext, sha256, queued_at)"
        " VALUES (?, ?, x'00', 'h', 1.0)",
        (grant_id, record_id),
    )


def test_a_revoke_is_recorded_and_drops_only_its_grants_queue(conn: sqlite3.Connection) -> None:
    audit = AuditLog()
    first, second = _append(conn, audit), _append(conn, audit, member="bob")
    for rid in ("r1", "r2"):
        _queue(conn, first.grant_id, rid)
    _queue(conn, second.grant_id, "r3")
    assert append_revoke(conn, first, 150.0) == 2
    assert _rows(conn)[-1] == ("revoke", first.grant_id, "alice", "", "", "", "", "[]", None, 150.0)
    left = conn.execute("SELECT grant_id, record_id FROM upload_queue").fetchall()
    assert left == [(second.grant_id, "r3")]
    assert [g.revoked_at for g in grants(conn)] == [150.0, None]
    assert append_revoke(conn, second, 160.0) == 1


def _revoke(conn: sqlite3.Connection, gid: str, member: str, at: float) -> None:
    conn.execute(
        "INSERT INTO consent_events (kind, grant_id, member, at) VALUES ('revoke', ?, ?, ?)",
        (gid, member, at),
    )


def test_the_first_revoke_of_a_grant_stands(conn: sqlite3.Connection) -> None:
    # A second revoke does not move the time it ended; a revoke row of a grant id the ledger
    # does not hold yet (no grant before it) ends nothing.
    _grant(conn, "g-1", "alice", 100.0)
    for at in (150.0, 170.0):
        _revoke(conn, "g-1", "alice", at)
    _revoke(conn, "g-2", "bob", 90.0)
    _grant(conn, "g-2", "bob", 100.0)
    assert [(g.grant_id, g.revoked_at) for g in grants(conn)] == [("g-1", 150.0), ("g-2", None)]


def test_forgetting_a_member_revokes_only_their_live_grants(conn: sqlite3.Connection) -> None:
    _grant(conn, "g-1", "alice", 100.0)
    _grant(conn, "g-2", "alice", 100.0, expires=150.0)  # expired by then: nothing to revoke
    _grant(conn, "g-3", "bob", 100.0)
    _grant(conn, "g-4", "alice", 100.0, scope="all_future")
    _queue(conn, "g-1", "r1")
    assert revoke_member_grants(conn, "alice", 200.0) == ["g-1", "g-4"]
    revoked = {g.grant_id: g.revoked_at for g in grants(conn)}
    assert revoked == {"g-1": 200.0, "g-2": None, "g-3": None, "g-4": 200.0}
    assert conn.execute("SELECT count(*) FROM upload_queue").fetchone() == (0,)
    assert revoke_member_grants(conn, "alice", 300.0) == []


def test_a_grants_status_at_the_boundaries() -> None:
    grant = Grant("g", "alice", "p", "http://h", RECIPIENT, "records", ("r1",), 100.0, 200.0)
    assert [grant.status_at(t) for t in (199.0, 200.0)] == ["live", "expired"]
    assert [grant.live_at(t) for t in (199.0, 200.0)] == [True, False]
    revoked = Grant(**{**grant.__dict__, "revoked_at": 150.0})
    assert [revoked.status_at(t) for t in (149.0, 150.0, 250.0)] == ["live", "revoked", "revoked"]
    forever = Grant(**{**grant.__dict__, "expires": None})
    assert forever.status_at(1e12) == "live" and forever.live_at(1e12)


def test_a_grants_json_is_the_contracts_object() -> None:
    grant = Grant("g-1", "alice", "p", "http://h", RECIPIENT, "records", ("r1",), 100.0, 200.0)
    assert grant.as_json(250.0) == {
        "grant": "g-1",
        "member": "alice",
        "purpose": "p",
        "endpoint": "http://h",
        "scope": "records",
        "records": ["r1"],
        "recipient": RECIPIENT,
        "granted_at": 100.0,
        "expires": 200.0,
        "revoked_at": None,
        "status": "expired",
    }
    assert list(grant.as_json(0.0))[:4] == ["grant", "member", "purpose", "endpoint"]


def test_an_unknown_grant_is_named(conn: sqlite3.Connection) -> None:
    with pytest.raises(ConsentError) as refused:
        get_grant(conn, "g-404")
    assert str(refused.value) == "grant 'g-404': no such grant (see `keepmum consent list`)"
