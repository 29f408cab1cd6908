"""The audit chain: an append-only, hash-chained log of every vault event, with no audio in it.

Each entry is a row of the ``audit`` table (same SQLite file as the records, so an entry commits
in the same transaction as the change it describes)::

    seq     1, 2, 3 ... without gaps
    at      when (Unix seconds, from the vault's clock)
    event   one of EVENTS
    member  the member concerned, or NULL
    record  the record concerned, or NULL
    details canonical JSON object of scalars (durations, counts, hashes, ids; never audio)
    prev    hash of the previous entry (GENESIS for seq 1)
    hash    SHA-256 hex of  prev || "\n" || canonical JSON [seq, at, event, member, record, details]

SQLite triggers refuse UPDATE and DELETE on the table, and :func:`verify_chain` recomputes every
link, so an edited, inserted or removed entry anywhere before the last is found. Removing entries
from the end leaves a shorter valid chain: to detect that, keep the head hash somewhere else (it
is printed by ``keepmum audit show``) and pass it as an anchor to :func:`verify_chain`.
"""

from __future__ import annotations

import hashlib
import json
import math
import sqlite3
from dataclasses import dataclass
from typing import Any

from keepmum.errors import VaultError
from storage.redact import looks_secret

__all__ = [
    "EVENTS",
    "GENESIS",
    "AuditEntry",
    "ChainDefect",
    "append",
    "entries",
    "entry_hash",
    "head",
    "verify_chain",
]

GENESIS = "0" * 64
"""The ``prev`` of the first entry."""

EVENTS = frozenset(
    {
        "stored",
        "not_stored_retention_zero",
        "discarded",
        "run",
        "expired",
        "capacity_deleted",
        "deleted",
        "member_added",
        "member_migrated",
        "forgotten",
        "consent_granted",
        "consent_revoked",
        "queued",
        "uploaded",
        # issue 10: upload attempts and erasure at recipients (storage/upload.py, erasure.py)
        "upload_started",
        "upload_failed",
        "upload_outcome_unknown",
        "erasure_requested",
        "erasure_confirmed",
        "exported",
        "export_refused",
        "verification_failed",
        # issue 27: voice enrolment (consent, no audio or vector) and its erasure
        "voice_enrolled",
        "voice_unenrolled",
        # issue 26: a grant refused at use, a head file adopted after its loss
        "grant_refused",
        "head_adopted",
        "clock_reset",
    }
)
"""Every event name the chain accepts."""


@dataclass(frozen=True)
class AuditEntry:
    """One link of the chain."""

    seq: int
    at: float
    event: str
    member: str | None
    record: str | None
    details: dict[str, Any]
    prev: str
    hash: str

    def as_json(self) -> dict[str, Any]:
        """The entry as one JSON object (``details`` flattened in after the fixed keys)."""
        fixed = {
            "seq": self.seq,
            "at": self.at,
            "event": self.event,
            "member": self.member,
            "record": self.record,
        }
        return {**fixed, "details": self.details, "hash": self.hash}


@dataclass(frozen=True)
class ChainDefect:
    """Something wrong in the chain, at entry ``seq`` (0 when it concerns the chain as a whole)."""

    seq: int
    problem: str


def _check_value(key: str, value: Any) -> Any:
    if isinstance(value, str) and looks_secret(value):
        # The chain is append-only: a secret that got in could never be taken out again.
        raise VaultError(f"audit detail {key!r}: looks like an age secret key; not recorded")
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise VaultError(f"audit detail {key!r}: expected a finite number, got {value!r}")
        return value
    if isinstance(value, (list, tuple)):
        return [_check_value(key, v) for v in value]
    # bytes, arrays and anything else might carry audio: refused by construction.
    raise VaultError(
        f"audit detail {key!r}: expected a scalar or a list of scalars, got {type(value).__name__}"
    )


def _canonical(obj: Any) -> str:
    return json.dumps(
        obj, sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=False
    )


def entry_hash(
    prev: str,
    seq: int,
    at: float,
    event: str,
    member: str | None,
    record: str | None,
    details: dict[str, Any],
) -> str:
    """The hash of an entry given its fields and the previous entry's hash."""
    body = _canonical([seq, at, event, member, record, details])
    return hashlib.sha256(f"{prev}\n{body}".encode()).hexdigest()


def head(conn: sqlite3.Connection) -> tuple[int, str]:
    """The last entry's ``(seq, hash)``, or ``(0, GENESIS)`` for an empty chain."""
    row = conn.execute("SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1").fetchone()
    return (0, GENESIS) if row is None else (int(row[0]), str(row[1]))


def append(
    conn: sqlite3.Connection,
    at: float,
    event: str,
    *,
    member: str | None = None,
    record: str | None = None,
    **details: Any,
) -> AuditEntry:
    """Append one entry; call inside the transaction of the change it describes."""
    if event not in EVENTS:
        raise VaultError(f"audit event {event!r}: not one of {sorted(EVENTS)}")
    clean = {k: _check_value(k, v) for k, v in details.items()}
    _check_value("member", member)
    _check_value("record", record)
    seq, prev = head(conn)
    seq += 1
    at = float(at)
    digest = entry_hash(prev, seq, at, event, member, record, clean)
    conn.execute(
        "INSERT INTO audit (seq, at, event, member, record, details, prev, hash) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (seq, at, event, member, record, _canonical(clean), prev, digest),
    )
    return AuditEntry(seq, at, event, member, record, clean, prev, digest)


def _details_object(text: Any) -> dict[str, Any] | None:
    """A ``details`` column parsed, if it holds the JSON object it must; else None."""
    try:
        parsed = json.loads(text)
    except (TypeError, ValueError):
        return None
    return parsed if isinstance(parsed, dict) else None


def _row_to_entry(row: tuple[Any, ...]) -> AuditEntry:
    seq, at, event, member, record, details, prev, digest = row
    parsed = _details_object(details)
    if parsed is None:
        parsed = {"_unparseable": str(details)}
    return AuditEntry(int(seq), at, event, member, record, parsed, prev, digest)


def entries(
    conn: sqlite3.Connection,
    *,
    event: str | None = None,
    member: str | None = None,
    record: str | None = None,
    since_seq: int = 0,
) -> list[AuditEntry]:
    """Entries in order, optionally only of one event, member or record."""
    sql = "SELECT seq, at, event, member, record, details, prev, hash FROM audit WHERE seq > ?"
    args: list[Any] = [since_seq]
    for column, value in (("event", event), ("member", member), ("record", record)):
        if value is not None:
            sql += f" AND {column} = ?"
            args.append(value)
    return [_row_to_entry(r) for r in conn.execute(sql + " ORDER BY seq", args)]


def verify_chain(conn: sqlite3.Connection, *, anchor: str | None = None) -> list[ChainDefect]:
    """Recompute every link; return every defect found (an empty list means intact).

    ``anchor``: a head hash recorded earlier; the chain must still contain it, which detects
    entries removed from the end since then.
    """
    defects: list[ChainDefect] = []
    prev = GENESIS
    expected_seq = 1
    seen_anchor = anchor is None
    rows = conn.execute(
        "SELECT seq, at, event, member, record, details, prev, hash FROM audit ORDER BY seq"
    )
    for row in rows:
        seq, at, event, member, record, details_text, stored_prev, stored_hash = row
        if seq != expected_seq:
            defects.append(
                ChainDefect(
                    int(seq),
                    f"expected entry {expected_seq}, found {seq} (entries removed or inserted)",
                )
            )
        if stored_prev != prev:
            defects.append(ChainDefect(int(seq), "prev hash does not match the previous entry"))
        details = _details_object(details_text)
        if details is None:
            defects.append(ChainDefect(int(seq), "details are not a JSON object"))
            details = {}
        if event not in EVENTS:
            defects.append(ChainDefect(int(seq), f"unknown event {event!r}"))
        try:
            recomputed = entry_hash(
                stored_prev, int(seq), float(at), str(event), member, record, details
            )
        except (TypeError, ValueError) as exc:
            recomputed = f"<unhashable: {exc}>"
        if recomputed != stored_hash:
            defects.append(
                ChainDefect(int(seq), "hash does not match the entry's content (entry edited)")
            )
        if anchor is not None and stored_hash == anchor:
            seen_anchor = True
        prev = str(stored_hash)
        expected_seq = int(seq) + 1
    if not seen_anchor:
        defects.append(
            ChainDefect(
                0,
                f"anchor {anchor} is not in the chain "
                "(entries removed from the end, or a different chain)",
            )
        )
    return defects
