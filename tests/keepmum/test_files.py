"""The one file writer and the output-path guard: 0600, whole or nothing, never through a link,
never over an existing file unless asked, never inside the device home."""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import BinaryIO

import pytest

from keepmum.errors import ConfigError
from keepmum.files import guard_output_folder, guard_output_path, write_file


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
