"""Voiceprints: one enrolled member's mean speaker embedding, kept on the device only.

A voiceprint is biometric data (EDPB guidelines 02/2021: special category, explicit consent).
It is stored in the clear in ``vault.db`` (mode 0600, ``secure_delete=ON``) because the device
must read it, without anyone's passphrase, to tell whose request it heard; it is never part of an
upload, is part of its member's export, and is erased by ``member unenrol`` and ``forget``
(docs/voices.md says what the device can read and why).

Table (schema version 5, :data:`MIGRATION`)::

    voiceprints(member PK -> members ON DELETE CASCADE, vector BLOB, dims, utterances,
                model, enrolled)

``vector`` is ``dims`` little-endian float32. The audit chain records the consent
(``voice_enrolled``: the number of utterances, the model and the SHA-256 of the vector's bytes,
never audio or the vector) and the erasure (``voice_unenrolled``). The digest binds the row to the
consent: ``vault verify`` reports a voiceprint that differs from it, or that has no live consent
(:func:`problems`), since a row written behind keepmum's back would file someone else's
requests under a member. A digest cannot be matched to a new recording (every embedding
differs), so it does not identify a voice.
"""

from __future__ import annotations

import hashlib
import sqlite3
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from keepmum.errors import IntegrityError
from storage import audit as audit_chain

__all__ = [
    "Voiceprint",
    "add_voiceprints_table",
    "delete",
    "load_all",
    "problems",
    "upsert",
    "vector_digest",
]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS voiceprints (
    member TEXT PRIMARY KEY REFERENCES members(name) ON DELETE CASCADE,
    vector BLOB NOT NULL,
    dims INTEGER NOT NULL,
    utterances INTEGER NOT NULL,
    model TEXT NOT NULL,
    enrolled REAL NOT NULL
);
"""


@dataclass(frozen=True)
class Voiceprint:
    """One member's enrolled voice."""

    member: str
    vector: npt.NDArray[np.float32]
    utterances: int
    """How many enrolment utterances were averaged."""
    model: str
    """The embedding model that made it (a voiceprint only matches that model's embeddings)."""
    enrolled: float
    """When (Unix seconds)."""


def add_voiceprints_table(conn: sqlite3.Connection) -> None:
    """Schema version 5: the voiceprints table (nothing to do on a file that has it)."""
    for statement in _SCHEMA.split(";"):
        if statement.strip():
            conn.execute(statement)


def upsert(conn: sqlite3.Connection, print_: Voiceprint) -> None:
    """Store (or replace) a member's voiceprint, inside the caller's transaction."""
    vector = np.asarray(print_.vector, dtype="<f4")
    conn.execute(
        "INSERT OR REPLACE INTO voiceprints (member, vector, dims, utterances, model, enrolled) "
        "VALUES (?, ?, ?, ?, ?, ?)",
        (
            print_.member,
            vector.tobytes(),
            len(vector),
            print_.utterances,
            print_.model,
            print_.enrolled,
        ),
    )


def delete(conn: sqlite3.Connection, member: str) -> bool:
    """Erase a member's voiceprint (inside the caller's transaction); False if there was none."""
    return conn.execute("DELETE FROM voiceprints WHERE member = ?", (member,)).rowcount > 0


def load_all(conn: sqlite3.Connection, member: str | None = None) -> list[Voiceprint]:
    """Every voiceprint (or one member's), in order of enrolment; IntegrityError if a row's
    vector does not have the length it claims."""
    sql = "SELECT member, vector, dims, utterances, model, enrolled FROM voiceprints"
    args: tuple[str, ...] = ()
    if member is not None:
        sql += " WHERE member = ?"
        args = (member,)
    out = []
    for name, blob, dims, utterances, model, enrolled in conn.execute(
        sql + " ORDER BY enrolled, member", args
    ):
        if len(blob) != 4 * int(dims):
            raise IntegrityError(
                f"voiceprint of {name!r}: {len(blob)} bytes, expected {4 * int(dims)}"
            )
        vector = np.frombuffer(blob, dtype="<f4").astype(np.float32)
        out.append(Voiceprint(str(name), vector, int(utterances), str(model), float(enrolled)))
    return out


def vector_digest(vector: npt.NDArray[np.float32]) -> str:
    """SHA-256 of a voiceprint's stored bytes (little-endian float32), hex."""
    return hashlib.sha256(np.asarray(vector, dtype="<f4").tobytes()).hexdigest()


def problems(conn: sqlite3.Connection) -> list[str]:
    """How the ``voiceprints`` rows differ from the consent the audit chain recorded."""
    found = []
    rows = conn.execute("SELECT member, vector FROM voiceprints ORDER BY member").fetchall()
    for member, blob in rows:
        enrolled = audit_chain.entries(conn, event="voice_enrolled", member=member)
        if not enrolled:
            found.append(
                f"voiceprint of {member!r}: no voice_enrolled entry in the audit chain (a row "
                "inserted behind keepmum's back?)"
            )
            continue
        latest = enrolled[-1]
        withdrawn = audit_chain.entries(
            conn, event="voice_unenrolled", member=member, since_seq=latest.seq
        )
        if withdrawn:
            found.append(
                f"voiceprint of {member!r}: unenrolled (audit entry {withdrawn[0].seq}) but "
                "still in the voiceprints table"
            )
        digest = hashlib.sha256(bytes(blob)).hexdigest()
        if latest.details.get("sha256") != digest:
            found.append(
                f"voiceprint of {member!r}: differs from the one enrolled (audit entry "
                f"{latest.seq}): someone else's requests would be filed under them"
            )
    return found
