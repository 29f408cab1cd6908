"""The latest wall-clock time the vault has seen: a clock set back never deletes or decides.

A Raspberry Pi without a real-time clock boots at an old time and may open the vault before
network time corrects it; ``faketime -f -1d`` does the same on purpose. Retention distrusts a
record stamped more than :data:`storage.retention.CLOCK_SKEW_S` in the future (a clock that ran
fast), so a clock set back a day would expire every record stored in that day, and a grant
revoked or expired at a later time would look live again at the earlier one.

So the vault keeps a high-water mark, one row of the ``meta`` table (schema version 6)::

    meta(key TEXT PRIMARY KEY, value NOT NULL)
        key 'clock_high_water': the latest vault clock reading (Unix seconds) any transaction
        committed with, raised inside every writing transaction (and so at every writable open)

and every decision reads time through it:

- while the clock is more than :data:`CLOCK_BACK_TOLERANCE_S` behind the mark, nothing is
  expired or purged (capacity included) and the vault says so once (:class:`ClockBehind`);
- grant liveness and new records' times use ``max(clock, mark)`` (:meth:`Vault.now`), so a
  revoked or expired grant stays so, and a record stored meanwhile gets its full retention.

A clock that ran fast and was corrected looks exactly like a clock set back: no device can
tell which of the two readings was right. The mark keeps everything until the clock catches
up with it, or until someone who knows the clock is right now says so
(``keepmum vault purge --clock-is-right``, :func:`reset_mark`, audited ``clock_reset``); then
records stamped in the future expire as before (storage/retention.py).
"""

from __future__ import annotations

import sqlite3
import time
from dataclasses import dataclass
from typing import Any

__all__ = [
    "CLOCK_BACK_TOLERANCE_S",
    "MARK_KEY",
    "ClockBehind",
    "add_clock_mark",
    "clock_behind",
    "high_water",
    "raise_mark",
    "reset_mark",
]

MARK_KEY = "clock_high_water"
CLOCK_BACK_TOLERANCE_S = 60.0
"""How far behind the mark the clock may be before the vault stops deciding on it (s): two
processes commit a few milliseconds apart, and network time steps a clock by fractions of a
second. Anything below :data:`storage.retention.CLOCK_SKEW_S` cannot make a record expire."""

META_TABLE = "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value NOT NULL)"


def add_clock_mark(conn: sqlite3.Connection) -> None:
    """Migration 4 -> 5, inside the caller's transaction: the ``meta`` table, with the mark
    started at the latest time the vault already recorded (audit entries, records, ledger)."""
    conn.execute(META_TABLE)
    row = conn.execute(
        "SELECT max(coalesce((SELECT max(at) FROM audit), 0),"
        " coalesce((SELECT max(created) FROM records), 0),"
        " coalesce((SELECT max(at) FROM consent_events), 0))"
    ).fetchone()
    if row is not None and row[0]:
        raise_mark(conn, float(row[0]))


def high_water(conn: sqlite3.Connection) -> float | None:
    """The mark (Unix seconds), None before the vault has committed anything with a clock."""
    row = conn.execute("SELECT value FROM meta WHERE key = ?", (MARK_KEY,)).fetchone()
    return None if row is None else float(row[0])


def raise_mark(conn: sqlite3.Connection, now: float) -> None:
    """Inside the caller's transaction: the mark becomes ``max(mark, now)``."""
    conn.execute(
        "INSERT INTO meta (key, value) VALUES (?, ?) "
        "ON CONFLICT (key) DO UPDATE SET value = max(value, excluded.value)",
        (MARK_KEY, float(now)),
    )


def reset_mark(conn: sqlite3.Connection, now: float) -> float | None:
    """Inside the caller's transaction: the mark becomes ``now`` (lowered, if it was later);
    returns the mark it replaced. Only for a user who knows the clock is right."""
    before = high_water(conn)
    conn.execute(
        "INSERT INTO meta (key, value) VALUES (?, ?) "
        "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        (MARK_KEY, float(now)),
    )
    return before


def _utc(t: float) -> str:
    try:
        return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(t))
    except (OverflowError, OSError, ValueError):
        return f"{t:.0f}"


@dataclass(frozen=True)
class ClockBehind:
    """The clock reads earlier than the latest time the vault has seen."""

    clock: float
    """What the clock said (Unix seconds)."""
    mark: float
    """The vault's high-water mark (Unix seconds)."""

    @property
    def behind_s(self) -> float:
        """How far behind the mark the clock is (seconds)."""
        return self.mark - self.clock

    def as_json(self) -> dict[str, Any]:
        """For ``--json`` output: ``event`` is ``clock_behind``."""
        return {
            "event": "clock_behind",
            "clock": self.clock,
            "high_water": self.mark,
            "behind_s": self.behind_s,
        }

    def __str__(self) -> str:
        return (
            f"the clock says {_utc(self.clock)}, {self.behind_s:.0f} s before the latest time "
            f"this vault has seen ({_utc(self.mark)}): nothing expires or is purged, and every "
            "record and grant is judged at that later time, until the clock catches up (if the "
            "clock is right now: keepmum vault purge --clock-is-right)"
        )


def clock_behind(conn: sqlite3.Connection, now: float) -> ClockBehind | None:
    """A :class:`ClockBehind` if ``now`` is more than the tolerance behind the mark, else None."""
    mark = high_water(conn)
    if mark is None or mark - now <= CLOCK_BACK_TOLERANCE_S:
        return None
    return ClockBehind(float(now), mark)
