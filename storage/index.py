"""The vault's SQLite index: schema, version, and how a connection is opened.

``HOME/vault.db`` is one SQLite file (WAL journal, ``secure_delete=ON`` so deleted ciphertext is
zeroed in the file, ``foreign_keys=ON`` so erasure cascades, ``temp_store=MEMORY`` so SQLite
spills nothing to temporary files). It identifies itself with ``PRAGMA application_id`` =
0x6B6D756D ("kmum") and carries its schema version in ``PRAGMA user_version``; a file from a
newer keepmum is refused (FormatVersionError), an older one is migrated forward in one
transaction.

Tables (version 7)::

    members(name PK, recipient, created, id UNIQUE, name_key UNIQUE)
                        recipient: age1... in the clear; id: the member's stable id (names the
                        key file); name_key: casefold(name), so names are unique ignoring case
    records(id PK, member -> members ON DELETE CASCADE, start, start_t, duration_s, samples,
            sample_rate, model, score, end_reason, source, created, expires,
            ciphertext BLOB, sha256, meta_sha256, gap_ms)
    audit(seq PK, at, event, member, record, details JSON, prev, hash)   append-only
    upload_attempts, erasure_requests                   (storage/ledger_schema.py, version 3)
    consent_events, upload_queue, uploads               (storage/ledger_schema.py, version 4)
    voiceprints                                         (storage/voiceprints.py, version 5)
    meta(key PK, value)       'clock_high_water'       (storage/clockmark.py, version 6)

Version 2 gives members a stable id and a case-folded name key (``MIGRATIONS[1]``); version 3
adds ``upload_attempts`` and ``erasure_requests`` (:mod:`storage.ledger_schema`,
``MIGRATIONS[2]``); version 4 brings the consent ledger's tables, until then created outside
the versioned schema at every open, into it (``MIGRATIONS[3]``, nothing to do on a file that has
them); version 5 adds enrolled members' ``voiceprints`` (``MIGRATIONS[4]``); version 6 the
``meta`` table with the clock's high-water mark (``MIGRATIONS[5]``); version 7 the records'
``gap_ms``, the pause after the wake word that was not kept (``MIGRATIONS[6]``; NULL, unknown,
for records stored before).

``sha256`` is the SHA-256 of ``ciphertext``; ``meta_sha256`` covers every other column of the
row (see :func:`storage.records.meta_digest`), so a changed byte anywhere in a row is found by
``keepmum vault verify`` without any key.
"""

from __future__ import annotations

import os
import secrets
import shlex
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path

from keepmum.errors import FormatVersionError, IntegrityError, VaultError
from storage import audit
from storage.clockmark import add_clock_mark
from storage.ledger_schema import add_consent_ledger, add_upload_ledger
from storage.voiceprints import add_voiceprints_table

__all__ = [
    "APPLICATION_ID",
    "MIGRATIONS",
    "SCHEMA_VERSION",
    "connect",
    "name_key",
    "new_member_id",
    "schema_version",
    "stored_schema_version",
]

APPLICATION_ID = 0x6B6D756D
"""``PRAGMA application_id`` of a keepmum vault ("kmum")."""

SCHEMA_VERSION = 7
"""The schema version this keepmum writes and understands (see storage/README.md, Versions)."""

_SCHEMA_V1 = """
CREATE TABLE members (
    name TEXT PRIMARY KEY,
    recipient TEXT NOT NULL,
    created REAL NOT NULL
);
CREATE TABLE records (
    id TEXT PRIMARY KEY,
    member TEXT NOT NULL REFERENCES members(name) ON DELETE CASCADE,
    start REAL NOT NULL,
    start_t REAL NOT NULL,
    duration_s REAL NOT NULL,
    samples INTEGER NOT NULL,
    sample_rate INTEGER NOT NULL,
    model TEXT NOT NULL,
    score REAL NOT NULL,
    end_reason TEXT NOT NULL,
    source TEXT NOT NULL,
    created REAL NOT NULL,
    expires REAL NOT NULL,
    ciphertext BLOB NOT NULL,
    sha256 TEXT NOT NULL,
    meta_sha256 TEXT NOT NULL
);
CREATE INDEX records_member ON records (member);
CREATE INDEX records_start ON records (start, id);
CREATE INDEX records_expires ON records (expires);
CREATE TABLE audit (
    seq INTEGER PRIMARY KEY,
    at REAL NOT NULL,
    event TEXT NOT NULL,
    member TEXT,
    record TEXT,
    details TEXT NOT NULL,
    prev TEXT NOT NULL,
    hash TEXT NOT NULL
);
CREATE INDEX audit_record ON audit (record);
CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit
BEGIN SELECT RAISE(ABORT, 'audit is append-only'); END;
CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit
BEGIN SELECT RAISE(ABORT, 'audit is append-only'); END;
"""


def new_member_id() -> str:
    """A fresh stable member id: ``m`` + 16 random hex digits (names the member's key file)."""
    return "m" + secrets.token_hex(8)


def name_key(name: str) -> str:
    """What makes two member names the same person's name: Unicode case folding."""
    return name.casefold()


def _migrate_1_to_2(conn: sqlite3.Connection) -> None:
    """Members become identities: a stable id and a case-folded name key, both unique.

    Each existing member gets a new id, bound to its name and recipient by a
    ``member_migrated`` audit entry, so ``vault verify`` can check the row against the chain
    from here on. Key files keep their old names until :class:`storage.vault.Vault` renames
    them (a file rename cannot join this transaction).
    """
    conn.execute("ALTER TABLE members ADD COLUMN id TEXT")
    conn.execute("ALTER TABLE members ADD COLUMN name_key TEXT")
    rows = conn.execute("SELECT name, recipient FROM members ORDER BY created, rowid").fetchall()
    seen: dict[str, str] = {}
    for name, recipient in rows:
        key = name_key(str(name))
        if key in seen:
            raise VaultError(
                f"members {seen[key]!r} and {name!r} differ only in letter case, which this "
                "keepmum treats as one name; forget one of them with the keepmum that made them"
            )
        seen[key] = str(name)
        member_id = new_member_id()
        conn.execute(
            "UPDATE members SET id = ?, name_key = ? WHERE name = ?", (member_id, key, name)
        )
        audit.append(
            conn,
            time.time(),
            "member_migrated",
            member=str(name),
            member_id=member_id,
            recipient=str(recipient),
            schema=2,
        )
    conn.execute("CREATE UNIQUE INDEX members_id ON members (id)")
    conn.execute("CREATE UNIQUE INDEX members_name_key ON members (name_key)")


def _add_record_gap(conn: sqlite3.Connection) -> None:
    """Records say how long the pause after the wake word was (``gap_ms``, milliseconds, not
    kept). Records stored before have NULL: nobody measured it, and 0 would claim no pause."""
    columns = {row[1] for row in conn.execute("PRAGMA table_info(records)")}
    if "gap_ms" not in columns:  # self-contained, as every step: nothing to do if it is there
        conn.execute("ALTER TABLE records ADD COLUMN gap_ms INTEGER")


# Forward migrations: MIGRATIONS[v] turns a version-v file into version v+1. A new vault is
# written at version 1 and then migrated, so that every vault, new or old, reaches the current
# schema by the same steps. Each step is self-contained (it creates what it needs if missing).
MIGRATIONS: dict[int, Callable[[sqlite3.Connection], None]] = {
    1: _migrate_1_to_2,  # v2: members are identities (stable id, case-folded unique name)
    2: add_upload_ledger,  # v3: upload attempts (in flight / outcome) and erasure requests
    3: add_consent_ledger,  # v4: the consent ledger joins the versioned schema (no-op if there)
    4: add_voiceprints_table,  # v5: enrolled members' voiceprints (storage/voiceprints.py)
    5: add_clock_mark,  # v6: meta(key, value) with the clock's high-water mark (issue 26)
    6: _add_record_gap,  # v7: records' gap_ms, the pause not kept (issue 25)
}


def _text(raw: bytes) -> str:
    # A damaged TEXT column must not make a read fail: undecodable bytes survive as surrogates,
    # so hashes over the value still differ from the original and verify names the record.
    return raw.decode("utf-8", "surrogateescape")


def _configure(conn: sqlite3.Connection, *, read_only: bool = False) -> None:
    conn.text_factory = _text
    conn.execute("PRAGMA busy_timeout = 10000")
    conn.execute("PRAGMA foreign_keys = ON")
    conn.execute("PRAGMA secure_delete = ON")
    conn.execute("PRAGMA temp_store = MEMORY")
    if read_only:
        return
    mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
    if str(mode).lower() != "wal":
        raise VaultError(f"vault.db: could not switch to WAL journal (got {mode!r})")
    # FULL: each record's commit is durable, one fsync of the WAL per record (not a storm).
    conn.execute("PRAGMA synchronous = FULL")


def schema_version(conn: sqlite3.Connection) -> int:
    """The file's ``user_version``."""
    return int(conn.execute("PRAGMA user_version").fetchone()[0])


def _open_read_only(path: Path) -> sqlite3.Connection:
    """A read-only connection. On a read-only file system SQLite cannot create the WAL index
    (``-shm``) a WAL reader needs, so there the file is opened ``immutable`` (nothing can
    write it meanwhile anyway)."""
    uri = path.resolve().as_uri()
    try:
        conn = sqlite3.connect(f"{uri}?mode=ro", uri=True, isolation_level=None, timeout=10.0)
        conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
        return conn
    except sqlite3.OperationalError:
        writable = os.access(path.parent, os.W_OK) and _writable_fs(path.parent)
        if writable and not _full_with_nothing_in_wal(path):
            raise
    return sqlite3.connect(f"{uri}?immutable=1", uri=True, isolation_level=None, timeout=10.0)


def _full_with_nothing_in_wal(path: Path) -> bool:
    """The disk has no room for the WAL index (32 KiB) and no commit waits in the WAL: then the
    file alone is the whole vault, and reading it ``immutable`` misses nothing."""
    st = os.statvfs(path.parent)
    wal = path.with_name(path.name + "-wal")
    empty_wal = not wal.exists() or wal.stat().st_size == 0
    return st.f_bavail * st.f_frsize < 64 * 1024 and empty_wal


def _writable_fs(folder: Path) -> bool:
    # os.access ignores a read-only mount for root; statvfs knows.
    return not os.statvfs(folder).f_flag & os.ST_RDONLY


def stored_schema_version(path: Path) -> int | None:
    """The schema version of the file at ``path`` as it is now, before any migration (None if
    it cannot be read: opening it reports why)."""
    try:
        conn = _open_read_only(path)
    except sqlite3.Error:
        return None
    try:
        return schema_version(conn)
    except sqlite3.Error:
        return None
    finally:
        conn.close()


def connect(path: Path, *, create: bool = False, read_only: bool = False) -> sqlite3.Connection:
    """Open (or with ``create``, make) the index at ``path``, checked and migrated.

    With ``read_only``, open it for reading (nothing is written, not even a migration; an older
    schema is refused with VaultError). Raises VaultError if it does not exist (and ``create``
    is false) or is not a keepmum vault, FormatVersionError if a newer keepmum wrote it,
    IntegrityError if SQLite finds it corrupt. The connection is in autocommit mode; writers
    use BEGIN IMMEDIATE ... COMMIT.
    """
    if not create and not path.exists():
        raise VaultError(
            f"{path.parent}: no vault here (make one: keepmum init --home "
            f"{shlex.quote(str(path.parent))} --member NAME)"
        )
    try:
        if read_only:
            conn = _open_read_only(path)
        else:
            conn = sqlite3.connect(path, isolation_level=None, timeout=10.0)
    except sqlite3.Error as exc:
        raise VaultError(f"{path}: cannot open ({exc})") from exc
    try:
        if create:
            path.chmod(0o600)
        _configure(conn, read_only=read_only)
        _check_and_migrate(conn, path, create=create, read_only=read_only)
    except sqlite3.OperationalError as exc:
        conn.close()
        text = str(exc)
        if "readonly" in text or "read-only" in text or "unable to open" in text:
            # A read-only home or a missing -shm is not corruption: say what it is (exit 2).
            raise VaultError(
                f"{path}: cannot be written here ({text}); read-only commands "
                "(vault list, vault verify, report, audit show) still work"
            ) from exc
        if "full" in text:
            raise VaultError(f"{path}: the disk is full ({text})") from exc
        raise IntegrityError(f"{path}: not a readable SQLite vault ({exc})") from exc
    except sqlite3.DatabaseError as exc:
        conn.close()
        raise IntegrityError(f"{path}: not a readable SQLite vault ({exc})") from exc
    except BaseException:
        conn.close()
        raise
    return conn


def _check_and_migrate(
    conn: sqlite3.Connection, path: Path, *, create: bool, read_only: bool = False
) -> None:
    app_id = int(conn.execute("PRAGMA application_id").fetchone()[0])
    version = schema_version(conn)
    if version == 0 and app_id == 0:
        has_tables = conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]
        if has_tables or not create:
            raise VaultError(f"{path}: not a keepmum vault (no keepmum application id)")
        script = (
            f"BEGIN IMMEDIATE;\n{_SCHEMA_V1}"
            f"PRAGMA application_id = {APPLICATION_ID};\n"
            "PRAGMA user_version = 1;\nCOMMIT;"
        )
        try:
            conn.executescript(script)
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        app_id, version = APPLICATION_ID, 1
    if app_id != APPLICATION_ID:
        raise VaultError(f"{path}: not a keepmum vault (application id {app_id:#x})")
    if version > SCHEMA_VERSION:
        raise FormatVersionError(
            f"{path}: schema version {version} is newer than this keepmum understands "
            f"({SCHEMA_VERSION}); upgrade keepmum"
        )
    if version < SCHEMA_VERSION and read_only:
        raise VaultError(
            f"{path}: schema version {version} must be upgraded to "
            f"{SCHEMA_VERSION} first (run any writing command on a writable home)"
        )
    if version < SCHEMA_VERSION:
        conn.execute("BEGIN IMMEDIATE")
        try:
            while version < SCHEMA_VERSION:
                MIGRATIONS[version](conn)
                version += 1
            conn.execute(f"PRAGMA user_version = {version}")
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
