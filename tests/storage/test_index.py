"""The SQLite file: its identity, its schema version, and the pragmas that keep it private."""

from __future__ import annotations

import re
import shutil
import sqlite3
from dataclasses import replace
from pathlib import Path

import pytest

from keepmum.errors import FormatVersionError, IntegrityError, VaultError
from storage import audit
from storage.index import APPLICATION_ID, SCHEMA_VERSION, connect, schema_version
from storage.vault import Vault
from storage.verify import verify_vault
from tests.storage.vault_fixtures import FakeClock, open_vault


def test_new_file_is_stamped_and_private(tmp_path: Path) -> None:
    conn = connect(tmp_path / "vault.db", create=True)
    assert conn.execute("PRAGMA application_id").fetchone()[0] == APPLICATION_ID
    assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 7
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
    from tests.storage.vault_fixtures import utterance

    with open_vault(home, clock) as v:
        rid = v.store(utterance(0.1), "bob")
        with v.transaction() as conn:
            conn.execute(
                "INSERT INTO upload_queue (grant_id, record_id, ciphertext, sha256, queued_at) "
                "VALUES ('g1', ?, x'00', '', 0)",
                (rid,),
            )
        v.forget("bob")
        assert v.connection.execute("SELECT count(*) FROM upload_queue").fetchone()[0] == 0


def test_schema_columns_are_fixed(tmp_path: Path) -> None:
    # A golden vector for the format: changing these needs SCHEMA_VERSION + 1 and a migration.
    conn = connect(tmp_path / "vault.db", create=True)

    def columns(table: str) -> list[str]:
        return [r[1] for r in conn.execute(f"PRAGMA table_info({table})")]

    assert columns("members") == ["name", "recipient", "created", "id", "name_key"]
    assert columns("records") == [
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
        "ciphertext",
        "sha256",
        "meta_sha256",
        "gap_ms",
    ]
    assert columns("audit") == ["seq", "at", "event", "member", "record", "details", "prev", "hash"]
    assert columns("upload_attempts") == [
        "id",
        "upload_id",
        "queue_id",
        "grant_id",
        "record_id",
        "endpoint",
        "bytes",
        "started_at",
        "deadline",
        "finished_at",
        "outcome",
        "status",
        "bytes_sent",
        "detail",
    ]
    assert columns("erasure_requests") == [
        "id",
        "request_id",
        "endpoint",
        "member",
        "reason",
        "records",
        "uploads",
        "requested_at",
        "confirmed_at",
        "attempts",
        "last_error",
    ]
    assert columns("consent_events") == [
        "seq",
        "kind",
        "grant_id",
        "member",
        "purpose",
        "endpoint",
        "recipient",
        "scope",
        "records",
        "expires",
        "at",
    ]
    assert columns("upload_queue") == [
        "id",
        "grant_id",
        "record_id",
        "ciphertext",
        "sha256",
        "queued_at",
    ]
    assert columns("uploads") == ["id", "grant_id", "record_id", "endpoint", "bytes", "sent_at"]
    assert columns("voiceprints") == [
        "member",
        "vector",
        "dims",
        "utterances",
        "model",
        "enrolled",
    ]
    assert columns("meta") == ["key", "value"]
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert tables == {
        "members",
        "records",
        "audit",
        "upload_attempts",
        "erasure_requests",
        "consent_events",
        "upload_queue",
        "uploads",
        "voiceprints",
        "meta",
    }


GOLDEN_V1 = Path(__file__).parent / "data" / "v1_home"
"""A home written by keepmum at schema version 1 (commit ab1d0c0, before member ids): alice and
bob (passphrases below), one 0.1 s record each, an all-future grant for alice. Made with that
commit's Vault.create / add_member / store / grant_all_future and a fixed clock; the records'
expiry (fixed when stored) is a century later, so no open purges them."""
GOLDEN_PASSPHRASES = {"alice": "alice v1 passphrase", "bob": "bob v1 passphrase"}


def _golden_copy(tmp_path: Path) -> Path:
    home = tmp_path / "home"
    shutil.copytree(GOLDEN_V1, home)
    # git keeps no modes: give the copy the ones keepmum wrote.
    home.chmod(0o700)
    (home / "keys").chmod(0o700)
    for f in (home / "vault.db", *(home / "keys").iterdir()):
        f.chmod(0o600)
    return home


def test_a_version_1_vault_is_migrated_to_member_ids(tmp_path: Path) -> None:
    home = _golden_copy(tmp_path)
    raw = sqlite3.connect(home / "vault.db")
    assert raw.execute("PRAGMA user_version").fetchone()[0] == 1
    raw.close()
    with Vault.open(home) as v:
        assert schema_version(v.connection) == SCHEMA_VERSION
        members = {m.name: m for m in v.members()}
        assert sorted(members) == ["alice", "bob"]
        ids = {m.id for m in members.values()}
        assert len(ids) == 2 and all(re.fullmatch(r"m[0-9a-f]{16}", i) for i in ids)
        # Key files renamed to the ids; nothing left under a name.
        assert sorted(p.name for p in (home / "keys").iterdir()) == sorted(
            f"{i}.identity.age" for i in ids
        )
        migrated = audit.entries(v.connection, event="member_migrated")
        assert {(e.member, e.details["member_id"], e.details["recipient"]) for e in migrated} == {
            (m.name, m.id, m.recipient) for m in members.values()
        }
        assert audit.verify_chain(v.connection) == []
        assert verify_vault(v).ok
        (record,) = v.records("alice")
        identity = v.unlock("alice", GOLDEN_PASSPHRASES["alice"])
        assert v.decrypt(record.id, identity)[:4] == b"RIFF"
    # A second open changes nothing more.
    with Vault.open(home) as v:
        assert {m.id for m in v.members()} == ids
        assert len(audit.entries(v.connection, event="member_migrated")) == 2


def test_migration_refuses_names_that_differ_only_in_case(tmp_path: Path) -> None:
    home = _golden_copy(tmp_path)
    raw = sqlite3.connect(home / "vault.db")
    recipient = raw.execute("SELECT recipient FROM members WHERE name='bob'").fetchone()[0]
    raw.execute("INSERT INTO members (name, recipient, created) VALUES ('Bob', ?, 0)", (recipient,))
    raw.commit()
    raw.close()
    with pytest.raises(VaultError, match="'Bob' and 'bob' differ only in letter case"):
        Vault.open(home)
    raw = sqlite3.connect(home / "vault.db")
    assert raw.execute("PRAGMA user_version").fetchone()[0] == 1  # rolled back whole
    raw.close()


GOLDEN_V3 = Path(__file__).parent / "data" / "v3_home"
"""A home written by keepmum at schema version 3 (commit ee071ea, the consent tables still
created outside the versioned schema): see data/make_home_v3.py."""


def test_a_version_3_vault_is_migrated_to_version_4_unchanged(tmp_path: Path) -> None:
    from storage.ledger import grants, queued

    home = tmp_path / "home"
    shutil.copytree(GOLDEN_V3, home)
    home.chmod(0o700)
    (home / "keys").chmod(0o700)
    for f in (home / "vault.db", home / "audit.head", *(home / "keys").iterdir()):
        f.chmod(0o600)
    raw = sqlite3.connect(home / "vault.db")
    assert raw.execute("PRAGMA user_version").fetchone()[0] == 3
    before = {
        table: raw.execute(f"SELECT * FROM {table} ORDER BY 1").fetchall()
        for table in ("consent_events", "upload_queue", "uploads", "upload_attempts", "records")
    }
    raw.close()
    # Its times are in 2096 (data/make_home_v3.py): open it then, so that nothing has expired
    # and nothing was made "in the future".
    with Vault.open(home, clock=lambda: 4_000_001_000.0) as v:
        assert schema_version(v.connection) == SCHEMA_VERSION == 7
        for table, rows in before.items():
            now = v.connection.execute(f"SELECT * FROM {table} ORDER BY 1").fetchall()
            if table == "records":  # version 7 added gap_ms: NULL, not measured then
                assert [row[-1] for row in now] == [None] * len(rows)
                now = [row[:-1] for row in now]
            assert now == rows
        assert [g.purpose for g in grants(v.connection)] == ["v3 named", "v3 future"]
        assert len(queued(v.connection)) == 1
        assert audit.verify_chain(v.connection) == []
        assert verify_vault(v).ok
        identity = v.unlock("alice", "alice v3 passphrase")
        for record in v.records("alice"):
            assert v.decrypt(record.id, identity)[:4] == b"RIFF"


def test_the_golden_version_1_files_reach_the_current_version(tmp_path: Path) -> None:
    from storage.ledger import grants

    home = _golden_copy(tmp_path)
    with Vault.open(home) as v:
        assert schema_version(v.connection) == SCHEMA_VERSION
        assert [g.scope for g in grants(v.connection)] == ["all_future"]
    db = tmp_path / "vault-v1.db"
    shutil.copyfile(Path(__file__).parent / "data" / "vault-v1.db", db)
    db.chmod(0o600)
    conn = connect(db)
    assert schema_version(conn) == SCHEMA_VERSION
    assert conn.execute("SELECT count(*) FROM uploads").fetchone()[0] == 2
    conn.close()


GOLDEN_V6 = Path(__file__).parent / "data" / "v6_home"
"""A home written by keepmum at schema version 6 (commit f9587e4, records without ``gap_ms``):
see data/make_home_v6.py."""


def test_a_version_6_vault_is_migrated_and_its_records_have_no_gap(tmp_path: Path) -> None:
    home = tmp_path / "home"
    shutil.copytree(GOLDEN_V6, home)
    home.chmod(0o700)
    (home / "keys").chmod(0o700)
    for f in (home / "vault.db", home / "audit.head", *(home / "keys").iterdir()):
        f.chmod(0o600)
    raw = sqlite3.connect(home / "vault.db")
    assert raw.execute("PRAGMA user_version").fetchone()[0] == 6
    before = raw.execute("SELECT * FROM records ORDER BY id").fetchall()
    raw.close()
    assert len(before) == 2
    with Vault.open(home, clock=lambda: 4_000_001_000.0) as v:
        assert schema_version(v.connection) == SCHEMA_VERSION == 7
        after = v.connection.execute("SELECT * FROM records ORDER BY id").fetchall()
        # Every old column unchanged, and the pause unknown (NULL), not claimed to be 0.
        assert [row[:-1] for row in after] == before and [row[-1] for row in after] == [None] * 2
        assert [r.gap_ms for r in v.records()] == [None, None]
        assert verify_vault(v).ok
        identity = v.unlock("alice", "alice v6 passphrase")
        for record in v.records("alice"):
            assert v.decrypt(record.id, identity)[:4] == b"RIFF"
        # A record stored after the migration carries its pause, and the vault still verifies.
        from tests.storage.vault_fixtures import utterance

        paused = replace(utterance(0.5, started_at=4_000_000_900.0), gap_ms=1840)
        rid = v.store(paused, "alice")
        assert rid is not None and v.record(rid).gap_ms == 1840
        assert verify_vault(v).ok
