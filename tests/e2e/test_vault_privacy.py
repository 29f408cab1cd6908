"""What a stolen device yields: no plaintext audio in any file, and no way to decrypt a record
once the member's identity is out of reach."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pyrage
from pyrage import x25519

from tests.conftest import require_tool
from tests.e2e.cloud_fixtures import grant_args
from tests.e2e.conftest import DEFAULT_TIMEOUT_S, Result, keepmum_command, run_keepmum
from tests.e2e.vault_fixtures import (  # noqa: F401
    PASSPHRASES,
    StoredHome,
    _stored_home,
    _stored_template,
    _unlocked,
    _wake_recording,
    ciphertext,
    init_home,
    keepmum_ok,
    key_file,
    scan_for_plaintext,
    stored_ids,
)

Unlocked = Callable[[str], x25519.Identity]


def test_the_scanner_finds_what_it_looks_for(
    wake_recording: tuple[Path, np.ndarray], tmp_path: Path
) -> None:
    path, pcm = wake_recording
    shutil.copy(path, tmp_path / "copy.wav")
    (tmp_path / "odd.bin").write_bytes(b"\x07" + pcm[20000:20064].tobytes() + b"\x07")
    (tmp_path / "short.bin").write_bytes(pcm[20000:20031].tobytes())  # < 32 samples: no
    hits = scan_for_plaintext([tmp_path], pcm)
    assert set(hits) == {str(tmp_path / "copy.wav"), str(tmp_path / "odd.bin")}


def test_no_plaintext_audio_on_disk_after_storing(
    tmp_path: Path, wake_recording: tuple[Path, np.ndarray]
) -> None:
    recording, pcm = wake_recording
    home, tmp = tmp_path / "home", tmp_path / "tmp"
    tmp.mkdir()
    init_home(home, tmp_path / "pass", members=("alice",))
    env = {"TMPDIR": str(tmp), "TEMP": str(tmp), "TMP": str(tmp)}
    result = keepmum_ok("replay", "--home", home, "--json", recording, env=env)
    assert len(result.of("stored")) >= 2
    # Also after deleting one (freed pages), and with the WAL still holding recent frames.
    keepmum_ok("vault", "delete", result.of("stored")[0]["record"], "--home", home, env=env)
    keepmum_ok("replay", "--home", home, "--json", recording, env=env)
    assert scan_for_plaintext([home, tmp], pcm) == {}


def test_the_device_cannot_read_back_without_the_identity(
    stored_home: StoredHome, tmp_path: Path, unlocked: Unlocked
) -> None:
    home = stored_home.home
    away = tmp_path / "usb-stick"
    away.mkdir()
    shutil.move(key_file(home, "alice"), away / "alice.identity.age")
    rid = stored_home.alice[0]
    out = tmp_path / "out"
    out.mkdir()
    attempts: list[Result] = [
        run_keepmum(
            "vault", "play", rid, "--out", out / "a.wav", "--home", home, *stored_home.pass_args
        ),
        run_keepmum("vault", "verify", "--member", "alice", "--home", home, *stored_home.pass_args),
        run_keepmum(
            "export",
            "--member",
            "alice",
            "--out",
            out / "export.age",
            "--home",
            home,
            *stored_home.pass_args,
        ),
        run_keepmum(
            *grant_args(
                home,
                "http://127.0.0.1:9",
                stored_home.pass_args,
                purpose="x",
                records=[rid],
                recipient=str(x25519.Identity.generate().to_public()),
            )
        ),
    ]
    for attempt in attempts:
        assert attempt.returncode == 2, attempt
        assert "Traceback" not in attempt.stderr, attempt
    assert all("no identity for member 'alice'" in a.stderr for a in attempts), attempts
    assert list(out.iterdir()) == []
    # Nothing left on the device holds a secret key in the clear ...
    everything = b"".join(p.read_bytes() for p in home.rglob("*") if p.is_file())
    assert b"AGE-SECRET-KEY" not in everything
    assert str(unlocked("alice")).encode() not in everything
    # ... while bob, whose identity is still there, can read his.
    keepmum_ok(
        "vault",
        "play",
        stored_home.bob[0],
        "--out",
        out / "b.wav",
        "--home",
        home,
        *stored_home.pass_args,
    )
    # The identity, once brought back, still opens the record (it was only out of reach).
    wav = pyrage.decrypt(ciphertext(home, rid), [unlocked("alice")])
    assert wav[:4] == b"RIFF"


def _bound_by_file_modes() -> list[str]:
    """The command prefix that makes keepmum obey file modes.

    Root reads any file whatever its mode (and CI runs as root): there keepmum runs still as
    root but without the two capabilities that bypass modes (util-linux's setpriv drops them from
    the bounding set, so the exec'd process never has them)."""
    if os.geteuid() != 0:
        return []
    caps = "-dac_override,-dac_read_search"
    return [require_tool("setpriv"), f"--bounding-set={caps}", f"--inh-caps={caps}"]


def test_an_unreadable_identity_is_not_read(stored_home: StoredHome, tmp_path: Path) -> None:
    key_file(stored_home.home, "alice").chmod(0o000)
    out = tmp_path / "out"
    out.mkdir()

    def play(record: str, name: str) -> subprocess.CompletedProcess[str]:
        command = [*keepmum_command(), "vault", "play", record, "--out", str(out / name)]
        home = ["--home", str(stored_home.home), *stored_home.pass_args]
        return subprocess.run(
            [*_bound_by_file_modes(), *command, *home],
            capture_output=True,
            text=True,
            timeout=DEFAULT_TIMEOUT_S,
            check=False,
        )

    # Control: the same process setup plays bob's record, whose identity is readable.
    assert play(stored_home.bob[0], "b.wav").returncode == 0
    refused = play(stored_home.alice[0], "a.wav")
    assert refused.returncode == 2, refused
    assert "Traceback" not in refused.stderr
    lines = refused.stderr.strip().splitlines()
    assert len(lines) == 1 and "cannot read the identity of member 'alice'" in lines[0], lines
    assert sorted(p.name for p in out.iterdir()) == ["b.wav"]
