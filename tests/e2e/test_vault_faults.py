"""The vault under faults and mistakes (issue 10.2, 10.4, 10.5, 9.2): a one-off retention, a
``vault verify`` racing a storing replay, a full disk (a small tmpfs), a read-only home (a
read-only remount), a broken config.toml, and erasure reaching the receiver. Real CLI, real
SQLite, real mounts (root; in CI a missing mount fails, it does not skip)."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import soundfile as sf

from tests.conftest import require_system
from tests.e2e.cloud_fixtures import Cloud, _cloud, grant_args  # noqa: F401
from tests.e2e.conftest import finish, keepmum_command, run_keepmum, start_keepmum
from tests.e2e.test_listen_mic import (  # noqa: F401
    NULL_SINK,
    pulse_mic,
    recording_streams,
    wait_for_new_stream,
    with_lead_silence,
)
from tests.e2e.vault_fixtures import (  # noqa: F401
    StoredHome,
    _stored_home,
    _stored_template,
    _wake_recording,
    keepmum_ok,
    plaintext_finder,
)


def _assert_no_plaintext_on(disk: Path, stored: StoredHome) -> None:
    """Nothing of the recording in the clear anywhere on the disk but the filler (the test's
    own megabytes of zeros, not worth hashing)."""
    find = plaintext_finder(stored.pcm)
    for path in disk.rglob("*"):
        if path.is_file() and path.name != "filler":
            assert find(path.read_bytes()) == [], path


def _records(home: Path) -> list[str]:
    return [e["record"] for e in keepmum_ok("vault", "list", "--home", home, "--json").events]


def _mount_tmpfs(folder: Path, size: str) -> None:
    folder.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder)],
        capture_output=True,
        text=True,
    )
    require_system(
        done.returncode == 0,
        f"`mount -t tmpfs` (root) for a small file system ({done.stderr.strip()})",
    )


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """An 8 MiB tmpfs, unmounted afterwards."""
    disk = tmp_path / "disk"
    _mount_tmpfs(disk, "8m")
    yield disk
    subprocess.run(["umount", "-l", str(disk)], check=False)


def _home_on(disk: Path, stored: StoredHome) -> Path:
    home = disk / "home"
    shutil.copytree(stored.home, home)
    home.chmod(0o700)
    return home


def _fill(disk: Path, leave_kib: int) -> None:
    import os

    st = os.statvfs(disk)
    free_kib = st.f_bavail * st.f_frsize // 1024
    with (disk / "filler").open("wb") as fh:
        fh.write(bytes(max(0, free_kib - leave_kib) * 1024))


def test_a_one_off_retention_zero_deletes_nothing_already_kept(stored_home: StoredHome) -> None:
    home = stored_home.home
    before = _records(home)
    assert len(before) >= 4
    run = keepmum_ok(
        "replay", "--home", home, "--retention-h", "0", "--json", stored_home.recording
    )
    assert run.summary["stored"] == 0 and run.summary["wakes"] >= 1
    assert _records(home) == before
    # Shrinking retention of what is kept is explicit: it says what, and asks.
    asked = run_keepmum("vault", "purge", "--home", home, "--older-than-h", "0", input="n\n")
    assert asked.returncode == 1 and f"{len(before)} record(s)" in asked.stdout, asked
    assert "not confirmed; nothing was changed" in asked.stderr
    assert _records(home) == before
    purged = keepmum_ok("vault", "purge", "--home", home, "--older-than-h", "0", "--yes", "--json")
    assert sorted(e["record"] for e in purged.of("would_delete")) == sorted(before)
    assert _records(home) == []
    keepmum_ok("vault", "verify", "--home", home)


def test_verify_during_a_storing_replay_never_reports_a_false_defect(
    stored_home: StoredHome,
) -> None:
    home = stored_home.home
    replay = subprocess.Popen(
        [
            *keepmum_command(),
            "replay",
            "--home",
            str(home),
            "--json",
            *[str(stored_home.recording)] * 4,
        ],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    verifies = []
    while replay.poll() is None:
        verifies.append(run_keepmum("vault", "verify", "--home", home, "--json", timeout=120))
    done = finish(replay)
    assert done.returncode == 0, done
    assert done.summary["stored"] >= 4
    assert len(verifies) >= 2
    for v in verifies:
        assert v.returncode == 0 and v.events[-1]["ok"] is True, v
    failed = keepmum_ok("audit", "show", "--home", home, "--event", "verification_failed", "--json")
    assert [e for e in failed.events if e.get("event") == "verification_failed"] == []


def test_a_full_disk_stops_storing_clearly_and_erasure_still_works(
    stored_home: StoredHome, small_disk: Path
) -> None:
    home = _home_on(small_disk, stored_home)
    before = _records(home)
    # A consent to withdraw later (no network: the recipient is given).
    recipient = keepmum_ok("member", "list", "--home", home, "--json").events[0]["recipient"]
    grant = keepmum_ok(
        *grant_args(
            home,
            "http://127.0.0.1:9",
            stored_home.pass_arg("alice"),
            all_future=True,
            recipient=recipient,
            json_lines=True,
        )
    )
    _fill(small_disk, leave_kib=80)

    run = run_keepmum("replay", "--home", home, "--json", stored_home.recording)
    assert run.returncode == 2, run
    assert "Traceback" not in run.stderr and "disk is full" in run.stderr
    assert run.summary["wakes"] >= 3 and run.summary["stored"] == 0  # it kept listening
    assert _records(home) == before  # nothing lost
    keepmum_ok("vault", "verify", "--home", home)
    _assert_no_plaintext_on(small_disk, stored_home)

    # The commands that free space work on the full disk.
    keepmum_ok("consent", "revoke", grant.events[0]["grant"], "--home", home)
    keepmum_ok("vault", "delete", before[0], "--home", home)
    keepmum_ok("vault", "forget", "bob", "--yes", "--home", home)
    keepmum_ok("vault", "purge", "--older-than-h", "0", "--yes", "--home", home)
    assert _records(home) == []
    keepmum_ok("vault", "verify", "--home", home)
    keepmum_ok("audit", "verify", "--home", home)


@pytest.mark.usefixtures("pulse_mic")
def test_listen_on_a_full_disk_keeps_listening_and_loses_nothing(
    stored_home: StoredHome, small_disk: Path, tmp_path: Path
) -> None:
    """The live path as the replay above: the microphone keeps being heard after the first
    failed store, the run ends with one line and exit 2, what was kept is intact."""
    home = _home_on(small_disk, stored_home)
    before = _records(home)
    _fill(small_disk, leave_kib=80)
    played = with_lead_silence(stored_home.recording, tmp_path / "played.wav")
    listen_s = round(sf.info(played).duration) + 10
    streams = recording_streams()
    proc = start_keepmum("listen", "--home", home, "--duration", str(listen_s), "--json")
    try:
        wait_for_new_stream(streams, proc)
        subprocess.run(["paplay", f"--device={NULL_SINK}", str(played)], check=True, timeout=120)
    finally:
        run = finish(proc, timeout=listen_s + 120)
    assert run.returncode == 2, run
    assert "Traceback" not in run.stderr and "disk is full" in run.stderr, run
    assert run.summary["heard_s"] == pytest.approx(listen_s, abs=0.5)
    assert run.summary["wakes"] >= 2 and run.summary["stored"] == 0, run  # it kept listening
    assert _records(home) == before
    keepmum_ok("vault", "verify", "--home", home)
    _assert_no_plaintext_on(small_disk, stored_home)


def test_a_read_only_home_allows_the_read_only_commands(
    stored_home: StoredHome, tmp_path: Path
) -> None:
    disk = tmp_path / "ro"
    _mount_tmpfs(disk, "16m")
    try:
        home = _home_on(disk, stored_home)
        before = _records(home)
        remount = subprocess.run(
            ["mount", "-o", "remount,ro", str(disk)], capture_output=True, text=True
        )
        require_system(remount.returncode == 0, f"a read-only remount ({remount.stderr})")
        assert _records(home) == before
        verified = keepmum_ok("vault", "verify", "--home", home, "--json")
        assert verified.events[-1]["ok"] is True
        keepmum_ok("report", "--home", home, "--json")
        keepmum_ok("audit", "show", "--home", home, "--json")
        keepmum_ok("audit", "verify", "--home", home)
        keepmum_ok("consent", "list", "--home", home, "--json")
        # These only read too (issue 26): they worked only on a writable home.
        members = keepmum_ok("member", "list", "--home", home, "--json").events
        assert [m["member"] for m in members] == ["alice", "bob"]
        keepmum_ok("upload", "--dry-run", "--home", home, "--json")
        refused = run_keepmum("vault", "delete", before[0], "--home", home)
        assert refused.returncode == 2 and "Traceback" not in refused.stderr, refused
        assert len(refused.stderr.strip().splitlines()) == 1
    finally:
        subprocess.run(["umount", "-l", str(disk)], check=False)


def test_withdrawal_works_with_a_broken_config(stored_home: StoredHome, cloud: Cloud) -> None:
    home = stored_home.home
    sent = stored_home.alice[0]
    grant = keepmum_ok(
        *grant_args(home, cloud.url, stored_home.pass_arg("alice"), records=[sent], json_lines=True)
    ).events[0]["grant"]
    keepmum_ok("upload", "--home", home, "--json")
    assert [r["record"] for r in cloud.received()] == [sent]
    held = _records(home)
    (home / "config.toml").write_text("[vault\nretention_h = = 1\n")
    keepmum_ok("consent", "revoke", grant, "--home", home)
    # Forgetting alice reaches the receiver: it erases and confirms (GDPR art. 17(2)).
    forgot = keepmum_ok("vault", "forget", "alice", "--yes", "--home", home, "--json")
    (confirmed,) = forgot.of("erasure_confirmed")
    assert confirmed["endpoint"] == cloud.url and confirmed["records"] == [sent]
    assert cloud.received() == []
    (home / "config.toml").unlink()
    left = _records(home)
    assert left == [r for r in held if r in stored_home.bob]  # bob's untouched
    audit = keepmum_ok("audit", "show", "--home", home, "--json").events
    assert [e["event"] for e in audit if e.get("event", "").startswith("erasure_")] == [
        "erasure_requested",
        "erasure_confirmed",
    ]
