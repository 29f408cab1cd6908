"""What ``keepmum far`` and its ``--protocol`` runs share: the options, the score cache, scoring
with progress, the sweep table and the warning about too few hours of negatives.

A module of its own so that :mod:`sim.commands.far` and :mod:`sim.commands._protocol` both use
it without importing each other.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click

from keepmum.errors import ConfigError
from sim.commands._common import DeviceOptions
from sim.commands._output import Output

__all__ = [
    "FarOptions",
    "default_cache_dir",
    "one_model",
    "phase_offsets_of",
    "score_cache",
    "score_with_progress",
    "sweep_table",
    "wake_settings",
    "warn_short_negatives",
]


def default_cache_dir() -> Path:
    """Where scores are cached unless ``--cache-dir`` says: the user cache folder."""
    base = os.environ.get("XDG_CACHE_HOME")
    return (Path(base) if base else Path.home() / ".cache") / "keepmum" / "far"


@dataclass(frozen=True)
class FarOptions:
    """``keepmum far``'s options, typed, as click parsed them (see the options above)."""

    positives: tuple[Path, ...]
    negatives: tuple[Path, ...]
    stream_path: Path | None
    labels_path: Path | None
    request_dirs: tuple[Path, ...]
    cases: bool
    models: tuple[str, ...]
    thresholds: str | None
    workers: int | None
    scheduler: str | None
    confidence: float
    target_fa_per_hour: float
    conservative: bool
    sweep_csv_path: Path | None
    plot_path: Path | None
    csv_path: Path | None
    cache_dir: Path | None
    no_cache: bool
    trigger_frames: int | None
    refractory_s: float | None
    phases: int | None
    seed: int | None
    protocol: str | None
    background_dirs: tuple[Path, ...]
    noise_dirs: tuple[Path, ...]
    rir_dirs: tuple[Path, ...]
    snr_db: float | None
    protocol_hours: float | None
    config_path: Path | None
    decision: DeviceOptions
    """The request decision's options (``--silence-ms``, ``--room-margin-db``, ...), over the
    configuration, as ``replay`` takes them."""
    force: bool
    home: Path | None
    json_lines: bool


def phase_offsets_of(opts: FarOptions) -> tuple[int, ...]:
    """``--phases``' offsets (samples), or () without it; refused where it does not apply."""
    from sim.research.phases import phase_offsets

    if opts.phases is None:
        return ()
    if opts.stream_path is not None:
        raise ConfigError(
            f"--phases {opts.phases}: scores clips (--positives/--negatives), not a --stream "
            "(a long stream meets every phase already)"
        )
    return phase_offsets(opts.phases, opts.seed)


def one_model(opts: FarOptions, config: Any) -> str:
    """The one model a sweep scores: ``--model``, else the configuration's first."""
    if len(opts.models) > 1:
        raise ConfigError("--model: give one model (several only with --requests)")
    return opts.models[0] if opts.models else str(config.wakeword.models[0])


def wake_settings(config: Any, models: tuple[str, ...]) -> Any:
    """The device's trigger rule for ``models``, as the configuration sets it."""
    from wakeword.trigger import WakeSettings

    return WakeSettings(
        models=models,
        thresholds=config.wakeword.thresholds,
        default_threshold=config.wakeword.default_threshold,
        trigger_frames=config.wakeword.trigger_frames,
        refractory_s=config.wakeword.refractory_s,
    )


def score_cache(opts: FarOptions, job: Any) -> Any:
    """The per-file score cache for ``job`` (None with ``--no-cache``); a phased job's entries
    have their own key (one phase keeps the plain one)."""
    if opts.no_cache:
        return None
    from sim.research.phases import phase_setup
    from wakeword.cache import ScoreCache, setup_id

    setup = phase_setup(setup_id(job.models, job.pad_s, job.vad), job.phase_offsets)
    return ScoreCache(opts.cache_dir or default_cache_dir(), setup)


def score_with_progress(
    out: Output,
    files: list[tuple[Path, str]],
    job: Any,
    workers: int,
    cache: Any,
    scheduler: str | None,
) -> list[Any]:
    """Score with a progress bar on a terminal's stderr: files done, or for a stream the
    seconds of its audio scored (a stream is scored in this process: it is one file)."""
    from sim.commands._progress import ProgressDisplay
    from sim.research import far as engine

    display = ProgressDisplay()
    if [role for _, role in files] == ["stream"] and scheduler is None:
        total = _audio_seconds(files[0][0])
        with display.task("scoring the stream", unit="s", total=total, long=True) as update:
            return engine.score_files(
                files,
                job,
                workers=1,
                cache=cache,
                on_audio=lambda _, seconds: update(seconds, max(total, seconds)),
            )
    with display.task("scoring", unit="files", total=len(files)) as update:
        done = 0

        def advance(_: Any) -> None:
            nonlocal done
            done += 1
            update(done, len(files))

        return engine.score_files(
            files, job, workers=workers, cache=cache, scheduler=scheduler, on_result=advance
        )


def _level(confidence: float) -> str:
    return f"{100 * confidence:g} %"


def _num(value: float) -> str:
    """A rate for a narrow column: whole numbers from 100 up, three significant digits below."""
    return f"{value:.0f}" if abs(value) >= 100 else f"{value:.3g}"


def _audio_seconds(path: Path) -> float:
    """A file's length from its header (0 when the header does not say)."""
    import soundfile

    try:
        return float(soundfile.info(str(path)).duration)
    except (RuntimeError, OSError, soundfile.LibsndfileError):
        return 0.0


def sweep_table(out: Output, model: str, points: list[Any], operating: Any) -> None:
    from rich.table import Table

    level = _level(points[0].confidence) if points else ""
    table = Table(title=f"keepmum far: {model}")
    for column in (
        "threshold",
        f"FRR % ({level} CI)",
        f"FA/h ({level} CI)",
        "false accepts",
        "negative h",
        "kept s/h",
    ):
        # Values fold onto a second line in a narrow terminal; they are never cut short.
        table.add_column(column, justify="right", overflow="fold", min_width=4)
    chosen = operating.point.threshold if operating is not None else None

    def fmt(value: float, spec: str) -> str:
        return "-" if value != value else format(value, spec)  # NaN: no denominator

    def rate(value: float, low: float, high: float, scale: float, spec: str) -> str:
        if value != value:
            return "-"
        return f"{format(scale * value, spec)} ({_num(scale * low)}-{_num(scale * high)})"

    for p in points:
        mark = " *" if p.threshold == chosen else ""
        table.add_row(
            f"{p.threshold:g}{mark}",
            rate(p.frr, p.frr_low, p.frr_high, 100, ".1f"),
            rate(p.fa_per_hour, p.fa_per_hour_low, p.fa_per_hour_high, 1, ".2f"),
            str(p.false_accepts),
            f"{p.negative_hours:.3f}",
            fmt(p.kept_s_per_hour, ".1f"),
        )
    out.table(table)
    if operating is not None:
        threshold = operating.point.threshold
        out.say(f"* operating point: threshold {threshold:g} ({operating.verdict()})")


def warn_short_negatives(
    out: Output, points: list[Any], target_fa_per_hour: float, confidence: float
) -> None:
    """One line on stderr when even 0 false accepts could not show the target."""
    from wakeword.stats import hours_to_show, poisson_rate_interval

    hours = points[0].negative_hours if points else 0.0
    if not hours > 0:
        return
    bound = poisson_rate_interval(0, hours, confidence).high
    if bound <= target_fa_per_hour:
        return
    needed = hours_to_show(target_fa_per_hour, confidence)
    click.echo(
        f"keepmum: warning: {hours:.3g} h of negative audio cannot show {target_fa_per_hour:g} "
        f"FA/h: even 0 false accepts has a {_level(confidence)} upper bound of {bound:.3g} FA/h "
        f"(needs at least {needed:.3g} h)",
        err=True,
    )
