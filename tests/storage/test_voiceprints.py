"""Voiceprints in the vault: enrolled with consent, exported to their member only, erased."""

from __future__ import annotations

import io
import json
import sqlite3
import tarfile
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pyrage
import pytest
from pyrage import x25519

from keepmum.errors import IntegrityError, VaultError
from storage.audit import entries
from storage.export import export_member
from storage.vault import Vault
from storage.verify import verify_vault
from tests.storage.vault_fixtures import PASSPHRASES, FakeClock, open_vault, utterance

Identities = Callable[[str], x25519.Identity]


@pytest.fixture
def vault(home: Path, clock: FakeClock) -> Iterator[Vault]:
    with open_vault(home, clock) as v:
        yield v


def _vector(seed: int) -> np.ndarray:
    v = np.random.default_rng(seed).random(256).astype(np.float32)
    return v / np.linalg.norm(v)


def _enrol(vault: Vault, identities: Identities, name: str, seed: int) -> np.ndarray:
    vector = _vector(seed)
    vault.enrol_voice(name, vector, utterances=3, model="m", identity=identities(name))
    return vector


def test_enrol_stores_the_vector_and_a_consent_entry_without_it(
    vault: Vault, identities: Identities
) -> None:
    vector = _enrol(vault, identities, "alice", 1)
    (stored,) = vault.voiceprints()
    assert stored.member == "alice" and stored.utterances == 3 and stored.model == "m"
    assert np.array_equal(stored.vector, vector)
    (entry,) = entries(vault.connection, event="voice_enrolled", member="alice")
    assert entry.details["utterances"] == 3 and entry.details["consent"] == "passphrase"
    chain = json.dumps([e.details for e in entries(vault.connection)])
    assert f"{float(vector[0]):.5f}"[:7] not in chain  # no vector in the chain
    assert verify_vault(vault).ok


def test_enrol_needs_the_members_own_identity(vault: Vault, identities: Identities) -> None:
    with pytest.raises(VaultError, match="not theirs"):
        vault.enrol_voice("alice", _vector(1), utterances=3, model="m", identity=identities("bob"))
    assert vault.voiceprints() == []
    assert not entries(vault.connection, event="voice_enrolled")


def test_enrol_again_replaces(vault: Vault, identities: Identities) -> None:
    _enrol(vault, identities, "alice", 1)
    second = _enrol(vault, identities, "alice", 2)
    (stored,) = vault.voiceprints("alice")
    assert np.array_equal(stored.vector, second)


def test_unenrol_erases_and_audits(vault: Vault, identities: Identities) -> None:
    _enrol(vault, identities, "alice", 1)
    _enrol(vault, identities, "bob", 2)
    assert vault.unenrol_voice("alice") is True
    assert [vp.member for vp in vault.voiceprints()] == ["bob"]
    assert entries(vault.connection, event="voice_unenrolled", member="alice")
    assert vault.unenrol_voice("alice") is False
    assert len(entries(vault.connection, event="voice_unenrolled", member="alice")) == 1


def test_forget_erases_the_voiceprint(vault: Vault, identities: Identities, home: Path) -> None:
    vector = _enrol(vault, identities, "alice", 1)
    _enrol(vault, identities, "bob", 2)
    vault.forget("alice")
    assert [vp.member for vp in vault.voiceprints()] == ["bob"]
    (entry,) = entries(vault.connection, event="voice_unenrolled", member="alice")
    assert entry.details["reason"] == "forgotten"
    vault.close()
    # secure_delete: the vector's bytes are gone from the file, not just unlinked from the table.
    raw = b"".join(p.read_bytes() for p in home.glob("vault.db*"))
    assert vector.astype("<f4").tobytes()[:64] not in raw


def test_corrupt_vector_is_an_integrity_error(vault: Vault, identities: Identities) -> None:
    _enrol(vault, identities, "alice", 1)
    vault.connection.execute("UPDATE voiceprints SET dims = 255")
    with pytest.raises(IntegrityError, match="alice"):
        vault.voiceprints()


def test_export_holds_own_voiceprint_and_none_of_anothers(
    vault: Vault, identities: Identities, tmp_path: Path
) -> None:
    alice = _enrol(vault, identities, "alice", 1)
    bob = _enrol(vault, identities, "bob", 2)
    bob_record = vault.store(utterance(0.5, seed=3, started_at=vault.clock()), "bob")
    alice_record = vault.store(utterance(0.5, seed=4, started_at=vault.clock()), "alice")
    out = tmp_path / "alice.age"
    export_member(vault, member="alice", passphrase=PASSPHRASES["alice"], out=out)
    plain = pyrage.decrypt(out.read_bytes(), [identities("alice")])
    with tarfile.open(fileobj=io.BytesIO(plain)) as tar:
        names = tar.getnames()
        manifest = json.loads(tar.extractfile("manifest.json").read())  # type: ignore[union-attr]
    (voice,) = manifest["voiceprint"]
    assert np.allclose(voice["vector"], alice, atol=1e-6)
    assert voice["utterances"] == 3
    text = json.dumps(manifest)
    assert str(bob_record) not in text and f"records/{bob_record}.wav" not in names
    assert f"records/{alice_record}.wav" in names
    assert not np.allclose(voice["vector"], bob, atol=1e-3)


def test_a_version_4_vault_gains_the_table(home: Path, clock: FakeClock) -> None:
    raw = sqlite3.connect(home / "vault.db")
    raw.execute("DROP TABLE IF EXISTS voiceprints")
    raw.execute("PRAGMA user_version = 4")
    raw.commit()
    raw.close()
    with open_vault(home, clock) as v:
        assert v.voiceprints() == []


def test_verify_finds_a_voiceprint_changed_or_inserted_behind_keepmums_back(
    vault: Vault, identities: Identities
) -> None:
    _enrol(vault, identities, "alice", 1)
    (entry,) = entries(vault.connection, event="voice_enrolled", member="alice")
    assert len(entry.details["sha256"]) == 64
    assert verify_vault(vault).ok
    # bob's voice put in alice's row: his requests would be filed under her.
    vault.connection.execute(
        "UPDATE voiceprints SET vector = ? WHERE member = 'alice'",
        (_vector(2).astype("<f4").tobytes(),),
    )
    report = verify_vault(vault)
    assert any("differs from the one enrolled" in d.problem for d in report.defects)
    vault.connection.execute(
        "INSERT INTO voiceprints VALUES ('bob', ?, 256, 3, 'm', 0)",
        (_vector(3).astype("<f4").tobytes(),),
    )
    messages = [d.problem for d in verify_vault(vault).defects]
    assert any("'bob'" in m and "no voice_enrolled entry" in m for m in messages)


def test_verify_finds_a_voiceprint_back_after_unenrol(vault: Vault, identities: Identities) -> None:
    vector = _enrol(vault, identities, "alice", 1)
    vault.unenrol_voice("alice")
    vault.connection.execute(
        "INSERT INTO voiceprints VALUES ('alice', ?, 256, 3, 'm', 0)",
        (vector.astype("<f4").tobytes(),),
    )
    messages = [d.problem for d in verify_vault(vault).defects]
    assert any("unenrolled" in m and "still in the voiceprints table" in m for m in messages)
