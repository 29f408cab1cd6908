"""The ledger's rows on a connection: grants and revocations, the upload queue, the future rule.

Consent is an append-only list of events in the vault's SQLite file (``consent_events``): a
``grant`` row names a member, a purpose, an endpoint (with the endpoint's age recipient), and
either named records (``scope='records'``) or every record kept from now on
(``scope='all_future'``), with an optional expiry; a ``revoke`` row ends a grant. Rows are never
updated or deleted (SQLite triggers refuse it), so the state of a grant at any time is a fold of
its rows. No grant exists by default, so by default nothing leaves.

The upload queue (``upload_queue``) holds ciphertexts already encrypted to an endpoint's
recipient, waiting for ``keepmum upload``; its rows reference ``records(id) ON DELETE CASCADE``,
so deleting, expiring or forgetting a record reaches its queued copies in the same transaction.
``uploads`` logs every byte that left, per grant. The tables are part of the versioned schema
(storage/ledger_schema.py, version 4).

Everything here runs inside the caller's transaction and needs no vault: the vault sits above
this module and calls :func:`queue_for_future_grants` in every store, so each kept record is
also encrypted to each live all-future grant of its member whoever stores it. The use-cases that
need a member's key or the vault's transactions (grant, revoke) are in :mod:`storage.consent`.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import sqlite3
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import pyrage

from keepmum.errors import ConsentError
from storage.bindings import grant_refusal
from storage.redact import refuse_secret
from storage.wire import check_endpoint_url

__all__ = [
    "SCOPE_ALL_FUTURE",
    "SCOPE_RECORDS",
    "AuditFn",
    "Grant",
    "GrantRefused",
    "QueuedUpload",
    "append_grant",
    "append_revoke",
    "enqueue",
    "get_grant",
    "grants",
    "live_grants",
    "new_grant_id",
    "parse_recipient",
    "queue_for_future_grants",
    "queued",
    "queued_ids",
    "refuse_unbound",
    "revoke_member_grants",
    "validate_endpoint",
]

AuditFn = Callable[..., object]
"""``audit(conn, event, *, member=None, record=None, **details)``: the vault's audit append."""

SCOPE_RECORDS = "records"
SCOPE_ALL_FUTURE = "all_future"


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
        """True if this grant's scope includes that record (liveness is checked separately).

        The one rule, for queueing and for sending alike: a record of another member is never
        covered; a ``records`` grant covers exactly the records it names, whenever they were
        made; an ``all_future`` grant covers only records created at or after the moment it
        was granted (``record_created``: the record's ``created``, Unix seconds), never one the
        member kept before consenting."""
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
class GrantRefused:
    """A grant the device would have used but refused: the audit chain does not bind it as the
    ledger shows it (a row inserted into vault.db, or its recipient or endpoint changed)."""

    grant: str
    member: str
    endpoint: str
    stage: str
    """``queue`` (a new record was not encrypted to it) or ``upload`` (nothing was sent)."""
    problem: str
    """What :func:`storage.bindings.grant_refusal` found."""

    def as_json(self) -> dict[str, Any]:
        """For ``--json`` output: ``event`` is ``grant_refused``."""
        return {
            "event": "grant_refused",
            "grant": self.grant,
            "member": self.member,
            "endpoint": self.endpoint,
            "stage": self.stage,
            "problem": self.problem,
        }

    def __str__(self) -> str:
        nothing = "nothing encrypted to it" if self.stage == "queue" else "nothing sent to it"
        return f"grant {self.grant} refused: {self.problem}; {nothing} (see keepmum vault verify)"


def refuse_unbound(
    conn: sqlite3.Connection, grant: Grant, stage: str, audit: AuditFn | None
) -> GrantRefused | None:
    """None if ``grant`` is bound in the audit chain as the ledger shows it; else the refusal,
    audited ``grant_refused`` (when ``audit`` is given: a writable vault, inside the caller's
    transaction). The one check at use, the same that ``vault verify`` makes."""
    problem = grant_refusal(conn, grant.grant_id)
    if problem is None:
        return None
    refused = GrantRefused(grant.grant_id, grant.member, grant.endpoint, stage, problem)
    if audit is not None:
        # The endpoint is not recorded: it is the attacker's text, and the chain keeps it forever.
        audit(conn, "grant_refused", member=grant.member, grant=grant.grant_id, stage=stage)
    return refused


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
    check_endpoint_url(endpoint, parts)  # secrets, credentials, http off this machine
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


def append_grant(
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
    audit: AuditFn,
) -> Grant:
    """Inside the caller's transaction: append a grant row and its ``consent_granted`` audit
    entry (which names the records only for a grant of named records); ConsentError, with
    nothing written, for an empty purpose, a past expiry, a bad endpoint or recipient."""
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
        (
            grant_id,
            member,
            purpose,
            endpoint,
            recipient.strip(),
            scope,
            json.dumps(list(records)),
            expires,
            now,
        ),
    )
    grant = Grant(
        grant_id, member, purpose, endpoint, recipient.strip(), scope, tuple(records), now, expires
    )
    named = {"records": list(grant.records)} if scope == SCOPE_RECORDS else {}
    audit(
        conn,
        "consent_granted",
        member=member,
        grant=grant_id,
        purpose=purpose,
        endpoint=endpoint,
        scope=scope,
        **named,
        expires=expires,
        recipient=grant.recipient,
    )
    return grant


def enqueue(
    conn: sqlite3.Connection,
    grant: Grant,
    record_id: str,
    plaintext: bytes,
    now: float,
    audit: AuditFn,
) -> QueuedUpload:
    """Encrypt ``plaintext`` (a record's WAV, in RAM) to the grant's recipient into the queue,
    and audit the copy ``queued``.

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
    audit(
        conn,
        "queued",
        member=grant.member,
        record=record_id,
        grant=grant.grant_id,
        bytes=len(ciphertext),
    )
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


def revoke_member_grants(conn: sqlite3.Connection, member: str, now: float) -> list[str]:
    """Inside the caller's transaction: revoke every live grant of ``member``, drop its queue.

    For erasure (``vault forget``): a forgotten member's consent ends with them, so a later
    member of the same name never inherits it. Returns the revoked grant ids.
    """
    revoked = []
    for grant in live_grants(conn, now, member=member):
        append_revoke(conn, grant, now)
        revoked.append(grant.grant_id)
    return revoked


def append_revoke(conn: sqlite3.Connection, grant: Grant, now: float) -> int:
    """Inside the caller's transaction: drop the grant's queued copies and append its revoke
    row; returns how many queued copies were dropped."""
    dropped = conn.execute("DELETE FROM upload_queue WHERE grant_id = ?", (grant.grant_id,))
    conn.execute(
        "INSERT INTO consent_events (kind, grant_id, member, at) VALUES ('revoke', ?, ?, ?)",
        (grant.grant_id, grant.member, now),
    )
    return dropped.rowcount


def queue_for_future_grants(
    conn: sqlite3.Connection,
    meta: Any,
    wav: bytes,
    now: float,
    audit: AuditFn,
    on_refused: Callable[[GrantRefused], None] | None = None,
) -> list[QueuedUpload]:
    """Inside a store's transaction: encrypt a new record's WAV (in RAM) to each live
    all-future grant of its member, and audit each copy ``queued``.

    The vault calls this in every store; if encryption fails, the store rolls back, so a record
    is never kept without its consented copies. A grant given to an earlier, forgotten member of
    the same name is not this member's and queues nothing. A grant the audit chain does not
    bind as the ledger shows it is refused (:func:`refuse_unbound`): nothing is encrypted to
    it, the refusal is audited and passed to ``on_refused``; the record is stored all the same.
    """
    row = conn.execute("SELECT created FROM members WHERE name = ?", (meta.member,)).fetchone()
    member_since = float(row[0]) if row is not None else float("inf")
    items = []
    for grant in live_grants(conn, now, member=meta.member, scope=SCOPE_ALL_FUTURE):
        if grant.granted_at < member_since:
            continue  # given by an earlier, forgotten member of the same name: not theirs
        if not grant.covers(meta.id, meta.member, meta.created):
            continue
        refused = refuse_unbound(conn, grant, "queue", audit)
        if refused is not None:
            if on_refused is not None:
                on_refused(refused)
            continue
        items.append(enqueue(conn, grant, meta.id, wav, now, audit))
    return items
