"""Nothing leaves without consent, proven at the system-call level: a full replay that stores
runs with no network at all (``unshare -n``) and makes no internet connection (``strace``); with
a grant, ``keepmum upload`` connects to the grant's endpoint on 127.0.0.1 and nowhere else."""

from __future__ import annotations

import re
import socket
import subprocess
import sys
from pathlib import Path

from tests.conftest import require_system, require_tool
from tests.e2e.cloud_fixtures import Cloud, _cloud, grant_args  # noqa: F401
from tests.e2e.conftest import keepmum_command, parse_json_lines
from tests.e2e.vault_fixtures import (  # noqa: F401
    StoredHome,
    _stored_home,
    _stored_template,
    _wake_recording,
    keepmum_ok,
)

# Calls that can put bytes on a network: connect, and datagrams sent without connecting.
TRACED = "trace=connect,sendto,sendmsg,sendmmsg"
_INET = re.compile(r"sa_family=AF_INET6?\b")
_ADDR = re.compile(
    r'sin6?_port=htons\((\d+)\).*?(?:inet_addr\("([^"]+)"\)|inet_pton\(AF_INET6?, '
    r'"([^"]+)")'
)


def _strace(tmp_path: Path, argv: list[str]) -> tuple[subprocess.CompletedProcess[str], list[str]]:
    """Run ``argv`` under strace; return it and the traced lines that name an internet address."""
    strace = require_tool("strace")
    log = tmp_path / f"strace-{len(list(tmp_path.glob('strace-*')))}.txt"
    proc = subprocess.run(
        [strace, "-f", "-qq", "-e", TRACED, "-o", str(log), *argv],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    lines = log.read_text().splitlines() if log.exists() else []
    return proc, [ln for ln in lines if _INET.search(ln)]


def _strace_sees_connections(tmp_path: Path) -> None:
    """Control: strace here does report an AF_INET connect (else the tests below prove nothing)."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        port = listener.getsockname()[1]
        code = f"import socket; socket.create_connection(('127.0.0.1', {port})).close()"
        proc, inet = _strace(tmp_path, [sys.executable, "-c", code])
    require_system(proc.returncode == 0, f"a working strace (ptrace), got: {proc.stderr[-300:]}")
    assert any(f"htons({port})" in ln for ln in inet), inet


def test_replay_that_stores_needs_no_network(stored_home: StoredHome) -> None:
    unshare = require_tool("unshare")
    probe = subprocess.run([unshare, "-n", "true"], capture_output=True, text=True, check=False)
    require_system(
        probe.returncode == 0,
        f"`unshare -n` (network namespaces; root or user namespaces): {probe.stderr}",
    )
    proc = subprocess.run(
        [
            unshare,
            "-n",
            *keepmum_command(),
            "replay",
            "--home",
            str(stored_home.home),
            "--json",
            str(stored_home.recording),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    events, other = parse_json_lines(proc.stdout)
    assert [e for e in events if e.get("event") == "stored"], proc.stdout
    assert other == []


def test_replay_makes_no_internet_connection(stored_home: StoredHome, tmp_path: Path) -> None:
    _strace_sees_connections(tmp_path)
    proc, inet = _strace(
        tmp_path,
        [
            *keepmum_command(),
            "replay",
            "--home",
            str(stored_home.home),
            "--json",
            str(stored_home.recording),
        ],
    )
    assert proc.returncode == 0, proc.stderr
    events, _ = parse_json_lines(proc.stdout)
    assert [e for e in events if e.get("event") == "stored"]
    assert inet == []


def test_upload_connects_only_to_the_grants_endpoint(
    stored_home: StoredHome, cloud: Cloud, tmp_path: Path
) -> None:
    _strace_sees_connections(tmp_path)
    home = stored_home.home
    keepmum_ok(
        *grant_args(home, cloud.url, stored_home.pass_arg("alice"), records=[stored_home.alice[0]])
    )
    proc, inet = _strace(tmp_path, [*keepmum_command(), "upload", "--home", str(home), "--json"])
    assert proc.returncode == 0, proc.stderr
    events, _ = parse_json_lines(proc.stdout)
    assert [e["record"] for e in events] == [stored_home.alice[0]]
    port = int(cloud.url.rsplit(":", 1)[1])
    targets = set()
    for line in inet:
        found = _ADDR.search(line)
        assert found, f"unparsed network call: {line}"
        targets.add((found.group(2) or found.group(3), int(found.group(1))))
    assert targets == {("127.0.0.1", port)}
