"""Ctrl-C (SIGINT) and SIGTERM during ``replay`` and ``listen``: real processes, real signals.

The run must end cleanly: the utterance in hand decided, the ``run`` audit entry written, the
summary printed (``--json`` too), and the exit status 130 (SIGINT) or 143 (SIGTERM), with one
line on stderr and no traceback. No timing: ``replay -`` reads raw audio from a pipe the test
keeps open, so the process cannot end on its own; the signal is sent once it has reported a
wake, and more audio is written after it so that it is not blocked on an empty pipe.
"""

from __future__ import annotations

import json
import signal
import subprocess
import threading
from pathlib import Path

import pytest
import soundfile as sf

from tests.e2e.conftest import FIXTURES, finish, keepmum_command, run_keepmum, start_keepmum
from tests.e2e.test_listen_mic import pulse_mic, recording_streams, wait_for_new_stream
from tests.e2e.vault_fixtures import init_home

__all__ = ["pulse_mic"]  # the fixture, imported for the listen test

SCENARIO = FIXTURES / "household.wav"


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("interrupts")
    init_home(base / "home", base / "pass", members=("alice",))
    return base / "home"


def audit_runs(home: Path) -> list[dict[str, object]]:
    result = run_keepmum("audit", "show", "--home", home, "--event", "run", "--json")
    assert result.returncode == 0, str(result)
    return result.of("run")


@pytest.mark.parametrize(("signum", "status"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_a_signal_during_replay_ends_with_summary_audit_entry_and_its_status(
    home: Path, signum: signal.Signals, status: int
) -> None:
    pcm, _ = sf.read(SCENARIO, dtype="int16")
    raw = pcm.tobytes()
    runs_before = len(audit_runs(home))
    proc = subprocess.Popen(
        [*keepmum_command(), "replay", "--home", str(home), "--json", "-"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert proc.stdin is not None and proc.stdout is not None and proc.stderr is not None
    signalled = threading.Event()

    def feed() -> None:
        assert proc.stdin is not None
        try:
            proc.stdin.write(raw)
            proc.stdin.flush()
            signalled.wait(timeout=300)
            proc.stdin.write(raw)  # it must stop without the pipe ending
            proc.stdin.flush()
        except BrokenPipeError:
            pass

    feeder = threading.Thread(target=feed, daemon=True)
    feeder.start()
    lines: list[dict[str, object]] = []
    try:
        while not any(e.get("event") == "wake" for e in lines):
            line = proc.stdout.readline()
            assert line, f"keepmum ended before a wake: {proc.stderr.read().decode()}"
            lines.append(json.loads(line))
        proc.send_signal(signum)
        signalled.set()
        rest, err = proc.stdout.read(), proc.stderr.read().decode()
        code = proc.wait(timeout=300)
    finally:
        signalled.set()
        if proc.poll() is None:
            proc.kill()
        proc.stdin.close()
    lines += [json.loads(line) for line in rest.decode().splitlines() if line.strip()]
    assert code == status, err
    assert "Traceback" not in err
    assert len(err.strip().splitlines()) == 1 and signum.name in err, err
    summaries = [e for e in lines if e["event"] == "summary"]
    assert len(summaries) == 1, lines
    heard = float(summaries[0]["heard_s"])  # type: ignore[arg-type]
    assert 0 < heard < 2 * len(pcm) / 16000, summaries  # stopped before the pipe's audio ended
    runs = audit_runs(home)
    assert len(runs) == runs_before + 1
    assert runs[-1]["details"]["heard_s"] == pytest.approx(heard, abs=0.01)  # type: ignore[index]


@pytest.mark.parametrize(("signum", "status"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
@pytest.mark.usefixtures("pulse_mic")
def test_a_signal_during_listen_ends_with_summary_and_its_status(
    tmp_path: Path, signum: signal.Signals, status: int
) -> None:
    before = recording_streams()
    proc = start_keepmum("listen", "--json", "--no-store", home=tmp_path / "home")
    wait_for_new_stream(before, proc)
    proc.send_signal(signum)
    result = finish(proc, timeout=120)
    assert result.returncode == status, str(result)
    assert "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines() == [result.stderr.strip()]
    assert signum.name in result.stderr
    assert len(result.of("summary")) == 1 and result.summary["heard_s"] >= 0
