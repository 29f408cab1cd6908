"""Erasure reaches recipients (GDPR art. 17(2)): deleting or forgetting sends erasure requests.

When ``vault delete`` removes a record, or ``vault forget`` a member, that was uploaded, every
endpoint that may hold a copy must be asked to erase it. :func:`request_erasure` runs inside the
deletion's own transaction and appends one ``erasure_requests`` row per endpoint (and an
``erasure_requested`` audit entry), so a deletion is never committed without its requests. An
endpoint "may hold" a record when an upload attempt's bytes left for it (``sent``, ``refused``,
``failed`` with bytes sent, ``unknown``, or still in flight) or a logged upload from before
upload attempts existed.

:class:`storage.upload.ErasureSender` then sends each unconfirmed request, outside any
transaction, as ``POST {endpoint}/erase`` with a JSON body naming the upload ids and record ids
(no audio, no key). A ``200`` whose JSON says ``"confirmed": true`` for that request id is
committed as confirmed (audited ``erasure_confirmed``); anything else counts an attempt and keeps
the error.
Unconfirmed requests are retried by every later ``vault delete``/``forget`` and ``keepmum
upload``, and reported until confirmed. Erasure needs no consent: only identifiers leave.
"""

from __future__ import annotations

import json
import secrets
import sqlite3
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

__all__ = [
    "ErasureRequest",
    "pending_erasures",
    "request_erasure",
    "uploaded_records_of",
]


@dataclass(frozen=True)
class ErasureRequest:
    """One request to one endpoint to erase what it received of some records."""

    request_id: str
    endpoint: str
    member: str
    reason: str
    """``deleted`` (one record) or ``forgotten`` (a member)."""
    records: tuple[str, ...]
    uploads: tuple[str, ...]
    requested_at: float
    confirmed_at: float | None = None
    attempts: int = 0
    last_error: str = ""

    def as_json(self) -> dict[str, Any]:
        """For ``--json`` output."""
        return {
            "request": self.request_id,
            "endpoint": self.endpoint,
            "member": self.member,
            "reason": self.reason,
            "records": list(self.records),
            "uploads": len(self.uploads),
            "confirmed": self.confirmed_at is not None,
            "attempts": self.attempts,
            "last_error": self.last_error,
        }


AuditFn = Callable[..., Any]


def _received_by(
    conn: sqlite3.Connection, record_ids: Iterable[str]
) -> dict[str, tuple[set[str], set[str]]]:
    """{endpoint: (record ids, upload ids)} of every endpoint that may hold one of the records."""
    found: dict[str, tuple[set[str], set[str]]] = {}
    for rid in record_ids:
        rows = conn.execute(
            "SELECT endpoint, upload_id FROM upload_attempts WHERE record_id = ? AND"
            " (outcome IS NULL OR outcome IN ('sent', 'unknown') OR bytes_sent > 0)",
            (rid,),
        ).fetchall()
        rows += conn.execute(  # uploads logged before attempts existed (schema version 1)
            "SELECT endpoint, '' FROM uploads WHERE record_id = ?", (rid,)
        ).fetchall()
        for endpoint, upload_id in rows:
            records, uploads = found.setdefault(str(endpoint), (set(), set()))
            records.add(rid)
            if upload_id:
                uploads.add(str(upload_id))
    return found


def uploaded_records_of(conn: sqlite3.Connection, member: str) -> list[str]:
    """Ids of every record of ``member``'s grants that was (or may have been) sent anywhere."""
    rows = conn.execute(
        "SELECT record_id FROM upload_attempts WHERE grant_id IN (SELECT grant_id FROM"
        " consent_events WHERE kind = 'grant' AND member = ?) UNION SELECT record_id FROM"
        " uploads WHERE grant_id IN (SELECT grant_id FROM consent_events WHERE kind = 'grant'"
        " AND member = ?)",
        (member, member),
    ).fetchall()
    return sorted(str(r[0]) for r in rows)


def request_erasure(
    conn: sqlite3.Connection,
    *,
    member: str,
    record_ids: Iterable[str],
    reason: str,
    now: float,
    audit: AuditFn,
) -> list[ErasureRequest]:
    """Inside the deletion's transaction: one erasure request per endpoint holding the records."""
    made = []
    for endpoint, (records, uploads) in sorted(_received_by(conn, record_ids).items()):
        request_id = "e-" + secrets.token_hex(8)
        req = ErasureRequest(
            request_id,
            endpoint,
            member,
            reason,
            tuple(sorted(records)),
            tuple(sorted(uploads)),
            now,
        )
        conn.execute(
            "INSERT INTO erasure_requests (request_id, endpoint, member, reason, records,"
            " uploads, requested_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                request_id,
                endpoint,
                member,
                reason,
                json.dumps(list(req.records)),
                json.dumps(list(req.uploads)),
                now,
            ),
        )
        audit(
            conn,
            "erasure_requested",
            member=member,
            request=request_id,
            endpoint=endpoint,
            reason=reason,
            records=list(req.records),
        )
        made.append(req)
    return made


def _from_row(row: tuple[Any, ...]) -> ErasureRequest:
    return ErasureRequest(
        str(row[0]),
        str(row[1]),
        str(row[2]),
        str(row[3]),
        tuple(json.loads(row[4])),
        tuple(json.loads(row[5])),
        float(row[6]),
        None if row[7] is None else float(row[7]),
        int(row[8]),
        str(row[9]),
    )


_COLUMNS = (
    "request_id, endpoint, member, reason, records, uploads, requested_at, confirmed_at,"
    " attempts, last_error"
)


def pending_erasures(conn: sqlite3.Connection) -> list[ErasureRequest]:
    """Erasure requests not yet confirmed by their endpoint, oldest first."""
    rows = conn.execute(
        f"SELECT {_COLUMNS} FROM erasure_requests WHERE confirmed_at IS NULL ORDER BY id"
    ).fetchall()
    return [_from_row(r) for r in rows]
