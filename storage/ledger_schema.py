"""The ledger's tables, each set one migration step: upload attempts and erasure requests
(schema version 3, :func:`add_upload_ledger`), and the consent ledger (version 4,
:func:`add_consent_ledger`).

Version 1 logged an upload only after the endpoint answered, inside a transaction held across
the whole HTTP exchange. Version 3 records each attempt *before* the first byte leaves, so that
the write lock is never held across I/O and a crash leaves a visible "in flight, outcome
unknown" row (see storage/README.md, "Upload: write ordering and ledger states")::

    upload_attempts(id PK, upload_id, queue_id, grant_id, record_id, endpoint, bytes,
                    started_at, deadline, finished_at NULL, outcome NULL, status NULL,
                    bytes_sent, detail)
        outcome: NULL (in flight) | sent | refused | failed | unknown | superseded
    erasure_requests(id PK, request_id UNIQUE, endpoint, member, reason, records JSON,
                     uploads JSON, requested_at, confirmed_at NULL, attempts, last_error)

:func:`add_upload_ledger` is ``storage.index.MIGRATIONS[2]``. It is self-contained: it runs
inside the migration's transaction with plain ``execute`` calls, creates only its own tables,
and does not depend on any other step, so other schema steps can be chained before or after it.

The consent ledger's tables (``consent_events``, ``upload_queue``, ``uploads``) existed long
before version 4, created with ``IF NOT EXISTS`` at every open outside the versioned schema;
version 4 makes them part of it. :func:`add_consent_ledger` is ``storage.index.MIGRATIONS[3]``:
on a file that has them already (every vault ever opened by keepmum) it changes nothing, on any
other it creates them::

    consent_events(seq PK, kind grant|revoke, grant_id, member, purpose, endpoint, recipient,
                   scope ''|records|all_future, records JSON, expires NULL, at)   append-only
    upload_queue(id PK, grant_id, record_id -> records ON DELETE CASCADE, ciphertext BLOB,
                 sha256, queued_at, UNIQUE (grant_id, record_id))
    uploads(id PK, grant_id, record_id, endpoint, bytes, sent_at)
"""

from __future__ import annotations

import sqlite3

__all__ = [
    "CONSENT_STATEMENTS",
    "LEDGER_STATEMENTS",
    "add_consent_ledger",
    "add_upload_ledger",
]

LEDGER_STATEMENTS = (
    """CREATE TABLE IF NOT EXISTS upload_attempts (
    id INTEGER PRIMARY KEY,
    upload_id TEXT NOT NULL,
    queue_id INTEGER NOT NULL,
    grant_id TEXT NOT NULL,
    record_id TEXT NOT NULL,
    endpoint TEXT NOT NULL,
    bytes INTEGER NOT NULL,
    started_at REAL NOT NULL,
    deadline REAL NOT NULL,
    finished_at REAL,
    outcome TEXT CHECK (outcome IS NULL OR outcome IN
        ('sent', 'refused', 'failed', 'unknown', 'superseded')),
    status INTEGER,
    bytes_sent INTEGER NOT NULL DEFAULT 0,
    detail TEXT NOT NULL DEFAULT ''
)""",
    "CREATE INDEX IF NOT EXISTS upload_attempts_open ON upload_attempts (outcome, queue_id)",
    "CREATE INDEX IF NOT EXISTS upload_attempts_record ON upload_attempts (record_id)",
    """CREATE TABLE IF NOT EXISTS erasure_requests (
    id INTEGER PRIMARY KEY,
    request_id TEXT NOT NULL UNIQUE,
    endpoint TEXT NOT NULL,
    member TEXT NOT NULL,
    reason TEXT NOT NULL CHECK (reason IN ('deleted', 'forgotten')),
    records TEXT NOT NULL,
    uploads TEXT NOT NULL,
    requested_at REAL NOT NULL,
    confirmed_at REAL,
    attempts INTEGER NOT NULL DEFAULT 0,
    last_error TEXT NOT NULL DEFAULT ''
)""",
)


def add_upload_ledger(conn: sqlite3.Connection) -> None:
    """Migration 2 -> 3, inside the caller's transaction: create the two ledger tables."""
    for statement in LEDGER_STATEMENTS:
        conn.execute(statement)


CONSENT_STATEMENTS = (
    """CREATE TABLE IF NOT EXISTS consent_events (
    seq INTEGER PRIMARY KEY,
    kind TEXT NOT NULL CHECK (kind IN ('grant', 'revoke')),
    grant_id TEXT NOT NULL,
    member TEXT NOT NULL,
    purpose TEXT NOT NULL DEFAULT '',
    endpoint TEXT NOT NULL DEFAULT '',
    recipient TEXT NOT NULL DEFAULT '',
    scope TEXT NOT NULL DEFAULT '' CHECK (scope IN ('', 'records', 'all_future')),
    records TEXT NOT NULL DEFAULT '[]',
    expires REAL,
    at REAL NOT NULL
)""",
    "CREATE INDEX IF NOT EXISTS consent_events_grant ON consent_events (grant_id)",
    """CREATE TRIGGER IF NOT EXISTS consent_events_no_update BEFORE UPDATE ON consent_events
BEGIN SELECT RAISE(ABORT, 'consent_events is append-only'); END""",
    """CREATE TRIGGER IF NOT EXISTS consent_events_no_delete BEFORE DELETE ON consent_events
BEGIN SELECT RAISE(ABORT, 'consent_events is append-only'); END""",
    """CREATE TABLE IF NOT EXISTS upload_queue (
    id INTEGER PRIMARY KEY,
    grant_id TEXT NOT NULL,
    record_id TEXT NOT NULL REFERENCES records(id) ON DELETE CASCADE,
    ciphertext BLOB NOT NULL,
    sha256 TEXT NOT NULL,
    queued_at REAL NOT NULL,
    UNIQUE (grant_id, record_id)
)""",
    """CREATE TABLE IF NOT EXISTS uploads (
    id INTEGER PRIMARY KEY,
    grant_id TEXT NOT NULL,
    record_id TEXT NOT NULL,
    endpoint TEXT NOT NULL,
    bytes INTEGER NOT NULL,
    sent_at REAL NOT NULL
)""",
)


def add_consent_ledger(conn: sqlite3.Connection) -> None:
    """Migration 3 -> 4, inside the caller's transaction: the consent ledger's tables, created
    where missing (a version-3 file made by keepmum has them already: nothing changes)."""
    for statement in CONSENT_STATEMENTS:
        conn.execute(statement)
