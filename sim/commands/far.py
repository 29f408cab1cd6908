"""``keepmum far``: false rejects, false accepts per hour, and the audio false wakes would keep."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from keepmum.errors import ConfigError
from keepmum.files import guard_output_path
from sim.commands._common import (
    FiniteFloat,
    KeepmumCommand,
    decision_options,
    force_option,
    home_option,
    json_option,
    resolve_home,
)
from sim.commands._output import Output, escape
from sim.commands._protocol import check_protocol_options, protocol_options
from sim.commands._scoring import (
    FarOptions,
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

__all__ = ["far"]


@click.command(cls=KeepmumCommand)
@click.option(
    "--positives",
    multiple=True,
    type=click.Path(path_type=Path),
    help="Folder of wake-word clips, read recursively (repeatable).",
)
@click.option(
    "--negatives",
    multiple=True,
    type=click.Path(path_type=Path),
    help="Folder of other audio, read recursively (repeatable).",
)
@click.option(
    "--stream",
    "stream_path",
    type=click.Path(path_type=Path),
    help="One long recording with keywords placed in it (Picovoice's method).",
)
@click.option(
    "--labels",
    "labels_path",
    type=click.Path(path_type=Path),
    help="The stream's keyword spans (JSON lines with start_s, end_s).",
)
@click.option(
    "--requests",
    "request_dirs",
    multiple=True,
    type=click.Path(path_type=Path),
    help="Condition folder(s) of wake words followed by a request or by nothing (or a "
    "folder of such folders, or of builds of them): per condition, what the device keeps "
    "after each wake. Repeatable; a condition in several folders (builds of the sets) is "
    "pooled into one row.",
)
@click.option(
    "--cases",
    is_flag=True,
    help="With --requests: also list each wake behind a miss (a false wake kept, a request "
    "discarded, cut short or kept too long): file, time, what the device did.",
)
@click.option(
    "--model",
    "models",
    multiple=True,
    help="Built-in model or a model file of the backend, .onnx or .tflite (default: "
    "the device's first model; with --requests, repeatable, default: the device's "
    "models, wakeword.models in its configuration, alexa alone unless configured: each "
    "row is what this device does; the built request sets speak all four built-in wake "
    "words, so give --model for each to score them all).",
)
@click.option(
    "--thresholds",
    default=None,
    metavar="START:STOP:STEP",
    help="Thresholds to sweep (default 0.05:0.95:0.05), or a comma list.",
)
@click.option(
    "--workers",
    type=click.IntRange(min=1),
    default=None,
    help="Scoring processes (default: all cores).",
)
@click.option(
    "--scheduler",
    default=None,
    metavar="tcp://HOST:PORT",
    help="Score on a Dask distributed cluster instead (keepmum[cluster]).",
)
@click.option(
    "--confidence",
    type=FiniteFloat(min=0, max=1),
    default=0.95,
    show_default=True,
    callback=lambda ctx, param, value: _open_unit(value, param, ctx),
    help="Two-sided level of the FRR (Wilson) and FA/h (exact Poisson) intervals.",
)
@click.option(
    "--target-fa-per-hour",
    type=FiniteFloat(min=0),
    default=0.5,
    show_default=True,
    callback=lambda ctx, param, value: _above_zero(value, param, ctx),
    help="False-accept budget the operating point is chosen against.",
)
@click.option(
    "--conservative",
    is_flag=True,
    help="Choose the operating point on the upper bound of FA/h, not on its estimate.",
)
@click.option(
    "--sweep-csv",
    "sweep_csv_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the sweep (CSV): the --json figures, intervals included, one row a threshold.",
)
@click.option(
    "--plot",
    "plot_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the DET plot (PNG).",
)
@click.option(
    "--csv",
    "csv_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write per-file scores (CSV).",
)
@click.option(
    "--cache-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Score cache (default: the user cache folder, keepmum/far).",
)
@click.option("--no-cache", is_flag=True, help="Score everything again; store nothing.")
@click.option(
    "--trigger-frames",
    type=click.IntRange(min=1),
    default=None,
    help="Consecutive frames at or above the threshold (default: the device's).",
)
@click.option(
    "--refractory-s",
    type=FiniteFloat(min=0),
    default=None,
    help="Seconds between two activations (default: the device's).",
)
@click.option(
    "--phases",
    type=click.IntRange(min=1, max=1280),
    default=None,
    help="Score each clip at N frame phases spread over one 80 ms frame; report the mean "
    "and the worst phase (--csv, --sweep-csv and --plot show phase 0, the device's replay).",
)
@click.option(
    "--seed",
    type=int,
    default=None,
    help="Seed: --phases draws its offsets (else evenly spread), --protocol its mixtures "
    "(default 0).",
)
@protocol_options
@click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Device configuration (default: HOME/config.toml).",
)
@decision_options
@force_option
@home_option
@json_option
def far(**params: Any) -> None:
    """False-wake benchmark: FRR, false accepts per hour and kept seconds, per threshold."""
    if params["request_dirs"]:
        _refuse_sweep_options(click.get_current_context())
    elif params["cases"]:
        raise ConfigError("--cases: only with --requests (the wakes behind each condition's row)")
    _far(FarOptions(**params))


_SWEEP_ONLY = (
    "thresholds",
    "confidence",
    "target_fa_per_hour",
    "conservative",
    "sweep_csv_path",
    "plot_path",
    "csv_path",
)
"""Options of the threshold sweep, which ``--requests`` does not run."""


def _refuse_sweep_options(ctx: click.Context) -> None:
    """``--requests`` reports what the device did per condition at the configured threshold;
    a sweep option given with it would be silently ignored (a ``--csv`` never written), so it is
    refused instead, before any scoring."""
    from click.core import ParameterSource

    for param in ctx.command.params:
        if param.name in _SWEEP_ONLY and ctx.get_parameter_source(param.name) in (
            ParameterSource.COMMANDLINE,
            ParameterSource.ENVIRONMENT,
        ):
            raise ConfigError(
                f"{param.opts[0]}: not with --requests (it reports each condition at the "
                "device's threshold, not a sweep)"
            )


def _open_unit(value: float, param: click.Parameter, ctx: click.Context) -> float:
    """A confidence level: strictly between 0 and 1."""
    if not 0.0 < value < 1.0:
        raise click.BadParameter(f"{value!r} is not between 0 and 1 (e.g. 0.95)", ctx, param)
    return value


def _above_zero(value: float, param: click.Parameter, ctx: click.Context) -> float:
    """A rate target: above 0 (no amount of audio can show 0 false accepts per hour)."""
    if not value > 0:
        raise click.BadParameter(f"{value!r} is not above 0", ctx, param)
    return value


def _far(opts: FarOptions) -> None:
    out = Output(opts.json_lines)
    home = resolve_home(opts.home)
    _guard_outputs(opts, home)
    config = _load_config(opts, home)
    check_protocol_options(opts)
    if opts.request_dirs:
        _requests(out, opts, config)
    elif opts.protocol is not None:
        from sim.commands._protocol import run_protocol

        run_protocol(out, opts, config)
    else:
        _sweep(out, opts, config)


def _guard_outputs(opts: FarOptions, home: Path) -> None:
    """Refuse an output path before hours of scoring, not after."""
    for option, target in (
        ("--csv", opts.csv_path),
        ("--sweep-csv", opts.sweep_csv_path),
        ("--plot", opts.plot_path),
    ):
        if target is not None:
            guard_output_path(
                target, home=home, option=option, overwrite=opts.force, make_folder=True
            )


def _load_config(opts: FarOptions, home: Path) -> Config:
    """The device's configuration under far's options."""
    from sim.config import load_config

    # The same builder as the device commands' options: the request decision's, and
    # --trigger-frames and --refractory-s (far's own, with their help for a sweep).
    given = opts.decision.with_settings(
        trigger_frames=opts.trigger_frames, refractory_s=opts.refractory_s
    )
    return load_config(
        opts.config_path, home=home, overrides=given.overrides(), blame=given.blame()
    )


def _sweep(out: Output, opts: FarOptions, config: Config) -> None:
    """Score the clips or the stream, sweep the thresholds, print and write what was asked."""
    from sim.research import far as engine
    from sim.research.folders import folder_tallies
    from wakeword.backend import installed_backend
    from wakeword.metrics import choose_operating_point

    backend = installed_backend()
    model = one_model(opts, config)
    wake = wake_settings(config, (model,))
    thresholds = engine.parse_thresholds(opts.thresholds or engine.DEFAULT_SWEEP)
    folders, files = _inputs(opts)
    names = engine.names_of((model,))
    offsets = phase_offsets_of(opts)
    job = engine.ScoreJob(models=(model,), vad=config.vad, phase_offsets=offsets)
    cache = score_cache(opts, job)
    workers = opts.workers or os.cpu_count() or 1

    scored = score_with_progress(out, files, job, workers, cache, opts.scheduler)
    cached = sum(f.cached for f in scored)
    out.say(
        f"scored {len(scored)} files ({cached} from the cache) with {model} "
        f"on the {backend.describe()} backend"
    )

    spans = None
    if opts.stream_path is not None:
        assert opts.labels_path is not None  # _inputs refused --stream without --labels
        spans = engine.read_labels(opts.labels_path)
        points = engine.stream_sweep(
            scored[0], spans, names, thresholds, wake, config.speaker, job.pad_s
        )
    else:
        points = engine.clip_sweep(scored, names, thresholds, wake, config.speaker)
    points = [p.at_confidence(opts.confidence) for p in points]
    operating = choose_operating_point(
        points, opts.target_fa_per_hour, conservative=opts.conservative
    )
    tallies = folder_tallies(
        folders,
        scored,
        lambda subset: engine.clip_sweep(subset, names, thresholds, wake, config.speaker),
    )
    by_phase = _phase_summaries(scored, names, offsets, thresholds, wake, config.speaker)

    for index, point in enumerate(points):
        extra = by_phase[index].as_dict() if by_phase else {}
        out.emit(
            {
                "model": model,
                "backend": backend.name,
                **point.as_dict(),
                **extra,
                "operating_point": operating is not None and point is operating.point,
                "folders": [t.as_dict(index) for t in tallies],
            }
        )
    if not out.json_lines:
        sweep_table(out, model, points, operating)
        if by_phase:
            from sim.research.phases import phase_table

            out.table(phase_table(model, by_phase))
        _folder_table(out, tallies, points, operating)
    warn_short_negatives(out, points, opts.target_fa_per_hour, opts.confidence)
    _write_outputs(out, opts, model, points, operating, scored, names, wake, job.pad_s, spans)


def _write_outputs(
    out: Output,
    opts: FarOptions,
    model: str,
    points: list[Any],
    operating: Any,
    scored: list[Any],
    names: tuple[str, ...],
    wake: Any,
    pad_s: float,
    spans: list[Any] | None,
) -> None:
    """``--sweep-csv``, ``--csv`` and ``--plot``, each when asked."""
    if opts.sweep_csv_path is not None:
        from sim.research.det_plot import write_sweep_csv

        write_sweep_csv(opts.sweep_csv_path, model, points)
        out.say(f"sweep: {escape(opts.sweep_csv_path)}")
    if opts.csv_path is not None:
        _write_csv(opts.csv_path, scored, names, model, wake, pad_s)
        out.say(f"per-file scores: {escape(opts.csv_path)}")
    if opts.plot_path is not None:
        from sim.research.det_plot import DetCurve, plot_det

        if spans is not None:
            label = f"{len(spans)} keywords in {scored[0].result.audio_s / 3600:.2f} h"
        else:
            n_pos = sum(f.role == "positive" for f in scored)
            hours = sum(f.result.audio_s for f in scored if f.role == "negative") / 3600
            label = f"{n_pos} positives, {hours:.2f} h negatives"
        plot_det(
            opts.plot_path,
            [DetCurve(model, points, operating)],
            data_label=label,
            target_fa_per_hour=opts.target_fa_per_hour,
            stream_mode=spans is not None,
        )
        out.say(f"DET plot: {escape(opts.plot_path)}")


def _phase_summaries(
    scored: list[Any],
    names: tuple[str, ...],
    offsets: tuple[int, ...],
    thresholds: tuple[float, ...],
    wake: Any,
    speaker: Any,
) -> list[Any]:
    if not offsets:
        return []
    from sim.research.phases import phase_sweep

    return phase_sweep(scored, names, offsets, thresholds, wake, speaker)


def _condition_folders(dirs: tuple[Path, ...]) -> list[tuple[Path, list[Path]]]:
    """Each condition folder and its audio files: each folder given that holds audio itself,
    else every folder below it that does (a set's condition folders, or several builds of the
    sets, each with its condition folders). Every folder given is walked once."""
    from sim.research.corpus import audio_files

    folders: list[tuple[Path, list[Path]]] = []
    for folder in dirs:
        if not folder.is_dir():
            raise ConfigError(f"--requests {folder}: no such folder")
        audio = audio_files(folder, "--requests")
        if any(p.parent == folder for p in audio):
            folders.append((folder, audio))  # a condition folder
        else:
            for parent in sorted({p.parent for p in audio}):
                folders.append((parent, [p for p in audio if p.parent == parent]))
    return folders


def _requests(out: Output, opts: FarOptions, config: Any) -> None:
    """``far --requests``: one line per condition folder (see
    :func:`sim.research.far.request_report`)."""
    from sim.research import far as engine
    from sim.research.buckets import bucket_rows

    if opts.positives or opts.negatives or opts.stream_path:
        raise ConfigError("--requests replaces --positives/--negatives/--stream; give one")
    models = tuple(opts.models) or config.wakeword.models
    wake = wake_settings(config, models)
    folders = _condition_folders(opts.request_dirs)
    # Labels are checked before scoring, which can take an hour: a mistake is named at once.
    labels = {folder: engine.read_request_labels(folder, audio) for folder, audio in folders}
    job = engine.ScoreJob(models=models, vad=config.vad)
    cache = score_cache(opts, job)
    # A file's role is its folder's path: two builds of the sets (``--seed``) hold the same
    # condition names and the same file names, each with its own labels.
    files = [(p, str(f)) for f, audio in folders for p in audio]
    workers = opts.workers or os.cpu_count() or 1
    scored = score_with_progress(out, files, job, workers, cache, opts.scheduler)
    by_condition: dict[str, Any] = {}
    for folder, _ in folders:
        mine = [s for s in scored if s.role == str(folder)]
        report = engine.request_report(
            folder.name, mine, labels[folder], wake, config.speaker, job.pad_s
        )
        # Folders of the same condition (from several builds) are pooled into one row.
        pooled = by_condition.get(folder.name)
        by_condition[folder.name] = report if pooled is None else pooled.pooled_with(report)
    reports = list(by_condition.values())
    for report in reports:
        out.emit({"models": list(models), **report.as_dict(cases=opts.cases)})
    groups = [([s for s in scored if s.role == str(f)], labels[f]) for f, _ in folders]
    buckets = bucket_rows(groups, wake, config.speaker, job.pad_s)
    for row in buckets:
        out.emit({"models": list(models), **row.as_dict()})
    if not out.json_lines:
        _request_table(out, models, reports, defaulted=not opts.models)
        if buckets:
            _bucket_table(out, buckets)
        if opts.cases:
            _case_table(out, reports)


def _bucket_table(out: Output, rows: list[Any]) -> None:
    """The talk sets' requests by pause and by level (:mod:`sim.research.buckets`)."""
    from rich.table import Table

    table = Table(title="requests by pause and by level (95 % Wilson interval)")
    for column in ("bucket", "requests kept", "share", "interval", "kept s / request", "cut"):
        table.add_column(column, justify="left" if column == "bucket" else "right")
    for row in rows:
        line = row.as_dict()
        low, high = line["interval_95"] or (0.0, 0.0)
        per = line["kept_s_per_request"]
        table.add_row(
            str(line["bucket"]),
            f"{line['requests_kept']}/{line['requests']}",
            f"{100 * line['kept_share']:.1f} %",
            f"{100 * low:.1f}-{100 * high:.1f} %",
            "-" if per is None else f"{per:.2f}",
            str(line["cut_short"]),
        )
    out.console.print(table)


def _request_table(
    out: Output, models: tuple[str, ...], reports: list[Any], *, defaulted: bool
) -> None:
    from rich.table import Table

    pooled = max((r.folders for r in reports), default=1)
    title = f"keepmum far --requests: {', '.join(models)}"
    if defaulted:  # say so: wakes of other wake words in the sets are misses of this device
        title += " (the device's configured models; --model NAME for others)"
    if pooled > 1:
        title += f" ({pooled} folders per condition, pooled)"
    table = Table(title=title)
    for column in (
        "condition",
        "files",
        "wakes",
        "discarded",
        "kept",
        "kept s",
        "requests kept",
        "late wakes",
        "cut short",
        "over bound",
        "discard reasons",
    ):
        table.add_column(
            column, justify="left" if column in ("condition", "discard reasons") else "right"
        )
    for r in reports:
        share = f" ({100 * r.discarded / r.wakes:.0f} %)" if r.wakes else ""
        table.add_row(
            r.condition,
            str(r.files),
            str(r.wakes),
            f"{r.discarded}{share}",
            str(r.kept),
            f"{r.kept_s:.1f}",
            f"{r.requests_kept}/{r.requests}" if r.requests else "-",
            str(r.late_wakes) if r.requests else "-",
            str(r.cut_short),
            str(r.over_bound),
            ", ".join(f"{k} {v}" for k, v in sorted(r.reasons.items())),
        )
    out.table(table)


def _case_table(out: Output, reports: list[Any]) -> None:
    """``--cases``: one line per wake behind a miss, condition by condition (the file's path
    names its condition folder)."""
    from rich.table import Table

    table = Table(title="the wakes behind the misses (seconds from the file's start)")
    table.add_column("file", overflow="fold")
    for column in ("what", "reason", "wake", "ended", "request ends", "kept s"):
        table.add_column(column, justify="left" if column in ("what", "reason") else "right")
    for report in reports:
        for case in report.cases:
            table.add_row(
                case.file,
                case.what,
                case.reason,
                f"{case.wake_s:.2f}",
                f"{case.end_s:.2f}",
                "-" if case.request_end_s is None else f"{case.request_end_s:.2f}",
                f"{case.kept_s:.2f}",
            )
    if table.row_count:
        out.table(table)
    else:
        out.console.print("no misses: every false wake discarded, every request kept whole")


def _inputs(opts: FarOptions) -> tuple[list[Any], list[tuple[Path, str]]]:
    """The folders given (empty for --stream) and the ``(path, role)`` pairs to score."""
    from sim.research.folders import collect_folders

    stream, labels = opts.stream_path, opts.labels_path
    if stream is not None or labels is not None:
        if stream is None or labels is None:
            raise ConfigError("--stream and --labels go together (a recording and its spans)")
        if opts.positives or opts.negatives:
            raise ConfigError("--stream replaces --positives/--negatives; give one or the other")
        if not stream.is_file():
            raise ConfigError(f"--stream {stream}: no such file")
        return [], [(stream, "stream")]
    if not opts.positives and not opts.negatives:
        raise ConfigError("give --positives DIR and/or --negatives DIR, or --stream and --labels")
    return collect_folders(opts.positives, opts.negatives)


def _folder_table(out: Output, tallies: list[Any], points: list[Any], operating: Any) -> None:
    """Files and hours per folder given, and each folder's errors at the operating point."""
    from rich.table import Table

    if not tallies or operating is None:
        return
    index = next(i for i, p in enumerate(points) if p is operating.point)
    threshold = operating.point.threshold
    # Folders relative to where they all are, so that long paths do not fold in the column.
    base = Path(os.path.commonpath([t.folder.absolute().parent for t in tallies]))
    under = f" (under {escape(base)})" if base != Path(base.anchor) else ""
    table = Table(title=f"inputs, per folder{under}")
    for column in ("set", "folder", "files", "hours", f"at {threshold:g}"):
        table.add_column(
            column,
            justify="left" if column in ("set", "folder") else "right",
            overflow="fold",  # a long path is shown whole, over several lines
        )
    for t in tallies:
        errors = "missed" if t.role == "positive" else "false accepts"
        table.add_row(
            f"{t.role}s",
            escape(t.folder.absolute().relative_to(base) if under else t.folder.absolute()),
            str(t.files),
            f"{t.hours:.3f}",
            f"{t.errors[index]} {errors}",
        )
    out.table(table)


def _write_csv(
    path: Path, scored: list[Any], names: tuple[str, ...], model: str, wake: Any, pad_s: float
) -> None:
    from sim.research import far as engine
    from sim.research.det_plot import FileScoreRow, write_file_scores_csv
    from wakeword.metrics import summarize_file

    threshold = wake.threshold_for(names[0])
    rows = [
        FileScoreRow(
            file=str(f.path),
            model=model,
            label=f.role,
            threshold=threshold,
            summary=summarize_file(
                engine.model_scores(f.result, names),
                threshold,
                trigger_frames=wake.trigger_frames,
                refractory_frames=wake.refractory_frames,
                t0_s=-pad_s,
            ),
        )
        for f in scored
    ]
    write_file_scores_csv(path, rows)
