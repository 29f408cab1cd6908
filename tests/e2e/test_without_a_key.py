"""What holds without a key (issue 26), by the real CLI on real SQLite: the attacker writes
vault.db or removes audit.head, the clock is set back (faketime), config.toml is nested 1,100
deep, the disk is full (a small tmpfs), stdout is closed. Each test is one bar of the issue."""

from __future__ import annotations

import shutil
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from pyrage import x25519

from tests.conftest import require_tool
from tests.e2e.cloud_fixtures import grant_args
from tests.e2e.conftest import Result, keepmum_command, parse_json_lines, run_keepmum
from tests.e2e.test_vault_cli import one_line_error
from tests.e2e.test_vault_faults import _fill, _home_on, _mount_tmpfs, small_disk  # noqa: F401
from tests.e2e.vault_fixtures import (  # noqa: F401
    StoredHome,
    _stored_home,
    _stored_template,
    _wake_recording,
    init_home,
    keepmum_ok,
)

ATTACKER = str(x25519.Identity.generate().to_public())
NOWHERE = "http://127.0.0.1:9"
"""An endpoint nothing listens on: a send to it would show as upload_started / upload_failed."""


def _sql(home: Path, *statements: tuple[str, tuple[object, ...]]) -> None:
    raw = sqlite3.connect(home / "vault.db", isolation_level=None)
    try:
        for sql, args in statements:
            raw.execute(sql, args)
    finally:
        raw.close()


def _events(home: Path, event: str) -> list[dict[str, object]]:
    shown = keepmum_ok("audit", "show", "--home", home, "--event", event, "--json")
    return [e for e in shown.events if e.get("event") == event]


def _records(home: Path) -> list[str]:
    return [e["record"] for e in keepmum_ok("vault", "list", "--home", home, "--json").events]


def _queued(home: Path) -> int:
    raw = sqlite3.connect(home / "vault.db")
    try:
        return int(raw.execute("SELECT count(*) FROM upload_queue").fetchone()[0])
    finally:
        raw.close()


def _grant_to_attacker(stored_home: StoredHome, endpoint: str = NOWHERE) -> str:
    """Alice grants her first record to ``endpoint`` with the attacker's recipient; its id."""
    granted = keepmum_ok(
        *grant_args(
            stored_home.home,
            endpoint,
            stored_home.pass_arg("alice"),
            records=stored_home.alice[:1],
            recipient=ATTACKER,
            json_lines=True,
        )
    )
    return str(granted.events[0]["grant"])


# -- 1. a forged grant gets nothing ------------------------------------------------------------


def test_a_grant_row_inserted_into_vault_db_gets_nothing(stored_home: StoredHome) -> None:
    home = stored_home.home
    _sql(
        home,
        (
            "INSERT INTO consent_events (kind, grant_id, member, purpose, endpoint, recipient,"
            " scope, records, expires, at) VALUES ('grant', 'g-0badc0de', 'alice', 'p', ?, ?,"
            " 'all_future', '[]', NULL, ?)",
            (NOWHERE, ATTACKER, time.time()),  # after the members were made
        ),
    )
    replay = keepmum_ok("replay", "--home", home, "--json", stored_home.recording)
    assert replay.summary["stored"] >= 2  # the records are still stored for alice
    refused = replay.of("grant_refused", grant="g-0badc0de", stage="queue")
    assert len(refused) == replay.summary["stored"], replay
    assert _queued(home) == 0  # nothing encrypted to the attacker
    dry = keepmum_ok("upload", "--dry-run", "--home", home, "--json")
    assert [e for e in dry.events if "record" in e] == []
    sent = run_keepmum("upload", "--home", home, "--json")
    assert sent.returncode == 0 and _events(home, "upload_started") == [], sent
    (listed,) = keepmum_ok("consent", "list", "--home", home, "--json").events
    assert listed["grant"] == "g-0badc0de" and "no consent_granted entry" in listed["refused"]
    audited = _events(home, "grant_refused")
    assert {e["details"]["grant"] for e in audited} == {"g-0badc0de"}  # type: ignore[index]


def test_a_grant_whose_endpoint_was_changed_sends_nothing(stored_home: StoredHome) -> None:
    home = stored_home.home
    grant = _grant_to_attacker(stored_home, "http://127.0.0.1:8")
    _sql(
        home,
        ("DROP TRIGGER consent_events_no_update", ()),
        ("UPDATE consent_events SET endpoint = ? WHERE grant_id = ?", (NOWHERE, grant)),
    )
    dry = keepmum_ok("upload", "--dry-run", "--home", home, "--json")
    assert [e for e in dry.events if "record" in e and "event" not in e] == []
    (refused,) = dry.of("grant_refused", grant=grant, stage="upload")
    assert "endpoint differs" in str(refused["problem"])
    plain = keepmum_ok("upload", "--home", home)
    assert "NOT SENT, grant refused" in plain.stdout and grant in plain.stdout, plain
    assert _events(home, "upload_started") == [] and _events(home, "upload_failed") == []


# -- 2. an older vault.db restored with audit.head deleted ----------------------------------


def test_an_older_vault_restored_without_its_head_file_is_refused(
    stored_home: StoredHome, tmp_path: Path
) -> None:
    home = stored_home.home
    grant = _grant_to_attacker(stored_home)
    backup = tmp_path / "vault.db.bak"
    shutil.copy2(home / "vault.db", backup)
    keepmum_ok("consent", "revoke", grant, "--home", home)
    shutil.copy2(backup, home / "vault.db")  # the revoke is undone ...
    (home / "audit.head").unlink()  # ... and the file that would tell is gone
    for args in (
        ("consent", "list", "--json"),
        ("upload", "--dry-run", "--json"),
        ("upload", "--json"),
        ("vault", "list", "--json"),
        ("vault", "verify"),
        ("audit", "verify"),
        ("replay", "--json", str(stored_home.recording)),
    ):
        refused = run_keepmum(*args, "--home", home)
        one_line_error(refused, 2, "audit.head", "missing", "keepmum audit adopt-head")
        assert refused.events == [] and grant not in refused.stdout  # no grant shown live
    assert not (home / "audit.head").exists()
    # A real loss of the head file: adopt-head shows what it adopts, asks, and records it.
    asked = run_keepmum("audit", "adopt-head", "--home", home, input="n\n")
    assert asked.returncode == 1 and f"live grant {grant}" in asked.stdout, asked  # declined
    assert not (home / "audit.head").exists()
    adopted = keepmum_ok("audit", "adopt-head", "--yes", "--home", home, "--json")
    (shown,) = adopted.of("head_to_adopt")
    assert shown["live_grants"] == [grant]
    assert (home / "audit.head").exists()
    keepmum_ok("vault", "verify", "--home", home)
    assert len(_events(home, "head_adopted")) == 1
    again = run_keepmum("audit", "adopt-head", "--yes", "--home", home)
    one_line_error(again, 2, "no lost head to adopt")


# -- 3. a clock set back a day ---------------------------------------------------------------


def _faked(days_back: int, *args: str | Path) -> Result:
    faketime = require_tool("faketime")
    proc = subprocess.run(
        [faketime, "-f", f"-{days_back}d", *keepmum_command(), *map(str, args)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        stdin=subprocess.DEVNULL,
    )
    events, other = parse_json_lines(proc.stdout)
    return Result(tuple(map(str, args)), proc.returncode, proc.stdout, proc.stderr, events, other)


@pytest.mark.system
def test_a_clock_a_day_back_deletes_nothing(stored_home: StoredHome) -> None:
    home = stored_home.home
    before = _records(home)
    listed = _faked(1, "vault", "list", "--home", home, "--json")
    assert listed.returncode == 0, listed
    assert [e["record"] for e in listed.events] == before  # not "the vault is empty"
    (warning,) = listed.stderr.strip().splitlines()
    assert "before the latest time this vault has seen" in warning
    assert "vault purge --clock-is-right" in warning
    replay = _faked(1, "replay", "--home", home, "--json", stored_home.recording)
    assert replay.returncode == 0 and replay.summary["stored"] >= 2, replay
    after = _records(home)
    assert after[: len(before)] == before and len(after) == len(before) + replay.summary["stored"]
    assert _events(home, "expired") == []
    keepmum_ok("vault", "verify", "--home", home)


# -- 4. withdrawal always works ----------------------------------------------------------------

DEEP = "a = " + "[" * 1100 + "]" * 1100 + "\n"
MALFORMED = {
    "nested arrays": DEEP,
    "nested tables": "a = " + "{b = " * 1100 + "1" + "}" * 1100 + "\n",
    "nested value of a known key": "[vault]\nretention_h = " + "[" * 1100 + "]" * 1100 + "\n",
    "not TOML": "[vault\nretention_h = = 1\n",
    "not UTF-8": "retention_h = '\udcff'\n",
}


def test_revoke_delete_and_forget_work_with_a_config_nested_1100_deep(
    stored_home: StoredHome,
) -> None:
    home = stored_home.home
    grant = _grant_to_attacker(stored_home)
    (home / "config.toml").write_text(DEEP)
    for args in (
        ("consent", "revoke", grant),
        ("vault", "delete", stored_home.bob[0]),
        ("vault", "forget", "alice", "--yes"),
    ):
        done = run_keepmum(*args, "--home", home)
        assert done.returncode == 0, done
        (line,) = done.stderr.strip().splitlines()
        assert "nested too deeply" in line and "Traceback" not in done.stderr
    (home / "config.toml").unlink()
    (listed,) = keepmum_ok("consent", "list", "--home", home, "--json").events
    assert listed["grant"] == grant and listed["status"] == "revoked"  # not live afterwards
    assert _records(home) == stored_home.bob[1:]
    keepmum_ok("vault", "verify", "--home", home)


@pytest.mark.parametrize("kind", sorted(MALFORMED))
def test_a_malformed_config_is_one_line_for_every_command(
    stored_home: StoredHome, kind: str
) -> None:
    home = stored_home.home
    (home / "config.toml").write_bytes(MALFORMED[kind].encode("utf-8", "surrogateescape"))
    for args in (
        ("vault", "list"),
        ("member", "list"),
        ("upload", "--dry-run"),
        ("report",),
        ("config", "show"),
        ("replay", str(stored_home.recording)),
    ):
        one_line_error(run_keepmum(*args, "--home", home), 2, str(home / "config.toml"))


@pytest.mark.system
def test_init_refuses_a_disk_without_room_for_the_space_reserve(tmp_path: Path) -> None:
    disk = tmp_path / "tiny"
    _mount_tmpfs(disk, "2m")
    try:
        home = disk / "home"
        (tmp_path / "pw").write_text("alice's long passphrase\n")
        refused = run_keepmum(
            "init",
            "--member",
            "alice",
            "--passphrase-file",
            f"alice={tmp_path / 'pw'}",
            "--home",
            home,
        )
        one_line_error(refused, 2, "space reserve", "nothing was created")
        assert not home.exists()
    finally:
        subprocess.run(["umount", "-l", str(disk)], check=False)


@pytest.mark.system
def test_member_add_on_a_full_disk_is_one_line(
    stored_home: StoredHome,
    small_disk: Path,  # noqa: F811
    tmp_path: Path,
) -> None:
    home = _home_on(small_disk, stored_home)
    _fill(small_disk, leave_kib=0)
    (tmp_path / "carol").write_text("carol's long passphrase\n")
    added = run_keepmum(
        "member", "add", "carol", "--passphrase-file", f"carol={tmp_path / 'carol'}", "--home", home
    )
    one_line_error(added, 2, "disk is full")
    (small_disk / "filler").unlink()
    assert [e["member"] for e in keepmum_ok("member", "list", "--home", home, "--json").events] == [
        "alice",
        "bob",
    ]


@pytest.mark.system
def test_listing_members_and_records_works_on_a_completely_full_disk(
    stored_home: StoredHome,
    small_disk: Path,  # noqa: F811
) -> None:
    # They only read: no room for SQLite's WAL index must not stop them (nothing is purged).
    home = _home_on(small_disk, stored_home)
    _fill(small_disk, leave_kib=0)
    members = run_keepmum("member", "list", "--home", home, "--json")
    assert members.returncode == 0, members
    assert [e["member"] for e in members.events] == ["alice", "bob"]
    records = run_keepmum("vault", "list", "--home", home, "--json")
    assert records.returncode == 0, records
    listed = sorted(str(e["record"]) for e in records.events)
    assert listed == sorted(stored_home.alice + stored_home.bob)
    assert "disk is full" in records.stderr and "nothing purged" in records.stderr


# -- 5. the smaller items ----------------------------------------------------------------------


def _closed_stdout(*args: str | Path) -> subprocess.CompletedProcess[str]:
    """Run keepmum with file descriptor 1 closed, as ``keepmum ... >&-`` in a shell does."""
    return subprocess.run(
        ["bash", "-c", 'exec "$@" >&-', "bash", *keepmum_command(), *map(str, args)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        stdin=subprocess.DEVNULL,
    )


def test_json_with_stdout_closed_is_one_line_and_the_run_is_still_audited(
    stored_home: StoredHome,
) -> None:
    home = stored_home.home
    runs = len(_events(home, "run"))
    replay = _closed_stdout("replay", "--home", home, "--json", stored_home.recording)
    assert replay.returncode == 2 and "Traceback" not in replay.stderr, replay
    (line,) = replay.stderr.strip().splitlines()
    assert "standard output is closed" in line
    assert len(_events(home, "run")) == runs + 1  # the run's audit entry is written
    listed = _closed_stdout("vault", "list", "--home", home, "--json")
    assert listed.returncode == 2 and "Traceback" not in listed.stderr, listed
    assert "standard output is closed" in listed.stderr


PR_GET_DUMPABLE = 3
_DUMPABLE = (
    "import ctypes\ndef dumpable():\n    return ctypes.CDLL(None).prctl({get}, 0, 0, 0, 0)\n"
)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="prctl(2) is Linux's")
def test_the_process_is_not_dumpable(tmp_path: Path) -> None:
    # The CLI's own entry point, then what the kernel says about the process that ran it
    # (PR_GET_DUMPABLE: /proc/self/status does not show it): 0, so another process of the same
    # user cannot read its memory through /proc/PID/mem.
    report = tmp_path / "dumpable"
    code = _DUMPABLE.format(get=PR_GET_DUMPABLE) + (
        "import atexit, sim.cli\n"
        f"atexit.register(lambda: open({str(report)!r}, 'w').write(str(dumpable())))\n"
        "sim.cli.main(['--version'])\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done
    assert report.read_text() == "0"
    # ... while an ordinary Python process here is dumpable (the check can fail).
    plain = _DUMPABLE.format(get=PR_GET_DUMPABLE) + "print(dumpable())\n"
    ordinary = subprocess.run([sys.executable, "-c", plain], capture_output=True, text=True)
    assert ordinary.stdout.strip() == "1", ordinary
