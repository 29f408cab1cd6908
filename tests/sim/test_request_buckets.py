"""``keepmum far --requests`` by pause and by level: request files grouped by their labels,
whatever their folder, each group replayed as a condition, with a Wilson interval."""

from __future__ import annotations

import pytest

from sim.research.buckets import LEVEL_BUCKETS, PAUSE_BUCKETS, bucket_of, bucket_rows
from sim.research.far import RequestLabel
from tests.sim.test_request_report import PAD_S, SPEAKER, WAKE, scored, t


def test_a_value_falls_in_one_bucket_or_none() -> None:
    assert bucket_of(0.3, PAUSE_BUCKETS) == "pause under 0.5 s"
    assert bucket_of(1.0, PAUSE_BUCKETS) == "pause 1-2 s"  # from inclusive, to exclusive
    assert bucket_of(3.2, PAUSE_BUCKETS) == "pause 3 s or more"
    assert bucket_of(-7.0, LEVEL_BUCKETS) == "request 3-10 dB under the wake word"
    assert bucket_of(2.9, LEVEL_BUCKETS) == "request within 3 dB of the wake word"
    assert bucket_of(None, PAUSE_BUCKETS) is None


def label(start: int, end: int, pause_s: float, gain_db: float) -> RequestLabel:
    return RequestLabel(t(start), t(end), pause_s, gain_db)


def test_requests_are_counted_per_pause_and_per_level_across_folders() -> None:
    # Wake word 20-29, detection 30. Kept: a request 33-40 after 0.3 s. Missed: no speech where
    # a request 2.5 s later was labelled (its folder's file has only the wake word).
    kept = scored("a.wav", [30], [range(20, 30), range(33, 41)])
    missed = scored("b.wav", [30], [range(20, 30)])
    nothing = scored("c.wav", [30], [range(20, 30)])  # a false wake: no bucket
    first = ([kept], {"a.wav": label(33, 40, 0.3, 5.0)})
    second = (
        [missed, nothing],
        {"b.wav": label(62, 70, 2.5, 5.0), "c.wav": RequestLabel(None, None)},
    )
    rows = {
        r.report.condition: r.as_dict() for r in bucket_rows([first, second], WAKE, SPEAKER, PAD_S)
    }
    assert set(rows) == {"pause under 0.5 s", "pause 2-3 s", "request 3-10 dB over the wake word"}
    assert (rows["pause under 0.5 s"]["requests"], rows["pause under 0.5 s"]["requests_kept"]) == (
        1,
        1,
    )
    assert rows["pause 2-3 s"]["requests_kept"] == 0
    assert rows["pause 2-3 s"]["discard_reasons"] == {"no_speech": 1}
    level = rows["request 3-10 dB over the wake word"]
    assert (level["requests"], level["requests_kept"], level["kept_share"]) == (2, 1, 0.5)
    low, high = level["interval_95"]
    assert low == pytest.approx(0.0945, abs=1e-3) and high == pytest.approx(0.9055, abs=1e-3)
    assert level["kept_s_per_request"] == rows["pause under 0.5 s"]["kept_s_per_request"] > 0
