"""``keepmum report`` folds the audit chain: heard, kept, discarded, expired, deleted, forgotten."""

from __future__ import annotations

from pathlib import Path

import pytest

from storage.report import build_report
from tests.storage.vault_fixtures import FakeClock, open_vault, utterance


def test_report_counts_every_kind_of_event(home: Path, clock: FakeClock) -> None:
    with open_vault(home, clock, retention_h=1.0, capacity_s=2.0) as v:
        a1 = v.store(utterance(0.5, seed=1), "alice")
        v.store(utterance(0.25, seed=2), "bob")
        v.note_discarded("no_speech", 1.5, "alexa", "x.wav")
        v.note_run("x.wav", heard_s=30.0, kept_s=0.75, discarded_s=1.5, wakes=3, muted_s=2.0)
        assert a1 is not None
        v.delete(a1)
        for i in range(5):
            v.store(utterance(0.5, seed=10 + i), "alice")  # 2.5 s + 0.25 s > 2 s: FIFO
        clock.advance(3601)
        v.purge()  # everything expires
        v.store(utterance(0.25, seed=30), "bob")
        v.forget("bob")
        rep = build_report(v.connection).as_json()
    assert (rep["runs"], rep["heard_s"], rep["kept_s"], rep["muted_s"], rep["wakes"]) == (
        1,
        30.0,
        0.75,
        2.0,
        3,
    )
    assert (rep["discarded"], rep["discarded_s"]) == (1, 1.5)
    assert (rep["stored"], rep["stored_s"]) == (8, pytest.approx(3.5))
    assert rep["deleted"] == 1 and rep["deleted_s"] == 0.5
    assert rep["capacity_deleted"] == 2  # bob's 0.25 s first, then alice's first 0.5 s
    assert rep["expired"] == 4
    assert (rep["forgotten"], rep["forgotten_s"]) == (1, 0.25)
    assert rep["held"] == 0
    assert rep["members"]["alice"]["stored"] == 6 and rep["members"]["bob"]["stored"] == 2
    assert rep["uploaded_bytes"] == 0 and rep["uploads"] == {}


def test_retention_zero_is_reported_as_not_stored(home: Path, clock: FakeClock) -> None:
    with open_vault(home, clock, retention_h=0) as v:
        v.store(utterance(0.5), "bob")
        rep = build_report(v.connection).as_json()
    assert (rep["not_stored"], rep["not_stored_s"], rep["stored"]) == (1, 0.5, 0)
    assert rep["members"]["bob"]["not_stored"] == 1


def test_uploaded_bytes_come_from_the_upload_log(home: Path, clock: FakeClock) -> None:
    with open_vault(home, clock) as v:
        with v.transaction() as conn:
            for g, n in [("g1", 100), ("g1", 50), ("g2", 7)]:
                conn.execute(
                    "INSERT INTO uploads (grant_id, record_id, endpoint, bytes, sent_at)"
                    " VALUES (?, 'r', 'http://127.0.0.1:1', ?, 0)",
                    (g, n),
                )
        rep = build_report(v.connection)
    assert rep.uploads == {"g1": 150, "g2": 7} and rep.uploaded_bytes == 157
