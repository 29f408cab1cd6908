"""Expiry and capacity: which records must go, deleted first-in first-out, each one audited.

Rules (enforced at every store, at every open, and by ``keepmum vault purge``):

- a record expires when ``now >= expires``, its expiry fixed when it was stored
  (``created + retention_h`` of the settings in force for that store). A per-run or lowered
  ``retention_h`` applies to what is stored from then on; it never deletes what is already
  kept. Shortening the life of kept records is the explicit ``vault purge --older-than-h H``
  (:func:`due_older_than`), which says what it will delete before it does;
- a record whose ``created`` lies more than :data:`CLOCK_SKEW_S` in the future was stored while
  the clock ran fast; its expiry cannot be trusted (it would live as long as the clock was
  wrong), so it expires now: retention errs towards keeping less;
- the records together may hold at most ``capacity_s`` seconds of audio: the records stored
  first are deleted first until the rest fit.

Each deletion appends an audit entry (``expired`` or ``capacity_deleted``) in the same
transaction, and ``secure_delete`` zeroes the freed ciphertext in the file.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from storage.settings import VaultSettings

__all__ = [
    "CLOCK_SKEW_S",
    "Deleted",
    "PurgeResult",
    "delete_rows",
    "due_for_capacity",
    "due_for_expiry",
    "due_older_than",
    "purge",
]

CLOCK_SKEW_S = 3600.0
"""How far in the future a record's ``created`` may lie before its clock is distrusted (s)."""

AuditFn = Callable[..., Any]
"""``audit(conn, event, *, member, record, **details)``, the vault's audit appender."""


@dataclass(frozen=True)
class Deleted:
    """A record that was deleted, and why."""

    record: str
    member: str
    duration_s: float
    event: str
    """``expired``, ``capacity_deleted``, ``deleted`` or ``forgotten``."""


@dataclass(frozen=True)
class PurgeResult:
    """What one purge deleted."""

    expired: list[Deleted] = field(default_factory=list)
    capacity_deleted: list[Deleted] = field(default_factory=list)

    @property
    def all(self) -> list[Deleted]:
        """Every deleted record, expired first."""
        return [*self.expired, *self.capacity_deleted]


def due_for_expiry(conn: sqlite3.Connection, now: float) -> list[tuple[str, str, float]]:
    """``(id, member, duration_s)`` of every record expired at ``now``, oldest first.

    No settings: each record's expiry was fixed when it was stored.
    """
    rows = conn.execute(
        "SELECT id, member, duration_s FROM records WHERE expires <= ? OR created > ? "
        "ORDER BY created, rowid",
        (now, now + CLOCK_SKEW_S),
    ).fetchall()
    return [(str(r[0]), str(r[1]), float(r[2])) for r in rows]


def due_older_than(
    conn: sqlite3.Connection, now: float, hours: float
) -> list[tuple[str, str, float]]:
    """``(id, member, duration_s)`` of every record stored ``hours`` or more before ``now``."""
    rows = conn.execute(
        "SELECT id, member, duration_s FROM records WHERE created <= ? ORDER BY created, rowid",
        (now - hours * 3600.0,),
    ).fetchall()
    return [(str(r[0]), str(r[1]), float(r[2])) for r in rows]


def due_for_capacity(
    conn: sqlite3.Connection, settings: VaultSettings
) -> list[tuple[str, str, float]]:
    """``(id, member, duration_s)`` of the first-stored records that overflow the capacity."""
    rows = conn.execute(
        "SELECT id, member, duration_s FROM records ORDER BY created, rowid"
    ).fetchall()
    total = sum(float(r[2]) for r in rows)
    due: list[tuple[str, str, float]] = []
    for rid, member, duration in rows:
        if total <= settings.capacity_s + 1e-9:
            break
        due.append((str(rid), str(member), float(duration)))
        total -= float(duration)
    return due


def delete_rows(
    conn: sqlite3.Connection,
    rows: list[tuple[str, str, float]],
    event: str,
    audit: AuditFn,
) -> list[Deleted]:
    """Delete records (their ciphertext and, by cascade, queued copies) and audit each one."""
    out = []
    for rid, member, duration in rows:
        conn.execute("DELETE FROM records WHERE id = ?", (rid,))
        audit(conn, event, member=member, record=rid, duration_s=duration)
        out.append(Deleted(rid, member, duration, event))
    return out


def purge(
    conn: sqlite3.Connection, now: float, settings: VaultSettings, audit: AuditFn
) -> PurgeResult:
    """Enforce expiry then capacity inside the caller's transaction."""
    expired = delete_rows(conn, due_for_expiry(conn, now), "expired", audit)
    overflow = delete_rows(conn, due_for_capacity(conn, settings), "capacity_deleted", audit)
    return PurgeResult(expired, overflow)
