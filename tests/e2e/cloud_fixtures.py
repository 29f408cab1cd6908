"""Helpers for the consent end-to-end tests: the real ``keepmum cloud serve`` in a subprocess,
and reading what it received with the real ``keepmum cloud list``.

Fixtures use private names with ``name=`` (as in vault_fixtures), so modules import them plainly.
"""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from pyrage import passphrase as age_passphrase
from pyrage import x25519

from tests.e2e.conftest import ctrl_c_as_in_a_terminal, keepmum_command, run_keepmum
from tests.e2e.vault_fixtures import key_file

START_TIMEOUT_S = 60.0


@dataclass(frozen=True)
class Cloud:
    """A running ``keepmum cloud serve``: its URL, recipient and store folder."""

    url: str
    recipient: str
    store: Path
    proc: subprocess.Popen[str]
    before_serving: tuple[dict[str, Any], ...] = ()
    """The ``--json`` events it printed before ``serving``."""

    @property
    def token_file(self) -> Path:
        """The receiver's token.txt, which a device is given with its grant."""
        return self.store / "token.txt"

    @property
    def token(self) -> str:
        """The receiver's bearer token."""
        return self.token_file.read_text().strip()

    def received(self) -> list[dict[str, Any]]:
        """What ``keepmum cloud list --json`` shows (decrypted facts of every upload)."""
        result = run_keepmum("cloud", "list", "--store", self.store, "--json")
        assert result.returncode == 0, result
        return result.events


def start_cloud(store: Path, *extra: str | Path) -> Cloud:
    """Start the receiver on a free loopback port and wait for its ``serving`` line;
    ``extra``: more ``cloud serve`` options (``--tls-cert``, limits ...)."""
    command = [*keepmum_command(), "cloud", "serve", "--port", "0", "--store", str(store)]
    proc = subprocess.Popen(
        [*command, *map(str, extra), "--json"],
        preexec_fn=ctrl_c_as_in_a_terminal,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    # Read the raw pipe, not the text wrapper: lines it had buffered would not wake select.
    fd, pending, before = proc.stdout.fileno(), b"", []
    deadline = time.monotonic() + START_TIMEOUT_S
    while True:
        if b"\n" not in pending:
            ready, _, _ = select.select([fd], [], [], max(0.0, deadline - time.monotonic()))
            chunk = os.read(fd, 65536) if ready else b""
            if not chunk:
                proc.kill()
                _, err = proc.communicate()
                pytest.fail(f"keepmum cloud serve did not start: {err}")
            pending += chunk
            continue
        line, pending = pending.split(b"\n", 1)
        event = json.loads(line)
        if event["event"] == "serving":
            break
        before.append(event)
    assert not pending, pending  # nothing more is printed until an upload arrives
    assert event["url"].startswith(
        ("https://" if "--tls-cert" in extra else "http://") + "127.0.0.1:"
    )
    assert event["token_file"] == str(store / "token.txt")
    _TOKEN_FILES[event["url"]] = store / "token.txt"
    return Cloud(event["url"], event["recipient"], store, proc, tuple(before))


_TOKEN_FILES: dict[str, Path] = {}
"""Each receiver started by :func:`start_cloud`: its URL and token file, so that
:func:`grant_args` gives a grant to it the token, as its operator would."""


def stop_cloud(cloud: Cloud) -> None:
    cloud.proc.send_signal(signal.SIGINT)
    try:
        cloud.proc.communicate(timeout=20)
    except subprocess.TimeoutExpired:
        cloud.proc.kill()
        cloud.proc.communicate()


@pytest.fixture(name="cloud")
def _cloud(tmp_path: Path) -> Iterator[Cloud]:
    """A receiver with its own store, outside any device home."""
    cloud = start_cloud(tmp_path / "cloud-store")
    yield cloud
    stop_cloud(cloud)


def grant_args(
    home: Path,
    endpoint: str,
    pass_args: Sequence[str] = (),
    *,
    member: str = "alice",
    purpose: str = "p",
    records: Sequence[str] = (),
    all_future: bool = False,
    recipient: str | None = None,
    expires: str | None = None,
    json_lines: bool = False,
    token_file: Path | None = None,
) -> list[str | Path]:
    """The arguments of ``keepmum consent grant``: ``member`` grants ``purpose`` to
    ``endpoint`` (with its ``recipient``, else the endpoint's own), for the named ``records``
    and/or ``all_future`` ones, unlocking with ``pass_args`` (``--passphrase-file ...``).
    The receiver's ``token_file`` is given too (default: that of the receiver started at
    ``endpoint`` by :func:`start_cloud`, if any)."""
    args: list[str | Path] = ["consent", "grant", "--home", home, "--member", member]
    args += ["--purpose", purpose, "--endpoint", endpoint]
    token_file = token_file if token_file is not None else _TOKEN_FILES.get(endpoint)
    if token_file is not None:
        args += ["--endpoint-token-file", token_file]
    if recipient is not None:
        args += ["--recipient", recipient]
    for record in records:
        args += ["--record", record]
    if all_future:
        args.append("--all-future")
    if expires is not None:
        args += ["--expires", expires]
    args += pass_args
    if json_lines:
        args.append("--json")
    return args


def identity_file(home: Path, member: str, passphrase: str, dest: Path) -> Path:
    """The member's identity as a plain age identity file (what the member would keep),
    opened from ``HOME/keys/<member id>.identity.age`` with their passphrase."""
    sealed = key_file(home, member).read_bytes()
    text = age_passphrase.decrypt(sealed, passphrase).decode()
    dest.write_text(text)
    dest.chmod(0o600)
    return dest


def identities_in(folder: Path) -> list[x25519.Identity]:
    """Every plain age identity found in any file under ``folder`` (an attacker's sweep)."""
    found = []
    for path in folder.rglob("*"):
        if not path.is_file():
            continue
        for line in path.read_bytes().decode("latin-1").splitlines():
            if line.startswith("AGE-SECRET-KEY-"):
                found.append(x25519.Identity.from_str(line.strip()))
    return found
