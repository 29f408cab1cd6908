"""``keepmum bench``: throughput, CPU and memory against the backend's own loop, in one run."""

from __future__ import annotations

import math
import os
from typing import Any

import click

from keepmum.errors import CheckFailed
from sim.commands._common import FiniteFloat, KeepmumCommand, json_option
from sim.commands._output import Output

__all__ = ["bench"]


@click.command(cls=KeepmumCommand)
@click.option(
    "--seconds",
    type=FiniteFloat(min=5.0),
    default=300.0,
    show_default=True,
    help="Seconds of test audio for the speed measurements.",
)
@click.option(
    "--minutes-memory",
    type=FiniteFloat(min=0.5),
    default=60.0,
    show_default=True,
    help="Minutes of audio replayed for the peak-memory measurement.",
)
@click.option(
    "--workers",
    type=click.IntRange(min=1),
    default=None,
    help="Processes for the scaling measurement (default: all cores).",
)
@click.option(
    "--rounds",
    type=click.IntRange(min=1),
    default=3,
    show_default=True,
    help="Interleaved runs of each side; the median counts.",
)
@json_option
def bench(
    seconds: float, minutes_memory: float, workers: int | None, rounds: int, json_lines: bool
) -> None:
    """Measure keepmum against its wake-word library's own streaming loop (openWakeWord's on
    the onnx backend, pyopen-wakeword's on tflite); exit 1 if a bar fails."""
    from sim.commands._progress import ProgressDisplay
    from sim.research.bench import Measurement, bench_plan, run_bench
    from wakeword.backend import installed_backend

    out = Output(json_lines)
    display = ProgressDisplay()
    out.say(
        f"keepmum bench: {seconds:g} s of audio, {rounds} interleaved rounds, "
        f"{minutes_memory:g}-minute replay for memory, {workers or os.cpu_count()} workers, "
        f"wake-word backend {installed_backend().describe()}"
    )
    plan = bench_plan(seconds, minutes_memory, workers, rounds)
    # Said up front: what runs and roughly how long (on stdout for a person reading the text
    # output; with --json only on a terminal's stderr, never among the JSON lines).
    say = out.say if not json_lines else display.say
    say(f"it will run, in order (about {_minutes(sum(s for _, s in plan))} on an idle core):")
    for name, estimate in plan:
        say(f"  {name}: about {_minutes(estimate)}")
    rows: list[Measurement] = []

    def show(m: Measurement) -> None:
        rows.append(m)
        out.emit(m.as_dict())
        out.say(f"  {m.name}: {_verdict(m)}")

    with display.stages(unit="runs") as progress:
        run_bench(
            seconds, minutes_memory, workers, rounds, on_measurement=show, on_progress=progress
        )
    if not json_lines:
        _table(out, rows)
    failed = [m.name for m in rows if m.passed is False]
    if failed:
        raise CheckFailed(f"benchmark bars not met: {', '.join(failed)}")


def _minutes(seconds: float) -> str:
    return f"{seconds:.0f} s" if seconds < 90 else f"{seconds / 60:.0f} min"


def _verdict(m: Any) -> str:
    if m.passed is None:
        return "no bar" if m.bar is None else "not judged"
    return "pass" if m.passed else "FAIL"


def _table(out: Output, rows: list[Any]) -> None:
    from rich.table import Table

    backend = rows[0].backend if rows else "?"
    table = Table(title=f"keepmum bench (backend: {backend})")
    for column, justify in (
        ("measurement", "left"),
        ("x real time", "right"),
        ("time s", "right"),
        ("clock", "left"),
        ("ratio", "right"),
        ("bar", "left"),
        ("", "left"),
    ):
        table.add_column(column, justify=justify)  # type: ignore[arg-type]
    for m in rows:
        table.add_row(
            m.name,
            "-" if math.isnan(m.throughput) else f"{m.throughput:.1f}",
            f"{m.seconds:.2f}",
            m.clock,
            "-" if m.ratio is None else f"{m.ratio:.2f}",
            m.bar or "-",
            _verdict(m),
        )
    out.table(table)
