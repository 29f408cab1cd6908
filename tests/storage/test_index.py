"""The SQLite file: its identity, its schema version, and the pragmas that keep it private."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from device.errors import FormatVersionError, IntegrityError, VaultError
from storage.index import APPLICATION_ID, SCHEMA_VERSION, connect
from storage.vault import Vault
from tests.storage.vaulthelp import FakeClock, open_vault


def test_new_file_is_stamped_and_private(tmp_path: Path) -> None:
    conn = connect(tmp_path / "vault.db", create=True)
    assert conn.execute("PRAGMA application_id").fetchone()[0] == APPLICATION_ID
    assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 2
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("PRAGMA secure_delete").fetchone()[0] == 1
    assert conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    assert conn.execute("PRAGMA temp_store").fetchone()[0] == 2  # MEMORY
    assert (tmp_path / "vault.db").stat().st_mode & 0o777 == 0o600


def test_every_open_connection_has_secure_delete(home: Path, clock: FakeClock) -> None:
    with open_vault(home, clock) as v:
        assert v.connection.execute("PRAGMA secure_delete").fetchone()[0] == 1
        assert v.connection.execute("PRAGMA foreign_keys").fetchone()[0] == 1


def test_a_newer_schema_is_refused(home: Path) -> None:
    raw = sqlite3.connect(home / "vault.db")
    raw.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    raw.close()
    newer = f"schema version {SCHEMA_VERSION + 1} is newer"
    with pytest.raises(FormatVersionError, match=newer) as info:
        Vault.open(home)
    assert info.value.exit_code == 2


def test_a_foreign_sqlite_file_is_refused(tmp_path: Path) -> None:
    raw = sqlite3.connect(tmp_path / "vault.db")
    raw.execute("CREATE TABLE t (x)")
    raw.close()
    with pytest.raises(VaultError, match="not a keepmum vault"):
        Vault.open(tmp_path)


def test_a_file_that_is_not_sqlite_is_an_integrity_error(tmp_path: Path) -> None:
    (tmp_path / "vault.db").write_bytes(b"this is not a database at all" * 100)
    with pytest.raises(IntegrityError, match="not a readable SQLite vault"):
        Vault.open(tmp_path)


def test_erasure_cascades_to_queued_copies(home: Path, clock: FakeClock) -> None:
    from tests.storage.vaulthelp import utterance

    with open_vault(home, clock) as v:
        rid = v.store(utterance(0.1), "bob")
        with v.transaction() as conn:
            conn.execute(
                "INSERT INTO upload_queue (grant_id, record_id, ciphertext, sha256, queued_at) "
                "VALUES ('g1', ?, x'00', '', 0)", (rid,))
        v.forget("bob")
        assert v.connection.execute("SELECT count(*) FROM upload_queue").fetchone()[0] == 0


def test_schema_v1_columns_are_fixed(tmp_path: Path) -> None:
    # A golden vector for the format: changing these needs SCHEMA_VERSION + 1 and a migration.
    conn = connect(tmp_path / "vault.db", create=True)

    def columns(table: str) -> list[str]:
        return [r[1] for r in conn.execute(f"PRAGMA table_info({table})")]

    assert columns("members") == ["name", "recipient", "created"]
    assert columns("records") == [
        "id", "member", "start", "start_t", "duration_s", "samples", "sample_rate", "model",
        "score", "end_reason", "source", "created", "expires", "ciphertext", "sha256",
        "meta_sha256",
    ]
    assert columns("audit") == ["seq", "at", "event", "member", "record", "details", "prev",
                                "hash"]
