"""The one file writer and the output-path guard: 0600, whole or nothing, never through a link,
never over an existing file unless asked, never inside the device home."""

from __future__ import annotations

import os
import stat
import subprocess
from pathlib import Path
from typing import BinaryIO

import pytest

from keepmum.errors import ConfigError
from keepmum.files import guard_output_folder, guard_output_path, write_file
from tests.conftest import require_system, require_tool


def mode(path: Path) -> int:
    return stat.S_IMODE(path.lstat().st_mode)


def test_a_new_file_is_whole_and_private(tmp_path: Path) -> None:
    target = tmp_path / "out.wav"
    write_file(target, b"data")
    assert target.read_bytes() == b"data"
    assert mode(target) == 0o600
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.wav"]  # no temporary left


def test_an_existing_file_is_refused_and_kept(tmp_path: Path) -> None:
    target = tmp_path / "key"
    target.write_bytes(b"precious")
    with pytest.raises(FileExistsError):
        write_file(target, b"other")
    assert target.read_bytes() == b"precious"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["key"]


def test_overwrite_replaces_a_readable_file_with_a_private_one(tmp_path: Path) -> None:
    target = tmp_path / "out.wav"
    target.write_bytes(b"old")
    target.chmod(0o644)
    write_file(target, b"new", overwrite=True)
    assert target.read_bytes() == b"new"
    assert mode(target) == 0o600


@pytest.mark.parametrize("overwrite", [False, True])
def test_a_symbolic_link_is_never_followed(tmp_path: Path, overwrite: bool) -> None:
    victim = tmp_path / "victim"
    victim.write_bytes(b"precious")
    link = tmp_path / "link"
    link.symlink_to(victim)
    if overwrite:
        write_file(link, b"new", overwrite=True)
        assert not link.is_symlink() and link.read_bytes() == b"new"
    else:
        with pytest.raises(FileExistsError):
            write_file(link, b"new")
        assert link.is_symlink()
    assert victim.read_bytes() == b"precious"


def test_a_failing_writer_leaves_nothing(tmp_path: Path) -> None:
    def broken(handle: BinaryIO) -> None:
        handle.write(b"half")
        raise RuntimeError("disk on fire")

    with pytest.raises(RuntimeError):
        write_file(tmp_path / "out", broken)
    assert list(tmp_path.iterdir()) == []


@pytest.fixture
def home(tmp_path: Path) -> Path:
    folder = tmp_path / "home"
    (folder / "keys").mkdir(parents=True)
    (folder / "keys" / "alice.identity.age").write_bytes(b"sealed")
    return folder


def test_paths_inside_the_home_are_refused_also_through_links(tmp_path: Path, home: Path) -> None:
    (tmp_path / "alias").symlink_to(home)
    for path in (
        home / "keys" / "alice.identity.age",
        home / "vault.db",
        tmp_path / "alias" / "keys" / "new.wav",
    ):
        with pytest.raises(ConfigError, match=r"--out .*inside the device home"):
            guard_output_path(path, home=home, option="--out", overwrite=True)
    with pytest.raises(ConfigError, match="inside the device home"):
        guard_output_folder(tmp_path / "alias" / "keys", home=home, option="--out")


def test_a_second_path_to_a_home_file_is_refused_by_inode(tmp_path: Path, home: Path) -> None:
    # A hard link names the key's inode outside the home: by path it is elsewhere (issue 26).
    os.link(home / "keys" / "alice.identity.age", tmp_path / "copy.age")
    with pytest.raises(ConfigError, match="inside the device home"):
        guard_output_path(tmp_path / "copy.age", home=home, option="--out", overwrite=True)
    (tmp_path / "other.age").write_bytes(b"mine")  # an unrelated file still may be replaced
    assert guard_output_path(tmp_path / "other.age", home=home, option="--out", overwrite=True)


def test_a_bind_mount_of_the_home_is_refused(tmp_path: Path, home: Path) -> None:
    # The case: `export --out` through a bind mount of the home replaced vault.db.
    (home / "vault.db").write_bytes(b"the vault")
    mount = tmp_path / "mnt"
    mount.mkdir()
    require_tool("mount")
    bound = subprocess.run(
        ["mount", "--bind", str(home), str(mount)], capture_output=True, text=True, check=False
    )
    if bound.returncode != 0:
        require_system(os.environ.get("CI") != "true", "mount --bind (root)")
        pytest.skip(f"mount --bind is not permitted here: {bound.stderr.strip()}")
    try:
        for path in (mount / "vault.db", mount / "keys" / "new.wav"):
            with pytest.raises(ConfigError, match="inside the device home"):
                guard_output_path(path, home=home, option="--out", overwrite=True)
    finally:
        subprocess.run(["umount", str(mount)], check=True)
    assert (home / "vault.db").read_bytes() == b"the vault"


def test_the_guard_refuses_links_existing_files_and_missing_folders(
    tmp_path: Path, home: Path
) -> None:
    existing = tmp_path / "a.wav"
    existing.write_bytes(b"x")
    (tmp_path / "link.wav").symlink_to(tmp_path / "elsewhere.wav")
    cases = {
        tmp_path / "link.wav": "symbolic link",
        existing: "already exists; add --force",
        tmp_path / "nope" / "b.wav": "does not exist",
        home.parent: "is a folder",
    }
    for path, message in cases.items():
        with pytest.raises(ConfigError, match=message):
            guard_output_path(path, home=home, option="--out", overwrite=False)
    assert guard_output_path(existing, home=home, option="--out", overwrite=True) == existing
    made = tmp_path / "new" / "c.csv"
    guard_output_path(made, home=home, option="--csv", overwrite=False, make_folder=True)
    assert made.parent.is_dir()
    assert os.listdir(made.parent) == []
