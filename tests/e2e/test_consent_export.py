"""The 2018 case and erasure, end to end: alice and bob share a device; alice's export opened
with the standard `age` tool holds exactly her records; a relabelled record or a wrong
passphrase writes nothing; after `vault forget alice` nothing left opens her data."""

from __future__ import annotations

import io
import json
import sqlite3
import subprocess
import tarfile
from pathlib import Path

import pyrage
import pytest
from pyrage import x25519

from storage.records import RecordMeta, meta_digest
from tests.conftest import require_tool
from tests.e2e.cloud_fixtures import identities_in, identity_file
from tests.e2e.conftest import run_keepmum
from tests.e2e.vault_fixtures import (  # noqa: F401
    PASSPHRASES,
    StoredHome,
    _stored_home,
    _stored_template,
    _wake_recording,
    ciphertext,
    keepmum_ok,
    key_file,
)


def _pass(stored_home: StoredHome, member: str) -> list[str]:
    return [
        "--passphrase-file",
        next(a for a in stored_home.pass_args if a.startswith(f"{member}=")),
    ]


def _age_open(bundle: Path, identity: Path) -> bytes:
    age = require_tool("age")
    return subprocess.run(
        [age, "-d", "-i", str(identity), str(bundle)], check=True, capture_output=True
    ).stdout


def test_alice_gets_exactly_her_records_and_none_of_bobs(
    stored_home: StoredHome, tmp_path: Path
) -> None:
    home = stored_home.home
    out = tmp_path / "alice-export.age"
    result = keepmum_ok(
        "export",
        "--home",
        home,
        "--member",
        "alice",
        "--out",
        out,
        *_pass(stored_home, "alice"),
        "--json",
    )
    assert result.events[0]["records"] == len(stored_home.alice)
    plain = _age_open(
        out, identity_file(home, "alice", PASSPHRASES["alice"], tmp_path / "alice.txt")
    )
    listing = (
        subprocess.run(["tar", "-t"], input=plain, check=True, capture_output=True)
        .stdout.decode()
        .split()
    )
    assert sorted(listing) == sorted(
        ["manifest.json"] + [f"records/{r}.wav" for r in stored_home.alice]
    )
    with tarfile.open(fileobj=io.BytesIO(plain)) as tar:
        manifest = json.load(tar.extractfile("manifest.json"))  # type: ignore[arg-type]
    assert manifest["member"] == "alice"
    assert [r["record"] for r in manifest["records"]] == stored_home.alice
    text = plain.decode("latin-1")
    assert not any(rid in text for rid in stored_home.bob)
    # Bob's identity does not open it.
    bob_id = identity_file(home, "bob", PASSPHRASES["bob"], tmp_path / "bob.txt")
    age = require_tool("age")
    assert (
        subprocess.run([age, "-d", "-i", str(bob_id), str(out)], capture_output=True).returncode
        != 0
    )


def _relabel_to_alice(home: Path, record: str) -> None:
    """What an attacker (or a bug) with write access to vault.db could do, hash recomputed."""
    conn = sqlite3.connect(home / "vault.db")
    try:
        conn.execute("UPDATE records SET member = 'alice' WHERE id = ?", (record,))
        cols = (
            "id, member, start, start_t, duration_s, samples, sample_rate, model, score, "
            "end_reason, source, created, expires, sha256, length(ciphertext), gap_ms"
        )
        row = conn.execute(f"SELECT {cols} FROM records WHERE id = ?", (record,)).fetchone()
        conn.execute(
            "UPDATE records SET meta_sha256 = ? WHERE id = ?",
            (meta_digest(RecordMeta(*row).meta_values()), record),
        )
        conn.commit()
    finally:
        conn.close()


def test_a_record_relabelled_to_alice_aborts_her_export(
    stored_home: StoredHome, tmp_path: Path
) -> None:
    _relabel_to_alice(stored_home.home, stored_home.bob[0])
    outdir = tmp_path / "out"
    outdir.mkdir()
    refused = run_keepmum(
        "export",
        "--home",
        stored_home.home,
        "--member",
        "alice",
        "--out",
        outdir / "alice.age",
        *_pass(stored_home, "alice"),
    )
    assert refused.returncode == 1, refused
    assert stored_home.bob[0] in refused.stderr and "Traceback" not in refused.stderr
    assert list(outdir.iterdir()) == []
    shown = keepmum_ok("audit", "show", "--home", stored_home.home, "--json")
    assert [e for e in shown.events if e.get("event") == "export_refused"]


def test_export_with_a_wrong_passphrase_is_refused(stored_home: StoredHome, tmp_path: Path) -> None:
    wrong = tmp_path / "wrong.pass"
    wrong.write_text(PASSPHRASES["bob"] + "\n")
    outdir = tmp_path / "out"
    outdir.mkdir()
    refused = run_keepmum(
        "export",
        "--home",
        stored_home.home,
        "--member",
        "alice",
        "--out",
        outdir / "alice.age",
        "--passphrase-file",
        f"alice={wrong}",
    )
    assert refused.returncode == 2, refused
    assert len(refused.stderr.strip().splitlines()) == 1 and "alice" in refused.stderr
    assert list(outdir.iterdir()) == []


def test_forgetting_alice_makes_her_export_and_copies_unreadable(
    stored_home: StoredHome, tmp_path: Path
) -> None:
    home = stored_home.home
    export = tmp_path / "alice-export.age"
    keepmum_ok(
        "export", "--home", home, "--member", "alice", "--out", export, *_pass(stored_home, "alice")
    )
    copies = [ciphertext(home, r) for r in stored_home.alice]
    alice_key = key_file(home, "alice")
    # Before the forget, the export and the copies open with alice's identity (checked with the
    # age tool for the export): what is unreadable afterwards was readable, not garbage.
    alice_id = identity_file(home, "alice", PASSPHRASES["alice"], tmp_path / "alice.txt")
    with tarfile.open(fileobj=io.BytesIO(_age_open(export, alice_id))) as tar:
        assert sorted(tar.getnames()) == sorted(
            ["manifest.json"] + [f"records/{r}.wav" for r in stored_home.alice]
        )
    (alice_before,) = identities_in(alice_id.parent)
    assert all(pyrage.decrypt(data, [alice_before]) for data in copies)
    keepmum_ok("vault", "forget", "alice", "--yes", "--home", home)

    # Everything an attacker could try from the home: plain identities in any file, every
    # sealed identity with every passphrase we know, and bob's unlocked identity.
    candidates: list[x25519.Identity] = identities_in(home)
    for sealed in (home / "keys").glob("*.identity.age"):
        for pw in PASSPHRASES.values():
            try:
                text = pyrage.passphrase.decrypt(sealed.read_bytes(), pw).decode()
            except pyrage.DecryptError:
                continue
            candidates += [
                x25519.Identity.from_str(ln)
                for ln in text.splitlines()
                if ln.startswith("AGE-SECRET-KEY-")
            ]
    assert not alice_key.exists()
    assert candidates, "bob's identity should still be there to try"
    for data in [export.read_bytes(), *copies]:
        with pytest.raises(pyrage.DecryptError):
            pyrage.decrypt(data, candidates)

    # Bob's records still verify and decrypt.
    keepmum_ok("vault", "verify", "--home", home, "--member", "bob", *_pass(stored_home, "bob"))
    played = tmp_path / "bob.wav"
    keepmum_ok(
        "vault",
        "play",
        stored_home.bob[0],
        "--home",
        home,
        "--out",
        played,
        *_pass(stored_home, "bob"),
    )
    assert played.read_bytes()[:4] == b"RIFF"
    gone = run_keepmum(
        "export",
        "--home",
        home,
        "--member",
        "alice",
        "--out",
        tmp_path / "again.age",
        *_pass(stored_home, "alice"),
    )
    assert gone.returncode == 2 and not (tmp_path / "again.age").exists()
