"""The vault: kept utterances, encrypted to their member, that the device can write but not read.

``Vault`` ties together the SQLite index (:mod:`storage.index`), the members' sealed identities
(:mod:`storage.keys`), retention (:mod:`storage.retention`) and the audit chain
(:mod:`storage.audit`). The device holds only public recipients: :meth:`Vault.store` encrypts
with age to the member's recipient; reading back (:meth:`Vault.decrypt`) needs an identity that
only :meth:`Vault.unlock` with the member's passphrase produces, in RAM.

Write ordering (see storage/README.md for the full list of invariants):

- store: WAV bytes and ciphertext exist in RAM only; the record row, its ``stored`` audit entry,
  the copies queued for live all-future grants (:func:`storage.ledger.queue_for_future_grants`)
  and the expiry/capacity purge share ONE transaction, so the vault is either before or after a
  record, never in between.
- forget: the identity file is shredded first, then the member's rows are deleted in one
  transaction; a crash in between leaves unreadable records that a second ``forget`` removes.
- every transaction that extends the audit chain is followed by a write of the head file
  (:mod:`storage.chainhead`); every open checks it, so a rolled-back ``vault.db`` is refused.

Members are identities, not names: each has a stable id that names its key file, names are
unique ignoring case, and the chain binds name, id and recipient (:mod:`storage.bindings`).
Before anything is read, the home, ``keys/`` and ``vault.db`` must belong to this user and be
writable by nobody else (:func:`check_home`).
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import sqlite3
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

import numpy as np
import pyrage
from pyrage import x25519

from device.audio import SAMPLE_RATE
from device.utterance import Utterance
from keepmum.errors import FormatVersionError, IntegrityError, StorageFullError, VaultError
from storage import audit as audit_chain
from storage import erasure, ledger, voiceprints
from storage.bindings import member_problems
from storage.chainhead import HEAD_FILE, check_head, read_head, write_head
from storage.clockmark import ClockBehind, clock_behind, high_water, raise_mark, reset_mark
from storage.index import connect, name_key, new_member_id, stored_schema_version
from storage.keys import IDENTITY_SUFFIX, KeyStore, validate_member_name
from storage.private import check_private
from storage.records import RecordMeta, meta_digest, new_record_id
from storage.retention import (
    Deleted,
    PurgeResult,
    delete_rows,
    due_for_expiry,
    due_older_than,
    purge,
)
from storage.settings import VaultSettings
from storage.voiceprints import Voiceprint
from storage.wav import WavError, pcm_to_wav, wav_to_pcm

__all__ = [
    "DB_NAME",
    "KEYS_DIR",
    "RESERVE_BYTES",
    "RESERVE_NAME",
    "ForgetResult",
    "Member",
    "Notice",
    "Vault",
    "check_home",
]

DB_NAME = "vault.db"
KEYS_DIR = "keys"
RESERVE_NAME = "vault.reserve"
RESERVE_BYTES = 2 * 1024 * 1024
"""Disk space held back (a file of zeros) so that erasure still works on a full disk: SQLite
needs room for its WAL index and the deletion's WAL frames even to delete. Storing never uses
it; the commands that free space (delete, purge, forget, revoke) release it when the disk is
full, and any later open re-creates it once there is room."""

_RECORD_COLUMNS = (
    "id, member, start, start_t, duration_s, samples, sample_rate, model, score, end_reason, "
    "source, created, expires, sha256, length(ciphertext), gap_ms"
)


_MEMBER_COLUMNS = "name, recipient, created, id"

Notice = ledger.GrantRefused | ClockBehind
"""What a vault tells its user besides results (:attr:`Vault.on_notice`): each has
``as_json()`` and a one-line ``str()``."""


@dataclass(frozen=True)
class Member:
    """A household member: a name and the public age recipient records are encrypted to."""

    name: str
    recipient: str
    created: float
    id: str
    """Stable id (``m`` + 16 hex digits): names the key file; a reused name gets a new one."""


def _member_from_row(row: tuple[Any, ...]) -> Member:
    return Member(str(row[0]), str(row[1]), float(row[2]), str(row[3]))


def check_home(home: Path) -> None:
    """Refuse (PermissionsError, exit 2) a home, keys folder or vault.db that is not this user's
    or that group or others can write: in such a home another user could swap in their own
    database or keys, and new recordings would be encrypted to them."""
    for path, what, folder in (
        (home, "home", True),
        (home / KEYS_DIR, "keys folder", True),
        (home / DB_NAME, "vault database", False),
    ):
        if path.exists() or path.is_symlink():
            check_private(path, what, folder=folder, forbidden=0o022)


@dataclass(frozen=True)
class ForgetResult:
    """What forgetting a member destroyed."""

    member: str
    records: int
    seconds: float
    identity_shredded: bool


def _meta_from_row(row: tuple[Any, ...]) -> RecordMeta:
    return RecordMeta(*row)


class Vault:
    """An open vault in a device home. Use :meth:`create` or :meth:`open`, then :meth:`close`."""

    def __init__(
        self,
        home: Path,
        conn: sqlite3.Connection,
        settings: VaultSettings,
        clock: Callable[[], float],
        *,
        read_only: bool = False,
    ) -> None:
        self.home = home
        self.read_only = read_only
        """Opened for reading only: every write raises VaultError naming the home."""
        self.settings = settings
        self.clock = clock
        """Wall-clock time (Unix seconds); injected by tests to move through retention."""
        self.keys = KeyStore(home / KEYS_DIR)
        self._conn = conn
        self._recipients: dict[str, x25519.Recipient] = {}
        self._head_file = home / HEAD_FILE
        self._head_written: tuple[int, str] | None = None
        self._told_clock = False
        self.on_notice: Callable[[Notice], None] | None = None
        """Told of what the user must hear besides the result (a grant refused at store, a
        clock behind the vault's; :data:`Notice`); the CLI prints it. None: nobody is told."""

    def notify(self, notice: Notice) -> None:
        """Pass ``notice`` to :attr:`on_notice`, if anyone listens."""
        if self.on_notice is not None:
            self.on_notice(notice)

    # -- lifecycle ---------------------------------------------------------------------------

    @staticmethod
    def exists(home: Path) -> bool:
        """Whether ``home`` holds a vault."""
        return (home / DB_NAME).exists()

    @classmethod
    def create(
        cls,
        home: Path,
        settings: VaultSettings | None = None,
        *,
        clock: Callable[[], float] = time.time,
    ) -> Vault:
        """Make a new, empty vault in ``home`` (VaultError if one exists there).

        The space reserve comes first: if the disk cannot hold it, StorageFullError and nothing
        is made (without it, erasure could fail once the disk fills up)."""
        if cls.exists(home):
            raise VaultError(f"{home}: a vault exists here already (to add people: member add)")
        made_home = not home.exists()
        home.mkdir(mode=0o700, parents=True, exist_ok=True)
        check_home(home)
        if not _ensure_reserve(home):
            if made_home:
                with contextlib.suppress(OSError):
                    home.rmdir()
            raise StorageFullError(
                f"{home}: {_free_bytes(home) // 1024} KiB free; a vault needs "
                f"{2 * RESERVE_BYTES // (1024 * 1024)} MiB free to hold its "
                f"{RESERVE_BYTES // (1024 * 1024)} MiB space reserve, without which erasure "
                "and revoking could fail once the disk fills up; nothing was created"
            )
        KeyStore(home / KEYS_DIR).ensure_dir()
        conn = connect(home / DB_NAME, create=True)
        return cls._finish_open(home, conn, settings or VaultSettings(), clock)

    @classmethod
    def open(
        cls,
        home: Path,
        settings: VaultSettings | None = None,
        *,
        clock: Callable[[], float] = time.time,
        read_only: bool = False,
        enforce: bool = True,
        frees_space: bool = False,
        on_notice: Callable[[Notice], None] | None = None,
    ) -> Vault:
        """Open the vault in ``home`` and enforce expiry and capacity now.

        With ``read_only``, open it for reading only and enforce nothing: for read-only
        commands on a read-only home (a write would fail there; the next writing command
        purges). ``enforce=False`` skips the purge at open: for withdrawal (revoke, delete,
        forget) when the configuration cannot be read, since a purge under default settings
        could delete what the real ones keep. ``frees_space`` (delete, purge, forget, revoke):
        on a full disk, release the space reserve first. ``on_notice``: see :attr:`on_notice`
        (set before the purge at open, which may already have something to say). VaultError
        ("run keepmum init") if there is none; FormatVersionError if a newer keepmum wrote it.
        """
        check_home(home)
        legacy = _before_head_files(home)
        if read_only:
            conn = connect(home / DB_NAME, read_only=True)
            try:
                # A rolled-back or swapped vault.db is refused by readers too.
                check_head(conn, home / HEAD_FILE, legacy=legacy)
            except BaseException:
                conn.close()
                raise
            vault = cls(home, conn, settings or VaultSettings(), clock, read_only=True)
            vault.on_notice = on_notice
            return vault
        if frees_space and _free_bytes(home) < RESERVE_BYTES:
            (home / RESERVE_NAME).unlink(missing_ok=True)  # erasure must work on a full disk
        try:
            conn = connect(home / DB_NAME)
        except (IntegrityError, VaultError) as exc:
            if _free_bytes(home) < 64 * 1024 and not isinstance(exc, FormatVersionError):
                # SQLite cannot even create its WAL index: that is a full disk, not corruption.
                raise StorageFullError(
                    f"{home / DB_NAME}: the disk is full; nothing can be stored (to free "
                    "space: keepmum vault delete, vault purge, vault forget)"
                ) from exc
            raise
        _ensure_reserve(home)
        return cls._finish_open(
            home,
            conn,
            settings or VaultSettings(),
            clock,
            enforce=enforce,
            on_notice=on_notice,
            legacy=legacy,
        )

    @classmethod
    def open_lost_head(cls, home: Path, *, clock: Callable[[], float] = time.time) -> Vault:
        """Open a vault whose head file is lost (missing or not a head line), without the head
        check and without purging, for :meth:`adopt_head` (``keepmum audit adopt-head``).

        VaultError if the head file is there and readable: then there is nothing to adopt (a
        database behind it was rolled back, which adopting must not hide)."""
        check_home(home)
        path = home / HEAD_FILE
        try:
            recorded = read_head(path)
        except IntegrityError:
            recorded = None  # not a head line: as good as lost
        if recorded is not None:
            raise VaultError(
                f"{path}: present (audit entry {recorded[0]}); there is no lost head to adopt "
                "(to accept an older vault.db knowingly, remove this file first)"
            )
        conn = connect(home / DB_NAME)
        return cls(home, conn, VaultSettings(), clock)

    def adopt_head(self) -> tuple[int, str]:
        """Record the chain's head in the head file again, after checking every link, and
        audit ``head_adopted``; returns the head. IntegrityError (nothing written) if the chain
        has a defect."""
        defects = audit_chain.verify_chain(self._conn)
        if defects:
            first = defects[0]
            raise IntegrityError(
                f"{self.home / DB_NAME}: the audit chain has {len(defects)} defect(s) (entry "
                f"{first.seq}: {first.problem}); its head is not adopted"
            )
        with self.transaction() as conn:
            seq, digest = audit_chain.head(conn)
            self.audit(conn, "head_adopted", entries=seq, head=digest)
        return audit_chain.head(self._conn)

    @classmethod
    def _finish_open(
        cls,
        home: Path,
        conn: sqlite3.Connection,
        settings: VaultSettings,
        clock: Callable[[], float],
        *,
        enforce: bool = True,
        on_notice: Callable[[Notice], None] | None = None,
        legacy: bool = False,
    ) -> Vault:
        try:
            # Before anything reads the tables: a rolled-back or swapped vault.db stops here.
            head = check_head(conn, home / HEAD_FILE, legacy=legacy)
            vault = cls(home, conn, settings, clock)
            vault.on_notice = on_notice
            vault._adopt_legacy_key_files()
            vault._record_head(head)
            # A full disk must not block the commands that free space.
            with contextlib.suppress(StorageFullError):
                if enforce:
                    vault.purge(checkpoint=False)
                else:
                    with vault.transaction():
                        pass  # the clock's high-water mark only (every transaction raises it)
        except BaseException:
            conn.close()
            raise
        return vault

    def close(self) -> None:
        """Close the index (SQLite checkpoints and removes the WAL on the last close)."""
        self._conn.close()
        if not self.read_only:
            _ensure_reserve(self.home)  # back, once deleting made room

    def __enter__(self) -> Vault:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    @property
    def connection(self) -> sqlite3.Connection:
        """The index connection, for read queries (write only inside :meth:`transaction`)."""
        return self._conn

    def _write_error(self, exc: sqlite3.OperationalError) -> VaultError:
        """The user's view of a failed write: a full disk is not corruption, nor is a
        read-only home; both leave the vault as it was (the transaction rolled back)."""
        where = self.home / DB_NAME
        text = str(exc)
        if "full" in text:
            return StorageFullError(
                f"{where}: the disk is full; nothing more can be stored (what is stored is "
                "intact; `keepmum vault delete`, `vault purge` or `vault forget` free space)"
            )
        if "readonly" in text.replace("-", "").replace(" ", "") or "read-only" in text:
            return VaultError(
                f"{where}: the home is read-only; this command needs to write ({text})"
            )
        return VaultError(f"{where}: cannot write ({text})")

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """BEGIN IMMEDIATE ... COMMIT, or ROLLBACK if the body raises.

        SQLite's write errors (disk full, read-only home, locked too long) become
        :class:`StorageFullError` or VaultError; the vault is left as before the transaction.
        """
        if self.read_only:
            raise VaultError(
                f"{self.home / DB_NAME}: opened read-only; this command needs to write"
            )
        if self._conn.in_transaction:
            raise VaultError("vault transaction already open (transactions do not nest)")
        try:
            self._conn.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:  # read-only file system, locked too long ...
            raise self._write_error(exc) from exc
        try:
            yield self._conn
            # Every write also records the latest time seen (storage/clockmark.py).
            raise_mark(self._conn, self.clock())
        except sqlite3.OperationalError as exc:
            self._rollback()
            raise self._write_error(exc) from exc
        except BaseException:
            self._rollback()
            raise
        try:
            self._conn.execute("COMMIT")
        except sqlite3.OperationalError as exc:
            self._rollback()
            raise self._write_error(exc) from exc
        except BaseException:
            self._rollback()
            raise
        self._record_head(audit_chain.head(self._conn))

    def _record_head(self, head: tuple[int, str]) -> None:
        # After the commit, never before: a head file behind the database is allowed, one ahead
        # of it means a rollback (storage/chainhead.py).
        if head != self._head_written:
            try:
                write_head(self._head_file, head)
            except OSError as exc:
                if exc.errno not in (errno.ENOSPC, errno.EDQUOT):
                    raise
                # The commit stands; on a full disk the head file lags behind it, which the
                # check allows (it only refuses a database *behind* the file). The next commit
                # writes it again, so rollback detection resumes as soon as there is room.
                return
            self._head_written = head

    def _adopt_legacy_key_files(self) -> None:
        """Rename key files named by member name (before schema 2) to the member's id.

        Idempotent and crash-safe: a file is renamed only when the id's file does not exist.
        """
        for m in self.members():
            legacy = self.keys.keys_dir / f"{m.name}{IDENTITY_SUFFIX}"
            target = self.keys.path(m.id)
            if legacy.is_file() and not legacy.is_symlink() and not target.exists():
                os.replace(legacy, target)
                fd = os.open(self.keys.keys_dir, os.O_RDONLY)
                try:
                    os.fsync(fd)
                finally:
                    os.close(fd)

    def _rollback(self) -> None:
        if self._conn.in_transaction:
            self._conn.execute("ROLLBACK")

    @contextmanager
    def snapshot(self) -> Iterator[sqlite3.Connection]:
        """One read transaction: every query in the body sees the same committed state.

        Readers (verify, report, list, export) use it, so a device storing meanwhile (WAL lets
        it commit) can never make them see a record and miss its audit entry, or the reverse.
        """
        if self._conn.in_transaction:
            raise VaultError("vault snapshot inside a transaction (they do not nest)")
        self._conn.execute("BEGIN")
        try:
            # A deferred transaction takes its snapshot at the first read: take it now.
            self._conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
            yield self._conn
        finally:
            self._rollback()

    def audit(
        self,
        conn: sqlite3.Connection,
        event: str,
        *,
        member: str | None = None,
        record: str | None = None,
        **details: Any,
    ) -> audit_chain.AuditEntry:
        """Append to the audit chain inside the caller's transaction (no audio, ever)."""
        return audit_chain.append(
            conn, self.clock(), event, member=member, record=record, **details
        )

    def _checkpoint(self, mode: str) -> None:
        # Old WAL frames still hold deleted ciphertext until a checkpoint overwrites the file.
        self._conn.execute(f"PRAGMA wal_checkpoint({mode})").fetchone()

    # -- time ------------------------------------------------------------------------------

    def now(self, t: float | None = None) -> float:
        """The time decisions use: the clock (or ``t``), never earlier than the latest time
        the vault has seen (storage/clockmark.py). A revoked or expired grant stays so when
        the clock is set back, and a record stored meanwhile keeps its full retention."""
        t = self.clock() if t is None else t
        mark = high_water(self._conn)
        return t if mark is None else max(t, mark)

    def clock_behind(self) -> ClockBehind | None:
        """The clock is behind the vault's high-water mark (then nothing is purged)."""
        return clock_behind(self._conn, self.clock())

    def _purge_allowed(self) -> bool:
        """False (and the user told, once per vault) while the clock is behind the mark."""
        behind = self.clock_behind()
        if behind is None:
            return True
        if not self._told_clock:
            self._told_clock = True
            self.notify(behind)
        return False

    def due_if_clock_is_right(self) -> int:
        """How many records expire if the clock's time is taken as right now (what
        ``purge(clock_is_right=True)`` would delete for expiry)."""
        return len(due_for_expiry(self._conn, self.clock()))

    # -- members -----------------------------------------------------------------------------

    def members(self) -> list[Member]:
        """Every member, in order of creation."""
        rows = self._conn.execute(
            f"SELECT {_MEMBER_COLUMNS} FROM members ORDER BY created, rowid"
        ).fetchall()
        return [_member_from_row(r) for r in rows]

    def member(self, name: str) -> Member:
        """One member (VaultError naming the known members if there is no such member).

        Names match exactly: ``ALICE`` does not silently act on ``alice`` (forget is final).
        """
        row = self._conn.execute(
            f"SELECT {_MEMBER_COLUMNS} FROM members WHERE name = ?", (name,)
        ).fetchone()
        if row is None:
            same = self._same_name(name)
            hint = f"; did you mean {same!r}?" if same else ""
            known = ", ".join(m.name for m in self.members()) or "none"
            raise VaultError(f"member {name!r}: no such member (members: {known}){hint}")
        return _member_from_row(row)

    def _same_name(self, name: str) -> str | None:
        row = self._conn.execute(
            "SELECT name FROM members WHERE name_key = ?", (name_key(name),)
        ).fetchone()
        return None if row is None else str(row[0])

    def default_member(self) -> str:
        """The member kept utterances go to unless told otherwise: the first one created."""
        members = self.members()
        if not members:
            raise VaultError(f"{self.home}: the vault has no members (keepmum member add NAME)")
        return members[0].name

    def check_new_member(self, name: str) -> None:
        """VaultError unless ``name`` is a valid name that no member has, ignoring case."""
        validate_member_name(name)
        same = self._same_name(name)
        if same is not None:
            raise VaultError(
                f"member {name!r}: already exists"
                if same == name
                else f"member {name!r}: {same!r} already exists (names are compared ignoring case)"
            )

    def add_member(self, name: str, passphrase: str) -> Member:
        """Create ``name``'s identity sealed under ``passphrase`` and register its recipient."""
        self.check_new_member(name)
        # A new person, whatever their name: a new id, so a key file, grant or upload of an
        # earlier member of this name can never be theirs.
        member_id = new_member_id()
        recipient = self.keys.create(member_id, passphrase, now=self.clock(), who=name)
        now = self.clock()
        try:
            with self.transaction() as conn:
                conn.execute(
                    "INSERT INTO members (name, recipient, created, id, name_key) "
                    "VALUES (?, ?, ?, ?, ?)",
                    (name, recipient, now, member_id, name_key(name)),
                )
                self.audit(
                    conn, "member_added", member=name, member_id=member_id, recipient=recipient
                )
        except BaseException:
            self.keys.shred(member_id)
            raise
        return Member(name, recipient, now, member_id)

    def unlock(self, member: str, passphrase: str) -> x25519.Identity:
        """``member``'s identity, opened with their passphrase (RAM only).

        PassphraseError on a wrong passphrase; PermissionsError if the identity file or keys
        folder is readable by others.
        """
        m = self.member(member)
        return self.keys.unlock(m.id, passphrase, expected_recipient=m.recipient, who=m.name)

    def _recipient(self, member: str) -> x25519.Recipient:
        cached = self._recipients.get(member)
        if cached is None:
            m = self.member(member)
            text = m.recipient
            # Once per member and process: a recipient changed behind keepmum's back would send
            # every later record to someone else, so it is refused, not used.
            problems = member_problems(self._conn, m.name, m.recipient, m.id)
            if problems:
                raise IntegrityError(f"{problems[0]}; nothing stored (run keepmum vault verify)")
            try:
                cached = x25519.Recipient.from_str(text)
            except pyrage.RecipientError as exc:
                raise IntegrityError(f"member {member!r}: stored recipient is malformed") from exc
            self._recipients[member] = cached
        return cached

    # -- writing -----------------------------------------------------------------------------

    def store(self, utterance: Utterance, member: str) -> str | None:
        """Encrypt a kept utterance to ``member`` and commit it; return its record id.

        Returns None when nothing is kept: ``retention_h == 0`` (audited as
        ``not_stored_retention_zero``), or the utterance alone is longer than ``capacity_s`` (it
        is deleted by the capacity rule in the same transaction, audited ``capacity_deleted``).
        """
        samples = np.asarray(utterance.samples)
        if samples.dtype != np.int16 or samples.ndim != 1:
            raise VaultError(
                f"utterance: expected 1-D int16 samples, got {samples.dtype} shape {samples.shape}"
            )
        duration_s = len(samples) / SAMPLE_RATE
        if self.settings.keeps_nothing:
            self._recipient(member)  # still refuse an unknown member
            with self.transaction() as conn:
                self.audit(
                    conn,
                    "not_stored_retention_zero",
                    member=member,
                    duration_s=duration_s,
                    model=utterance.model,
                    source=utterance.source,
                )
            return None
        recipient = self._recipient(member)
        wav = pcm_to_wav(samples)
        ciphertext = pyrage.encrypt(wav, [recipient])
        now = self.now()
        allowed = self._purge_allowed()
        meta = RecordMeta(
            id=new_record_id(utterance.started_at),
            member=member,
            start=float(utterance.started_at),
            start_t=float(utterance.start_t),
            duration_s=duration_s,
            samples=len(samples),
            sample_rate=SAMPLE_RATE,
            model=str(utterance.model),
            score=float(utterance.score),
            end_reason=str(utterance.end_reason),
            source=str(utterance.source),
            created=float(now),
            expires=float(now + self.settings.retention_s),
            sha256=hashlib.sha256(ciphertext).hexdigest(),
            size=len(ciphertext),
            gap_ms=int(utterance.gap_ms),
        )
        meta_sha256 = meta_digest(meta.meta_values())
        with self.transaction() as conn:
            conn.execute(
                "INSERT INTO records (id, member, start, start_t, duration_s, samples, "
                "sample_rate, model, score, end_reason, source, created, expires, ciphertext, "
                "sha256, meta_sha256, gap_ms) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (*meta.meta_values()[:13], ciphertext, meta.sha256, meta_sha256, meta.gap_ms),
            )
            self.audit(
                conn,
                "stored",
                member=member,
                record=meta.id,
                duration_s=duration_s,
                model=meta.model,
                score=meta.score,
                gap_ms=meta.gap_ms,
                bytes=len(ciphertext),
                sha256=meta.sha256,
                meta_sha256=meta_sha256,
            )
            # The all-future rule: whoever stores, live all-future grants get their copies.
            ledger.queue_for_future_grants(conn, meta, wav, now, self.audit, self.notify)
            purged = purge(conn, now, self.settings, self.audit) if allowed else PurgeResult()
        if purged.all:
            self._checkpoint("PASSIVE")
        if any(d.record == meta.id for d in purged.all):
            return None
        return meta.id

    def note_discarded(self, reason: str, duration_s: float, model: str, source: str) -> None:
        """Audit an utterance that was discarded without touching the disk (no audio)."""
        with self.transaction() as conn:
            self.audit(
                conn,
                "discarded",
                reason=reason,
                duration_s=float(duration_s),
                model=model,
                source=source,
            )

    def note_run(
        self,
        source: str,
        heard_s: float,
        kept_s: float,
        discarded_s: float,
        wakes: int,
        muted_s: float,
    ) -> None:
        """Audit what one run of the device heard, kept and discarded (for ``keepmum report``)."""
        with self.transaction() as conn:
            self.audit(
                conn,
                "run",
                source=source,
                heard_s=float(heard_s),
                kept_s=float(kept_s),
                discarded_s=float(discarded_s),
                wakes=int(wakes),
                muted_s=float(muted_s),
            )

    def purge(self, *, checkpoint: bool = True, clock_is_right: bool = False) -> PurgeResult:
        """Enforce expiry and capacity now; nothing while the clock is behind the vault's
        high-water mark, unless ``clock_is_right``: then the mark comes down to the clock
        (audited ``clock_reset``) and records stamped in the future expire."""
        if not clock_is_right and not self._purge_allowed():
            return PurgeResult()  # nothing is decided on this clock
        with self.transaction() as conn:
            if clock_is_right:
                now = self.clock()
                before = reset_mark(conn, now)
                if before is not None and before > now:
                    self.audit(conn, "clock_reset", high_water_was=before, clock=now)
            result = purge(conn, self.clock(), self.settings, self.audit)
        if result.all:
            self._checkpoint("TRUNCATE" if checkpoint else "PASSIVE")
        return result

    def delete(self, record_id: str) -> Deleted:
        """Delete one record (and its queued copies) now; if it was uploaded, request erasure
        from every endpoint that received it, in the same transaction (see storage.erasure)."""
        meta = self.record(record_id)
        with self.transaction() as conn:
            (deleted,) = delete_rows(
                conn, [(meta.id, meta.member, meta.duration_s)], "deleted", self.audit
            )
            erasure.request_erasure(
                conn,
                member=meta.member,
                record_ids=[meta.id],
                reason="deleted",
                now=self.clock(),
                audit=self.audit,
            )
        self._checkpoint("TRUNCATE")
        return deleted

    def older_than(self, hours: float) -> list[RecordMeta]:
        """The records stored ``hours`` or more ago (what ``purge_older_than`` would delete)."""
        ids = {rid for rid, _m, _d in due_older_than(self._conn, self.clock(), hours)}
        return [r for r in self.records() if r.id in ids]

    def purge_older_than(self, hours: float) -> list[Deleted]:
        """Delete every record stored ``hours`` or more ago: shrinking retention of what is
        kept, on explicit request (each audited ``deleted`` with ``older_than_h``)."""
        if not (hours >= 0 and hours < float("inf")):
            raise VaultError(f"--older-than-h: expected a finite number >= 0, got {hours!r}")

        def audit(conn: sqlite3.Connection, event: str, **kw: Any) -> object:
            return self.audit(conn, event, older_than_h=float(hours), **kw)

        with self.transaction() as conn:
            deleted = delete_rows(conn, due_older_than(conn, self.clock(), hours), "deleted", audit)
        if deleted:
            self._checkpoint("TRUNCATE")
        return deleted

    def forget(self, member: str) -> ForgetResult:
        """Destroy ``member``'s identity, then every record of theirs (crypto-shredding), and
        revoke their grants.

        The identity goes first: once it is gone, every copy of their ciphertext anywhere is
        unreadable, whatever happens to the rest of this call.
        """
        validate_member_name(member)
        known = self.member(member)  # raises: no such member (exact name, never another case)
        shredded = self.keys.shred(known.id)
        with self.transaction() as conn:
            count, seconds = conn.execute(
                "SELECT count(*), coalesce(sum(duration_s), 0) FROM records WHERE member = ?",
                (member,),
            ).fetchone()
            # Every endpoint that received their data is asked to erase it (GDPR art. 17(2)).
            erasure.request_erasure(
                conn,
                member=member,
                record_ids=erasure.uploaded_records_of(conn, member),
                reason="forgotten",
                now=self.clock(),
                audit=self.audit,
            )
            # Their consent ends with them: a later member of the same name inherits no grant.
            for grant_id in ledger.revoke_member_grants(conn, member, self.now()):
                self.audit(
                    conn, "consent_revoked", member=member, grant=grant_id, reason="forgotten"
                )
            conn.execute("DELETE FROM records WHERE member = ?", (member,))
            if voiceprints.delete(conn, member):
                self.audit(conn, "voice_unenrolled", member=member, reason="forgotten")
            conn.execute("DELETE FROM members WHERE name = ?", (member,))
            self.audit(
                conn,
                "forgotten",
                member=member,
                member_id=known.id,
                records=int(count),
                seconds=float(seconds),
                identity_shredded=shredded,
            )
        self._recipients.pop(member, None)
        self._checkpoint("TRUNCATE")
        return ForgetResult(member, int(count), float(seconds), shredded)

    # -- voiceprints (storage/voiceprints.py) -------------------------------------------------

    def enrol_voice(
        self, member: str, vector: Any, *, utterances: int, model: str, identity: x25519.Identity
    ) -> Voiceprint:
        """Store ``member``'s voiceprint (replacing an earlier one) with its consent entry.

        ``identity`` is the member's unlocked identity: proof that the member (who knows the
        passphrase) consents; it must match their recipient. The audit entry holds the number
        of utterances and the model, never audio or the vector.
        """
        known = self.member(member)
        if str(identity.to_public()) != known.recipient:
            raise VaultError(f"member {member!r}: that identity is not theirs")
        print_ = Voiceprint(
            known.name, np.asarray(vector, np.float32), utterances, model, self.clock()
        )
        with self.transaction() as conn:
            voiceprints.upsert(conn, print_)
            self.audit(
                conn,
                "voice_enrolled",
                member=known.name,
                utterances=utterances,
                model=model,
                consent="passphrase",
                sha256=voiceprints.vector_digest(print_.vector),
            )
        return print_

    def unenrol_voice(self, member: str) -> bool:
        """Erase ``member``'s voiceprint (no passphrase needed: withdrawing is never harder than
        giving); False if they had none."""
        known = self.member(member)
        with self.transaction() as conn:
            erased = voiceprints.delete(conn, known.name)
            if erased:
                self.audit(conn, "voice_unenrolled", member=known.name, reason="unenrol")
        self._checkpoint("TRUNCATE")
        return erased

    def voiceprints(self, member: str | None = None) -> list[Voiceprint]:
        """Enrolled voiceprints (needs no key: the device reads them to attribute requests)."""
        return voiceprints.load_all(self._conn, member)

    # -- reading -----------------------------------------------------------------------------

    def records(self, member: str | None = None) -> list[RecordMeta]:
        """Metadata of every record (of one member), in the order stored; needs no key."""
        sql = f"SELECT {_RECORD_COLUMNS} FROM records"
        args: tuple[Any, ...] = ()
        if member is not None:
            sql += " WHERE member = ?"
            args = (member,)
        rows = self._conn.execute(sql + " ORDER BY created, rowid", args).fetchall()
        return [_meta_from_row(r) for r in rows]

    def resolve_id(self, record_id: str) -> str:
        """The full id for ``record_id`` or a unique prefix of it (at least 6 characters)."""
        if self._conn.execute("SELECT 1 FROM records WHERE id = ?", (record_id,)).fetchone():
            return record_id
        if len(record_id) >= 6:
            rows = self._conn.execute(
                "SELECT id FROM records WHERE substr(id, 1, ?) = ? LIMIT 2",
                (len(record_id), record_id),
            ).fetchall()
            if len(rows) == 1:
                return str(rows[0][0])
            if len(rows) > 1:
                raise VaultError(f"record {record_id!r}: ambiguous prefix, give more digits")
        raise VaultError(f"record {record_id!r}: no such record in {self.home / DB_NAME}")

    def record(self, record_id: str) -> RecordMeta:
        """One record's metadata (VaultError if there is no such record)."""
        rid = self.resolve_id(record_id)
        row = self._conn.execute(
            f"SELECT {_RECORD_COLUMNS} FROM records WHERE id = ?", (rid,)
        ).fetchone()
        return _meta_from_row(row)

    def read_ciphertext(self, record_id: str) -> bytes:
        """The record's age ciphertext, as stored (no key needed, none used)."""
        rid = self.resolve_id(record_id)
        row = self._conn.execute("SELECT ciphertext FROM records WHERE id = ?", (rid,)).fetchone()
        return bytes(row[0])

    def decrypt(self, record_id: str, identity: x25519.Identity) -> bytes:
        """The record's WAV bytes, checked against its metadata; needs the owner's identity.

        IntegrityError if the ciphertext's SHA-256, the decryption or the WAV's format and
        length do not match what the index says.
        """
        meta = self.record(record_id)
        owner = self.member(meta.member)
        if str(identity.to_public()) != owner.recipient:
            raise VaultError(
                f"record {meta.id}: belongs to {meta.member!r}; this identity is not theirs"
            )
        ciphertext = self.read_ciphertext(meta.id)
        actual = hashlib.sha256(ciphertext).hexdigest()
        if actual != meta.sha256:
            raise IntegrityError(
                f"record {meta.id}: ciphertext SHA-256 {actual[:16]}... does not match the "
                f"index ({meta.sha256[:16]}...)"
            )
        try:
            wav = pyrage.decrypt(ciphertext, [identity])
        except pyrage.DecryptError as exc:
            raise IntegrityError(f"record {meta.id}: does not decrypt ({exc})") from exc
        try:
            samples, info = wav_to_pcm(wav)
        except WavError as exc:
            raise IntegrityError(f"record {meta.id}: decrypted audio is not a WAV ({exc})") from exc
        if info.sample_rate != meta.sample_rate or len(samples) != meta.samples:
            raise IntegrityError(
                f"record {meta.id}: audio is {len(samples)} samples at {info.sample_rate} Hz, "
                f"index says {meta.samples} at {meta.sample_rate} Hz"
            )
        return wav


def _before_head_files(home: Path) -> bool:
    """True if ``home`` has no head file and its vault.db is from before schema version 2,
    which wrote none (storage/chainhead.py): only such a vault opens without one."""
    if (home / HEAD_FILE).exists() or not (home / DB_NAME).exists():
        return False
    version = stored_schema_version(home / DB_NAME)
    return version is not None and version < 2


def _free_bytes(folder: Path) -> int:
    try:
        st = os.statvfs(folder)
    except OSError:
        return 1 << 62  # cannot tell: let SQLite report what is wrong
    return st.f_bavail * st.f_frsize


def _ensure_reserve(home: Path) -> bool:
    """Create the space reserve if it is missing and there is room for it; never fails.
    Returns whether the reserve exists afterwards."""
    path = home / RESERVE_NAME
    if path.exists():
        return True
    if _free_bytes(home) < 2 * RESERVE_BYTES:
        return False
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except OSError:
        return False
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(bytes(RESERVE_BYTES))  # written, not sparse: it must really hold blocks
            fh.flush()
            os.fsync(fh.fileno())
    except OSError:
        path.unlink(missing_ok=True)
        return False
    return True
