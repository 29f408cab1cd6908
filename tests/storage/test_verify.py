"""Tampering: every flipped byte of a stored record, and of its index row, names the record."""

from __future__ import annotations

import sqlite3
import struct
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from pyrage import x25519

from keepmum.errors import VaultError
from storage import audit
from storage.vault import Vault
from storage.verify import Defect, VerifyReport, verify_vault
from tests.storage.vault_fixtures import PASSPHRASES, FakeClock, open_vault, utterance

Ident = Callable[[str], x25519.Identity]

COLUMNS = (
    "id",
    "member",
    "start",
    "start_t",
    "duration_s",
    "samples",
    "sample_rate",
    "model",
    "score",
    "end_reason",
    "source",
    "created",
    "expires",
    "sha256",
    "meta_sha256",
)


@pytest.fixture
def vault(home: Path, clock: FakeClock) -> Iterator[Vault]:
    with open_vault(home, clock) as v:
        v.store(utterance(0.02, seed=1), "alice")  # 320 samples: a small ciphertext
        v.store(utterance(0.05, seed=2), "bob")
        yield v


def _raw(home: Path) -> sqlite3.Connection:
    return sqlite3.connect(home / "vault.db", isolation_level=None)


def _flips(value: Any) -> Iterator[Any]:
    """The value with one bit flipped in each of its bytes, in its own SQLite type."""
    if isinstance(value, str):
        for i in range(len(value)):
            yield value[:i] + chr(ord(value[i]) ^ 1) + value[i + 1 :]
    elif isinstance(value, float):
        packed = struct.pack("<d", value)
        for i in range(8):
            b = bytearray(packed)
            b[i] ^= 1
            (flipped,) = struct.unpack("<d", bytes(b))
            if flipped == flipped:  # SQLite stores NaN as NULL: not a byte flip
                yield flipped
    elif isinstance(value, int):
        for i in range(8):
            yield value ^ (1 << (8 * i))
    else:
        raise AssertionError(f"unexpected column value {value!r}")


def test_an_untouched_vault_verifies(vault: Vault) -> None:
    report = verify_vault(vault)
    assert report.ok and report.records == 2 and report.decrypted == 0


def test_with_a_key_every_record_of_the_member_is_decrypted(
    vault: Vault, identities: Ident
) -> None:
    report = verify_vault(vault, member="bob", identity=identities("bob"))
    assert report.ok and report.decrypted == 1
    with pytest.raises(VaultError, match="go together"):
        verify_vault(vault, member="bob")


def test_flipped_ciphertext_bytes_are_named_by_verify_vault(vault: Vault, home: Path) -> None:
    # Every byte of the age header and the first payload chunk's start, every 61st byte after,
    # and the tag at the end, each flipped alone and committed: what a disk or a person did.
    rid = vault.records("alice")[0].id
    raw = _raw(home)
    (ct,) = raw.execute("SELECT ciphertext FROM records WHERE id = ?", (rid,)).fetchone()
    positions = sorted({*range(256), *range(256, len(ct), 61), *range(len(ct) - 32, len(ct))})
    for i in positions:
        bad = bytearray(ct)
        bad[i] ^= 1 << (i % 8)
        raw.execute("UPDATE records SET ciphertext = ? WHERE id = ?", (bytes(bad), rid))
        report = verify_vault(vault)
        assert report.bad_records == [rid], (i, report.defects)
        assert all(d.record == rid for d in report.defects), (i, report.defects)
    raw.execute("UPDATE records SET ciphertext = ? WHERE id = ?", (ct, rid))
    assert verify_vault(vault).ok
    failed = audit.entries(vault.connection, event="verification_failed")
    assert len(failed) == len(positions) and {tuple(e.details["records"]) for e in failed} == {
        (rid,)
    }


@pytest.mark.parametrize("column", COLUMNS)
def test_every_flipped_byte_of_the_index_row_names_the_record(
    vault: Vault, home: Path, column: str
) -> None:
    rid = vault.records("alice")[0].id
    raw = _raw(home)
    (original,) = raw.execute(f"SELECT {column} FROM records WHERE id = ?", (rid,)).fetchone()
    flips = list(_flips(original))
    assert flips
    for flipped in flips:
        raw.execute(f"UPDATE records SET {column} = ? WHERE id = ?", (flipped, rid))
        report = verify_vault(vault)
        assert rid in report.bad_records, (column, flipped, report.defects)
        assert vault.records("bob")[0].id not in report.bad_records
        current = flipped if column == "id" else rid
        raw.execute(f"UPDATE records SET {column} = ? WHERE id = ?", (original, current))
    assert verify_vault(vault).ok


def test_all_defects_are_reported_not_only_the_first(vault: Vault, home: Path) -> None:
    a, b = (m.id for m in vault.records())
    raw = _raw(home)
    raw.execute("UPDATE records SET ciphertext = x'00' || ciphertext WHERE id = ?", (a,))
    raw.execute("UPDATE records SET score = 7.0, model = 'x' WHERE id = ?", (b,))
    report = verify_vault(vault)
    assert report.bad_records == [a, b]
    assert len([d for d in report.defects if d.record == a]) >= 2  # sha256 + bad magic + ...
    assert any("score" in d.problem for d in report.defects if d.record == b)
    # ... and the failure itself is audited.
    (entry,) = audit.entries(vault.connection, event="verification_failed")
    assert entry.details["records"] == [a, b] and entry.details["defects"] == len(report.defects)


def test_a_row_deleted_behind_the_vaults_back_is_named(vault: Vault, home: Path) -> None:
    rid = vault.records("bob")[0].id
    _raw(home).execute("DELETE FROM records WHERE id = ?", (rid,))
    report = verify_vault(vault)
    assert report.bad_records == [rid]
    assert "records no deletion" in report.defects[0].problem


def test_a_row_edited_with_recomputed_hashes_is_caught_by_the_audit(
    vault: Vault, home: Path
) -> None:
    from storage.records import meta_digest

    meta = vault.records("alice")[0]
    forged = meta.__class__(**{**meta.__dict__, "expires": meta.expires + 1e6})
    _raw(home).execute(
        "UPDATE records SET expires = ?, meta_sha256 = ? WHERE id = ?",
        (forged.expires, meta_digest(forged.meta_values()), meta.id),
    )
    report = verify_vault(vault)
    assert report.bad_records == [meta.id]
    assert "audit chain recorded" in report.defects[0].problem


def test_legitimate_erasure_is_not_a_defect(vault: Vault, clock: FakeClock) -> None:
    vault.delete(vault.records("alice")[0].id)
    vault.forget("bob")
    vault.store(utterance(0.1, seed=5), "alice")
    clock.advance(25 * 3600)
    vault.store(utterance(0.1, seed=6), "alice")  # the older one expires here
    assert verify_vault(vault).ok


def test_decrypt_check_finds_audio_that_does_not_match(
    vault: Vault, home: Path, identities: Ident
) -> None:
    import hashlib

    import pyrage

    from storage.records import meta_digest
    from storage.wav import pcm_to_wav
    from tests.storage.vault_fixtures import noise

    # A well-formed ciphertext of other audio, all hashes forged: only the key can tell.
    meta = vault.records("bob")[0]
    ct = pyrage.encrypt(
        pcm_to_wav(noise(0.05, seed=99)[:-1]) + b"\0\0",
        [x25519.Recipient.from_str(vault.member("bob").recipient)],
    )
    forged = meta.__class__(**{**meta.__dict__, "sha256": hashlib.sha256(ct).hexdigest()})
    _raw(home).execute(
        "UPDATE records SET ciphertext = ?, sha256 = ?, meta_sha256 = ? WHERE id = ?",
        (ct, forged.sha256, meta_digest(forged.meta_values()), meta.id),
    )
    report = verify_vault(vault, member="bob", identity=identities("bob"))
    assert report.bad_records == [meta.id]
    # What only the key finds names the record too (the index's hashes differ from the audit's).
    assert Defect(meta.id, "audio is 799 samples at 16000 Hz, index says 800 at 16000 Hz") in (
        report.defects
    )
    assert report.decrypted == 0
    # The record is named once, by the defect, not again in its problem.
    assert not any(d.problem.startswith("record ") for d in report.defects)


# Each check of verify_vault read through verify_vault, its defect named in full (issue 30: each
# test kills mutants of storage/verify.py that the tests above let survive).


def _problems(report: VerifyReport, record: str | None) -> list[str]:
    return [d.problem for d in report.defects if d.record == record]


def test_a_defect_prints_its_record_or_only_its_problem() -> None:
    assert str(Defect("r-1", "sha256 differs")) == "record r-1: sha256 differs"
    assert str(Defect(None, "sqlite: bad")) == "sqlite: bad"


def test_sqlites_own_check_is_reported_for_the_vault(vault: Vault, home: Path) -> None:
    # A row SQLite's CHECK refuses, written with the checks off: quick_check names it.
    raw = _raw(home)
    raw.execute("PRAGMA ignore_check_constraints = ON")
    raw.execute(
        "INSERT INTO erasure_requests (request_id, endpoint, member, reason, records, uploads,"
        " requested_at) VALUES ('e-1', 'http://h', 'alice', 'bogus', '[]', '[]', 1.0)"
    )
    report = verify_vault(vault)
    assert _problems(report, None) == ["sqlite: CHECK constraint failed in erasure_requests"]
    assert report.bad_records == []


def test_a_malformed_recipient_is_named(vault: Vault, home: Path) -> None:
    _raw(home).execute("UPDATE members SET recipient = 'age1bad' WHERE name = 'bob'")
    problems = _problems(verify_vault(vault), None)
    assert "member 'bob': recipient 'age1bad' is malformed" in problems
    assert not any("'alice'" in p for p in problems)


def test_a_missing_identity_file_is_named_and_an_old_name_still_counts(
    vault: Vault, home: Path
) -> None:
    # alice's identity under its name (as before schema version 2) is still hers; bob's is gone.
    keys = home / "keys"
    ids = dict(_raw(home).execute("SELECT name, id FROM members").fetchall())
    (keys / f"{ids['alice']}.identity.age").rename(keys / "alice.identity.age")
    (keys / f"{ids['bob']}.identity.age").unlink()
    report = verify_vault(vault)
    assert _problems(report, None) == [
        "member 'bob': identity file is missing, but the member and their records are still "
        "here: a forget that did not finish? (run keepmum vault forget bob again)"
    ]


def test_a_record_of_no_member_is_named(vault: Vault, home: Path) -> None:
    rid = vault.records("bob")[0].id
    _raw(home).execute("UPDATE records SET member = 'carol' WHERE id = ?", (rid,))
    report = verify_vault(vault)
    assert "member 'carol' is not a member of this vault" in _problems(report, rid)
    assert report.bad_records == [rid]


def test_ciphertext_stored_as_text_is_named(vault: Vault, home: Path) -> None:
    # The same bytes, stored as TEXT: every hash still matches, only the type is wrong.
    rid = vault.records("bob")[0].id
    _raw(home).execute(
        "UPDATE records SET ciphertext = CAST(ciphertext AS TEXT) WHERE id = ?", (rid,)
    )
    report = verify_vault(vault)
    assert report.defects == [Defect(rid, "ciphertext is stored as text, not a blob")]


def test_a_row_that_cannot_be_read_is_named_malformed(vault: Vault, home: Path) -> None:
    rid = vault.records("bob")[0].id
    _raw(home).execute("UPDATE records SET samples = 'many' WHERE id = ?", (rid,))
    problems = _problems(verify_vault(vault), rid)
    assert problems and problems[0].startswith("malformed row (")


def test_a_row_the_audit_chain_never_stored_is_named(vault: Vault, home: Path) -> None:
    rid = vault.records("bob")[0].id
    raw = _raw(home)
    raw.execute(
        f"INSERT INTO records ({', '.join(COLUMNS)}, ciphertext) SELECT 'r-copy', "
        f"{', '.join(COLUMNS[1:])}, ciphertext FROM records WHERE id = ?",
        (rid,),
    )
    report = verify_vault(vault)
    assert "no 'stored' entry in the audit chain for this record" in _problems(report, "r-copy")
    assert report.bad_records == ["r-copy"] and report.records == 3


def test_a_deleted_row_names_the_entry_that_stored_it(vault: Vault, home: Path) -> None:
    rid = vault.records("bob")[0].id
    (stored,) = audit.entries(vault.connection, event="stored", record=rid)
    _raw(home).execute("DELETE FROM records WHERE id = ?", (rid,))
    report = verify_vault(vault)
    assert report.defects == [
        Defect(
            rid,
            f"missing from the index, but the audit chain (entry {stored.seq}) records no deletion",
        )
    ]


def test_a_forget_excuses_only_records_stored_before_it(vault: Vault, home: Path) -> None:
    # bob forgotten, a new bob added: a record of the new bob deleted behind the vault's back is
    # a defect (the forget came before it was stored), as is one of alice (not forgotten).
    alice = vault.records("alice")[0].id
    vault.forget("bob")
    vault.add_member("bob", PASSPHRASES["bob"])
    new = vault.store(utterance(0.02, seed=3), "bob")
    raw = _raw(home)
    for rid in (alice, new):
        raw.execute("DELETE FROM records WHERE id = ?", (rid,))
    report = verify_vault(vault)
    assert sorted(report.bad_records) == sorted([alice, new])
    assert report.records == 0


def test_a_member_and_an_identity_go_together(vault: Vault, identities: Ident) -> None:
    message = "^verify: a member and their unlocked identity go together$"
    with pytest.raises(VaultError, match=message):
        verify_vault(vault, member="bob")
    with pytest.raises(VaultError, match=message):
        verify_vault(vault, identity=identities("bob"))


def test_a_read_only_vault_reports_without_appending(vault: Vault, home: Path) -> None:
    rid = vault.records("bob")[0].id
    _raw(home).execute("UPDATE records SET score = 7.0 WHERE id = ?", (rid,))
    with Vault.open(home, read_only=True) as ro:
        report = verify_vault(ro)
    assert report.bad_records == [rid]
    assert audit.entries(vault.connection, event="verification_failed") == []


def test_a_failure_to_audit_the_failure_is_itself_reported(vault: Vault, home: Path) -> None:
    rid = vault.records("bob")[0].id
    raw = _raw(home)
    raw.execute("UPDATE records SET score = 7.0 WHERE id = ?", (rid,))
    raw.execute(
        "CREATE TRIGGER no_audit BEFORE INSERT ON audit BEGIN SELECT RAISE(ABORT, 'full'); END"
    )
    report = verify_vault(vault)
    assert report.defects[-1] == Defect(
        None, "could not append verification_failed to the audit chain (full)"
    )
    assert report.bad_records == [rid]


def test_a_record_without_ciphertext_is_named_malformed(vault: Vault, home: Path) -> None:
    # The schema edited to allow it (what a person with the file can do), then the ciphertext
    # removed: named, not a crash.
    rid = vault.records("bob")[0].id
    raw = _raw(home)
    raw.execute("PRAGMA writable_schema = ON")
    raw.execute(
        "UPDATE sqlite_master SET sql = replace(sql, 'ciphertext BLOB NOT NULL', 'ciphertext BLOB')"
        " WHERE name = 'records'"
    )
    raw.close()
    raw = _raw(home)
    raw.execute("UPDATE records SET ciphertext = NULL WHERE id = ?", (rid,))
    report = verify_vault(vault)
    assert _problems(report, rid)[0] == "malformed row (ciphertext is NoneType, not a blob)"


def test_a_voiceprint_inserted_behind_the_vaults_back_is_named(vault: Vault, home: Path) -> None:
    _raw(home).execute(
        "INSERT INTO voiceprints VALUES ('bob', ?, 2, 3, 'm', 0)", (struct.pack("<2f", 1, 0),)
    )
    assert verify_vault(vault).defects == [
        Defect(
            None,
            "voiceprint of 'bob': no voice_enrolled entry in the audit chain (a row inserted "
            "behind keepmum's back?)",
        )
    ]


def test_every_record_of_the_member_is_decrypted_and_counted(
    vault: Vault, identities: Ident
) -> None:
    vault.store(utterance(0.03, seed=7), "bob")
    report = verify_vault(vault, member="bob", identity=identities("bob"))
    assert (report.ok, report.records, report.decrypted) == (True, 3, 2)
