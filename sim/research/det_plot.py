"""The files a false-wake benchmark leaves for a researcher: a DET plot and score tables.

* :func:`plot_det` draws miss rate (false rejects, %) against false accepts per hour on a log
  axis, one curve per model, with the operating point marked and labelled and the target drawn.
  A log axis cannot show zero, and zero false accepts in ``h`` hours only says "fewer than one
  in ``h`` hours", so zero-FA/h points are drawn at ``0.5 / h`` inside a grey band (explained in
  the legend) that marks where the data cannot resolve a rate.
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
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, fields
from pathlib import Path

import numpy as np
import numpy.typing as npt

from device.audio import FRAME_SECONDS
from device.files import write_file
from wakeword.metrics import DetPoint, FileSummary, OperatingPoint

__all__ = [
    "DetCurve",
    "FileScoreRow",
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
    with path.open("a" if append else "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        if new:
            writer.writerow(SWEEP_COLUMNS)
        for point in points:
            writer.writerow([model, *(_cell(v) for v in point.as_dict().values())])
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


def _resolution_floor(curves: Sequence[DetCurve]) -> float:
    """Where zero FA/h is drawn: half the smallest non-zero rate the data could show."""
    hours = [p.negative_hours for c in curves for p in c.points if p.negative_hours > 0]
    if not hours:
        return 0.01
    return 0.5 / max(hours)


def _percent(frr: float) -> float:
    return 100.0 * frr


def _label_operating(op: OperatingPoint) -> str:
    p = op.point
    kept = "" if math.isnan(p.kept_s_per_hour) else f", keeps {p.kept_s_per_hour:.1f} s/h"
    verdict = "meets" if op.meets_target else "misses"
    # Zero false accepts says only "fewer than one in this much audio": say how much.
    rate = (
        f"0 FA in {p.negative_hours:.3g} h" if p.false_accepts == 0 else f"{p.fa_per_hour:.2f} FA/h"
    )
    return (
        f"threshold {p.threshold:g}: {_percent(p.frr):.1f} % missed, "
        f"{rate}{kept}\n({verdict} the {op.target_fa_per_hour:g} FA/h target)"
    )


def plot_det(
    path: Path,
    curves: Sequence[DetCurve],
    *,
    data_label: str,
    target_fa_per_hour: float = 0.5,
    stream_mode: bool = False,
) -> Path:
    """Write a DET plot as PNG: miss rate (%) against false accepts per hour (log), one curve per
    model, each curve's operating point marked and labelled, the target as a dashed line.

    ``data_label`` says what was measured ("329 positives, 3.1 h negatives"); it goes in the
    title beside the models. ``stream_mode`` only changes the wording (miss rate of keywords
    placed in a stream rather than false-reject rate of clips).
    """
    # The object API, not pyplot: no global figure state, no GUI backend, safe in threads.
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(8.0, 5.6), dpi=110)
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    floor = _resolution_floor(curves)
    highest_fa = floor
    highest_miss = 5.0
    for curve in curves:
        drawable = sorted(
            (p for p in curve.points if not (math.isnan(p.frr) or math.isnan(p.fa_per_hour))),
            key=lambda p: (p.fa_per_hour, -p.frr),
        )
        if not drawable:
            continue
        xs = [max(p.fa_per_hour, floor) for p in drawable]
        ys = [_percent(p.frr) for p in drawable]
        highest_fa = max(highest_fa, *xs)
        highest_miss = max(highest_miss, *ys)
        (line,) = axes.plot(xs, ys, marker=".", markersize=4, linewidth=1.4, label=curve.model)
        op = curve.operating
        if op is not None and not math.isnan(op.point.frr):
            x = max(op.point.fa_per_hour, floor)
            y = _percent(op.point.frr)
            axes.plot(
                [x],
                [y],
                marker="*",
                markersize=15,
                color=line.get_color(),
                zorder=5,
                markeredgecolor="black",
                linestyle="none",
                label=f"{curve.model} at {_label_operating(op)}",
            )
            axes.annotate(
                f"{op.point.threshold:g}",
                xy=(x, y),
                xytext=(8, 6),
                textcoords="offset points",
                fontsize=8,
                fontweight="bold",
                color=line.get_color(),
            )
    left = min(floor / 1.6, target_fa_per_hour / 4)
    right = max(highest_fa * 1.6, target_fa_per_hour * 4)
    axes.set_xscale("log")
    axes.set_xlim(left, right)
    top = min(100.0, highest_miss * 1.1 + 1.0)
    axes.set_ylim(-0.03 * top, top)  # a little below 0 so a 0 % point is not cut in half
    # Below one false accept in the data no rate can be resolved; zero FA/h is drawn in there.
    resolution_h = 0.5 / floor
    axes.axvspan(
        left,
        2 * floor,
        color="0.92",
        zorder=0,
        label=f"under 1 FA in {resolution_h:.3g} h: 0 FA/h drawn at {floor:.2g}",
    )
    axes.axvline(target_fa_per_hour, color="0.3", linestyle="--", linewidth=1.0)
    axes.text(
        target_fa_per_hour,
        0.98,
        f"target {target_fa_per_hour:g} FA/h ",
        transform=axes.get_xaxis_transform(),
        fontsize=8,
        color="0.3",
        rotation=90,
        ha="right",
        va="top",
    )
    axes.set_xlabel("false accepts per hour (log scale)")
    axes.set_ylabel(
        "keywords missed in the stream (%)"
        if stream_mode
        else "false rejects, positives missed (%)"
    )
    models = ", ".join(c.model for c in curves) or "no model"
    axes.set_title(f"DET: {models}\n{data_label}", fontsize=11)
    axes.grid(True, which="both", alpha=0.3)
    if curves:
        axes.legend(loc="best", fontsize=8, framealpha=0.9)
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    write_file(path, lambda out: figure.savefig(out, format="png"), overwrite=True)
    return path
