"""The files a false-wake benchmark leaves for a researcher: a DET plot and score tables.

* :func:`plot_det` draws miss rate (false rejects, %) against false accepts per hour on a log
  axis, one curve per model, every point with its confidence intervals as bars, the operating
  point marked and labelled with what its upper bound shows, the target drawn and labelled; and
  below, the kept seconds per hour of negatives per threshold (the privacy cost). A log axis
  cannot show zero, and 0 false accepts in ``h`` hours only bounds the rate, so those points sit
  on the left edge as left-pointing markers, their bar reaching the upper bound, annotated
  "0 FA in h h (95 % upper bound X FA/h)". :func:`draw_det` does the drawing on a given figure
  and returns the data of every point drawn (:class:`DetDrawing`).
* :func:`write_sweep_csv`: one row per model and threshold, the same figures as the ``--json``
  lines of ``keepmum far``.
* :func:`write_file_scores_csv`: one row per file and model: its length, its highest score and
  where, and its activations at the threshold. This is the table to sort when asking "which
  negatives fool the model, and which positives does it miss?".
* :func:`write_frame_scores_csv`: the long format, one row per 80 ms frame
  (file, model, frame, t_s, score), to re-threshold or re-plot without re-running a model.

NaN (a rate with no denominator) is written as an empty CSV cell.
"""

from __future__ import annotations

import csv
import io
import math
import textwrap
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from device.audio import FRAME_SECONDS
from keepmum.files import write_file
from wakeword.metrics import DetPoint, FileSummary, OperatingPoint

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = [
    "CostSeries",
    "DetCurve",
    "DetDrawing",
    "DrawnPoint",
    "FileScoreRow",
    "draw_det",
    "plot_det",
    "write_file_scores_csv",
    "write_frame_scores_csv",
    "write_sweep_csv",
]

SWEEP_COLUMNS = ("model", *(f.name for f in fields(DetPoint)))
FILE_COLUMNS = (
    "file",
    "model",
    "label",
    "threshold",
    "duration_s",
    "frames",
    "max_score",
    "max_score_t_s",
    "activations",
    "activation_times_s",
)
FRAME_COLUMNS = ("file", "model", "frame", "t_s", "score")
FIGURE_INCHES = (8.0, 8.4)
FIGURE_DPI = 110


@dataclass(frozen=True)
class DetCurve:
    """One model's sweep, and the operating point to mark on it."""

    model: str
    points: Sequence[DetPoint]
    operating: OperatingPoint | None = None


@dataclass(frozen=True)
class FileScoreRow:
    """One file under one model: the per-file table's row."""

    file: str
    model: str
    label: str
    """``positive`` or ``negative`` (or ``stream``)."""
    threshold: float
    summary: FileSummary


def _cell(value: object) -> object:
    if isinstance(value, float):
        return "" if math.isnan(value) else repr(value)
    return value


def write_sweep_csv(
    path: Path, model: str, points: Sequence[DetPoint], *, append: bool = False
) -> Path:
    """One row per threshold: ``model`` and every :class:`DetPoint` field. With ``append`` the
    rows go after an existing table (its header written once), so models can share one file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    new = not append or not path.exists() or path.stat().st_size == 0
    handle = io.StringIO(newline="")
    writer = csv.writer(handle)
    if new:
        writer.writerow(SWEEP_COLUMNS)
    for point in points:
        writer.writerow([model, *(_cell(v) for v in point.as_dict().values())])
    if new:  # a new table as every output of far: 0600, written whole (keepmum.files)
        write_file(path, handle.getvalue().encode("utf-8"), overwrite=True)
    else:
        with path.open("a", newline="", encoding="utf-8") as existing:
            existing.write(handle.getvalue())
    return path


def write_file_scores_csv(path: Path, rows: Iterable[FileScoreRow]) -> Path:
    """One row per file and model (columns: :data:`FILE_COLUMNS`); activation times are the
    ends of the activation frames in seconds (as replay's wake ``t``), separated by spaces."""
    path.parent.mkdir(parents=True, exist_ok=True)
    # Built in memory, then written whole: no half table if scoring data is odd.
    handle = io.StringIO(newline="")
    writer = csv.writer(handle)
    writer.writerow(FILE_COLUMNS)
    for row in rows:
        summary = row.summary
        writer.writerow(
            [
                row.file,
                row.model,
                row.label,
                _cell(float(row.threshold)),
                _cell(round(summary.duration_s, 6)),
                summary.frames,
                _cell(summary.max_score),
                _cell(round(summary.max_score_t_s, 6)),
                len(summary.activation_frames),
                " ".join(f"{t:.2f}" for t in summary.activation_times_s),
            ]
        )
    write_file(path, handle.getvalue().encode("utf-8"), overwrite=True)
    return path


def write_frame_scores_csv(
    path: Path, file: str, model: str, scores: npt.ArrayLike, *, append: bool = False
) -> Path:
    """Every frame's score of one file under one model (columns: :data:`FRAME_COLUMNS`; ``t_s``
    is the start of the 80 ms frame). ``append`` adds a file's rows to an existing table."""
    values = np.asarray(scores, dtype=np.float64).ravel()
    path.parent.mkdir(parents=True, exist_ok=True)
    new = not append or not path.exists() or path.stat().st_size == 0
    with path.open("a" if append else "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        if new:
            writer.writerow(FRAME_COLUMNS)
        writer.writerows(
            (file, model, i, f"{i * FRAME_SECONDS:.2f}", f"{score:.6g}")
            for i, score in enumerate(values.tolist())
        )
    return path


@dataclass(frozen=True)
class DrawnPoint:
    """One threshold of one curve as the DET panel draws it: the data behind each marker."""

    model: str
    threshold: float
    x: float
    """Where it is drawn on the FA/h axis: its FA/h, or the axis' left edge for 0 false
    accepts (a log axis has no 0; the marker points left: "at most this")."""
    y: float
    """Its FRR (or stream miss rate), in %."""
    x_low: float
    x_high: float
    """The FA/h interval's bar (``x_low`` is the edge for 0 false accepts)."""
    y_low: float
    y_high: float
    """The FRR interval's bar, in %."""
    zero_fa: bool
    """Drawn at the edge: no false accept in the negative hours."""


@dataclass(frozen=True)
class CostSeries:
    """One curve's kept-seconds panel: seconds of audio its false accepts would keep, per hour
    of negatives, against the threshold (NaN thresholds left out)."""

    model: str
    thresholds: tuple[float, ...]
    kept_s_per_hour: tuple[float, ...]


@dataclass(frozen=True)
class DetDrawing:
    """What :func:`draw_det` drew, for a caller or a test to check against the sweep."""

    points: tuple[DrawnPoint, ...]
    edge_fa_per_hour: float
    """The DET panel's left limit, where 0-FA points sit."""
    operating: tuple[tuple[str, DrawnPoint, str], ...]
    """Per curve with an operating point: model, the point, and its legend label."""
    zero_notes: tuple[str, ...]
    """The annotation beside each curve's 0-FA points."""
    cost: tuple[CostSeries, ...]


def _percent(frr: float) -> float:
    return 100.0 * frr


def _rate(value: float) -> str:
    return f"{value:.0f}" if value >= 100 else f"{value:.3g}"


def _label_operating(op: OperatingPoint) -> str:
    p = op.point
    kept = "" if math.isnan(p.kept_s_per_hour) else f", keeps {p.kept_s_per_hour:.1f} s/h"
    # Zero false accepts says only "fewer than the upper bound": say how much audio it was.
    rate = (
        f"0 FA in {p.negative_hours:.3g} h" if p.false_accepts == 0 else f"{p.fa_per_hour:.2f} FA/h"
    )
    verdict = textwrap.fill(f"({op.verdict()})", 90)
    return f"threshold {p.threshold:g}: {_percent(p.frr):.1f} % missed, {rate}{kept}\n{verdict}"


def _drawable(points: Sequence[DetPoint]) -> list[DetPoint]:
    return sorted(
        (p for p in points if not (math.isnan(p.frr) or math.isnan(p.fa_per_hour))),
        key=lambda p: (p.fa_per_hour, -p.frr, p.threshold),
    )


def _edge(curves: Sequence[DetCurve], target_fa_per_hour: float) -> float:
    """The FA/h axis' left limit: below every interval's lower end and the target, at a decade
    (a log axis cannot show 0; 0-FA points are drawn here)."""
    lows = [
        p.fa_per_hour_low
        for c in curves
        for p in _drawable(c.points)
        if p.false_accepts > 0 and p.fa_per_hour_low > 0
    ]
    highs = [p.fa_per_hour_high for c in curves for p in _drawable(c.points)]
    candidates = [target_fa_per_hour / 3 if target_fa_per_hour > 0 else 0.01]
    candidates += [low / 1.5 for low in lows] + [high / 30 for high in highs if high > 0]
    return float(10 ** math.floor(math.log10(min(candidates))))


def _drawn(model: str, p: DetPoint, edge: float) -> DrawnPoint:
    zero = p.false_accepts == 0
    return DrawnPoint(
        model=model,
        threshold=p.threshold,
        x=edge if zero else p.fa_per_hour,
        y=_percent(p.frr),
        x_low=edge if zero else p.fa_per_hour_low,
        x_high=p.fa_per_hour_high,
        y_low=_percent(p.frr_low),
        y_high=_percent(p.frr_high),
        zero_fa=zero,
    )


def _bar(p: DrawnPoint) -> tuple[float, float, float, float, float, float]:
    """``(x, y, x_low, x_high, y_low, y_high)`` of its error bars; no FA/h bar at the edge."""
    x_low, x_high = (p.x, p.x) if p.zero_fa else (p.x_low, p.x_high)
    return (p.x, p.y, x_low, x_high, p.y_low, p.y_high)


def draw_det(
    figure: Figure,
    curves: Sequence[DetCurve],
    *,
    data_label: str,
    target_fa_per_hour: float = 0.5,
    stream_mode: bool = False,
) -> DetDrawing:
    """Draw the DET panel and the kept-seconds panel on ``figure``; return the data drawn.

    DET panel: FRR (%) against FA/h (log), one curve per model, each point with its FRR (Wilson)
    and FA/h (exact Poisson) interval as bars. Points with 0 false accepts sit on the left edge
    as left-pointing markers, their bar reaching the upper bound, with one note per curve:
    "0 FA in N h (95 % upper bound X FA/h)". The target is a labelled dashed line; the operating
    point a star whose legend label says what its upper bound shows (never "meets the target"
    when the bound does not). Cost panel: kept seconds per hour of negatives, per threshold,
    the operating threshold marked.
    """
    det, key, cost_axes = figure.subplots(3, 1, gridspec_kw={"height_ratios": [3, 0.5, 1.2]})
    key.set_axis_off()  # the legend's own row: it never covers a point or the target's label
    edge = _edge(curves, target_fa_per_hour)
    drawn: list[DrawnPoint] = []
    operating: list[tuple[str, DrawnPoint, str]] = []
    notes: list[str] = []
    costs: list[CostSeries] = []
    right = target_fa_per_hour * 3 if target_fa_per_hour > 0 else 1.0
    top = 5.0
    level = ""
    for curve in curves:
        points = [_drawn(curve.model, p, edge) for p in _drawable(curve.points)]
        if not points:
            continue
        level = f"{100 * curve.points[0].confidence:g} %"
        drawn += points
        right = max(right, *(p.x_high for p in points))
        top = max(top, *(p.y_high for p in points))
        color = _draw_curve(det, curve.model, points)
        zero = [p for p in points if p.zero_fa]
        if zero:
            notes.append(_draw_zero_fa(det, curve, zero, color, level, len(notes)))
        at = _draw_operating(det, curve, edge, color)
        if at is not None:
            operating.append(at)
        cost = _draw_cost(cost_axes, curve, color)
        if cost is not None:
            costs.append(cost)
    _finish_det_axes(det, edge, right, top, target_fa_per_hour, level, stream_mode)
    models = ", ".join(c.model for c in curves) or "no model"
    det.set_title(f"DET: {models}\n{data_label}", fontsize=11)
    handles, labels = det.get_legend_handles_labels()
    if drawn:
        key.legend(handles, labels, loc="center", fontsize=7.5, frameon=False, ncol=1)
    _finish_cost_axes(cost_axes, bool(costs))
    return DetDrawing(tuple(drawn), edge, tuple(operating), tuple(notes), tuple(costs))


def _draw_curve(det: Axes, model: str, points: Sequence[DrawnPoint]) -> Any:
    """A curve's rated points as a line and every point's interval as bars; its colour."""
    rated = [p for p in points if not p.zero_fa]
    (line,) = det.plot(
        [p.x for p in rated],
        [p.y for p in rated],
        marker="o",
        markersize=3.5,
        linewidth=1.4,
        label=model,
        zorder=3,
    )
    color: Any = line.get_color()  # a matplotlib colour: a name, hex string or RGB(A) tuple
    # Thresholds with the same counts share a point: one bar each, or the bars' shade would
    # say more about how many thresholds tie than about the interval. The FA/h bars of 0-FA
    # points are the band below instead (they are all the same bar).
    bars = list(dict.fromkeys(_bar(p) for p in points))
    det.errorbar(
        [b[0] for b in bars],
        [b[1] for b in bars],
        xerr=[[b[0] - b[2] for b in bars], [b[3] - b[0] for b in bars]],
        yerr=[[b[1] - b[4] for b in bars], [b[5] - b[1] for b in bars]],
        fmt="none",
        ecolor=color,
        elinewidth=0.8,
        alpha=0.3,
        capsize=0,
        zorder=2,
    )
    return color


def _draw_zero_fa(
    det: Axes,
    curve: DetCurve,
    zero: Sequence[DrawnPoint],
    color: Any,
    level: str,
    earlier_notes: int,
) -> str:
    """A curve's points with 0 false accepts, at the left edge, and their note; the note."""
    # One bound for all of them (the same hours, 0 events): drawn once, as a bar from
    # the edge to the bound at the best of them (the lowest FRR: the point that matters
    # on a DET curve), and as a dotted line at the bound beside all of them.
    upper = zero[0].x_high
    best = min(zero, key=lambda p: (p.y, -p.threshold))
    det.errorbar(
        [best.x],
        [best.y],
        xerr=[[0.0], [upper - best.x]],
        fmt="none",
        ecolor=color,
        elinewidth=1.4,
        capsize=5,
        clip_on=False,
        zorder=4,
    )
    det.plot(
        [upper, upper],
        [min(p.y for p in zero), max(p.y for p in zero)],
        color=color,
        linestyle=":",
        linewidth=1.2,
        zorder=2,
        label=f"{curve.model}: upper bound of its 0-FA points",
    )
    det.plot(
        [p.x for p in zero],
        [p.y for p in zero],
        marker="<",
        markersize=7,
        color=color,
        markeredgecolor="black",
        markeredgewidth=0.5,
        linestyle="none",
        clip_on=False,
        zorder=6,  # above an operating star on the same spot
        label=f"{curve.model}: 0 false accepts, drawn at the left edge",
    )
    hours = next(p.negative_hours for p in curve.points if p.false_accepts == 0)
    note = f"0 FA in {hours:.3g} h\n({level} upper bound {_rate(upper)} FA/h)"
    det.annotate(
        note,
        xy=(best.x, best.y),
        xytext=(36, 30 + 34 * earlier_notes),
        textcoords="offset points",
        fontsize=8,
        color=color,
        va="center",
        arrowprops={"arrowstyle": "->", "color": color, "linewidth": 0.8},
        bbox={"boxstyle": "round,pad=0.25", "facecolor": "white", "alpha": 0.85},
        zorder=7,
    )
    return note


def _draw_operating(
    det: Axes, curve: DetCurve, edge: float, color: Any
) -> tuple[str, DrawnPoint, str] | None:
    """The curve's operating point as a star (model, point drawn, legend label), if it has one."""
    op = curve.operating
    if op is None or math.isnan(op.point.frr) or math.isnan(op.point.fa_per_hour):
        return None
    at = _drawn(curve.model, op.point, edge)
    label = f"{curve.model} at {_label_operating(op)}"
    det.plot(
        [at.x],
        [at.y],
        marker="*",
        markersize=15,
        color=color,
        markeredgecolor="black",
        linestyle="none",
        clip_on=False,
        zorder=5,
        label=label,
    )
    return (curve.model, at, label)


def _draw_cost(cost_axes: Axes, curve: DetCurve, color: Any) -> CostSeries | None:
    """The curve's kept seconds per hour per threshold, the operating threshold marked."""
    series = [p for p in sorted(curve.points, key=lambda p: p.threshold)]
    series = [p for p in series if not math.isnan(p.kept_s_per_hour)]
    if not series:
        return None
    cost_axes.plot(
        [p.threshold for p in series],
        [p.kept_s_per_hour for p in series],
        marker="o",
        markersize=3.5,
        color=color,
        label=curve.model,
    )
    op = curve.operating
    if op is not None:
        on_left = op.point.threshold > 0.6  # the label stays inside the panel
        cost_axes.axvline(op.point.threshold, color=color, linestyle=":", linewidth=1.2)
        cost_axes.annotate(
            f"{curve.model} at {op.point.threshold:g}: {op.point.kept_s_per_hour:.1f} s/h",
            xy=(op.point.threshold, 1.0),
            xycoords=("data", "axes fraction"),
            xytext=(-4 if on_left else 4, -12),
            textcoords="offset points",
            ha="right" if on_left else "left",
            fontsize=8,
            color=color,
        )
    return CostSeries(
        curve.model,
        tuple(p.threshold for p in series),
        tuple(p.kept_s_per_hour for p in series),
    )


def _finish_det_axes(
    det: Axes,
    edge: float,
    right: float,
    top: float,
    target_fa_per_hour: float,
    level: str,
    stream_mode: bool,
) -> None:
    """The DET panel's axes, target line and labels."""
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    det.set_xscale("log")
    det.set_xlim(edge, 10 ** math.ceil(math.log10(right * 1.2)))
    det.xaxis.set_major_locator(LogLocator(base=10, numticks=12))
    # The left edge stands for 0 false accepts (a log axis has no 0): its label says so.
    det.xaxis.set_major_formatter(
        FuncFormatter(lambda value, _: f"{value:g}\n(0 FA)" if value == edge else f"{value:g}")
    )
    det.xaxis.set_minor_formatter(NullFormatter())
    top = min(100.0, top * 1.05 + 1.0)
    det.set_ylim(-0.03 * top, top)  # a little below 0 so a 0 % point is not cut in half
    if target_fa_per_hour > 0:
        det.axvline(
            target_fa_per_hour,
            color="0.25",
            linestyle="--",
            linewidth=1.0,
            label=f"target {target_fa_per_hour:g} FA/h",
        )
        det.text(
            target_fa_per_hour,
            0.99,
            f" target {target_fa_per_hour:g} FA/h",
            transform=det.get_xaxis_transform(),
            fontsize=8,
            color="0.25",
            ha="left",
            va="top",
        )
    det.set_xlabel("false accepts per hour (log scale; bars: " + (level or "95 %") + " intervals)")
    det.set_ylabel(
        "keywords missed in the stream (%)"
        if stream_mode
        else "false rejects, positives missed (%)"
    )
    det.grid(True, which="major", alpha=0.3)


def _finish_cost_axes(cost_axes: Axes, has_costs: bool) -> None:
    """The kept-seconds panel's axes and labels (a note when no point has a cost)."""
    if not has_costs:
        cost_axes.text(
            0.5,
            0.5,
            "kept seconds not computed for these points",
            transform=cost_axes.transAxes,
            ha="center",
            va="center",
            fontsize=9,
            color="0.4",
        )
    cost_axes.set_xlabel("threshold")
    cost_axes.set_ylabel("kept s per hour\nof negatives")
    cost_axes.set_title(
        "privacy cost: audio the device would keep after false wakes", fontsize=9, loc="left"
    )
    cost_axes.set_xlim(0.0, 1.0)
    cost_axes.set_ylim(bottom=0.0)
    cost_axes.grid(True, alpha=0.3)


def plot_det(
    path: Path,
    curves: Sequence[DetCurve],
    *,
    data_label: str,
    target_fa_per_hour: float = 0.5,
    stream_mode: bool = False,
) -> Path:
    """Write the DET plot as PNG (see :func:`draw_det`): a DET panel above a kept-seconds panel.

    ``data_label`` says what was measured ("329 positives, 3.1 h negatives"); it goes in the
    title beside the models. ``stream_mode`` only changes the wording (miss rate of keywords
    placed in a stream rather than false-reject rate of clips).
    """
    # The object API, not pyplot: no global figure state, no GUI backend, safe in threads.
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=FIGURE_INCHES, dpi=FIGURE_DPI)
    FigureCanvasAgg(figure)
    draw_det(
        figure,
        curves,
        data_label=data_label,
        target_fa_per_hour=target_fa_per_hour,
        stream_mode=stream_mode,
    )
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    write_file(path, lambda out: figure.savefig(out, format="png"), overwrite=True)
    return path
