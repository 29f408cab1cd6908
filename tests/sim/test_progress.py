"""Progress of long work shows on stderr only, never in ``--json`` output: bars on a terminal,
plain lines at each tenth for a long job (a stream) when stderr is a pipe, nothing for short
work on a pipe; a stream's progress counts seconds of audio."""

from __future__ import annotations

import io
import json
import os
import pty
import re
import select
import subprocess
import sys
from pathlib import Path

from rich.console import Console

from sim.commands._progress import ProgressDisplay
from sim.research.bench import _interleaved, bench_plan

DATA = Path(__file__).resolve().parents[2] / "sim" / "data"


def test_a_console_that_is_no_terminal_shows_nothing() -> None:
    sink = io.StringIO()
    display = ProgressDisplay(console=Console(file=sink))
    assert not display.enabled
    display.say("plan")
    with display.task("scoring", unit="s") as update:
        update(5, 10)
    with display.stages() as stage:
        stage("one", 1, 2)
    assert sink.getvalue() == ""


def test_a_terminal_shows_the_plan_and_the_bars() -> None:
    sink = io.StringIO()
    display = ProgressDisplay(console=Console(file=sink, force_terminal=True, width=100))
    assert display.enabled
    display.say("it will run: reference")
    with display.task("scoring the stream", unit="s") as update:
        update(12, 60)
    with display.stages() as stage:
        stage("far_4_phases", 3, 12)
    text = sink.getvalue()
    assert "it will run: reference" in text
    assert "scoring the stream" in text and "far_4_phases" in text


def test_the_decision_can_be_injected() -> None:
    sink = io.StringIO()
    display = ProgressDisplay(enabled=False, console=Console(file=sink, force_terminal=True))
    display.say("hidden")
    assert sink.getvalue() == ""


def test_bench_runs_report_each_turn_and_the_plan_names_every_stage() -> None:
    ticks: list[tuple[int, int]] = []
    medians = _interleaved(
        2, {"a": lambda: 1.0, "b": lambda: 3.0}, lambda d, t: ticks.append((d, t))
    )
    assert medians == {"a": 1.0, "b": 3.0}
    assert ticks == [(1, 4), (2, 4), (3, 4), (4, 4)]
    plan = bench_plan(20.0, 0.5, 2, 1)
    names = ", ".join(name for name, _ in plan)
    for measurement in ("device", "far_4_phases", "batch_2_workers", "replay_memory"):
        assert measurement in names
    assert all(seconds > 0 for _, seconds in plan)
    # Longer audio, longer estimates.
    assert sum(s for _, s in bench_plan(200.0, 0.5, 2, 1)) > sum(s for _, s in plan)


def _stream_args(tmp_path: Path) -> list[str]:
    labels = tmp_path / "household.labels.jsonl"
    labels.write_text('{"start_s": 2.0, "end_s": 2.6}\n')
    shim = "import sys; from sim.cli import main; main(sys.argv[1:])"
    return [
        sys.executable,
        "-c",
        shim,
        "far",
        "--stream",
        str(DATA / "household.wav"),
        "--labels",
        str(labels),
        "--thresholds",
        "0.5",
        "--no-cache",
        "--json",
        "--home",
        str(tmp_path / "home"),
    ]


def test_far_stream_progress_goes_to_a_terminal_stderr_in_seconds(tmp_path: Path) -> None:
    primary, secondary = pty.openpty()
    env = {**os.environ, "COLUMNS": "120", "TERM": "xterm"}
    process = subprocess.Popen(
        _stream_args(tmp_path), stdout=subprocess.PIPE, stderr=secondary, env=env
    )
    os.close(secondary)
    seen = b""
    while True:
        ready, _, _ = select.select([primary], [], [], 120)
        if not ready:
            break
        try:
            chunk = os.read(primary, 4096)
        except OSError:  # the child closed its end
            break
        if not chunk:
            break
        seen += chunk
    stdout, _ = process.communicate(timeout=120)
    os.close(primary)
    assert process.returncode == 0, seen.decode(errors="replace")
    text = seen.decode(errors="replace")
    assert "scoring the stream" in text
    assert re.search(r"\d+/5\d s", text), text  # seconds of the 53 s recording, not files
    lines = stdout.decode().splitlines()
    assert lines and all(json.loads(line)["threshold"] == 0.5 for line in lines)


def test_far_stream_reports_plain_lines_without_a_terminal(tmp_path: Path) -> None:
    done = subprocess.run(_stream_args(tmp_path), capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    progress = [x for x in done.stderr.splitlines() if x.startswith("keepmum: scoring")]
    assert progress, done.stderr
    assert all(re.fullmatch(r"keepmum: scoring the stream: \d+0 % \(.*\)", x) for x in progress)
    assert progress[-1].startswith("keepmum: scoring the stream: 100 %")
    assert "\r" not in done.stderr and "━" not in done.stderr  # plain lines, no bar
    assert "scoring" not in done.stdout
    assert all(json.loads(line) for line in done.stdout.splitlines())
