"""Files and folders only their owner may touch: the checks every keepmum store makes first.

A home, keys folder, vault database or receiver identity that another user can write (or, for
secrets, read) lets them swap in their own keys or database, or guess a passphrase offline. So
keepmum refuses to use one, with a one-line PermissionsError (exit 2) that says how to fix it,
before it reads or writes anything there.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from keepmum.errors import PermissionsError

__all__ = ["check_private"]


def check_private(path: Path, what: str, *, folder: bool, forbidden: int = 0o077) -> None:
    """Refuse ``path`` unless it is a plain file (or folder), owned by this user, with none of
    the ``forbidden`` mode bits (default: any access by group or others).

    ``what`` names it in the message ("keys folder", "identity file" ...). A symlink is refused
    too: the check must be about the thing that will be opened.
    """
    st = os.lstat(path)
    mode = stat.S_IMODE(st.st_mode)
    if not (stat.S_ISDIR(st.st_mode) if folder else stat.S_ISREG(st.st_mode)):
        raise PermissionsError(
            f"{path}: {what} is not a {'real folder' if folder else 'regular file'} (a symlink?)"
        )
    if hasattr(os, "getuid") and st.st_uid != os.getuid():
        raise PermissionsError(
            f"{path}: {what} belongs to uid {st.st_uid}, not to you ({os.getuid()})"
        )
    if mode & forbidden:
        wanted = mode & ~forbidden
        access = "writable" if forbidden == 0o022 else "readable"
        raise PermissionsError(
            f"{path}: {what} is {access} by group/others (mode {mode:04o}, expected "
            f"{wanted:04o}); run: chmod {wanted:o} {path}"
        )
