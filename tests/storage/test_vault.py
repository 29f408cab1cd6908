"""The vault over real SQLite and real age: store, read back with the owner's key, erase."""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import numpy as np
import pyrage
import pytest
from pyrage import x25519

import storage.vault
from keepmum.errors import ConsentError, IntegrityError, VaultError
from storage import audit
from storage.consent import grant_all_future
from storage.ledger import queued
from storage.records import RecordMeta
from storage.settings import VaultSettings
from storage.vault import Vault
from storage.wav import wav_to_pcm
from tests.storage.vault_fixtures import T0, FakeClock, noise, open_vault, utterance

Ident = Callable[[str], x25519.Identity]


def test_public_surface() -> None:
    assert set(storage.vault.__all__) == {
        "DB_NAME",
        "KEYS_DIR",
        "RESERVE_BYTES",
        "RESERVE_NAME",
        "ForgetResult",
        "Member",
        "Notice",
        "Vault",
        "check_home",
    }


def test_open_without_a_vault_says_run_init(tmp_path: Path) -> None:
    with pytest.raises(VaultError, match=r"make one: keepmum init --home \S+ --member NAME\)"):
        Vault.open(tmp_path / "nowhere")
    assert not (tmp_path / "nowhere").exists()


def test_create_refuses_an_existing_vault(home: Path) -> None:
    with pytest.raises(VaultError, match="exists here already"):
        Vault.create(home)


def test_members_in_creation_order_and_default(home: Path, clock: FakeClock) -> None:
    with open_vault(home, clock) as v:
        names = [m.name for m in v.members()]
        assert names == ["alice", "bob"]
        assert v.default_member() == "alice"
        assert all(m.recipient.startswith("age1") for m in v.members())
        with pytest.raises(VaultError, match=r"no such member \(members: alice, bob\)"):
            v.member("carol")
        with pytest.raises(VaultError, match="already exists"):
            v.add_member("bob", "x")


def test_store_then_decrypt_gives_back_every_sample(
    home: Path, clock: FakeClock, identities: Ident
) -> None:
    u = utterance(0.75, seed=1)
    with open_vault(home, clock) as v:
        rid = v.store(u, "alice")
        assert rid is not None and re.fullmatch(r"[0-9a-f]{20}", rid)
        (meta,) = v.records()
        assert isinstance(meta, RecordMeta)
        assert (meta.id, meta.member, meta.start, meta.model, meta.score) == (
            rid,
            "alice",
            T0,
            "hey_jarvis",
            0.87,
        )
        assert meta.duration_s == pytest.approx(0.75)
        assert meta.samples == 12000 and meta.source == "test.wav"
        assert meta.expires == pytest.approx(clock.t + 24 * 3600)
        wav = v.decrypt(rid, identities("alice"))
        samples, info = wav_to_pcm(wav)
        assert np.array_equal(samples, u.samples) and info.sample_rate == 16000
        assert v.records("bob") == []


def test_ciphertext_is_age_to_the_member_only(
    home: Path, clock: FakeClock, identities: Ident
) -> None:
    with open_vault(home, clock) as v:
        rid = v.store(utterance(0.2), "bob")
        assert rid is not None
        ct = v.read_ciphertext(rid)
        assert ct.startswith(b"age-encryption.org/v1\n-> X25519 ")
        with pytest.raises(pyrage.DecryptError):
            pyrage.decrypt(ct, [identities("alice")])
        assert wav_to_pcm(pyrage.decrypt(ct, [identities("bob")]))[1].frames == 3200
        with pytest.raises(VaultError, match="this identity is not theirs"):
            v.decrypt(rid, identities("alice"))


def test_record_ids_sort_by_start_and_prefixes_resolve(home: Path, clock: FakeClock) -> None:
    with open_vault(home, clock) as v:
        ids = [v.store(utterance(0.1, seed=i, started_at=T0 + i), "alice") for i in range(3)]
        assert ids == sorted(ids)  # type: ignore[type-var]
        assert [m.id for m in v.records()] == ids
        rid = ids[1]
        assert rid is not None
        assert v.record(rid[:14]).id == rid  # a unique prefix is enough
        with pytest.raises(VaultError, match="ambiguous prefix"):
            v.record(rid[:8])  # the three share their time digits
        with pytest.raises(VaultError, match="no such record"):
            v.record(rid[-10:])  # a suffix is not a prefix
        with pytest.raises(VaultError, match="no such record"):
            v.record("ffffffffffffffffffff")


def test_unknown_member_is_refused_and_nothing_is_written(home: Path, clock: FakeClock) -> None:
    with open_vault(home, clock) as v:
        before = audit.head(v.connection)
        with pytest.raises(VaultError, match="no such member"):
            v.store(utterance(), "carol")
        assert v.records() == [] and audit.head(v.connection) == before


def test_wrong_samples_are_refused(home: Path, clock: FakeClock) -> None:
    u = utterance()
    bad = type(u)(
        samples=u.samples.astype(np.float32),
        start_t=0,
        started_at=T0,
        model="m",
        score=0.5,
        end_reason="silence",
    )
    with open_vault(home, clock) as v, pytest.raises(VaultError, match="int16"):
        v.store(bad, "alice")


def test_store_audits_metadata_but_no_audio(home: Path, clock: FakeClock) -> None:
    with open_vault(home, clock) as v:
        rid = v.store(replace(utterance(0.5), gap_ms=1280), "alice")
        (entry,) = audit.entries(v.connection, event="stored")
        assert entry.record == rid and entry.member == "alice"
        assert entry.details["gap_ms"] == 1280 and v.record(str(rid)).gap_ms == 1280
        assert set(entry.details) == {
            "duration_s",
            "model",
            "score",
            "gap_ms",
            "bytes",
            "sha256",
            "meta_sha256",
        }
        rows = v.connection.execute("SELECT details FROM audit").fetchall()
        assert max(len(r[0]) for r in rows) < 400


def test_an_all_future_copy_is_made_in_the_stores_transaction_from_its_wav(
    home: Path, clock: FakeClock, identities: Ident
) -> None:
    endpoint = x25519.Identity.generate()
    u = utterance(0.3, seed=4)
    with open_vault(home, clock) as v:
        grant = grant_all_future(
            v,
            member="alice",
            purpose="p",
            endpoint="http://127.0.0.1:9",
            recipient=str(endpoint.to_public()),
        )
        before = audit.head(v.connection)
        rid = v.store(u, "alice")
        (item,) = queued(v.connection)
        assert (item.grant_id, item.record_id) == (grant.grant_id, rid)
        # The endpoint's copy is the very WAV the member's record holds.
        wav = pyrage.decrypt(item.ciphertext, [endpoint])
        assert wav == v.decrypt(rid, identities("alice"))
        assert np.array_equal(wav_to_pcm(wav)[0], u.samples)
        # One transaction: the chain moved from `before` by exactly the store's entries.
        new = audit.entries(v.connection, since_seq=before[0])
        assert [e.event for e in new] == ["stored", "queued"]


def test_a_copy_that_fails_rolls_the_whole_record_back(home: Path, clock: FakeClock) -> None:
    with open_vault(home, clock) as v:
        # An all-future grant whose recipient is no age recipient (written past the checks
        # of storage.ledger.append_grant, and bound in the chain as grants were before it
        # recorded recipients, so that it is used): encrypting the store's copy to it fails.
        with v.transaction() as conn:
            conn.execute(
                "INSERT INTO consent_events (kind, grant_id, member, purpose, endpoint, recipient,"
                " scope, records, expires, at) VALUES ('grant', 'g-00000000', 'alice', 'p',"
                " 'http://127.0.0.1:9', 'age1broken', 'all_future', '[]', NULL, ?)",
                (clock() - 1,),
            )
            v.audit(
                conn,
                "consent_granted",
                member="alice",
                grant="g-00000000",
                purpose="p",
                endpoint="http://127.0.0.1:9",
                scope="all_future",
                expires=None,
            )
        before = audit.head(v.connection)
        with pytest.raises(ConsentError, match="g-00000000"):
            v.store(utterance(), "alice")
        assert v.records() == [] and queued(v.connection) == []
        assert audit.head(v.connection) == before
        assert not v.connection.in_transaction


def test_note_discarded_and_run_are_audited(home: Path, clock: FakeClock) -> None:
    with open_vault(home, clock) as v:
        v.note_discarded("no_speech", 1.2, "hey_jarvis", "a.wav")
        v.note_run("a.wav", heard_s=60.0, kept_s=2.5, discarded_s=1.2, wakes=2, muted_s=0.0)
        d, r = audit.entries(v.connection)[-2:]
    assert (d.event, d.details["reason"]) == ("discarded", "no_speech")
    assert d.details["duration_s"] == 1.2
    assert (r.event, r.details["heard_s"], r.details["wakes"]) == ("run", 60.0, 2)


def test_delete_removes_the_ciphertext_and_audits(home: Path, clock: FakeClock) -> None:
    with open_vault(home, clock) as v:
        keep = v.store(utterance(0.1, seed=1), "alice")
        gone = v.store(utterance(0.1, seed=2), "alice")
        assert gone is not None
        deleted = v.delete(gone)
        assert (deleted.record, deleted.event) == (gone, "deleted")
        assert [m.id for m in v.records()] == [keep]
        (entry,) = audit.entries(v.connection, event="deleted")
        assert entry.record == gone
        with pytest.raises(VaultError, match="no such record"):
            v.read_ciphertext(gone)


def test_deleted_ciphertext_is_not_left_in_the_files(home: Path, clock: FakeClock) -> None:
    with open_vault(home, clock) as v:
        rid = v.store(utterance(0.5, seed=9), "alice")
        assert rid is not None
        ct = v.read_ciphertext(rid)
        v.delete(rid)
        blobs = b"".join(p.read_bytes() for p in home.iterdir() if p.is_file())
        assert ct[200:264] not in blobs  # secure_delete + WAL checkpoint: the bytes are gone


def test_forget_shreds_the_identity_and_every_record_but_spares_others(
    home: Path, clock: FakeClock, identities: Ident
) -> None:
    with open_vault(home, clock) as v:
        mine = [v.store(utterance(0.2, seed=i), "bob") for i in range(3)]
        theirs = v.store(utterance(0.2, seed=7), "alice")
        assert mine[0] is not None and theirs is not None
        copy = v.read_ciphertext(mine[0])  # a copy made earlier, e.g. a backup
        bob_key = v.keys.path(v.member("bob").id)
        result = v.forget("bob")
        assert (result.records, result.identity_shredded) == (3, True)
        assert result.seconds == pytest.approx(0.6)
        assert [m.name for m in v.members()] == ["alice"]
        assert [m.id for m in v.records()] == [theirs]
        assert not bob_key.exists()
        with pytest.raises(VaultError, match="no such member"):
            v.unlock("bob", "battery staple bob")
        assert len(v.decrypt(theirs, identities("alice"))) == 44 + 6400
        (entry,) = audit.entries(v.connection, event="forgotten")
        assert (entry.member, entry.details["records"]) == ("bob", 3)
    # Only the shredded identity could open the copy; nothing the device has can.
    assert b"AGE-SECRET-KEY" not in b"".join(p.read_bytes() for p in home.rglob("*") if p.is_file())
    with pytest.raises(pyrage.DecryptError):
        pyrage.decrypt(copy, [identities("alice")])


def test_forget_completes_after_a_crash_between_shred_and_delete(
    home: Path, clock: FakeClock
) -> None:
    with open_vault(home, clock) as v:
        v.store(utterance(0.2), "bob")
        v.keys.shred(v.member("bob").id)  # as if the process died right after shredding
        result = v.forget("bob")
        assert (result.records, result.identity_shredded) == (1, False)
        assert v.records() == [] and [m.name for m in v.members()] == ["alice"]
        with pytest.raises(VaultError, match="no such member"):
            v.forget("bob")


def test_readded_member_gets_a_new_identity(home: Path, clock: FakeClock) -> None:
    with open_vault(home, clock) as v:
        old = v.member("bob").recipient
        v.forget("bob")
        new = v.add_member("bob", "new pass")
        assert new.recipient != old and v.member("bob").recipient == new.recipient


def test_decrypt_detects_a_changed_ciphertext(
    home: Path, clock: FakeClock, identities: Ident
) -> None:
    with open_vault(home, clock) as v:
        rid = v.store(utterance(0.1), "alice")
        raw = sqlite3.connect(home / "vault.db")
        ct = bytearray(raw.execute("SELECT ciphertext FROM records").fetchone()[0])
        ct[-5] ^= 1
        raw.execute("UPDATE records SET ciphertext = ?", (bytes(ct),))
        raw.commit()
        raw.close()
        assert rid is not None
        with pytest.raises(IntegrityError, match="SHA-256"):
            v.decrypt(rid, identities("alice"))


def test_transactions_do_not_nest(home: Path, clock: FakeClock) -> None:
    with open_vault(home, clock) as v, v.transaction() as conn:
        assert conn.in_transaction
        with pytest.raises(VaultError, match="do not nest"), v.transaction():
            pass


def test_consent_tables_exist_after_open(home: Path, clock: FakeClock) -> None:
    with open_vault(home, clock) as v:
        tables = {r[0] for r in v.connection.execute("SELECT name FROM sqlite_master")}
    assert {"members", "records", "audit", "consent_events", "upload_queue", "uploads"} <= tables


def test_store_has_no_plaintext_in_any_file(home: Path, clock: FakeClock) -> None:
    pcm = noise(1.0, seed=11)
    u = utterance(1.0, seed=11)
    assert np.array_equal(u.samples, pcm)
    with open_vault(home, clock) as v:
        for _ in range(3):
            v.store(u, "alice")
        files = b"".join(p.read_bytes() for p in home.rglob("*") if p.is_file())
    raw = pcm.tobytes()
    assert all(raw[i : i + 128] not in files for i in range(0, len(raw) - 128, 1000))


def test_settings_reach_the_vault(home: Path, clock: FakeClock) -> None:
    v = Vault.open(home, VaultSettings(retention_h=1.5, capacity_s=60), clock=clock)
    with v:
        rid = v.store(utterance(0.1), "alice")
        assert rid is not None
        assert v.record(rid).expires == pytest.approx(clock.t + 5400)


def test_forget_revokes_the_members_grants(home: Path, clock: FakeClock) -> None:
    from storage.consent import grant_all_future
    from storage.ledger import live_grants

    endpoint_key = str(x25519.Identity.generate().to_public())
    with open_vault(home, clock) as v:
        grant = grant_all_future(
            v,
            member="bob",
            purpose="research",
            endpoint="http://127.0.0.1:9",
            recipient=endpoint_key,
        )
        assert [g.grant_id for g in live_grants(v.connection, clock.t, member="bob")] == [
            grant.grant_id
        ]
        v.forget("bob")
        v.add_member("bob", "a new bob")
        assert live_grants(v.connection, clock.t, member="bob") == []
        revoked = audit.entries(v.connection, event="consent_revoked")
        assert [(e.details["grant"], e.details["reason"]) for e in revoked] == [
            (grant.grant_id, "forgotten")
        ]
