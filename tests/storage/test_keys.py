"""Members' sealed identities: real age scrypt, real file modes, real shredding."""

from __future__ import annotations

import os
import sqlite3
import stat
from collections.abc import Callable
from pathlib import Path

import pyrage
import pytest
from pyrage import x25519

from keepmum.errors import IntegrityError, PassphraseError, PermissionsError, VaultError
from storage.keys import KeyStore, validate_member_name
from tests.storage.vault_fixtures import PASSPHRASES


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _id(home: Path, name: str) -> str:
    """The member's stable id: key files are named by it, never by the name."""
    raw = sqlite3.connect(home / "vault.db")
    try:
        return str(raw.execute("SELECT id FROM members WHERE name = ?", (name,)).fetchone()[0])
    finally:
        raw.close()


def _key(home: Path, name: str) -> Path:
    return home / "keys" / f"{_id(home, name)}.identity.age"


def test_identity_files_are_0600_in_a_0700_folder(home: Path) -> None:
    keys = home / "keys"
    assert _mode(keys) == 0o700
    for name in PASSPHRASES:
        assert _mode(_key(home, name)) == 0o600
    assert _mode(home / "vault.db") == 0o600


def test_sealed_file_is_an_age_scrypt_file_with_no_key_in_the_clear(home: Path) -> None:
    data = _key(home, "alice").read_bytes()
    assert data.startswith(b"age-encryption.org/v1\n-> scrypt ")
    assert b"AGE-SECRET-KEY" not in data


def test_unlock_gives_the_identity_of_the_recipient(
    home: Path, identities: Callable[[str], x25519.Identity]
) -> None:
    alice = identities("alice")
    ct = pyrage.encrypt(b"hello", [alice.to_public()])
    assert pyrage.decrypt(ct, [alice]) == b"hello"
    assert str(alice.to_public()) != str(identities("bob").to_public())


def test_wrong_passphrase_is_a_passphrase_error(home: Path) -> None:
    with pytest.raises(PassphraseError, match="wrong passphrase for member 'alice'") as info:
        KeyStore(home / "keys").unlock(_id(home, "alice"), "not the passphrase", who="alice")
    assert info.value.exit_code == 2


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o660])
def test_identity_readable_by_others_is_refused(home: Path, mode: int) -> None:
    path = _key(home, "alice")
    path.chmod(mode)
    with pytest.raises(PermissionsError, match=f"mode {mode:04o}, expected 0600") as info:
        # The check comes before any scrypt work, and before the passphrase is even tried.
        KeyStore(home / "keys").unlock(_id(home, "alice"), PASSPHRASES["alice"])
    assert str(path) in str(info.value)


@pytest.mark.parametrize("mode", [0o755, 0o750, 0o701])
def test_keys_folder_open_to_others_is_refused(home: Path, mode: int) -> None:
    (home / "keys").chmod(mode)
    with pytest.raises(PermissionsError, match="expected 0700"):
        KeyStore(home / "keys").unlock(_id(home, "alice"), PASSPHRASES["alice"])


def test_symlinked_identity_is_refused(home: Path, tmp_path: Path) -> None:
    path = _key(home, "alice")
    elsewhere = tmp_path / "moved.age"
    path.rename(elsewhere)
    path.symlink_to(elsewhere)
    with pytest.raises(PermissionsError, match="not a regular file"):
        KeyStore(home / "keys").unlock(_id(home, "alice"), PASSPHRASES["alice"])


def test_missing_identity_says_so(home: Path) -> None:
    bob = _id(home, "bob")
    _key(home, "bob").unlink()
    with pytest.raises(VaultError, match="no identity for member 'bob'"):
        KeyStore(home / "keys").unlock(bob, PASSPHRASES["bob"], who="bob")


def test_identity_swapped_for_another_members_is_an_integrity_error(
    home: Path, identities: Callable[[str], x25519.Identity]
) -> None:
    keys = home / "keys"
    os.replace(_key(home, "bob"), _key(home, "alice"))
    bob_recipient = str(identities("bob").to_public())
    alice_recipient = str(identities("alice").to_public())
    with pytest.raises(IntegrityError, match="does not match"):
        KeyStore(keys).unlock(
            _id(home, "alice"), PASSPHRASES["bob"], expected_recipient=alice_recipient
        )
    assert bob_recipient != alice_recipient


def test_shred_overwrites_the_bytes_before_unlinking(home: Path) -> None:
    path = _key(home, "bob")
    before = path.read_bytes()
    witness = home / "witness"  # a hard link sees the same inode after the name is gone
    os.link(path, witness)
    assert KeyStore(home / "keys").shred(_id(home, "bob")) is True
    assert not path.exists()
    after = witness.read_bytes()
    assert len(after) == len(before) and after != before
    assert not after.startswith(b"age-encryption.org")
    assert KeyStore(home / "keys").shred(_id(home, "bob")) is False


def test_create_refuses_to_replace_and_refuses_an_empty_passphrase(home: Path) -> None:
    keys = KeyStore(home / "keys")
    with pytest.raises(VaultError, match="already exists"):
        keys.create(_id(home, "alice"), "whatever")
    with pytest.raises(PassphraseError, match="must not be empty"):
        keys.create("carol", "")
    assert not keys.exists("carol")


@pytest.mark.parametrize("name", ["alice", "Bob", "x", "kid-2", "a_b", "a" * 32])
def test_valid_member_names(name: str) -> None:
    assert validate_member_name(name) == name


@pytest.mark.parametrize("name", ["", "-a", "../etc", "a b", "a/b", "a" * 33, "ä", ".hidden"])
def test_invalid_member_names(name: str) -> None:
    with pytest.raises(VaultError, match="member name"):
        validate_member_name(name)
