"""No plaintext secret key in a device home, whatever the user does: init, replay, a receiver
started with its defaults, grants, upload, and a secret key pasted where a recipient belongs.

The receiver (`keepmum cloud serve`) is another party: its identity lives in its own folder,
never in the device home, so nothing in the home can read back what was sent.
"""

from __future__ import annotations

import json
import os
import select
import signal
import stat
import subprocess
from pathlib import Path

import pytest
from pyrage import x25519

from sim.cloud import CloudStore
from tests.e2e.cloud_fixtures import Cloud, _cloud, grant_args, identities_in  # noqa: F401
from tests.e2e.conftest import ctrl_c_as_in_a_terminal, keepmum_command, run_keepmum
from tests.e2e.vault_fixtures import (  # noqa: F401
    StoredHome,
    _stored_home,
    _stored_template,
    _wake_recording,
    keepmum_ok,
    stored_ids,
)

SECRET_MARKER = b"age-secret-key-1"
"""Lower-cased: Bech32 is case-insensitive, so either case of a key is the key."""


def _files_with_secret_keys(folder: Path) -> list[str]:
    """Every file under ``folder`` holding anything that starts like an age secret key."""
    found = []
    for path in folder.rglob("*"):
        if path.is_file() and SECRET_MARKER in path.read_bytes().lower():
            found.append(str(path))
    return found


def test_a_mistaken_secret_recipient_is_refused_and_recorded_nowhere(
    stored_home: StoredHome, cloud: Cloud, tmp_path: Path
) -> None:
    home = stored_home.home
    secret = str(x25519.Identity.generate())
    alice = stored_home.pass_arg("alice")
    # The real flow first: grants (one record, all future), a replay under the all-future
    # grant, an upload to a receiver outside the home.
    keepmum_ok(*grant_args(home, cloud.url, alice, records=[stored_home.alice[0]]))
    keepmum_ok(*grant_args(home, cloud.url, alice, all_future=True))
    assert stored_ids(keepmum_ok("replay", "--home", home, "--json", stored_home.recording))
    sent = keepmum_ok("upload", "--home", home, "--json")
    assert len(sent.events) >= 2 and len(cloud.received()) == len(sent.events)

    # The -r/-i mix-up, in both places that take a recipient, in both letter cases.
    for value in (secret, secret.lower()):
        attempts = [
            (
                "export",
                "--home",
                home,
                "--member",
                "alice",
                "--out",
                tmp_path / "x.age",
                "--recipient",
                value,
                *alice,
            ),
            grant_args(home, cloud.url, alice, all_future=True, recipient=value),
        ]
        for args in attempts:
            result = run_keepmum(*args)
            assert result.returncode == 2, result
            assert "secret key" in result.stderr and "Traceback" not in result.stderr
            assert value.lower() not in (result.stdout + result.stderr).lower()
    assert not (tmp_path / "x.age").exists()

    audit = keepmum_ok("audit", "show", "--home", home, "--json")
    assert secret.lower() not in audit.stdout.lower()
    assert not any(e.get("event") == "export_refused" for e in audit.events)
    assert _files_with_secret_keys(home) == []
    assert identities_in(home) == []
    # The receiver's folder, by contrast, holds its own identity: 0600 in 0700, outside home.
    assert not cloud.store.is_relative_to(home)
    identity = cloud.store / "identity.txt"
    assert stat.S_IMODE(identity.stat().st_mode) == 0o600
    assert stat.S_IMODE(cloud.store.stat().st_mode) == 0o700


def test_cloud_list_out_writes_private_wavs(
    stored_home: StoredHome, cloud: Cloud, tmp_path: Path
) -> None:
    home = stored_home.home
    keepmum_ok(
        *grant_args(home, cloud.url, stored_home.pass_arg("alice"), records=[stored_home.alice[0]])
    )
    keepmum_ok("upload", "--home", home)
    out = tmp_path / "decrypted"
    listed = keepmum_ok("cloud", "list", "--data", cloud.store, "--out", out, "--json")
    (item,) = listed.events
    wav = Path(item["file"])
    assert wav.parent == out and wav.read_bytes()[:4] == b"RIFF"
    assert stat.S_IMODE(wav.stat().st_mode) == 0o600
    assert stat.S_IMODE(out.stat().st_mode) == 0o700


def test_cloud_serve_defaults_outside_the_device_home_and_without_core_dumps(
    tmp_path: Path,
) -> None:
    home = tmp_path / "data" / "keepmum"
    env = {k: v for k, v in os.environ.items() if k != "KEEPMUM_CLOUD_DATA"}
    # PYTHONFAULTHANDLER: a receiver that does not stop on SIGINT is sent SIGABRT below and
    # prints every thread's stack, instead of a bare timeout hiding the first failure.
    env.update(KEEPMUM_HOME=str(home), XDG_DATA_HOME=str(tmp_path / "data"), PYTHONFAULTHANDLER="1")
    proc = subprocess.Popen(
        [*keepmum_command(), "cloud", "serve", "--port", "0", "--json"],
        env=env,
        preexec_fn=ctrl_c_as_in_a_terminal,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    line = ""
    try:
        assert proc.stdout is not None
        ready, _, _ = select.select([proc.stdout], [], [], 60)
        line = proc.stdout.readline() if ready else ""
        assert line, "keepmum cloud serve did not start within 60 s"
        serving = json.loads(line)
        limits = Path(f"/proc/{proc.pid}/limits").read_text()
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            proc.send_signal(signal.SIGABRT)
            _, stacks = proc.communicate(timeout=30)
            started = "after it started" if line else "before it started"
            pytest.fail(f"cloud serve ignored SIGINT for 30 s ({started}):\n{stacks}")
    store = Path(serving["store"])
    assert store == tmp_path / "data" / "keepmum-cloud"
    assert not store.is_relative_to(home) and not home.exists()
    assert (store / "identity.txt").exists()
    (core,) = [ln for ln in limits.splitlines() if ln.startswith("Max core file size")]
    assert core.split()[4:6] == ["0", "0"], core


@pytest.mark.parametrize("mode", [0o640, 0o604])
def test_a_receiver_identity_others_can_read_is_refused(tmp_path: Path, mode: int) -> None:
    store = tmp_path / "cloud"
    CloudStore(store)
    (store / "identity.txt").chmod(mode)
    result = run_keepmum("cloud", "list", "--data", store)
    assert result.returncode == 2, result
    assert "identity" in result.stderr and "chmod 600" in result.stderr
