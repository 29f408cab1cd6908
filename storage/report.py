"""``keepmum report``: what the device heard, kept, discarded, expired and deleted.

Built from the audit chain (which outlives the records it describes) and the records held now;
uploaded bytes come from the ``uploads`` table. Seconds and counts, per member and in total.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, field
from typing import Any

from storage import audit

__all__ = ["MEMBER_TALLIES", "Report", "Tally", "build_report"]

MEMBER_TALLIES = (
    "stored",
    "not_stored",
    "expired",
    "capacity_deleted",
    "deleted",
    "forgotten",
    "held",
)
"""Per-member tallies, in report order (``not_stored``: kept while ``retention_h`` was 0)."""

_EVENT_TALLY = {
    "stored": "stored",
    "not_stored_retention_zero": "not_stored",
    "expired": "expired",
    "capacity_deleted": "capacity_deleted",
    "deleted": "deleted",
}


@dataclass
class Tally:
    """How many, and how many seconds of audio."""

    count: int = 0
    seconds: float = 0.0

    def add(self, count: int, seconds: float) -> None:
        self.count += count
        self.seconds += seconds


def _tallies() -> dict[str, Tally]:
    return {name: Tally() for name in MEMBER_TALLIES}


@dataclass
class Report:
    """The device's account of itself."""

    runs: int = 0
    heard_s: float = 0.0
    kept_s: float = 0.0
    muted_s: float = 0.0
    wakes: int = 0
    discarded: Tally = field(default_factory=Tally)
    total: dict[str, Tally] = field(default_factory=_tallies)
    members: dict[str, dict[str, Tally]] = field(default_factory=dict)
    uploads: dict[str, int] = field(default_factory=dict)
    """Bytes sent per grant."""
    unconfirmed_bytes: int = 0
    """Bytes that left without an accepted answer: refused (a 307 or 500), failed midway, or
    in flight when a process died (outcome unknown). Counted in ``uploaded_bytes`` too."""
    erasures_pending: int = 0
    """Erasure requests to endpoints not yet confirmed (retried by ``keepmum upload``)."""

    @property
    def uploaded_bytes(self) -> int:
        """Every byte that left: accepted uploads plus those without an accepted answer."""
        return sum(self.uploads.values()) + self.unconfirmed_bytes

    def _add(self, member: str | None, tally: str, count: int, seconds: float) -> None:
        self.total[tally].add(count, seconds)
        if member is not None:
            self.members.setdefault(member, _tallies())[tally].add(count, seconds)

    def as_json(self) -> dict[str, Any]:
        """The ``report --json`` object: totals flat, members nested."""

        def flat(tallies: dict[str, Tally]) -> dict[str, Any]:
            out: dict[str, Any] = {}
            for name, t in tallies.items():
                out[name] = t.count
                out[f"{name}_s"] = t.seconds
            return out

        return {
            "event": "report",
            "runs": self.runs,
            "heard_s": self.heard_s,
            "kept_s": self.kept_s,
            "muted_s": self.muted_s,
            "wakes": self.wakes,
            "discarded": self.discarded.count,
            "discarded_s": self.discarded.seconds,
            **flat(self.total),
            "uploaded_bytes": self.uploaded_bytes,
            "uploads": dict(self.uploads),
            "unconfirmed_bytes": self.unconfirmed_bytes,
            "erasures_pending": self.erasures_pending,
            "members": {m: flat(t) for m, t in self.members.items()},
        }


def build_report(conn: sqlite3.Connection) -> Report:
    """Fold the audit chain, the records held now and the upload log into a report."""
    report = Report()
    for e in audit.entries(conn):
        d = e.details
        seconds = float(d.get("duration_s", 0.0) or 0.0)
        if e.event == "run":
            report.runs += 1
            report.heard_s += float(d.get("heard_s", 0.0))
            report.kept_s += float(d.get("kept_s", 0.0))
            report.muted_s += float(d.get("muted_s", 0.0))
            report.wakes += int(d.get("wakes", 0))
        elif e.event == "discarded":
            report.discarded.add(1, seconds)
        elif e.event in _EVENT_TALLY:
            report._add(e.member, _EVENT_TALLY[e.event], 1, seconds)
        elif e.event == "forgotten":
            report._add(
                e.member, "forgotten", int(d.get("records", 0)), float(d.get("seconds", 0.0))
            )
        elif e.event == "member_added" and e.member is not None:
            report.members.setdefault(e.member, _tallies())
    for member, count, seconds in conn.execute(
        "SELECT member, count(*), coalesce(sum(duration_s), 0) FROM records GROUP BY member"
    ):
        report._add(str(member), "held", int(count), float(seconds))
    rows = conn.execute("SELECT grant_id, sum(bytes) FROM uploads GROUP BY grant_id")
    report.uploads = {str(g): int(b) for g, b in rows}
    row = conn.execute(
        "SELECT coalesce(sum(CASE WHEN outcome IS NULL THEN bytes ELSE bytes_sent END), 0)"
        " FROM upload_attempts WHERE outcome IS NULL OR outcome <> 'sent'"
    ).fetchone()
    report.unconfirmed_bytes = int(row[0])
    pending = conn.execute("SELECT count(*) FROM erasure_requests WHERE confirmed_at IS NULL")
    report.erasures_pending = int(pending.fetchone()[0])
    return report
