"""``vault verify``: check every record, report every defect (not just the first).

Without a key: SQLite's own ``quick_check``; each member's recipient parses and, with its id,
matches what the audit chain recorded at creation; every grant in the consent ledger matches
its ``consent_granted`` entry and every revocation in the chain is in the ledger
(:mod:`storage.bindings`: a redirected recipient or an inserted grant is a defect); each record's
ciphertext SHA-256, metadata hash, age structure and length (:func:`storage.records.check_record`);
and the index against the audit chain: every record must match the hashes its ``stored`` entry
recorded, and every record the chain says was stored and never deleted must still be there.

With a member's identity: also decrypt each of that member's records and check the WAV against
the metadata.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

import pyrage
from pyrage import x25519

from keepmum.errors import IntegrityError, VaultError
from storage import audit as audit_chain
from storage.bindings import grant_problems, member_problems
from storage.keys import IDENTITY_SUFFIX
from storage.records import RecordMeta, check_record
from storage.voiceprints import problems as voiceprint_problems

if TYPE_CHECKING:
    from storage.vault import Vault

__all__ = ["Defect", "VerifyReport", "verify_vault"]

_TERMINAL = ("deleted", "expired", "capacity_deleted")


@dataclass(frozen=True)
class Defect:
    """One problem, and the record it concerns (None: the vault as a whole)."""

    record: str | None
    problem: str

    def __str__(self) -> str:
        return f"record {self.record}: {self.problem}" if self.record else self.problem


@dataclass(frozen=True)
class VerifyReport:
    """What verification checked and found."""

    records: int
    """Records checked without a key."""
    decrypted: int
    """Records decrypted and checked against their metadata."""
    defects: list[Defect] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when nothing is wrong."""
        return not self.defects

    @property
    def bad_records(self) -> list[str]:
        """Ids of the records with at least one defect, in order of first report."""
        return list(dict.fromkeys(d.record for d in self.defects if d.record))


def _check_sqlite(conn: sqlite3.Connection) -> list[Defect]:
    rows = conn.execute("PRAGMA quick_check").fetchall()
    return [Defect(None, f"sqlite: {r[0]}") for r in rows if r[0] != "ok"]


def _check_members(conn: sqlite3.Connection) -> tuple[set[str], list[Defect]]:
    names: set[str] = set()
    defects = []
    for name, recipient, member_id in conn.execute("SELECT name, recipient, id FROM members"):
        names.add(name)
        try:
            x25519.Recipient.from_str(str(recipient))
        except pyrage.RecipientError:
            defects.append(Defect(None, f"member {name!r}: recipient {recipient!r} is malformed"))
        problems = member_problems(
            conn, str(name), str(recipient), None if member_id is None else str(member_id)
        )
        defects += [Defect(None, p) for p in problems]
    defects += [Defect(None, p) for p in grant_problems(conn)]
    return names, defects


def _check_key_files(vault: Vault, conn: sqlite3.Connection) -> list[Defect]:
    """A member row whose identity file is gone is a forget that did not finish (the identity
    is shredded first, then the rows go in one transaction: a full disk or a crash between the
    two leaves this). Reported, so that ``vault forget`` is run again."""
    defects = []
    for name, member_id in conn.execute("SELECT name, id FROM members"):
        files = [vault.keys.keys_dir / f"{name}{IDENTITY_SUFFIX}"]  # before schema version 2
        if member_id is not None:
            files.append(vault.keys.keys_dir / f"{member_id}{IDENTITY_SUFFIX}")
        if not any(f.exists() for f in files):
            defects.append(
                Defect(
                    None,
                    f"member {name!r}: identity file is missing, but the member and their "
                    f"records are still here: a forget that did not finish? (run keepmum vault "
                    f"forget {name} again)",
                )
            )
    return defects


def _check_rows(conn: sqlite3.Connection, members: set[str]) -> tuple[dict[str, str], list[Defect]]:
    """Keyless checks of every row; returns {record id: meta_sha256} and the defects."""
    defects: list[Defect] = []
    hashes: dict[str, str] = {}
    rows = conn.execute(
        "SELECT id, member, start, start_t, duration_s, samples, sample_rate, model, score, "
        "end_reason, source, created, expires, sha256, length(CAST(ciphertext AS BLOB)), "
        "CAST(ciphertext AS BLOB), meta_sha256, typeof(ciphertext), gap_ms "
        "FROM records ORDER BY created, rowid"
    )
    for row in rows:
        rid = str(row[0])
        try:
            meta = replace(RecordMeta(*row[:15]), gap_ms=row[18])
            ciphertext = row[15]
            if not isinstance(ciphertext, bytes):
                raise TypeError(f"ciphertext is {type(ciphertext).__name__}, not a blob")
            problems = check_record(meta, ciphertext, str(row[16]))
            if row[17] != "blob":
                problems.append(f"ciphertext is stored as {row[17]}, not a blob")
        except (TypeError, ValueError) as exc:
            problems = [f"malformed row ({exc})"]
        if row[1] not in members:
            problems.append(f"member {row[1]!r} is not a member of this vault")
        defects.extend(Defect(rid, p) for p in problems)
        hashes[rid] = f"{row[13]}/{row[16]}"
    return hashes, defects


def _check_against_audit(conn: sqlite3.Connection, hashes: dict[str, str]) -> list[Defect]:
    defects: list[Defect] = []
    stored: dict[str, tuple[int, str, str | None]] = {}
    gone: set[str] = set()
    forgotten: dict[str, int] = {}
    for e in audit_chain.entries(conn):
        if e.event == "stored" and e.record:
            digest = f"{e.details.get('sha256')}/{e.details.get('meta_sha256')}"
            stored[e.record] = (e.seq, digest, e.member)
        elif e.event in _TERMINAL and e.record:
            gone.add(e.record)
        elif e.event == "forgotten" and e.member:
            forgotten[e.member] = e.seq
    for rid, digest in hashes.items():
        if rid not in stored:
            defects.append(Defect(rid, "no 'stored' entry in the audit chain for this record"))
        elif stored[rid][1] != digest:
            defects.append(
                Defect(rid, "differs from the hashes the audit chain recorded when it was stored")
            )
    for rid, (seq, _digest, member) in stored.items():
        if rid in hashes or rid in gone:
            continue
        if member is not None and forgotten.get(member, -1) > seq:
            continue
        defects.append(
            Defect(
                rid,
                f"missing from the index, but the audit chain (entry {seq}) records no deletion",
            )
        )
    return defects


def verify_vault(
    vault: Vault, *, member: str | None = None, identity: x25519.Identity | None = None
) -> VerifyReport:
    """Check the whole vault; with ``member`` and ``identity``, decrypt that member's records.

    Appends a ``verification_failed`` audit entry when anything is wrong.
    """
    if (member is None) != (identity is None):
        raise VaultError("verify: a member and their unlocked identity go together")
    # One snapshot for every check: a device storing or purging meanwhile must not make the
    # index and the audit chain look out of step (issue 10.4).
    with vault.snapshot() as conn:
        defects = _check_sqlite(conn)
        names, member_defects = _check_members(conn)
        defects += member_defects
        defects += _check_key_files(vault, conn)
        hashes, row_defects = _check_rows(conn, names)
        defects += row_defects
        defects += _check_against_audit(conn, hashes)
        defects += [Defect(None, problem) for problem in voiceprint_problems(conn)]
        decrypted = 0
        if member is not None and identity is not None:
            for meta in vault.records(member):
                try:
                    vault.decrypt(meta.id, identity)
                    decrypted += 1
                except IntegrityError as exc:
                    defects.append(Defect(meta.id, str(exc).removeprefix(f"record {meta.id}: ")))
    report = VerifyReport(len(hashes), decrypted, defects)
    if defects and not vault.read_only:  # a read-only home cannot take the entry; not a defect
        try:
            with vault.transaction() as tx:
                vault.audit(
                    tx,
                    "verification_failed",
                    defects=len(defects),
                    records=report.bad_records[:100],
                )
        except (sqlite3.DatabaseError, VaultError) as exc:
            defects.append(
                Defect(None, f"could not append verification_failed to the audit chain ({exc})")
            )
    return report
