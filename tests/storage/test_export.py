"""The data-subject export with the real vault: only the member's own records, checked one by
one, failing closed, written whole or not at all, and opened by the standard `age` tool."""

from __future__ import annotations

import hashlib
import io
import json
import subprocess
import tarfile
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path

import pyrage
import pytest
from pyrage import x25519

from keepmum.errors import IntegrityError, PassphraseError, VaultError
from storage.audit import entries
from storage.export import EXPORT_FORMAT, export_member
from storage.records import RecordMeta, meta_digest
from storage.vault import Vault
from tests.conftest import require_tool
from tests.storage.vault_fixtures import PASSPHRASES, FakeClock, open_vault, utterance

Identities = Callable[[str], x25519.Identity]


@pytest.fixture
def outdir(tmp_path: Path) -> Path:
    """A folder of its own for bundles (the home is in tmp_path too)."""
    folder = tmp_path / "out"
    folder.mkdir()
    return folder


@pytest.fixture
def vault(home: Path, clock: FakeClock) -> Iterator[Vault]:
    with open_vault(home, clock) as v:
        yield v


def _household(vault: Vault) -> dict[str, list[str]]:
    """Interleaved utterances of alice and bob on one shared device."""
    kept: dict[str, list[str]] = {"alice": [], "bob": []}
    for seed, member in enumerate(["alice", "bob", "alice", "bob", "bob", "alice"]):
        said = utterance(0.3 + 0.1 * seed, seed=seed, started_at=vault.clock())
        rid = vault.store(replace(said, gap_ms=80 * seed), member)
        assert rid is not None
        kept[member].append(rid)
    return kept


def _open(bundle: bytes, identity: x25519.Identity) -> dict[str, bytes]:
    plain = pyrage.decrypt(bundle, [identity])
    with tarfile.open(fileobj=io.BytesIO(plain)) as tar:
        return {m.name: tar.extractfile(m).read() for m in tar.getmembers()}  # type: ignore[union-attr]


def test_export_holds_exactly_the_members_records(
    vault: Vault, tmp_path: Path, identities: Identities
) -> None:
    kept = _household(vault)
    out = tmp_path / "alice.age"
    result = export_member(vault, member="alice", passphrase=PASSPHRASES["alice"], out=out)
    assert result.records == 3
    files = _open(out.read_bytes(), identities("alice"))
    assert sorted(files) == sorted(["manifest.json"] + [f"records/{r}.wav" for r in kept["alice"]])
    for rid in kept["alice"]:
        assert files[f"records/{rid}.wav"] == vault.decrypt(rid, identities("alice"))
    manifest = json.loads(files["manifest.json"])
    assert manifest["format"] == EXPORT_FORMAT and manifest["version"] == 1
    assert manifest["member"] == "alice"
    assert [r["record"] for r in manifest["records"]] == kept["alice"]
    for entry in manifest["records"]:
        assert entry["sha256"] == hashlib.sha256(files[entry["file"]]).hexdigest()
        assert entry["model"] == "hey_jarvis"
    assert [r["gap_ms"] for r in manifest["records"]] == [0, 160, 400]  # seeds 0, 2, 5
    text = files["manifest.json"].decode()
    assert all(rid not in text for rid in kept["bob"])
    assert "bob" not in text
    assert {e["member"] for e in manifest["audit"]} == {"alice"}
    # Bob cannot open it.
    with pytest.raises(pyrage.DecryptError):
        pyrage.decrypt(out.read_bytes(), [identities("bob")])
    assert entries(vault.connection, event="exported", member="alice")


def test_standard_age_tool_opens_the_bundle(
    vault: Vault, tmp_path: Path, identities: Identities
) -> None:
    age = require_tool("age")
    kept = _household(vault)
    out = tmp_path / "alice.age"
    export_member(vault, member="alice", passphrase=PASSPHRASES["alice"], out=out)
    identity_file = tmp_path / "identity.txt"
    identity_file.write_text(str(identities("alice")) + "\n")
    identity_file.chmod(0o600)
    plain = subprocess.run(
        [age, "-d", "-i", str(identity_file), str(out)], check=True, capture_output=True
    ).stdout
    listing = (
        subprocess.run(["tar", "-t"], input=plain, check=True, capture_output=True)
        .stdout.decode()
        .split()
    )
    assert sorted(listing) == sorted(
        ["manifest.json"] + [f"records/{r}.wav" for r in kept["alice"]]
    )


def test_export_to_a_given_recipient(vault: Vault, tmp_path: Path) -> None:
    _household(vault)
    requester = x25519.Identity.generate()
    out = tmp_path / "to-requester.age"
    export_member(
        vault,
        member="bob",
        passphrase=PASSPHRASES["bob"],
        out=out,
        recipient=str(requester.to_public()),
    )
    files = _open(out.read_bytes(), requester)
    assert len([n for n in files if n.startswith("records/")]) == 3


def _relabel(vault: Vault, record_id: str, member: str, *, rehash: bool) -> None:
    """Tamper as an attacker with write access to vault.db would (triggers nothing)."""
    conn = vault.connection
    conn.execute("UPDATE records SET member = ? WHERE id = ?", (member, record_id))
    if rehash:  # the metadata hash needs no key, so a careful attacker recomputes it
        meta = vault.record(record_id)
        conn.execute(
            "UPDATE records SET meta_sha256 = ? WHERE id = ?",
            (meta_digest(RecordMeta.meta_values(meta)), record_id),
        )


@pytest.mark.parametrize("rehash", [False, True])
def test_relabelled_record_aborts_the_whole_export(
    vault: Vault, outdir: Path, rehash: bool
) -> None:
    kept = _household(vault)
    _relabel(vault, kept["bob"][0], "alice", rehash=rehash)
    out = outdir / "alice.age"
    out.write_bytes(b"an earlier file stays as it was")
    with pytest.raises(IntegrityError, match=kept["bob"][0]):
        export_member(vault, member="alice", passphrase=PASSPHRASES["alice"], out=out)
    assert out.read_bytes() == b"an earlier file stays as it was"
    assert sorted(p.name for p in outdir.iterdir()) == ["alice.age"]  # no temp file left
    refused = entries(vault.connection, event="export_refused", member="alice")
    assert len(refused) == 1 and kept["bob"][0] in refused[0].details["reason"]
    assert not entries(vault.connection, event="exported")


def test_wrong_passphrase_is_refused_and_writes_nothing(vault: Vault, outdir: Path) -> None:
    _household(vault)
    out = outdir / "alice.age"
    with pytest.raises(PassphraseError) as caught:
        export_member(vault, member="alice", passphrase=PASSPHRASES["bob"], out=out)
    assert caught.value.exit_code == 2
    assert not out.exists() and list(outdir.iterdir()) == []
    assert entries(vault.connection, event="export_refused", member="alice")


def test_unknown_member_and_bad_recipient_are_refused(vault: Vault, tmp_path: Path) -> None:
    out = tmp_path / "x.age"
    with pytest.raises(VaultError, match="carol"):
        export_member(vault, member="carol", passphrase="x", out=out)
    with pytest.raises(Exception, match="not an age X25519 recipient"):
        export_member(
            vault,
            member="alice",
            passphrase=PASSPHRASES["alice"],
            out=out,
            recipient="ssh-rsa AAAA",
        )
    assert not out.exists()
