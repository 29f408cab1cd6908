"""Schema version 3: the upload-attempt ledger and the erasure requests (one migration step).

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
"""

from __future__ import annotations

import sqlite3

__all__ = ["LEDGER_STATEMENTS", "add_upload_ledger"]

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
