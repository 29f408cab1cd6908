"""``keepmum far --protocol picovoice|openwakeword``: the field's protocols on the user's folders.

The mixing is :mod:`sim.research.protocols`; this builds it (cached beside far's score cache),
scores it with far's own machinery and prints what the protocol reports next to keepmum's own
cost, the seconds of audio false wakes would keep.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from keepmum.errors import ConfigError
from sim.commands._common import FiniteFloat
from sim.commands._output import Output
from sim.commands._scoring import (
    FarOptions,
    default_cache_dir,
    one_model,
    phase_offsets_of,
    score_cache,
    score_with_progress,
    sweep_table,
    wake_settings,
    warn_short_negatives,
)

if TYPE_CHECKING:
    from sim.config import Config
    from sim.research.protocols import ProtocolSettings

__all__ = [
    "announce_build",
    "as_folders",
    "check_protocol_options",
    "protocol_options",
    "run_protocol",
]


def protocol_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """``--protocol`` and the folders and settings it mixes."""
    options = [
        click.option(
            "--protocol",
            type=click.Choice(["picovoice", "openwakeword"]),
            default=None,
            help="Build a published protocol's mixtures from --positives, --background, "
            "--noise (and --rirs) and report its headline figure.",
        ),
        click.option(
            "--background",
            "background_dirs",
            multiple=True,
            type=click.Path(path_type=Path),
            help="--protocol: folder(s) of background speech (repeatable).",
        ),
        click.option(
            "--noise",
            "noise_dirs",
            multiple=True,
            type=click.Path(path_type=Path),
            help="--protocol: folder(s) of noise recordings (repeatable).",
        ),
        click.option(
            "--rirs",
            "rir_dirs",
            multiple=True,
            type=click.Path(path_type=Path),
            help="--protocol openwakeword: folder(s) of room impulse responses (repeatable).",
        ),
        click.option(
            "--snr-db",
            type=FiniteFloat(),
            default=None,
            help="--protocol: mixing SNR in the protocol's own energy measure (default 10).",
        ),
        click.option(
            "--protocol-hours",
            type=FiniteFloat(min=0.0),
            default=None,
            help="--protocol picovoice: length of the stream in hours (default 24).",
        ),
    ]
    for option in reversed(options):
        command = option(command)
    return command


def as_folders(value: Path | tuple[Path, ...] | None) -> tuple[Path, ...]:
    """A folder option's value as a tuple, whether click gave one folder or several."""
    if value is None:
        return ()
    if isinstance(value, Path):
        return (value,)
    return tuple(value)


def check_protocol_options(opts: Any) -> None:
    """Refuse protocol-only options without ``--protocol``, what ``--protocol`` replaces, and
    ``--phases`` where it does not apply."""
    if opts.phases is not None and opts.request_dirs:
        raise ConfigError(f"--phases {opts.phases}: not with --requests")
    if opts.protocol is None:
        given = [
            name
            for name, value in (
                ("--background", opts.background_dirs),
                ("--noise", opts.noise_dirs),
                ("--rirs", opts.rir_dirs),
                ("--snr-db", opts.snr_db),
                ("--protocol-hours", opts.protocol_hours),
            )
            if value not in (None, ())
        ]
        if given:
            raise ConfigError(f"{given[0]}: applies only with --protocol picovoice|openwakeword")
        return
    if opts.request_dirs or opts.stream_path is not None or opts.labels_path is not None:
        raise ConfigError(
            f"--protocol {opts.protocol}: builds its own test audio; "
            "not with --requests, --stream or --labels"
        )
    if as_folders(opts.negatives):
        raise ConfigError(
            f"--protocol {opts.protocol}: false accepts are counted on --background and "
            "--noise; not with --negatives"
        )
    missing = [
        name
        for name, value in (
            ("--positives", as_folders(opts.positives)),
            ("--background", opts.background_dirs),
            ("--noise", opts.noise_dirs),
        )
        if not value
    ]
    if missing:
        raise ConfigError(f"--protocol {opts.protocol}: give {', '.join(missing)} DIR")
    if opts.protocol == "picovoice" and opts.rir_dirs:
        raise ConfigError("--rirs: Picovoice's protocol has no room impulse responses")
    if opts.protocol == "picovoice" and opts.phases is not None:
        raise ConfigError(
            f"--phases {opts.phases}: --protocol picovoice scores one long stream, which meets "
            "every phase already"
        )
    if opts.protocol == "openwakeword" and opts.protocol_hours is not None:
        raise ConfigError("--protocol-hours: applies to --protocol picovoice (a stream)")


def run_protocol(out: Output, opts: FarOptions, config: Config) -> None:
    """Build, score and report one protocol (see the module docstring)."""
    from sim.research import far as engine
    from sim.research.phases import phase_sweep, phase_table
    from sim.research.protocols import (
        ProtocolSettings,
        build_mixture,
        collect_inputs,
        headline_target,
    )
    from wakeword.backend import installed_backend
    from wakeword.metrics import choose_operating_point

    # far has checked the options (check_protocol_options) before it came here.
    assert opts.protocol is not None, "far runs a protocol only with --protocol"
    backend = installed_backend()
    settings = ProtocolSettings(
        protocol=opts.protocol,
        snr_db=10.0 if opts.snr_db is None else opts.snr_db,
        seed=0 if opts.seed is None else opts.seed,
        hours=24.0 if opts.protocol_hours is None else opts.protocol_hours,
    )
    inputs = collect_inputs(
        as_folders(opts.positives), opts.background_dirs, opts.noise_dirs, opts.rir_dirs
    )
    model = one_model(opts, config)
    wake = wake_settings(config, (model,))
    thresholds = engine.parse_thresholds(opts.thresholds or engine.DEFAULT_SWEEP)
    names = engine.names_of((model,))
    mixture_root = None if opts.no_cache else (opts.cache_dir or default_cache_dir()) / "protocols"

    from sim.commands._progress import ProgressDisplay

    display = ProgressDisplay()
    with display.task(f"building {settings.protocol} mixtures", unit="", long=True) as update:
        mixture = build_mixture(
            inputs,
            settings,
            mixture_root,
            progress=update,
            on_build=lambda folder: announce_build(settings, len(inputs.positives), folder),
        )
    try:
        out.say(
            f"{settings.protocol} mixture {'from the cache' if mixture.cached else 'built'}: "
            f"{mixture.folder} (seed {settings.seed}, {settings.snr_db:g} dB SNR)"
        )
        offsets = phase_offsets_of(opts)
        job = engine.ScoreJob(models=(model,), vad=config.vad, phase_offsets=offsets)
        cache = score_cache(opts, job)
        workers = opts.workers or os.cpu_count() or 1
        by_phase: list[Any] = []
        if mixture.stream is not None:
            assert mixture.labels is not None
            files = [(mixture.stream, "stream")]
            scored = score_with_progress(out, files, job, workers, cache, opts.scheduler)
            spans = engine.read_labels(mixture.labels)
            points = engine.stream_sweep(
                scored[0], spans, names, thresholds, wake, config.speaker, job.pad_s
            )
        else:
            files = [(p, "positive") for p in mixture.positives]
            files += [(p, "negative") for p in mixture.negatives]
            scored = score_with_progress(out, files, job, workers, cache, opts.scheduler)
            points = engine.clip_sweep(scored, names, thresholds, wake, config.speaker)
            if offsets:
                by_phase = phase_sweep(scored, names, offsets, thresholds, wake, config.speaker)
        # The same intervals and verdict as far's own table: a headline over a short mixture
        # must not read "meets" on 0 false alarms in a few minutes.
        points = [p.at_confidence(opts.confidence) for p in points]
        target = headline_target(settings.protocol)
        headline = choose_operating_point(points, target, conservative=opts.conservative)
        for i, point in enumerate(points):
            extra = by_phase[i].as_dict() if by_phase else {}
            out.emit(
                {
                    "model": model,
                    "backend": backend.name,
                    "protocol": settings.protocol,
                    **point.as_dict(),
                    **extra,
                }
            )
        summary = _headline(settings, headline, target, mixture)
        out.emit({"model": model, "backend": backend.name, **summary})
        if not out.json_lines:
            sweep_table(out, model, points, headline)
            if by_phase:
                out.table(phase_table(model, by_phase))
            out.say(_headline_line(summary, headline))
        warn_short_negatives(out, points, target, opts.confidence)
    finally:
        if opts.no_cache:
            shutil.rmtree(mixture.folder, ignore_errors=True)


def _free_bytes(folder: Path) -> int:
    return shutil.disk_usage(folder).free


def announce_build(
    settings: ProtocolSettings,
    keywords: int,
    folder: Path,
    free_bytes: Callable[[Path], int] = _free_bytes,
) -> None:
    """Say on stderr, before a build starts, what it makes: for the picovoice protocol how many
    hours of stream and how much disk (ConfigError, before anything is written, when the disk
    has less room than that)."""
    if settings.protocol != "picovoice":
        click.echo(
            f"keepmum: building the {settings.protocol} protocol's mixtures of {keywords} "
            f"positives in {folder}",
            err=True,
        )
        return
    from sim.research.protocols import stream_bytes

    needed = stream_bytes(settings.hours)
    free = free_bytes(folder)
    if needed > free:
        raise ConfigError(
            f"--protocol picovoice: a {settings.hours:g} h stream needs {needed / 1e9:.2f} GB "
            f"in {folder.parent}, {free / 1e9:.2f} GB free; give --protocol-hours H (fewer "
            "hours) or --cache-dir DIR (another disk)"
        )
    click.echo(
        f"keepmum: building the picovoice protocol's stream: {settings.hours:g} h of audio "
        f"around {keywords} keywords, {needed / 1e9:.2f} GB in {folder.parent} (kept as a cache "
        f"unless --no-cache; --protocol-hours H for a shorter one), then scoring all "
        f"{settings.hours:g} h on one core",
        err=True,
    )


def _headline(settings: Any, chosen: Any, target: float, mixture: Any) -> dict[str, Any]:
    """The protocol's own figure at its target, and keepmum's kept-seconds cost there."""
    metric = (
        "miss_rate_at_1_fa_per_10_h"
        if settings.protocol == "picovoice"
        else "frr_at_0.5_fa_per_hour"
    )
    row: dict[str, Any] = {
        "protocol": settings.protocol,
        "headline": metric,
        "target_fa_per_hour": target,
        "snr_db": settings.snr_db,
        "seed": settings.seed,
        "mixture": str(mixture.folder),
        "mixture_cached": mixture.cached,
    }
    if chosen is None:
        return {**row, "value": None, "meets_target": False}
    point = chosen.point
    return {
        **row,
        "value": point.frr,
        "value_low": point.frr_low,
        "value_high": point.frr_high,
        "confidence": point.confidence,
        "meets_target": chosen.meets_target,
        "shown_to_meet_target": chosen.shown_to_meet_target,
        "fa_per_hour_high": point.fa_per_hour_high,
        "threshold": point.threshold,
        "fa_per_hour": point.fa_per_hour,
        "false_accepts": point.false_accepts,
        "negative_hours": point.negative_hours,
        "kept_s_per_hour": point.kept_s_per_hour,
    }


def _headline_line(summary: dict[str, Any], chosen: Any) -> str:
    what = (
        "miss rate at 1 false alarm per 10 h"
        if summary["protocol"] == "picovoice"
        else "false-reject rate at 0.5 false accepts per hour"
    )
    if summary.get("value") is None:
        return f"{summary['protocol']}: {what}: no threshold scored"
    if not summary["meets_target"]:
        return (
            f"{summary['protocol']}: {what}: no threshold reaches "
            f"{summary['target_fa_per_hour']:g} FA/h (lowest: {summary['fa_per_hour']:.2f} FA/h "
            f"at threshold {summary['threshold']:g})"
        )
    kept = summary["kept_s_per_hour"]
    kept_text = "-" if kept != kept else f"{kept:.1f}"
    level = f"{100 * summary['confidence']:g} %"
    interval = f"{100 * summary['value_low']:.1f}-{100 * summary['value_high']:.1f} %"
    return (
        f"{summary['protocol']}: {what}: {100 * summary['value']:.1f} % ({level} CI {interval}; "
        f"threshold {summary['threshold']:g}, {chosen.verdict()}); "
        f"keepmum's cost there: {kept_text} s of audio kept per hour"
    )
