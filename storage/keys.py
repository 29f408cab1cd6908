"""Member identities: an age X25519 key pair per household member, the secret half sealed by a
passphrase.

On disk (``HOME/keys/``, mode 0700)::

    <member id>.identity.age
                            mode 0600; named by the member's stable id (``m`` + 16 hex digits,
                            :func:`storage.index.new_member_id`), never by their name, so a
                            name reused later, or one differing only in case on a
                            case-insensitive file system, can never reach this file. An age
                            file encrypted with the member's passphrase (age's scrypt
                            recipient), whose plaintext is a standard age
                            identity file:
                                # created: 2025-01-01T00:00:00Z
                                # public key: age1...
                                AGE-SECRET-KEY-1...

The public recipient (``age1...``) is kept in the clear in the vault's ``members`` table, so the
device can encrypt to a member at any time; the secret identity exists in the clear only in RAM,
after the member typed their passphrase. The file is a normal age file: ``age -d`` opens it with
the passphrase, and ``age -d -i <member>.identity.age`` uses it directly.

Files are written to a temporary name in the same folder, fsynced and renamed, so a crash leaves
either no identity or a whole one. :meth:`KeyStore.shred` overwrites a file with random bytes and
fsyncs before unlinking it (crypto-shredding; see storage/README.md for what that can and cannot
promise on journaling and flash file systems).
"""

from __future__ import annotations

import errno
import os
import re
import secrets
import time
from pathlib import Path

import pyrage
from pyrage import passphrase as age_passphrase
from pyrage import x25519

from keepmum.errors import (
    IntegrityError,
    PassphraseError,
    PermissionsError,
    StorageFullError,
    VaultError,
)
from keepmum.files import write_file
from storage.private import check_private
from storage.records import AGE_MAGIC

__all__ = ["IDENTITY_SUFFIX", "KeyStore", "validate_member_name"]

IDENTITY_SUFFIX = ".identity.age"
_MEMBER_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,31}")
_SECRET_PREFIX = "AGE-SECRET-KEY-1"


def validate_member_name(name: str) -> str:
    """Return ``name`` if it is a valid member name, else raise VaultError.

    Member names become file names, so they are limited to 1-32 letters, digits, ``_`` and ``-``
    (starting with a letter or digit).
    """
    if not isinstance(name, str) or not _MEMBER_RE.fullmatch(name):
        raise VaultError(
            f"member name {name!r}: expected 1-32 letters, digits, '_' or '-', "
            "starting with a letter or digit"
        )
    return name


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class KeyStore:
    """The ``keys/`` folder: creates, unlocks and shreds members' sealed identities."""

    def __init__(self, keys_dir: Path) -> None:
        self.keys_dir = keys_dir

    def path(self, member: str) -> Path:
        """Where the sealed identity with key id ``member`` lives (a member id; a member's name
        in homes made before schema version 2, until the vault renames them)."""
        return self.keys_dir / f"{validate_member_name(member)}{IDENTITY_SUFFIX}"

    def ensure_dir(self) -> None:
        """Create the folder with mode 0700 (and tighten it if it exists)."""
        self.keys_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        os.chmod(self.keys_dir, 0o700)

    def exists(self, member: str) -> bool:
        """Whether ``member`` has an identity file."""
        return self.path(member).exists()

    def create(
        self, member: str, passphrase: str, *, now: float | None = None, who: str | None = None
    ) -> str:
        """Make a new identity for key id ``member``, seal it under ``passphrase``; return the
        recipient. ``who`` names the person in messages (default: the key id).

        Refuses to replace an existing identity file (forget the member first). Slow on purpose:
        age's scrypt takes about a second or two.
        """
        who = member if who is None else who
        if not passphrase:
            raise PassphraseError(f"member {who!r}: the passphrase must not be empty")
        self.ensure_dir()
        path = self.path(member)
        if path.exists():
            raise VaultError(f"{path}: an identity for {who!r} already exists")
        identity = x25519.Identity.generate()
        recipient = str(identity.to_public())
        created = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now))
        text = f"# created: {created}\n# public key: {recipient}\n{identity}\n"
        sealed = age_passphrase.encrypt(text.encode("ascii"), passphrase)
        # Python cannot wipe a str; dropping the references at least lets the memory be reused
        # at once (storage/README.md, threat model).
        del text, identity
        # 0600 from the first byte, fsynced, renamed into place, the folder fsynced.
        try:
            write_file(path, sealed, overwrite=True)
        except OSError as exc:
            if exc.errno in (errno.ENOSPC, errno.EDQUOT):
                raise StorageFullError(
                    f"{path}: the disk is full; {who!r} was not added (nothing was written)"
                ) from exc
            raise VaultError(f"{path}: cannot be written ({exc.strerror})") from exc
        return recipient

    def check_permissions(self, member: str, *, who: str | None = None) -> Path:
        """Refuse (PermissionsError) an identity file or keys folder that others can read.

        A sealed identity readable by others invites an offline guess at the passphrase, so
        keepmum will not use it until its owner fixes the modes.
        """
        who = member if who is None else who
        path = self.path(member)
        if not path.exists() and not path.is_symlink():
            raise VaultError(f"{path}: no identity for member {who!r} (forgotten, or moved away)")
        check_private(self.keys_dir, "keys folder", folder=True)
        check_private(path, "identity file", folder=False)
        return path

    def unlock(
        self,
        member: str,
        passphrase: str,
        *,
        expected_recipient: str | None = None,
        who: str | None = None,
    ) -> x25519.Identity:
        """Open the identity with key id ``member`` with ``passphrase`` (RAM only); ``who``
        names the person in messages (default: the key id).

        PermissionsError if the file or folder is readable by others, PassphraseError on a wrong
        passphrase, IntegrityError if the file is not an identity or does not match the
        recipient the vault encrypts to.
        """
        who = member if who is None else who
        path = self.check_permissions(member, who=who)
        try:
            fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
            with os.fdopen(fd, "rb") as f:
                sealed = f.read()
        except OSError as exc:
            # An owner who chmods the key away (or a home copied from another user) gets a
            # reason, not a traceback; nothing else in the vault is touched.
            raise PermissionsError(
                f"{path}: cannot read the identity of member {who!r} ({exc.strerror})"
            ) from exc
        if not sealed.startswith(AGE_MAGIC + b"-> scrypt "):
            raise IntegrityError(f"{path}: not a passphrase-sealed age file")
        try:
            plain = age_passphrase.decrypt(sealed, passphrase)
        except pyrage.DecryptError as exc:
            raise PassphraseError(
                f"wrong passphrase for member {who!r} ({path.name} did not open)"
            ) from exc
        identity = self._parse(plain, path)
        del plain  # the secret key's text: gone from here on, the Identity object holds it
        if expected_recipient is not None and str(identity.to_public()) != expected_recipient:
            raise IntegrityError(
                f"{path}: identity's recipient {identity.to_public()} does not match the vault's "
                f"recipient for {who!r} ({expected_recipient})"
            )
        return identity

    @staticmethod
    def _parse(plain: bytes, path: Path) -> x25519.Identity:
        try:
            lines = plain.decode("ascii").splitlines()
        except UnicodeDecodeError as exc:
            raise IntegrityError(f"{path}: sealed content is not an age identity") from exc
        keys = [ln.strip() for ln in lines if ln.strip().startswith(_SECRET_PREFIX)]
        if len(keys) != 1:
            raise IntegrityError(
                f"{path}: expected exactly one AGE-SECRET-KEY line, found {len(keys)}"
            )
        try:
            return x25519.Identity.from_str(keys[0])
        except pyrage.IdentityError as exc:
            raise IntegrityError(f"{path}: malformed age identity ({exc})") from exc
        finally:
            del lines, keys

    def shred(self, member: str) -> bool:
        """Overwrite ``member``'s identity with random bytes, fsync, unlink; True if it existed.

        After this, every ciphertext ever encrypted to the member is unreadable, wherever a copy
        of it went (crypto-shredding).
        """
        path = self.path(member)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_NOFOLLOW)
        except FileNotFoundError:
            return False
        try:
            size = os.fstat(fd).st_size
            os.write(fd, secrets.token_bytes(max(size, 1)))
            os.fsync(fd)
        finally:
            os.close(fd)
        path.unlink()
        _fsync_dir(self.keys_dir)
        return True
