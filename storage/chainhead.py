"""The audit chain's head, kept also outside the database: ``HOME/audit.head``.

Removing entries from the end of the chain leaves a shorter chain that verifies, and restoring
an older ``vault.db`` (with its revoked grants alive again, its forgotten members back) does
exactly that. So after every transaction that extends the chain, the vault writes the head to a
small file beside the database, and at every open it checks that the database still holds that
entry with that hash. A head file *behind* the database is harmless (a crash between the commit
and the file write, or two processes racing): only a database that lacks the recorded entry is
refused. The file holds one line::

    <seq> <sha256 hex of entry seq>

It is written to a temporary name and renamed (atomic), mode 0600, not fsynced: losing the
newest update to a power cut makes it lag, which is allowed. What it cannot catch: someone who
restores or rewrites the head file together with the database (see storage/README.md).
"""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path

from keepmum.errors import IntegrityError
from keepmum.files import write_file
from storage import audit as audit_chain

__all__ = ["HEAD_FILE", "check_head", "read_head", "write_head"]

HEAD_FILE = "audit.head"
_LINE = re.compile(r"(\d+) ([0-9a-f]{64})\n?")


def read_head(path: Path) -> tuple[int, str] | None:
    """The ``(seq, hash)`` recorded in ``path``, None if there is no such file.

    IntegrityError if the file exists but is not one head line.
    """
    try:
        text = path.read_text(encoding="ascii", errors="replace")
    except FileNotFoundError:
        return None
    found = _LINE.fullmatch(text)
    if found is None:
        raise IntegrityError(
            f"{path}: not an audit head line ('<seq> <sha256>'), got {text[:80]!r}"
        )
    return int(found[1]), found[2]


def write_head(path: Path, head: tuple[int, str]) -> None:
    """Record ``head`` in ``path`` atomically (0600 temporary file, rename; not fsynced)."""
    write_file(path, f"{head[0]} {head[1]}\n".encode("ascii"), overwrite=True, durable=False)


def check_head(conn: sqlite3.Connection, path: Path) -> tuple[int, str]:
    """Refuse a database that lacks the entry ``path`` records; return the chain's head.

    IntegrityError (exit 1) names the head file, the entry and what the database holds instead.
    Without a head file (a new vault, or one from before schema version 2) nothing is checked.
    """
    current = audit_chain.head(conn)
    recorded = read_head(path)
    if recorded is None:
        return current
    seq, digest = recorded
    row = conn.execute("SELECT hash FROM audit WHERE seq = ?", (seq,)).fetchone()
    if row is None:
        raise IntegrityError(
            f"{path}: the audit chain reached entry {seq}, but vault.db ends at entry "
            f"{current[0]}: vault.db was rolled back (an older copy restored) or replaced"
        )
    if str(row[0]) != digest:
        raise IntegrityError(
            f"{path}: audit entry {seq} had hash {digest[:16]}..., vault.db has "
            f"{str(row[0])[:16]}...: vault.db was replaced or its chain rewritten"
        )
    return current
