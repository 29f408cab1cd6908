"""Helpers for end-to-end tests: run the real ``keepmum`` command and read its ``--json`` lines.

End-to-end tests never import the product: they run the installed console script in a
subprocess, exactly as a tester or a CI job would, and judge it by its exit status, its stderr
and the JSON objects it prints one per line (DESIGN.md, "Command-line contract").

Use the ``keepmum`` fixture (a :func:`run_keepmum` whose ``home`` defaults to a fresh folder
under ``tmp_path``), or call :func:`run_keepmum` directly. The committed audio fixtures made by
``scripts/make_fixtures.py`` are described by :func:`fixture_manifest`.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
FIXTURES = REPO / "sim" / "data"
"""The committed audio fixtures (scripts/make_fixtures.py writes them)."""
DEFAULT_TIMEOUT_S = 300.0
"""Upper bound for one command: a hung subprocess fails the test instead of hanging CI."""


@dataclass(frozen=True)
class Result:
    """What one run of ``keepmum`` did."""

    args: tuple[str, ...]
    returncode: int
    stdout: str
    stderr: str
    events: list[dict[str, Any]] = field(default_factory=list)
    """Every stdout line that is a JSON object, in order."""
    other_lines: list[str] = field(default_factory=list)
    """Non-empty stdout lines that are not JSON objects (a ``--json`` run should have none)."""

    def of(self, event: str, **match: Any) -> list[dict[str, Any]]:
        """The events named ``event`` whose fields equal every ``match`` value."""
        return [
            e
            for e in self.events
            if e.get("event") == event and all(e.get(k) == v for k, v in match.items())
        ]

    @property
    def summary(self) -> dict[str, Any]:
        """The final ``summary`` event (fails the test when there is none)."""
        found = self.of("summary")
        assert found, f"no summary event in the output of keepmum {' '.join(self.args)}\n{self}"
        return found[-1]

    def __str__(self) -> str:
        return (
            f"$ keepmum {' '.join(self.args)}\n-> exit {self.returncode}\n"
            f"--- stdout ---\n{self.stdout[-4000:]}\n--- stderr ---\n{self.stderr[-4000:]}"
        )


def keepmum_command() -> list[str]:
    """The command that runs the installed ``keepmum`` of this interpreter's environment."""
    beside = Path(sys.executable).with_name("keepmum")
    if beside.exists():
        return [str(beside)]
    on_path = shutil.which("keepmum")
    if on_path:
        return [on_path]
    return [sys.executable, "-c", "import sim.cli; sim.cli.main()"]


def ctrl_c_as_in_a_terminal() -> None:
    """``preexec_fn`` of a child the test stops with SIGINT: SIGINT back to its default.

    A shell without job control (a CI script running a command in the background) starts it
    with SIGINT ignored, children inherit that, and Python then installs no KeyboardInterrupt
    handler: ``keepmum cloud serve`` would never see the test's Ctrl-C. A user's terminal gives
    it the default, as this does."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def parse_json_lines(text: str) -> tuple[list[dict[str, Any]], list[str]]:
    """Split stdout into its JSON objects and its other non-empty lines."""
    events: list[dict[str, Any]] = []
    other: list[str] = []
    for line in text.splitlines():
        stripped = line.strip()
        if not stripped:
            continue
        try:
            value = json.loads(stripped)
        except json.JSONDecodeError:
            other.append(line)
            continue
        if isinstance(value, dict):
            events.append(value)
        else:
            other.append(line)
    return events, other


def run_keepmum(
    *args: str | os.PathLike[str],
    home: str | os.PathLike[str] | None = None,
    input: str | bytes | None = None,
    timeout: float = DEFAULT_TIMEOUT_S,
    env: Mapping[str, str] | None = None,
    cwd: str | os.PathLike[str] | None = None,
) -> Result:
    """Run ``keepmum ARGS...`` in a subprocess and collect what it did.

    ``home`` is passed as ``KEEPMUM_HOME`` (not as ``--home``, which not every subcommand must be
    given first); ``None`` leaves the environment as it is (``env`` may set it). ``$HOME`` is never
    changed: PulseAudio clients find their server through it. ``input`` is fed to stdin (bytes
    for audio on ``-``); otherwise stdin is empty.
    """
    full_env = dict(os.environ)
    if home is not None:
        full_env["KEEPMUM_HOME"] = str(home)
    if env:
        full_env.update(env)
    str_args = tuple(str(a) for a in args)
    text_mode = not isinstance(input, bytes)
    proc = subprocess.run(
        [*keepmum_command(), *str_args],
        input=input if input is not None else ("" if text_mode else b""),
        capture_output=True,
        text=text_mode,
        timeout=timeout,
        env=full_env,
        cwd=cwd,
        check=False,
    )
    stdout = proc.stdout if text_mode else proc.stdout.decode("utf-8", "replace")
    stderr = proc.stderr if text_mode else proc.stderr.decode("utf-8", "replace")
    events, other = parse_json_lines(stdout)
    return Result(str_args, proc.returncode, stdout, stderr, events, other)


def start_keepmum(
    *args: str | os.PathLike[str],
    home: str | os.PathLike[str] | None = None,
    env: Mapping[str, str] | None = None,
) -> subprocess.Popen[str]:
    """Start ``keepmum ARGS...`` without waiting (for ``listen``); read it with :func:`finish`."""
    full_env = dict(os.environ)
    if home is not None:
        full_env["KEEPMUM_HOME"] = str(home)
    if env:
        full_env.update(env)
    return subprocess.Popen(
        [*keepmum_command(), *(str(a) for a in args)],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=full_env,
    )


def finish(proc: subprocess.Popen[str], timeout: float = DEFAULT_TIMEOUT_S) -> Result:
    """Wait for a :func:`start_keepmum` process and collect what it did (killed on timeout)."""
    try:
        stdout, stderr = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        stdout, stderr = proc.communicate()
        stderr += f"\n[test helper: killed after {timeout} s]"
    args = proc.args if isinstance(proc.args, Sequence) else [proc.args]
    events, other = parse_json_lines(stdout)
    return Result(
        tuple(str(a) for a in list(args)[len(keepmum_command()) :]),
        proc.returncode,
        stdout,
        stderr,
        events,
        other,
    )


@dataclass(frozen=True)
class Clip:
    """One committed fixture clip, as ``sim/data/fixtures.json`` lists it."""

    path: Path
    kind: str
    """``positive``, ``negative``, ``near_miss`` or ``wake_then_silence``."""
    model: str
    """The model a positive (or wake-then-silence clip) is for; ``""`` otherwise."""
    text: str
    duration_s: float

    @property
    def id(self) -> str:
        return self.path.stem


def fixture_manifest(kinds: Iterable[str] | None = None) -> list[Clip]:
    """The clips in ``sim/data/fixtures.json`` (optionally only some kinds), in manifest order."""
    manifest = json.loads((FIXTURES / "fixtures.json").read_text())
    wanted = set(kinds) if kinds is not None else None
    return [
        Clip(FIXTURES / c["file"], c["kind"], c.get("model", ""), c["text"], c["duration_s"])
        for c in manifest["clips"]
        if wanted is None or c["kind"] in wanted
    ]


@pytest.fixture
def keepmum_home(tmp_path: Path) -> Path:
    """A fresh, not yet initialised keepmum home for one test."""
    return tmp_path / "home"


@pytest.fixture
def keepmum(keepmum_home: Path) -> Callable[..., Result]:
    """:func:`run_keepmum` with ``home`` defaulting to this test's own folder."""

    def run(*args: str | os.PathLike[str], **kwargs: Any) -> Result:
        kwargs.setdefault("home", keepmum_home)
        return run_keepmum(*args, **kwargs)

    return run
