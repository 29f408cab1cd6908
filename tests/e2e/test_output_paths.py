"""``--out`` never destroys data: the issue-10 bar, run through the real command.

``export --out`` and ``vault play --out`` aimed at the vault's own files (a member's identity,
the index), directly or through a symbolic link, are refused with exit 2 and one line, and the
vault still verifies; a new file is 0600; an existing one is replaced only with ``--force``.
"""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from tests.e2e.conftest import Result, run_keepmum
from tests.e2e.vault_fixtures import (  # noqa: F401
    StoredHome,
    _stored_home,
    _stored_template,
    _wake_recording,
    keepmum_ok,
    key_file,
)


def refused(result: Result, *fragments: str) -> None:
    assert result.returncode == 2, str(result)
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, f"expected one line on stderr:\n{result}"
    for fragment in fragments:
        assert fragment in lines[0], str(result)


def snapshot(home: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(home)): p.read_bytes()
        for p in sorted(home.rglob("*"))
        if p.is_file() and not p.name.endswith(("-wal", "-shm"))
    }


def test_outputs_onto_the_vaults_own_files_are_refused_and_it_still_verifies(
    stored_home: StoredHome, tmp_path: Path
) -> None:
    home = stored_home.home
    identity = key_file(home, "alice")
    assert identity.is_file()
    before = snapshot(home)
    link = tmp_path / "innocent.age"
    link.symlink_to(identity)
    alias = tmp_path / "alias"
    alias.symlink_to(home)
    rid = stored_home.alice[0]
    for target in (identity, home / "vault.db", alias / "keys" / identity.name):
        for force in ([], ["--force"]):
            for command in (("export", "--member", "alice"), ("vault", "play", rid)):
                args = (*command, "--out", target, "--home", home, *force)
                refused(
                    run_keepmum(*args, *stored_home.pass_arg("alice")), "inside the device home"
                )
    refused(
        run_keepmum(
            "export",
            "--member",
            "alice",
            "--out",
            link,
            "--home",
            home,
            "--force",
            *stored_home.pass_arg("alice"),
        ),
        "symbolic link",
    )
    assert link.is_symlink()
    verified = keepmum_ok(
        "vault",
        "verify",
        "--member",
        "alice",
        "--home",
        home,
        "--json",
        *stored_home.pass_arg("alice"),
    )
    assert verified.of("verify")[0]["ok"] is True
    after = snapshot(home)
    assert after[f"keys/{identity.name}"] == before[f"keys/{identity.name}"]


def test_play_out_is_private_and_overwrites_only_with_force(
    stored_home: StoredHome, tmp_path: Path
) -> None:
    out = tmp_path / "a.wav"
    rid, home = stored_home.alice[0], stored_home.home
    play = ("vault", "play", rid, "--out", out, "--home", home, *stored_home.pass_arg("alice"))
    keepmum_ok(*play)
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    wav = out.read_bytes()
    out.write_bytes(b"someone's file")
    out.chmod(0o644)
    refused(run_keepmum(*play), "already exists", "--force")
    assert out.read_bytes() == b"someone's file"
    keepmum_ok(*play, "--force")
    assert out.read_bytes() == wav
    assert stat.S_IMODE(out.stat().st_mode) == 0o600


@pytest.mark.parametrize("force", [False, True])
def test_export_never_writes_through_a_symbolic_link(
    stored_home: StoredHome, tmp_path: Path, force: bool
) -> None:
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me")
    link = tmp_path / "out.age"
    link.symlink_to(victim)
    refused(
        run_keepmum(
            "export",
            "--member",
            "alice",
            "--out",
            link,
            "--home",
            stored_home.home,
            *(["--force"] if force else []),
            *stored_home.pass_arg("alice"),
        ),
        "symbolic link",
    )
    assert victim.read_text() == "keep me"
