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
from storage.verify import verify_vault
from tests.storage.vault_fixtures import FakeClock, open_vault, utterance

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
    assert any("not a WAV" in d.problem or "samples" in d.problem for d in report.defects)
