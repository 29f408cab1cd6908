"""The consent ledger: who allowed what to leave the device, to where, until when.

Consent is an append-only list of events in the vault's SQLite file (``consent_events``): a
``grant`` row names a member, a purpose, an endpoint (with the endpoint's age recipient), and
either named records (``scope='records'``) or every record kept from now on
(``scope='all_future'``), with an optional expiry; a ``revoke`` row ends a grant. Rows are never
updated or deleted (SQLite triggers refuse it), so the state of a grant at any time is a fold of
its rows. No grant exists by default, so by default nothing leaves.

The upload queue (``upload_queue``) holds ciphertexts already encrypted to an endpoint's
recipient, waiting for ``keepmum upload``; its rows reference ``records(id) ON DELETE CASCADE``,
so deleting, expiring or forgetting a record reaches its queued copies in the same transaction.
``uploads`` logs every byte that left, per grant.

Two ways into the queue, both needing no key the device keeps:

- :func:`grant_records` — the member unlocks; each named record is decrypted in RAM and
  re-encrypted to the endpoint's recipient, in the same transaction as the grant row.
- :func:`install_future_grant_hook` — a vault commit hook: each newly stored record, whose
  plaintext the vault holds in RAM during the commit, is also encrypted to each live
  ``all_future`` grant of its member, inside the store's transaction.

:func:`revoke` deletes a grant's queued ciphertexts and appends the revoke row in one
transaction, so a revoke takes effect before the next byte is sent.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import sqlite3
import time
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import urlsplit

import pyrage

from device.errors import ConsentError
from storage.redact import refuse_secret

if TYPE_CHECKING:
    from pyrage.x25519 import Identity

__all__ = [
    "SCOPE_ALL_FUTURE",
    "SCOPE_RECORDS",
    "Grant",
    "QueuedUpload",
    "enqueue",
    "ensure_tables",
    "get_grant",
    "grant_all_future",
    "grant_records",
    "grants",
    "install_future_grant_hook",
    "live_grants",
    "new_grant_id",
    "parse_recipient",
    "queued",
    "queued_ids",
    "revoke",
    "revoke_member_grants",
    "validate_endpoint",
]

SCOPE_RECORDS = "records"
SCOPE_ALL_FUTURE = "all_future"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS consent_events (
    seq INTEGER PRIMARY KEY,
    kind TEXT NOT NULL CHECK (kind IN ('grant', 'revoke')),
    grant_id TEXT NOT NULL,
    member TEXT NOT NULL,
    purpose TEXT NOT NULL DEFAULT '',
    endpoint TEXT NOT NULL DEFAULT '',
    recipient TEXT NOT NULL DEFAULT '',
    scope TEXT NOT NULL DEFAULT '' CHECK (scope IN ('', 'records', 'all_future')),
    records TEXT NOT NULL DEFAULT '[]',
    expires REAL,
    at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS consent_events_grant ON consent_events (grant_id);
CREATE TRIGGER IF NOT EXISTS consent_events_no_update BEFORE UPDATE ON consent_events
BEGIN SELECT RAISE(ABORT, 'consent_events is append-only'); END;
CREATE TRIGGER IF NOT EXISTS consent_events_no_delete BEFORE DELETE ON consent_events
BEGIN SELECT RAISE(ABORT, 'consent_events is append-only'); END;
CREATE TABLE IF NOT EXISTS upload_queue (
    id INTEGER PRIMARY KEY,
    grant_id TEXT NOT NULL,
    record_id TEXT NOT NULL REFERENCES records(id) ON DELETE CASCADE,
    ciphertext BLOB NOT NULL,
    sha256 TEXT NOT NULL,
    queued_at REAL NOT NULL,
    UNIQUE (grant_id, record_id)
);
CREATE TABLE IF NOT EXISTS uploads (
    id INTEGER PRIMARY KEY,
    grant_id TEXT NOT NULL,
    record_id TEXT NOT NULL,
    endpoint TEXT NOT NULL,
    bytes INTEGER NOT NULL,
    sent_at REAL NOT NULL
);
"""


def ensure_tables(conn: sqlite3.Connection) -> None:
    """Create the consent, queue and upload tables if missing (the vault calls this at open).

    Idempotent; runs in whatever transaction state ``conn`` is in (``executescript`` commits
    first, which is why the vault calls it at open and not inside a record's transaction).
    """
    conn.executescript(_SCHEMA)


@dataclass(frozen=True)
class Grant:
    """One grant folded from the ledger: what it allows, and whether it was revoked."""

    grant_id: str
    member: str
    purpose: str
    endpoint: str
    """Base URL of the receiver; uploads go to ``{endpoint}/upload`` and nowhere else."""
    recipient: str
    """The endpoint's age recipient (``age1...``) that queued copies are encrypted to."""
    scope: str
    """``records`` (the named records only) or ``all_future`` (records kept after granting)."""
    records: tuple[str, ...]
    granted_at: float
    """Unix seconds."""
    expires: float | None
    """Unix seconds after which the grant allows nothing; None = until revoked."""
    revoked_at: float | None = None

    def live_at(self, t: float) -> bool:
        """True if the grant allows sending at time ``t`` (Unix seconds)."""
        if self.revoked_at is not None and self.revoked_at <= t:
            return False
        return self.expires is None or t < self.expires

    def covers(self, record_id: str, record_member: str, record_created: float) -> bool:
        """True if this grant's scope includes that record (liveness is checked separately)."""
        if record_member != self.member:
            return False
        if self.scope == SCOPE_RECORDS:
            return record_id in self.records
        return record_created >= self.granted_at

    def status_at(self, t: float) -> str:
        """``live``, ``revoked`` or ``expired`` at time ``t``."""
        if self.revoked_at is not None and self.revoked_at <= t:
            return "revoked"
        if self.expires is not None and t >= self.expires:
            return "expired"
        return "live"

    def as_json(self, t: float) -> dict[str, Any]:
        """The contract's JSON object: ``grant``, ``member``, ``purpose``, ``endpoint`` first."""
        return {
            "grant": self.grant_id,
            "member": self.member,
            "purpose": self.purpose,
            "endpoint": self.endpoint,
            "scope": self.scope,
            "records": list(self.records),
            "recipient": self.recipient,
            "granted_at": self.granted_at,
            "expires": self.expires,
            "revoked_at": self.revoked_at,
            "status": self.status_at(t),
        }


@dataclass(frozen=True)
class QueuedUpload:
    """A ciphertext waiting in the queue: encrypted to its grant's endpoint recipient."""

    queue_id: int
    grant_id: str
    record_id: str
    ciphertext: bytes
    sha256: str
    queued_at: float


def new_grant_id(conn: sqlite3.Connection) -> str:
    """A short random grant id (``g-`` + 8 hex digits), unused in this ledger."""
    while True:
        grant_id = "g-" + secrets.token_hex(4)
        row = conn.execute(
            "SELECT 1 FROM consent_events WHERE grant_id = ?", (grant_id,)
        ).fetchone()
        if row is None:
            return grant_id


def validate_endpoint(endpoint: str) -> str:
    """The endpoint as a base URL without trailing slash; ConsentError unless http(s)://host."""
    parts = urlsplit(endpoint)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConsentError(
            f"endpoint {endpoint!r}: expected an http:// or https:// URL with a host"
        )
    if parts.query or parts.fragment:
        raise ConsentError(
            f"endpoint {endpoint!r}: expected a base URL without ?query or #fragment"
        )
    if ":" in parts.netloc.rpartition("@")[2].rpartition("]")[2]:  # a port is given
        try:
            port = parts.port  # urllib raises ValueError for a port that is not 0-65535
        except ValueError:
            port = 0
        if not port:
            raise ConsentError(f"endpoint {endpoint!r}: expected a port number from 1 to 65535")
    return endpoint.rstrip("/")


def parse_recipient(text: str, where: str) -> pyrage.x25519.Recipient:
    """An age X25519 recipient from text; ConsentError naming ``where`` if it is not one.

    A secret key given by mistake is refused without echoing it (storage/redact.py).
    """
    refuse_secret(text, where)
    try:
        return pyrage.x25519.Recipient.from_str(text.strip())
    except pyrage.RecipientError as exc:
        raise ConsentError(
            f"{where}: not an age X25519 recipient (expected age1..., got {text.strip()[:80]!r}): "
            f"{exc}"
        ) from exc


def grants(conn: sqlite3.Connection) -> list[Grant]:
    """Every grant in the ledger, in the order granted, with revocations folded in."""
    by_id: dict[str, Grant] = {}
    rows = conn.execute(
        "SELECT kind, grant_id, member, purpose, endpoint, recipient, scope, records, expires, at"
        " FROM consent_events ORDER BY seq"
    ).fetchall()
    for kind, gid, member, purpose, endpoint, recipient, scope, records, expires, at in rows:
        if kind == "grant":
            by_id[gid] = Grant(
                grant_id=gid,
                member=member,
                purpose=purpose,
                endpoint=endpoint,
                recipient=recipient,
                scope=scope,
                records=tuple(json.loads(records)),
                granted_at=float(at),
                expires=None if expires is None else float(expires),
            )
        elif gid in by_id and by_id[gid].revoked_at is None:
            old = by_id[gid]
            by_id[gid] = Grant(**{**old.__dict__, "revoked_at": float(at)})
    return list(by_id.values())


def get_grant(conn: sqlite3.Connection, grant_id: str) -> Grant:
    """The grant with that id; ConsentError naming it if the ledger has none."""
    for grant in grants(conn):
        if grant.grant_id == grant_id:
            return grant
    raise ConsentError(f"grant {grant_id!r}: no such grant (see `keepmum consent list`)")


def live_grants(
    conn: sqlite3.Connection, t: float, *, member: str | None = None, scope: str | None = None
) -> list[Grant]:
    """The grants that allow sending at time ``t``, optionally of one member or one scope."""
    return [
        g
        for g in grants(conn)
        if g.live_at(t)
        and (member is None or g.member == member)
        and (scope is None or g.scope == scope)
    ]


def _append_grant(
    conn: sqlite3.Connection,
    *,
    member: str,
    purpose: str,
    endpoint: str,
    recipient: str,
    scope: str,
    records: Sequence[str],
    expires: float | None,
    now: float,
) -> Grant:
    if not purpose.strip():
        raise ConsentError("purpose: expected a non-empty text saying what the data is for")
    if expires is not None and expires <= now:
        raise ConsentError(f"expires: expected a time after now ({now:.0f}), got {expires:.0f}")
    endpoint = validate_endpoint(endpoint)
    parse_recipient(recipient, f"recipient of {endpoint}")
    grant_id = new_grant_id(conn)
    conn.execute(
        "INSERT INTO consent_events (kind, grant_id, member, purpose, endpoint, recipient, scope,"
        " records, expires, at) VALUES ('grant', ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (grant_id, member, purpose, endpoint, recipient.strip(), scope, json.dumps(list(records)),
         expires, now),
    )
    return Grant(grant_id, member, purpose, endpoint, recipient.strip(), scope, tuple(records),
                 now, expires)


def enqueue(
    conn: sqlite3.Connection, grant: Grant, record_id: str, plaintext: bytes, now: float
) -> QueuedUpload:
    """Encrypt ``plaintext`` (a record's WAV, in RAM) to the grant's recipient into the queue.

    Runs inside the caller's transaction. The plaintext never touches the disk.
    """
    recipient = parse_recipient(grant.recipient, f"grant {grant.grant_id}")
    ciphertext = pyrage.encrypt(plaintext, [recipient])
    digest = hashlib.sha256(ciphertext).hexdigest()
    cur = conn.execute(
        "INSERT INTO upload_queue (grant_id, record_id, ciphertext, sha256, queued_at)"
        " VALUES (?, ?, ?, ?, ?)",
        (grant.grant_id, record_id, ciphertext, digest, now),
    )
    assert cur.lastrowid is not None  # an INSERT into a rowid table always sets it
    return QueuedUpload(cur.lastrowid, grant.grant_id, record_id, ciphertext, digest, now)


def queued(
    conn: sqlite3.Connection, grant_id: str | None = None, *, queue_id: int | None = None
) -> list[QueuedUpload]:
    """What waits in the upload queue (of one grant, or one item, or all), oldest first."""
    sql = "SELECT id, grant_id, record_id, ciphertext, sha256, queued_at FROM upload_queue"
    where: list[str] = []
    args: list[str | int] = []
    if grant_id is not None:
        where.append("grant_id = ?")
        args.append(grant_id)
    if queue_id is not None:
        where.append("id = ?")
        args.append(queue_id)
    if where:
        sql += " WHERE " + " AND ".join(where)
    return [
        QueuedUpload(int(r[0]), r[1], r[2], bytes(r[3]), r[4], float(r[5]))
        for r in conn.execute(sql + " ORDER BY id", args).fetchall()
    ]


def queued_ids(conn: sqlite3.Connection) -> list[int]:
    """Ids of the queue's items, oldest first (without loading their ciphertexts)."""
    return [int(r[0]) for r in conn.execute("SELECT id FROM upload_queue ORDER BY id")]


class _VaultLike(Protocol):
    """The part of :class:`storage.vault.Vault` the ledger needs (kept narrow for unit tests)."""

    def records(self, member: str | None = None) -> Sequence[Any]: ...
    def decrypt(self, record_id: str, identity: Identity) -> bytes: ...
    def transaction(self) -> AbstractContextManager[sqlite3.Connection]: ...
    def audit(
        self, conn: sqlite3.Connection, event: str, *, member: str | None = None,
        record: str | None = None, **details: Any,
    ) -> object: ...
    def add_commit_hook(self, hook: Callable[[sqlite3.Connection, Any, bytes], None]) -> None: ...


def _vault_clock(vault: Any) -> Callable[[], float]:
    clock = getattr(vault, "clock", None)
    return clock if callable(clock) else time.time


def grant_records(
    vault: _VaultLike,
    *,
    member: str,
    identity: Identity,
    purpose: str,
    endpoint: str,
    recipient: str,
    record_ids: Sequence[str],
    expires: float | None = None,
    now: float | None = None,
) -> tuple[Grant, list[QueuedUpload]]:
    """Grant upload of named records of ``member`` and queue them, in one transaction.

    Each record must belong to ``member`` and decrypt with ``identity`` (the member unlocked it:
    the person consents, not the device); anything else aborts the grant with nothing written.
    """
    now = _vault_clock(vault)() if now is None else now
    if not record_ids:
        raise ConsentError("records: expected at least one record id (or --all-future)")
    mine = {r.id: r for r in vault.records(member)}
    for rid in record_ids:
        if rid not in mine:
            raise ConsentError(f"record {rid!r}: not a record of member {member!r}")
    plaintexts = [(rid, vault.decrypt(rid, identity)) for rid in dict.fromkeys(record_ids)]
    with vault.transaction() as conn:
        grant = _append_grant(
            conn, member=member, purpose=purpose, endpoint=endpoint, recipient=recipient,
            scope=SCOPE_RECORDS, records=[rid for rid, _ in plaintexts], expires=expires, now=now,
        )
        vault.audit(conn, "consent_granted", member=member, grant=grant.grant_id,
                    purpose=purpose, endpoint=grant.endpoint, scope=SCOPE_RECORDS,
                    records=list(grant.records), expires=expires, recipient=grant.recipient)
        items = []
        for rid, wav in plaintexts:
            item = enqueue(conn, grant, rid, wav, now)
            vault.audit(conn, "queued", member=member, record=rid, grant=grant.grant_id,
                        bytes=len(item.ciphertext))
            items.append(item)
    return grant, items


def grant_all_future(
    vault: _VaultLike,
    *,
    member: str,
    purpose: str,
    endpoint: str,
    recipient: str,
    expires: float | None = None,
    now: float | None = None,
) -> Grant:
    """Grant upload of every record of ``member`` kept from now on (until revoked or expired).

    The caller must have unlocked the member first (the person consents); the grant itself needs
    no key, since future records are encrypted to the endpoint at commit, while still in RAM.
    """
    now = _vault_clock(vault)() if now is None else now
    with vault.transaction() as conn:
        grant = _append_grant(
            conn, member=member, purpose=purpose, endpoint=endpoint, recipient=recipient,
            scope=SCOPE_ALL_FUTURE, records=[], expires=expires, now=now,
        )
        vault.audit(conn, "consent_granted", member=member, grant=grant.grant_id,
                    purpose=purpose, endpoint=grant.endpoint, scope=SCOPE_ALL_FUTURE,
                    expires=expires, recipient=grant.recipient)
    return grant


def revoke(vault: _VaultLike, grant_id: str, *, now: float | None = None) -> tuple[Grant, int]:
    """Revoke a grant: delete its queued ciphertexts and append the revoke row, atomically.

    Needs no passphrase (withdrawing consent must be as easy as giving it, GDPR art. 7(3)).
    Returns the grant as it was and how many queued items were dropped. Revoking an already
    revoked grant is refused with ConsentError, so scripts notice a wrong id.
    """
    now = _vault_clock(vault)() if now is None else now
    with vault.transaction() as conn:
        grant = get_grant(conn, grant_id)
        if grant.revoked_at is not None:
            raise ConsentError(f"grant {grant_id!r}: already revoked at {grant.revoked_at:.0f}")
        dropped = conn.execute("DELETE FROM upload_queue WHERE grant_id = ?", (grant_id,)).rowcount
        conn.execute(
            "INSERT INTO consent_events (kind, grant_id, member, at) VALUES ('revoke', ?, ?, ?)",
            (grant_id, grant.member, now),
        )
        vault.audit(conn, "consent_revoked", member=grant.member, grant=grant_id,
                    dropped_queued=dropped)
    return grant, dropped


def revoke_member_grants(conn: sqlite3.Connection, member: str, now: float) -> list[str]:
    """Inside the caller's transaction: revoke every live grant of ``member``, drop its queue.

    For erasure (``vault forget``): a forgotten member's consent ends with them, so a later
    member of the same name never inherits it. Returns the revoked grant ids.
    """
    revoked = []
    for grant in live_grants(conn, now, member=member):
        conn.execute("DELETE FROM upload_queue WHERE grant_id = ?", (grant.grant_id,))
        conn.execute(
            "INSERT INTO consent_events (kind, grant_id, member, at) VALUES ('revoke', ?, ?, ?)",
            (grant.grant_id, member, now),
        )
        revoked.append(grant.grant_id)
    return revoked


def install_future_grant_hook(
    vault: _VaultLike, *, clock: Callable[[], float] | None = None
) -> None:
    """Register the commit hook that queues each new record for its member's all-future grants.

    The device's run commands (replay, listen, demo) call this once after opening the vault.
    The hook runs inside the store's transaction with the record's WAV in RAM; if encryption
    fails, the store rolls back, so a record is never kept without its consented copies.
    """
    now_fn = clock if clock is not None else _vault_clock(vault)

    def hook(conn: sqlite3.Connection, meta: Any, wav: bytes) -> None:
        now = now_fn()
        row = conn.execute("SELECT created FROM members WHERE name = ?", (meta.member,)).fetchone()
        member_since = float(row[0]) if row is not None else float("inf")
        for grant in live_grants(conn, now, member=meta.member, scope=SCOPE_ALL_FUTURE):
            if grant.granted_at < member_since:
                continue  # given by an earlier, forgotten member of the same name: not theirs
            item = enqueue(conn, grant, meta.id, wav, now)
            vault.audit(conn, "queued", member=meta.member, record=meta.id,
                        grant=grant.grant_id, bytes=len(item.ciphertext))

    vault.add_commit_hook(hook)
