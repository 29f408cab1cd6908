"""What holds without a key (issue 26), on the real vault, real SQLite and real age; the attacker
writes vault.db or audit.head behind keepmum's back, the clock is a :class:`FakeClock`, the
network a recording fake passed as ``transport=``.

- a grant the audit chain does not bind (inserted, or altered after dropping the triggers) is
  refused where it is used: nothing encrypted to it at store, nothing sent at upload;
- a missing ``audit.head`` beside a chain with entries is refused; ``adopt_head`` recovers it;
- a clock set back deletes nothing and revives no revoked or expired grant;
- a forget that stopped between shredding the key and deleting the rows is a verify defect.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from pyrage import x25519

from keepmum.errors import IntegrityError, VaultError
from storage import audit
from storage.chainhead import HEAD_FILE, HeadMissingError, read_head
from storage.clockmark import CLOCK_BACK_TOLERANCE_S, ClockBehind, high_water
from storage.consent import grant_all_future, grant_records, revoke
from storage.ledger import GrantRefused, queued
from storage.upload import HttpRequest, HttpResponse, Uploader, UploadNotice
from storage.vault import Notice, Vault
from storage.verify import verify_vault
from tests.storage.vault_fixtures import FakeClock, open_vault, store_one, utterance

ATTACKER_IDENTITY = x25519.Identity.generate()
ATTACKER = str(ATTACKER_IDENTITY.to_public())
ENDPOINT = "http://127.0.0.1:9"
DAY_S = 86400.0


def _raw(home: Path) -> sqlite3.Connection:
    """What someone with write access to vault.db does, behind keepmum's back."""
    return sqlite3.connect(home / "vault.db", isolation_level=None)


def _insert_grant(home: Path, at: float, scope: str = "all_future", records: str = "[]") -> None:
    raw = _raw(home)
    raw.execute(
        "INSERT INTO consent_events (kind, grant_id, member, purpose, endpoint, recipient, scope,"
        " records, expires, at) VALUES ('grant', 'g-evil0001', 'alice', 'p', ?, ?, ?, ?, NULL,"
        " ?)",
        (ENDPOINT, ATTACKER, scope, records, at),
    )
    raw.close()


class Recorder:
    """A transport that records every request and answers 201 (nothing leaves the test)."""

    def __init__(self) -> None:
        self.requests: list[HttpRequest] = []

    def __call__(self, request: HttpRequest) -> HttpResponse:
        self.requests.append(request)
        return HttpResponse(201, b"{}", len(request.body))


# -- 1. every grant is checked where it is used ----------------------------------------------


def test_an_inserted_all_future_grant_gets_nothing_and_the_record_is_still_stored(
    home: Path, clock: FakeClock
) -> None:
    _insert_grant(home, clock() - 10)
    heard: list[Notice] = []
    with Vault.open(home, clock=clock, on_notice=heard.append) as v:
        rid = v.store(utterance(0.2), "alice")
        assert rid is not None and [r.id for r in v.records("alice")] == [rid]
        assert queued(v.connection) == []  # nothing encrypted to the attacker
        (refusal,) = [n for n in heard if isinstance(n, GrantRefused)]
        assert (refusal.grant, refusal.stage) == ("g-evil0001", "queue")
        assert "no consent_granted entry" in refusal.problem
        (entry,) = audit.entries(v.connection, event="grant_refused")
        assert entry.details == {"grant": "g-evil0001", "stage": "queue"}
        assert entry.member == "alice"
        assert refusal.as_json()["event"] == "grant_refused"
        assert "nothing encrypted to it" in str(refusal)


def test_a_bound_all_future_grant_still_gets_its_copy(home: Path, clock: FakeClock) -> None:
    with open_vault(home, clock) as v:
        grant = grant_all_future(
            v, member="alice", purpose="p", endpoint=ENDPOINT, recipient=ATTACKER
        )
        clock.advance(1)
        rid = v.store(utterance(0.2), "alice")
        (item,) = queued(v.connection)
        assert (item.grant_id, item.record_id) == (grant.grant_id, rid)
        assert audit.entries(v.connection, event="grant_refused") == []


def test_a_grant_whose_endpoint_was_changed_is_sent_nothing(home: Path, clock: FakeClock) -> None:
    with open_vault(home, clock) as v:
        rid = store_one(v, "alice", 1)
        alice = v.unlock("alice", "correct horse alice")
        grant, _items = grant_records(
            v,
            member="alice",
            identity=alice,
            purpose="p",
            endpoint="http://127.0.0.1:8",
            recipient=ATTACKER,
            record_ids=[rid],
        )
    raw = _raw(home)
    raw.execute("DROP TRIGGER consent_events_no_update")
    raw.execute(
        "UPDATE consent_events SET endpoint = ? WHERE grant_id = ?", (ENDPOINT, grant.grant_id)
    )
    raw.close()
    sent = Recorder()
    notices: list[UploadNotice] = []
    with open_vault(home, clock) as v:
        uploader = Uploader(v, transport=sent)
        assert uploader.plan(on_notice=notices.append) == []
        assert uploader.upload(on_notice=notices.append) == []
        assert sent.requests == []
        assert [n.kind for n in notices] == ["grant_refused", "grant_refused"]
        assert "endpoint differs from the audit chain" in notices[0].detail
        assert notices[0].as_json()["event"] == "grant_refused"
        entries = audit.entries(v.connection, event="grant_refused")
        assert [e.details["stage"] for e in entries] == ["upload", "upload"]
        assert len(queued(v.connection)) == 1  # kept: verify shows why, revoke removes it


def test_an_inserted_records_grant_is_never_sent(home: Path, clock: FakeClock) -> None:
    with open_vault(home, clock) as v:
        rid = store_one(v, "alice", 2)
    _insert_grant(home, clock(), scope="records", records=f'["{rid}"]')
    raw = _raw(home)  # and a queued copy for it, as a forger would write it
    raw.execute(
        "INSERT INTO upload_queue (grant_id, record_id, ciphertext, sha256, queued_at)"
        " VALUES ('g-evil0001', ?, x'00', ?, ?)",
        (rid, "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d", clock()),
    )
    raw.close()
    sent = Recorder()
    with open_vault(home, clock) as v:
        assert Uploader(v, transport=sent).upload() == []
    assert sent.requests == []


# -- 2. rollback: a missing head file --------------------------------------------------------


def test_a_missing_head_file_is_refused_for_readers_and_writers(
    home: Path, clock: FakeClock
) -> None:
    with open_vault(home, clock) as v:
        store_one(v, "alice", 3)
    (home / HEAD_FILE).unlink()
    for read_only in (False, True):
        with pytest.raises(HeadMissingError, match="adopt-head") as info:
            Vault.open(home, clock=clock, read_only=read_only)
        assert info.value.exit_code == 2
        assert str(home / HEAD_FILE) in str(info.value)


def test_adopting_a_lost_head_records_the_chain_head_and_audits_it(
    home: Path, clock: FakeClock
) -> None:
    with open_vault(home, clock) as v:
        store_one(v, "alice", 4)
        before = audit.head(v.connection)
    with pytest.raises(VaultError, match="no lost head"):
        Vault.open_lost_head(home, clock=clock)
    (home / HEAD_FILE).write_text("garbage\n")  # damaged counts as lost
    with Vault.open_lost_head(home, clock=clock) as v:
        seq, digest = v.adopt_head()
        (entry,) = audit.entries(v.connection, event="head_adopted")
        assert entry.details == {"entries": before[0], "head": before[1]}
    assert read_head(home / HEAD_FILE) == (seq, digest) and seq == before[0] + 1
    with open_vault(home, clock) as v:  # opens normally again
        assert len(v.records()) == 1


def test_a_chain_with_a_defect_is_not_adopted(home: Path, clock: FakeClock) -> None:
    with open_vault(home, clock) as v:
        store_one(v, "alice", 5)
    (home / HEAD_FILE).unlink()
    raw = _raw(home)
    raw.execute("DROP TRIGGER audit_no_update")
    raw.execute("UPDATE audit SET details = '{}' WHERE seq = 2")
    raw.close()
    with (
        Vault.open_lost_head(home, clock=clock) as v,
        pytest.raises(IntegrityError, match="entry 2"),
    ):
        v.adopt_head()
    assert not (home / HEAD_FILE).exists()


# -- 3. time never deletes -------------------------------------------------------------------


def test_a_clock_set_back_a_day_deletes_nothing_and_says_so_once(
    home: Path, clock: FakeClock
) -> None:
    with open_vault(home, clock) as v:
        kept = [store_one(v, "alice", 6), store_one(v, "bob", 7)]
        mark = high_water(v.connection)
    assert mark == clock()
    clock.advance(-DAY_S)
    heard: list[Notice] = []
    with Vault.open(home, clock=clock, on_notice=heard.append) as v:
        assert [r.id for r in v.records()] == kept
        new = v.store(utterance(0.2, seed=8), "alice")  # a replay while the clock is behind
        assert new is not None
        assert [r.id for r in v.records()] == [*kept, new]
        # Stamped at the latest time seen, not a day early: it keeps its full 24 h.
        assert v.record(new).created == mark
        assert v.purge().all == []
        (behind,) = heard  # said once, not at every store and purge
        assert isinstance(behind, ClockBehind) and behind.behind_s == DAY_S
        assert "purge --clock-is-right" in str(behind)
        assert audit.entries(v.connection, event="expired") == []
        assert high_water(v.connection) == mark  # never lowered by a clock set back


def test_within_the_tolerance_the_clock_still_decides(home: Path, clock: FakeClock) -> None:
    with open_vault(home, clock) as v:
        store_one(v, "alice", 9)
    clock.advance(-CLOCK_BACK_TOLERANCE_S)
    heard: list[Notice] = []
    with Vault.open(home, clock=clock, on_notice=heard.append) as v:
        assert v.clock_behind() is None and heard == []


def test_records_expire_again_once_the_clock_catches_up(home: Path, clock: FakeClock) -> None:
    with open_vault(home, clock) as v:
        first = store_one(v, "alice", 10)
    clock.advance(-DAY_S)
    with open_vault(home, clock) as v:
        assert [r.id for r in v.records()] == [first]
    clock.advance(DAY_S + 24 * 3600)  # real time reaches the record's expiry
    with open_vault(home, clock) as v:
        assert v.records() == []
        (entry,) = audit.entries(v.connection, event="expired")
        assert entry.record == first


def test_a_clock_set_back_revives_no_revoked_or_expired_grant(home: Path, clock: FakeClock) -> None:
    with open_vault(home, clock) as v:
        revoked = grant_all_future(
            v, member="alice", purpose="p", endpoint=ENDPOINT, recipient=ATTACKER
        )
        grant_all_future(  # ends an hour later
            v,
            member="alice",
            purpose="q",
            endpoint=ENDPOINT,
            recipient=ATTACKER,
            expires=clock() + 3600,
        )
        clock.advance(7200)
        revoke(v, revoked.grant_id)
        clock.advance(60)
    clock.advance(-DAY_S)  # before both grants ended (and before they were given)
    with open_vault(home, clock) as v:
        v.store(utterance(0.2, seed=11), "alice")
        assert queued(v.connection) == []  # neither grant is live at the vault's time
        assert Uploader(v, transport=Recorder()).plan() == []


def test_an_injected_clock_without_history_decides_as_before(tmp_path: Path) -> None:
    clock = FakeClock()
    with Vault.create(tmp_path / "fresh", clock=clock) as v:
        assert v.now() == clock() and v.clock_behind() is None


# -- 4. forget is one step, or verify says it is not ----------------------------------------


def test_a_forget_that_stopped_after_shredding_the_key_is_a_verify_defect(
    home: Path, clock: FakeClock
) -> None:
    with open_vault(home, clock) as v:
        store_one(v, "bob", 12)
        v.keys.shred(v.member("bob").id)  # what a forget did before a full disk stopped it
        report = verify_vault(v)
        assert [d.problem for d in report.defects if "bob" in d.problem] == [
            "member 'bob': identity file is missing, but the member and their records are "
            "still here: a forget that did not finish? (run keepmum vault forget bob again)"
        ]
        v.forget("bob")  # the second forget finishes it
        assert verify_vault(v).ok
