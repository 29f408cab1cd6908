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

A missing head file is refused too (:class:`HeadMissingError`, exit 2) when the chain has
entries: deleting the file beside an older ``vault.db`` would otherwise disarm the check. Only a
vault from before schema version 2 (which never had the file) opens without one. A head file
that is really lost is recovered with ``keepmum audit adopt-head``: it shows what the chain
holds (entries, head, live grants), asks, then records the chain's head and an audit entry
``head_adopted`` (:func:`adopt_head`).
"""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path

from keepmum.errors import IntegrityError, VaultError
from keepmum.files import write_file
from storage import audit as audit_chain

__all__ = ["HEAD_FILE", "HeadMissingError", "check_head", "read_head", "write_head"]

HEAD_FILE = "audit.head"
_LINE = re.compile(r"(\d+) ([0-9a-f]{64})\n?")


class HeadMissingError(VaultError):
    """The head file is missing beside a vault whose chain has entries (exit 2)."""


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


def check_head(conn: sqlite3.Connection, path: Path, *, legacy: bool = False) -> tuple[int, str]:
    """Refuse a database that lacks the entry ``path`` records; return the chain's head.

    IntegrityError (exit 1) names the head file, the entry and what the database holds instead.
    Without a head file: HeadMissingError (exit 2) if the chain has entries, unless ``legacy``
    (the file was at schema version 1 before this open: it never had a head file).
    """
    current = audit_chain.head(conn)
    recorded = read_head(path)
    if recorded is None:
        if current[0] > 0 and not legacy:
            raise HeadMissingError(
                f"{path}: missing, but vault.db's audit chain has {current[0]} entries: an "
                "older vault.db may have been restored with the head file removed; if the head "
                "file was really lost, run keepmum audit adopt-head (it shows what it adopts)"
            )
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
