"""Writing files without losing or exposing data: the one helper every keepmum write goes through.

:func:`write_file` is the single way keepmum writes a whole file (an export, a decrypted
recording, a corpus's labels, a cache entry, a plot): a temporary file in the same folder,
created 0600 with ``O_EXCL | O_NOFOLLOW``, filled and fsynced, then put in place in one step.
The destination is never followed when it is a symbolic link (a rename replaces the link
itself), and an existing file is replaced only when the caller says so; otherwise the file is
linked into place, which fails if the name exists, even if it appeared a moment ago.

:func:`guard_output_path` is the policy for a path a user named (``--out``, ``--csv``): never
inside the device home (symlinks resolved before comparing, and compared by device and inode,
so that a bind mount or a hard link of the home does not pass), never a symbolic link, never an
existing file unless ``overwrite`` (``--force``). Together they close the 2018-style accident
of an export written over a member's own key.
"""

from __future__ import annotations

import errno
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

from keepmum.errors import ConfigError

__all__ = ["guard_output_folder", "guard_output_path", "write_file"]

Writer = Callable[[BinaryIO], None]
"""Fills an open binary file (e.g. ``soundfile.write`` or ``figure.savefig`` into it)."""

# link(2) is refused by some file systems (FAT, some FUSE mounts): then the name is claimed with
# O_EXCL and the finished temporary file renamed over the claim.
_NO_HARD_LINKS = {errno.EPERM, errno.EOPNOTSUPP, errno.ENOTSUP, errno.EXDEV, errno.EMLINK}


def write_file(
    path: Path,
    data: bytes | Writer,
    *,
    overwrite: bool = False,
    mode: int = 0o600,
    durable: bool = True,
) -> None:
    """Write ``data`` (bytes, or a function that writes into the open file) to ``path``, whole
    or not at all, with permissions ``mode``.

    ``overwrite=False`` refuses an existing ``path`` (FileExistsError), atomically;
    ``overwrite=True`` replaces it (a symbolic link at ``path`` is replaced, not followed).
    OSError otherwise; the temporary file never survives a failure. The temporary file is
    0600 from its first byte (``mkstemp``), so nobody else can open it while it is filled.
    ``durable=False`` skips both fsyncs, for a file that may lag behind after a power cut
    (``storage/chainhead.py``'s head, rewritten at every commit).
    """
    folder = path.parent
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=folder)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as handle:
            os.fchmod(handle.fileno(), mode)
            if isinstance(data, bytes):
                handle.write(data)
            else:
                data(handle)
            handle.flush()
            if durable:
                os.fsync(handle.fileno())
        if overwrite:
            os.replace(tmp, path)
        else:
            _place_new(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)  # a full disk must not leave stray files behind
    if durable:
        _fsync_folder(folder)


def _place_new(tmp: Path, path: Path) -> None:
    """Give ``tmp`` the name ``path`` only if no such name exists (FileExistsError otherwise)."""
    try:
        os.link(tmp, path, follow_symlinks=False)
        return
    except OSError as exc:
        if exc.errno not in _NO_HARD_LINKS:
            raise
    claim = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    os.close(claim)
    try:
        os.replace(tmp, path)
    except BaseException:
        path.unlink(missing_ok=True)
        raise


def _fsync_folder(folder: Path) -> None:
    """Make the new name durable; some file systems cannot open a folder, which is harmless."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass  # e.g. EINVAL on file systems without directory fsync; the data itself is synced
    finally:
        os.close(fd)


def _inside(path: Path, folder: Path) -> bool:
    return path == folder or folder in path.parents


def _file_id(path: Path) -> tuple[int, int] | None:
    try:
        st = os.stat(path, follow_symlinks=False)
    except OSError:
        return None
    return st.st_dev, st.st_ino


def _same_place(path: Path, home: Path) -> bool:
    """Whether ``path`` reaches into ``home`` by another way than its name: a folder on the way
    that is the home or one of its folders (a bind mount shows the same device and inode), or
    an existing file that is one of the home's files (a hard link). Paths alone miss both."""
    if not home.is_dir():
        return False
    inside: set[tuple[int, int]] = set()
    for folder, subfolders, files in os.walk(home):
        for name in (*subfolders, *files, "."):
            found = _file_id(Path(folder) / name)
            if found is not None:
                inside.add(found)
    target = _file_id(path)
    if target is not None and target in inside:
        return True
    return any(_file_id(p) in inside for p in (path.parent, *path.parent.resolve().parents))


def guard_output_path(
    path: Path, *, home: Path, option: str, overwrite: bool, make_folder: bool = False
) -> Path:
    """``path`` if a user may write it; ConfigError naming ``option`` otherwise.

    Refused: a path inside ``home`` (the device home: its keys, vault and config), compared
    after resolving symbolic links, so neither ``HOME/keys/alice.identity.age`` nor a link into
    the home passes, and by device and inode, so neither a bind mount of the home nor a hard
    link to one of its files passes; a symbolic link (never followed); a folder; a missing
    folder (created instead with ``make_folder``); an existing file unless ``overwrite``.
    """
    if path.is_symlink():
        raise ConfigError(f"{option} {path}: is a symbolic link; refusing to follow it")
    real = path.parent.resolve() / path.name
    device_home = home.expanduser().resolve()
    if _inside(real, device_home) or _same_place(path, device_home):
        raise ConfigError(
            f"{option} {path}: is inside the device home {home}; refusing to write there "
            "(it holds the keys and the vault)"
        )
    if make_folder and not path.parent.exists():
        try:
            path.parent.mkdir(parents=True)
        except OSError as exc:
            raise ConfigError(f"{option} {path}: cannot create its folder ({exc})") from None
    if not path.parent.is_dir():
        raise ConfigError(f"{option} {path}: folder {path.parent} does not exist")
    if path.is_dir():
        raise ConfigError(f"{option} {path}: is a folder, expected a file name")
    if path.exists() and not overwrite:
        raise ConfigError(f"{option} {path}: already exists; add --force to replace it")
    return path


def guard_output_folder(path: Path, *, home: Path, option: str) -> Path:
    """``path`` if a user may write files into it (it exists, or its parent does, and it is not
    inside ``home`` once symbolic links are resolved); ConfigError naming ``option`` otherwise.
    The files written there go through :func:`write_file`, which refuses to overwrite."""
    if path.is_symlink():
        raise ConfigError(f"{option} {path}: is a symbolic link; refusing to follow it")
    if path.exists() and not path.is_dir():
        raise ConfigError(f"{option} {path}: is a file, expected a folder")
    if _inside(path.resolve(), home.expanduser().resolve()):
        raise ConfigError(
            f"{option} {path}: is inside the device home {home}; refusing to write there "
            "(it holds the keys and the vault)"
        )
    return path
