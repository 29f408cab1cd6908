"""The data-subject export (GDPR art. 15/20): one member's recordings, checked, for that member.

The 2018 failure this answers: a hand-assembled export sent one person 1,700 recordings of a
stranger. Here an export is generated for one member, only after that member unlocked their
identity, and it fails closed: every record goes in only after it

1. is listed for the member (``records.member == member``),
2. has ciphertext whose SHA-256 matches the index (the vault's ``decrypt`` checks this),
3. decrypts with *this member's* identity (a row relabelled to the member but encrypted to
   someone else cannot pass, whatever the index says), and
4. is a WAV whose header parses and whose duration matches ``duration_s`` within one frame.

Any failure aborts the whole export: nothing is written, and the audit chain records
``export_refused`` with the reason. The bundle is built in memory (a tar of ``manifest.json`` and
``records/<id>.wav``), encrypted with age to the member's recipient (or a given one), and written
by :func:`keepmum.files.write_file` (a 0600 temporary file in the destination folder, then linked
or renamed into place, never through a symbolic link, never over an existing file unless asked),
so the destination holds either nothing or the whole encrypted bundle; plaintext never reaches
the disk. The format is
documented in ``storage/EXPORT.md``.
"""

from __future__ import annotations

import hashlib
import io
import json
import sqlite3
import tarfile
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyrage

from keepmum.errors import IntegrityError, KeepmumError, VaultError
from keepmum.files import write_file
from storage.audit import entries as audit_entries
from storage.bindings import member_binding
from storage.ledger import grants, parse_recipient
from storage.records import RecordMeta
from storage.redact import refuse_secret
from storage.vault import Vault
from storage.wav import WavError, wav_to_pcm

if TYPE_CHECKING:
    from pyrage.x25519 import Identity

__all__ = ["EXPORT_FORMAT", "EXPORT_VERSION", "ExportResult", "build_bundle", "export_member"]

EXPORT_FORMAT = "keepmum-export"
EXPORT_VERSION = 1


@dataclass(frozen=True)
class ExportResult:
    """What an export wrote."""

    member: str
    out: Path
    records: int
    bytes: int
    """Size of the encrypted bundle file (bytes)."""
    recipient: str
    sha256: str
    """SHA-256 of the encrypted bundle file."""


def _iso(t: float) -> str:
    return datetime.fromtimestamp(t, tz=timezone.utc).isoformat().replace("+00:00", "Z")


def _checked_wav(vault: Vault, meta: RecordMeta, member: str, identity: Identity) -> bytes:
    """The record's WAV after every check in the module docstring; IntegrityError otherwise."""
    where = f"record {meta.id}"
    if meta.member != member:
        raise IntegrityError(f"{where}: listed for {member!r} but its row says {meta.member!r}")
    try:
        wav = vault.decrypt(meta.id, identity)
    except IntegrityError as exc:
        raise IntegrityError(f"{where}: does not verify for {member!r} ({exc})") from exc
    except (VaultError, pyrage.DecryptError) as exc:
        raise IntegrityError(
            f"{where}: does not decrypt with {member!r}'s identity ({exc})"
        ) from exc
    try:
        _, info = wav_to_pcm(wav)
    except WavError as exc:
        raise IntegrityError(f"{where}: decrypted audio is not a valid WAV ({exc})") from exc
    frame_s = 1.0 / info.sample_rate
    if abs(info.duration_s - float(meta.duration_s)) > frame_s:
        raise IntegrityError(
            f"{where}: WAV lasts {info.duration_s:.5f} s, index says {float(meta.duration_s):.5f} s"
        )
    return wav


def _since_seq(conn: sqlite3.Connection, member: str) -> int:
    """The audit entry that made this member (this person, not an earlier one of the name)."""
    binding = member_binding(conn, member)
    return 0 if binding is None else binding.seq


def _audit_entries(
    conn: sqlite3.Connection, member: str, record_ids: set[str], since: int
) -> list[dict[str, Any]]:
    """Audit entries from the member's creation on that name the member or one of their
    records (no audio in any); an earlier member of the same name is someone else."""
    return [
        e.as_json()
        for e in audit_entries(conn, since_seq=since - 1)
        if e.member == member or (e.record is not None and e.record in record_ids)
    ]


def _manifest(
    vault: Vault,
    member: str,
    recipient: str,
    now: float,
    entries: list[tuple[RecordMeta, bytes]],
) -> dict[str, Any]:
    conn = vault.connection
    since = _since_seq(conn, member)
    # Grants made before this member existed were an earlier person's of the same name.
    granted_since = {
        e.details.get("grant")
        for e in audit_entries(conn, event="consent_granted", member=member, since_seq=since)
    }
    mine = [g for g in grants(conn) if g.member == member and g.grant_id in granted_since]
    grant_ids = {g.grant_id for g in mine}
    record_ids = {meta.id for meta, _ in entries}
    uploads = [
        {"grant": gid, "record": rid, "endpoint": endpoint, "bytes": nbytes, "sent_at": sent_at}
        for gid, rid, endpoint, nbytes, sent_at in conn.execute(
            "SELECT grant_id, record_id, endpoint, bytes, sent_at FROM uploads ORDER BY id"
        ).fetchall()
        if gid in grant_ids or rid in record_ids
    ]
    return {
        "format": EXPORT_FORMAT,
        "version": EXPORT_VERSION,
        "member": member,
        "generated_at": _iso(now),
        "generated_at_unix": now,
        "recipient": recipient,
        "records": [
            {
                "record": meta.id,
                "start": _iso(float(meta.start)),
                "start_unix": float(meta.start),
                "duration_s": float(meta.duration_s),
                "gap_ms": meta.gap_ms,
                "model": meta.model,
                "score": float(meta.score),
                "expires": _iso(float(meta.expires)),
                "file": f"records/{meta.id}.wav",
                "sha256": hashlib.sha256(wav).hexdigest(),
            }
            for meta, wav in entries
        ],
        "consents": [g.as_json(now) for g in mine],
        # Their voiceprint, if enrolled: biometric data about them, so theirs to see (art. 15).
        "voiceprint": [
            {
                "model": vp.model,
                "utterances": vp.utterances,
                "enrolled": _iso(vp.enrolled),
                "vector": [round(float(x), 7) for x in vp.vector],
            }
            for vp in vault.voiceprints(member)
        ],
        "uploads": uploads,
        "audit": _audit_entries(conn, member, record_ids, since),
    }


def build_bundle(
    vault: Vault, member: str, identity: Identity, recipient: str, now: float
) -> tuple[bytes, int]:
    """The encrypted bundle (bytes in memory) and its record count; IntegrityError on any defect.

    Deterministic apart from age's randomness: tar entries carry ``now`` as mtime, no owner.
    """
    entries = [
        (meta, _checked_wav(vault, meta, member, identity)) for meta in vault.records(member)
    ]
    manifest = _manifest(vault, member, recipient, now, entries)
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        files = [("manifest.json", json.dumps(manifest, indent=2).encode() + b"\n")]
        files += [(f"records/{meta.id}.wav", wav) for meta, wav in entries]
        for name, data in files:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mtime = int(now)
            info.mode = 0o600
            tar.addfile(info, io.BytesIO(data))
    plaintext = buf.getvalue()
    ciphertext = pyrage.encrypt(plaintext, [parse_recipient(recipient, "export recipient")])
    return ciphertext, len(entries)


def _write_atomically(out: Path, data: bytes, overwrite: bool) -> None:
    """``data`` at ``out`` whole or not at all, mode 0600, never through a symbolic link, and
    over an existing file only with ``overwrite`` (see :func:`keepmum.files.write_file`)."""
    if not out.parent.is_dir():
        raise VaultError(f"{out}: folder {out.parent} does not exist")
    try:
        write_file(out, data, overwrite=overwrite)
    except FileExistsError:
        raise VaultError(f"{out}: already exists; add --force to replace it") from None


def export_member(
    vault: Vault,
    *,
    member: str,
    passphrase: str,
    out: Path,
    recipient: str | None = None,
    now: float | None = None,
    overwrite: bool = False,
) -> ExportResult:
    """Unlock ``member``, build and check the bundle, write it to ``out``, audit ``exported``.

    Any failure (wrong passphrase, unknown member, a record that fails a check, a bad
    recipient, a write error) appends ``export_refused`` with the reason and re-raises; ``out``
    is then untouched.
    """
    now = time.time() if now is None else now
    if recipient is not None:
        # Before the try: a secret key pasted as the recipient must not reach export_refused.
        refuse_secret(recipient, "--recipient")
    try:
        known = {m.name: m for m in vault.members()}
        if member not in known:
            raise VaultError(f"member {member!r}: not a member of this vault")
        identity = vault.unlock(member, passphrase)
        target = recipient.strip() if recipient is not None else known[member].recipient
        parse_recipient(target, "--recipient" if recipient is not None else f"{member}'s recipient")
        with vault.snapshot():  # one consistent state, however busy the device is
            bundle, count = build_bundle(vault, member, identity, target, now)
        _write_atomically(out, bundle, overwrite)
    except (KeepmumError, OSError) as exc:
        reason = str(exc) if isinstance(exc, KeepmumError) else f"{out}: {exc}"
        with vault.transaction() as conn:
            vault.audit(conn, "export_refused", member=member, reason=reason[:300])
        if isinstance(exc, OSError):
            raise VaultError(f"{out}: cannot write the export ({exc.strerror or exc})") from exc
        raise
    digest = hashlib.sha256(bundle).hexdigest()
    with vault.transaction() as conn:
        vault.audit(
            conn,
            "exported",
            member=member,
            records=count,
            bytes=len(bundle),
            recipient=target,
            sha256=digest,
        )
    return ExportResult(member, out, count, len(bundle), target, digest)
