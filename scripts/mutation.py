#!/usr/bin/env python3
"""Mutation testing of one module against its own unit tests, with a bar: exit 1 under it.

Why: a test proves a privacy guarantee only if it fails when the code is wrong. mutmut makes
small deliberate bugs (mutants) in a module, one at a time, and runs the tests; a mutant that no
test fails on (a *survivor*) is a bug the tests would not notice. docs/mutation-testing.md lists
the results and the survivors kept on purpose.

Each module is checked against its own unit test file(s) only, so a run takes a minute or two,
not the hour of the whole suite. The modules, their tests and the bar are in ``pyproject.toml``
under ``[tool.keepmum.mutation]``; ``[tool.mutmut]`` holds what every run shares. mutmut reads
its settings from the ``pyproject.toml`` of the folder it runs in, so each module is run in a
scratch copy of the project whose ``[tool.mutmut]`` names that module and its tests: the
checkout gets no ``mutants/`` folder, and two modules never share mutmut's cached results.

Usage::

    python scripts/mutation.py storage/retention.py      # one module; exit 1 under the bar
    python scripts/mutation.py --ci                      # the CI subset (pyproject.toml)
    python scripts/mutation.py --list                    # the configured modules and tests
    python scripts/mutation.py wakeword/stats.py --keep DIR   # keep mutmut's folder to inspect

A timeout counts as killed (the mutant made the tests hang: a test noticed). Exit status: 0 every
module at or over the bar, 1 one under it (or mutmut failed), 2 bad usage.
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from fnmatch import fnmatch
from pathlib import Path
from typing import Any

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - keepmum's 3.10 dependency
    import tomli as tomllib

REPO = Path(__file__).resolve().parent.parent

SHOWN = 40
"""Survivors listed at most per module."""

COPIED = ("keepmum", "device", "wakeword", "storage", "sim", "tests", "pyproject.toml")
"""What a scratch copy holds: the packages (the tests import them all) and the tests."""


@dataclass(frozen=True)
class Target:
    """One module to mutate, the test files it is judged by, and the mutants considered."""

    module: str
    tests: tuple[str, ...]
    functions: tuple[str, ...]
    """mutmut name patterns (``storage.upload.x_*check*``) restricting the mutants; () for all."""


@dataclass(frozen=True)
class Score:
    """mutmut's counts for one module."""

    module: str
    killed: int
    timeout: int
    survived: int
    no_tests: int
    total: int
    seconds: float
    cpu_seconds: float
    """CPU time of mutmut and its test runs (what a run costs on an idle machine)."""
    survivors: tuple[str, ...]

    @property
    def caught(self) -> int:
        """Killed, a timeout counting as killed."""
        return self.killed + self.timeout

    @property
    def percent(self) -> float:
        """Caught as a share of every mutant (a mutant no test reaches counts as survived)."""
        return 100.0 * self.caught / self.total if self.total else 100.0


class UsageError(Exception):
    """Bad arguments or configuration: one line, exit 2."""


def load_config(pyproject: Path) -> dict[str, Any]:
    """``[tool.keepmum.mutation]`` and ``[tool.mutmut]`` of a pyproject.toml."""
    data = tomllib.loads(pyproject.read_text(encoding="utf-8"))
    tool = data.get("tool", {})
    mutation = tool.get("keepmum", {}).get("mutation")
    if not isinstance(mutation, dict) or not isinstance(mutation.get("modules"), dict):
        raise UsageError(f"{pyproject}: no [tool.keepmum.mutation.modules] table")
    return {"mutation": mutation, "mutmut": dict(tool.get("mutmut", {}))}


def targets(config: dict[str, Any]) -> dict[str, Target]:
    """Every configured module, by its path."""
    out = {}
    for module, entry in config["mutation"]["modules"].items():
        out[module] = Target(module, tuple(entry["tests"]), tuple(entry.get("functions", ())))
    return out


def mutmut_toml(base: dict[str, Any], target: Target) -> str:
    """The ``[tool.mutmut]`` table of one module's scratch copy."""
    settings = {
        **base,
        "only_mutate": [target.module],
        "pytest_add_cli_args_test_selection": list(target.tests),
        # The scratch copy is no git checkout: nothing to compare against.
        "use_git_change_detection": False,
    }
    lines = ["[tool.mutmut]"]
    for key, value in settings.items():
        lines.append(f"{key} = {json.dumps(value)}")
    return "\n".join(lines) + "\n"


def scratch_copy(folder: Path, base: dict[str, Any], target: Target) -> None:
    """The project's packages and tests in ``folder``, its pyproject naming only ``target``."""
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", ".pytest_cache", "mutants")
    for name in COPIED[:-1]:
        shutil.copytree(REPO / name, folder / name, ignore=ignore)
    kept = without_mutation_tables((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    (folder / "pyproject.toml").write_text(kept + mutmut_toml(base, target), encoding="utf-8")


def without_mutation_tables(text: str) -> str:
    """A pyproject.toml's text without its ``[tool.mutmut]`` and ``[tool.keepmum...]`` tables
    (the other tables, pytest's markers among them, are what the tests need)."""
    kept: list[str] = []
    dropping = False
    for line in text.splitlines(keepends=True):
        if line.startswith("["):
            dropping = line.startswith(("[tool.mutmut]", "[tool.keepmum"))
        if not dropping:
            kept.append(line)
    return "".join(kept).rstrip("\n") + "\n\n"


def run_module(target: Target, base: dict[str, Any], jobs: int, keep: Path | None) -> Score:
    """Run mutmut on one module in a scratch copy; its counts and surviving mutant names."""
    folder = Path(tempfile.mkdtemp(prefix="keepmum-mutation-")) if keep is None else keep
    folder.mkdir(parents=True, exist_ok=True)
    try:
        scratch_copy(folder, base, target)
        start = time.monotonic()
        cpu_start = _children_cpu()
        mutmut = [sys.executable, "-m", "mutmut"]
        run = subprocess.run(
            [*mutmut, "run", "--max-children", str(jobs), *target.functions],
            cwd=folder,
            capture_output=True,
            text=True,
            check=False,
        )
        seconds = time.monotonic() - start
        cpu_seconds = _children_cpu() - cpu_start
        if run.returncode != 0:
            sys.stderr.write(run.stdout[-4000:] + run.stderr[-4000:])
            raise RuntimeError(f"mutmut run on {target.module} failed (status {run.returncode})")
        return count(target, folder, seconds, cpu_seconds)
    finally:
        if keep is None:
            shutil.rmtree(folder, ignore_errors=True)


def count(target: Target, folder: Path, seconds: float, cpu_seconds: float) -> Score:
    """The module's mutants by outcome, read from mutmut's results file (only the mutants of
    ``target.functions`` when it names some)."""
    from mutmut.stats import status_by_exit_code  # the mutation extra, not needed for --list

    meta = folder / "mutants" / f"{target.module}.meta"
    codes: dict[str, int | None] = json.loads(meta.read_text())["exit_code_by_key"]
    if target.functions:
        codes = {k: v for k, v in codes.items() if any(fnmatch(k, p) for p in target.functions)}
    status = {name: status_by_exit_code[code] for name, code in codes.items()}
    unchecked = [
        n for n, s in status.items() if s in ("not checked", "check was interrupted by user")
    ]
    if unchecked:
        raise RuntimeError(f"mutmut left {len(unchecked)} mutant(s) of {target.module} unchecked")
    tally = Counter(status.values())
    return Score(
        target.module,
        # A crash of the test run is a test noticing, as is a type error mutmut found.
        killed=tally["killed"] + tally["caught by type check"] + tally["segfault"],
        timeout=tally["timeout"],
        survived=tally["survived"] + tally["suspicious"],
        no_tests=tally["no tests"],
        total=len(status) - tally["skipped"],
        seconds=seconds,
        cpu_seconds=cpu_seconds,
        survivors=tuple(
            f"{n}: {s}" for n, s in status.items() if s in ("survived", "suspicious", "no tests")
        ),
    )


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def report(score: Score, bar: float) -> str:
    """One module's line: counts, percentage, time, and whether it clears the bar."""
    verdict = "ok" if score.percent >= bar else f"UNDER THE BAR ({bar:g} %)"
    return (
        f"{score.module}: {score.caught} of {score.total} killed "
        f"({score.killed} killed, {score.timeout} timeouts), {score.survived} survived, "
        f"{score.no_tests} with no test, {score.percent:.1f} % in {score.seconds:.0f} s "
        f"({score.cpu_seconds:.0f} s of CPU): {verdict}"
    )


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("modules", nargs="*", help="module paths, e.g. storage/retention.py")
    parser.add_argument("--ci", action="store_true", help="the CI subset of pyproject.toml")
    parser.add_argument("--list", action="store_true", help="list the configured modules")
    parser.add_argument("--bar", type=float, help="percent killed required (default: pyproject)")
    parser.add_argument("--jobs", type=int, default=2, help="mutants run at once (default 2)")
    parser.add_argument("--keep", type=Path, help="run in this folder and keep it (one module)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    try:
        config = load_config(REPO / "pyproject.toml")
        known = targets(config)
        if args.list:
            for target in known.values():
                print(f"{target.module}: {' '.join(target.tests)}")
            return 0
        chosen = list(config["mutation"].get("ci", ())) if args.ci else list(args.modules)
        if not chosen:
            raise UsageError("name a module (storage/retention.py), or --ci, or --list")
        unknown = [m for m in chosen if m not in known]
        if unknown:
            raise UsageError(f"not a configured module: {', '.join(unknown)} (see --list)")
        if args.keep is not None and len(chosen) > 1:
            raise UsageError("--keep takes one module")
        bar = float(args.bar if args.bar is not None else config["mutation"]["bar"])
        if not 0.0 <= bar <= 100.0 or args.jobs < 1:
            raise UsageError(f"--bar must be 0-100 and --jobs 1 or more, got {bar}, {args.jobs}")
    except (UsageError, OSError, tomllib.TOMLDecodeError, KeyError, TypeError) as exc:
        print(f"mutation: {exc}", file=sys.stderr)
        return 2
    failed = False
    for module in chosen:
        try:
            score = run_module(known[module], config["mutmut"], args.jobs, args.keep)
        except (RuntimeError, subprocess.CalledProcessError, OSError, ValueError) as exc:
            print(f"mutation: {exc}", file=sys.stderr)
            failed = True
            continue
        print(report(score, bar), flush=True)
        for name in score.survivors[:SHOWN]:
            print(f"  {name}")
        if len(score.survivors) > SHOWN:
            print(f"  ... and {len(score.survivors) - SHOWN} more (--keep, then mutmut results)")
        failed = failed or score.percent < bar
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
