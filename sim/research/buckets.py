"""``keepmum far --requests`` per pause and per level: how often a request is kept after a
pause of so long, or said so much softer or louder than the wake word, with a Wilson interval.

The talk sets (``scripts/make_request_sets.py --split``) label each request with its pause
(``pause_s``) and its level against the wake word (``request_gain_db``); the request files of
every folder given are grouped by those, whatever their folder, and each group is replayed as a
condition is (:func:`sim.research.far.request_report`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from device.states import SpeakerSettings
from sim.research.far import ConditionReport, RequestLabel, ScoredFile, request_report
from wakeword.stats import wilson_interval
from wakeword.trigger import WakeSettings

__all__ = ["LEVEL_BUCKETS", "PAUSE_BUCKETS", "BucketRow", "bucket_of", "bucket_rows"]

PAUSE_BUCKETS = (
    (0.0, 0.5, "pause under 0.5 s"),
    (0.5, 1.0, "pause 0.5-1 s"),
    (1.0, 2.0, "pause 1-2 s"),
    (2.0, 3.0, "pause 2-3 s"),
    (3.0, 60.0, "pause 3 s or more"),
)
"""Pause after the wake word (seconds, from inclusive, to exclusive) and the row's name."""
LEVEL_BUCKETS = (
    (-100.0, -3.0, "request 3-10 dB under the wake word"),
    (-3.0, 3.0, "request within 3 dB of the wake word"),
    (3.0, 100.0, "request 3-10 dB over the wake word"),
)
"""The request's level against the wake word (dB) and the row's name."""
CONFIDENCE = 0.95
"""Of the interval around each bucket's share of requests kept."""


def bucket_of(value: float | None, buckets: Sequence[tuple[float, float, str]]) -> str | None:
    """The name of the bucket ``value`` falls in (None: not labelled, or in none)."""
    if value is None:
        return None
    return next((name for low, high, name in buckets if low <= value < high), None)


@dataclass(frozen=True)
class BucketRow:
    """Requests of one pause or level bucket, pooled over the folders given."""

    report: ConditionReport
    """The bucket replayed as a condition (its ``condition`` is the bucket's name)."""

    def as_dict(self) -> dict[str, object]:
        """The row's ``--json`` line."""
        r = self.report
        interval = wilson_interval(r.requests_kept, r.requests, CONFIDENCE)
        return {
            "bucket": r.condition,
            "requests": r.requests,
            "requests_kept": r.requests_kept,
            "kept_share": round(r.requests_kept / r.requests, 4) if r.requests else None,
            "interval_95": [round(end, 4) for end in (interval.low, interval.high)]
            if r.requests
            else None,
            "kept_s_per_request": round(r.kept_s / r.kept, 3) if r.kept else None,
            "cut_short": r.cut_short,
            "over_bound": r.over_bound,
            "discard_reasons": dict(sorted(r.reasons.items())),
        }


def bucket_rows(
    folders: Sequence[tuple[Sequence[ScoredFile], dict[str, RequestLabel]]],
    wake: WakeSettings,
    speaker: SpeakerSettings,
    pad_s: float,
) -> list[BucketRow]:
    """One row per pause bucket, then per level bucket, over the request files of ``folders``
    (each: its scored files and its labels) that are labelled with them; none without."""
    rows = []
    for key, buckets in (("pause_s", PAUSE_BUCKETS), ("gain_db", LEVEL_BUCKETS)):
        for _low, _high, name in buckets:
            pooled: ConditionReport | None = None
            for scored, labels in folders:
                mine = [
                    item
                    for item in scored
                    if (label := labels.get(item.path.name)) is not None
                    and label.request_end_s is not None
                    and bucket_of(getattr(label, key), buckets) == name
                ]
                if not mine:
                    continue
                report = request_report(name, mine, labels, wake, speaker, pad_s)
                pooled = report if pooled is None else pooled.pooled_with(report)
            if pooled is not None:
                rows.append(BucketRow(pooled))
    return rows
