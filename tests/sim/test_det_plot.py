"""The DET plot is a real PNG, and the CSV tables hold what the sweep and the files say."""

from __future__ import annotations

import csv
import itertools
import math
import struct
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest
from matplotlib.axes import Axes
from matplotlib.collections import PolyCollection
from matplotlib.figure import Figure

from sim.research import det_plot
from sim.research.det_plot import (
    FILE_COLUMNS,
    SWEEP_COLUMNS,
    DetCurve,
    FileScoreRow,
    draw_det,
    plot_det,
    write_file_scores_csv,
    write_frame_scores_csv,
    write_sweep_csv,
)
from wakeword.metrics import (
    DEFAULT_THRESHOLDS,
    DetPoint,
    choose_operating_point,
    summarize_file,
    sweep_clips,
)
from wakeword.stats import poisson_rate_interval

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == PNG_MAGIC
    assert data[12:16] == b"IHDR"
    width, height = struct.unpack(">II", data[16:24])
    assert data.rstrip(b"\x00").endswith(b"IEND\xaeB`\x82")
    return width, height


def _sweep(seed: int) -> list[DetPoint]:
    rng = np.random.default_rng(seed)
    positives = [np.r_[np.zeros(20), rng.beta(4, 1), np.zeros(5)] for _ in range(60)]
    negatives = [rng.beta(0.5, 30, 20_000) ** 0.35 for _ in range(3)]
    return sweep_clips(positives, negatives, DEFAULT_THRESHOLDS, refractory_frames=25)


def test_public_surface_is_declared() -> None:
    for name in det_plot.__all__:
        assert hasattr(det_plot, name), name


def test_plot_writes_a_valid_png_that_pillow_can_read(tmp_path: Path) -> None:
    points = _sweep(1)
    operating = choose_operating_point(points)
    assert operating is not None
    path = plot_det(
        tmp_path / "plots" / "det.png",
        [DetCurve("alexa", points, operating), DetCurve("hey_jarvis", _sweep(2))],
        data_label="60 positives, 1.3 h negatives",
    )
    width, height = _png_size(path)
    assert (width, height) == (880, 924)  # 8 x 8.4 inches at 110 dpi: DET above, cost below
    from PIL import Image

    with Image.open(path) as image:
        image.verify()
    with Image.open(path) as image:
        pixels = np.asarray(image.convert("L"))
    # Something is drawn: a blank canvas would be one shade.
    assert pixels.std() > 10


def test_plot_survives_degenerate_sweeps(tmp_path: Path) -> None:
    # No negatives (NaN FA/h), no positives (NaN FRR), every FA/h zero, no curves at all.
    no_negatives = sweep_clips([[0.9]], [], [0.5, 0.6])
    no_positives = sweep_clips([], [[0.1] * 100], [0.5])
    all_zero = sweep_clips([[0.9], [0.2]], [[0.1] * 100], [0.5, 0.95])
    curves = [
        DetCurve("a", no_negatives, choose_operating_point(no_negatives)),
        DetCurve("b", no_positives),
        DetCurve("c", all_zero, choose_operating_point(all_zero)),
    ]
    _png_size(plot_det(tmp_path / "odd.png", curves, data_label="odd", stream_mode=True))
    _png_size(plot_det(tmp_path / "empty.png", [], data_label="nothing"))


def _read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def test_sweep_csv_has_one_row_per_model_and_threshold(tmp_path: Path) -> None:
    points = sweep_clips([[0.1, 0.6]], [], [0.5, 0.7])
    path = tmp_path / "sweep.csv"
    write_sweep_csv(path, "alexa", points)
    write_sweep_csv(path, "hey_jarvis", points, append=True)
    rows = _read_csv(path)
    assert list(rows[0]) == list(SWEEP_COLUMNS)
    assert [(r["model"], float(r["threshold"])) for r in rows] == [
        ("alexa", 0.5),
        ("alexa", 0.7),
        ("hey_jarvis", 0.5),
        ("hey_jarvis", 0.7),
    ]
    assert [float(r["frr"]) for r in rows[:2]] == [0.0, 1.0]
    # No negatives: FA/h has no denominator, written as an empty cell, never as 0.
    assert rows[0]["fa_per_hour"] == "" and rows[0]["false_accepts"] == "0"
    # Without append the table starts again.
    write_sweep_csv(path, "alexa", points[:1])
    assert len(_read_csv(path)) == 1


def test_file_scores_csv_rows(tmp_path: Path) -> None:
    scores = [0.1, 0.7, 0.9, 0.9, 0.2, 0.6]
    rows = [
        FileScoreRow("a.wav", "alexa", "negative", 0.5, summarize_file(scores, 0.5)),
        FileScoreRow("b.wav", "alexa", "positive", 0.5, summarize_file([], 0.5)),
    ]
    path = write_file_scores_csv(tmp_path / "files.csv", rows)
    first, empty = _read_csv(path)
    assert list(first) == list(FILE_COLUMNS)
    assert first["file"] == "a.wav" and first["label"] == "negative"
    assert float(first["max_score"]) == 0.9
    assert float(first["max_score_t_s"]) == pytest.approx(0.16)
    assert int(first["activations"]) == 4  # frames 1, 2, 3 and 5 (no refractory period)
    assert first["activation_times_s"] == "0.16 0.24 0.32 0.48"
    assert (empty["frames"], empty["max_score"], empty["activations"]) == ("0", "", "0")


def test_frame_scores_csv_is_long_format(tmp_path: Path) -> None:
    path = tmp_path / "frames.csv"
    write_frame_scores_csv(path, "a.wav", "alexa", np.array([0.0, 0.25, 1.0], dtype=np.float32))
    write_frame_scores_csv(path, "b.wav", "alexa", [0.5], append=True)
    rows = _read_csv(path)
    assert [(r["file"], int(r["frame"]), float(r["t_s"]), float(r["score"])) for r in rows] == [
        ("a.wav", 0, 0.0, 0.0),
        ("a.wav", 1, 0.08, 0.25),
        ("a.wav", 2, 0.16, 1.0),
        ("b.wav", 0, 0.0, 0.5),
    ]
    assert not any(math.isnan(float(r["score"])) for r in rows)


# --- what the DET plot draws: the data behind every marker ---------------------------------------


def _figure() -> Figure:
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    figure = Figure(figsize=det_plot.FIGURE_INCHES, dpi=det_plot.FIGURE_DPI)
    FigureCanvasAgg(figure)
    return figure


def _costed_sweep(hours: float, seed: int) -> list[DetPoint]:
    """Positives, and ``hours`` of negatives with a few real peaks, with speech flags and a
    kept-seconds cost, so that every panel has data: some thresholds with false accepts, the
    highest ones with none."""
    rng = np.random.default_rng(seed)
    frames = int(hours * 3600 / 0.08)
    negative = rng.beta(0.5, 30, frames) ** 0.6
    negative[rng.choice(frames, 6, replace=False)] = rng.uniform(0.55, 0.9, 6)
    positives = [np.r_[np.zeros(20), rng.beta(4, 1), np.zeros(5)] for _ in range(40)]
    flags = rng.random(frames) < 0.3
    return sweep_clips(
        positives,
        [negative],
        [round(0.05 * k, 2) for k in range(1, 20)],
        refractory_frames=25,
        negative_speech_flags=[flags],
        kept_seconds=lambda f, frame: float(np.sum(f[frame : frame + 50])) * 0.08,
    )


def _line_data(axes: Axes, label: str) -> npt.NDArray[np.float64]:
    [line] = [x for x in axes.get_lines() if x.get_label() == label]
    return np.asarray(line.get_xydata(), dtype=np.float64).reshape(-1, 2)


def _same(drawn: npt.NDArray[np.float64], expected: list[tuple[float, float]]) -> bool:
    return drawn.shape == (len(expected), 2) and np.allclose(drawn, np.array(expected))


@pytest.mark.parametrize("hours", [0.14, 40.0])
def test_every_drawn_point_is_its_sweep_point(hours: float) -> None:
    points = _costed_sweep(hours, 3)
    operating = choose_operating_point(points)
    assert operating is not None
    assert any(p.false_accepts for p in points) and any(not p.false_accepts for p in points)
    figure = _figure()
    drawing = draw_det(figure, [DetCurve("alexa", points, operating)], data_label="test")
    det, _, cost = figure.axes
    edge = drawing.edge_fa_per_hour
    assert det.get_xlim()[0] == pytest.approx(edge)
    assert edge < min(p.fa_per_hour_low for p in points if p.false_accepts)
    assert len(drawing.points) == len(points)
    by_threshold = {p.threshold: p for p in points}
    for drawn in drawing.points:
        p = by_threshold[drawn.threshold]
        assert drawn.zero_fa == (p.false_accepts == 0)
        assert drawn.x == (edge if drawn.zero_fa else p.fa_per_hour)
        assert (drawn.y, drawn.y_low, drawn.y_high) == pytest.approx(
            (100 * p.frr, 100 * p.frr_low, 100 * p.frr_high)
        )
        assert drawn.x_high == p.fa_per_hour_high
        assert drawn.x_low == (edge if drawn.zero_fa else p.fa_per_hour_low)
    # The artists hold exactly these points: the curve the rated ones, the edge markers the rest.
    rated = [(d.x, d.y) for d in drawing.points if not d.zero_fa]
    zero = [(d.x, d.y) for d in drawing.points if d.zero_fa]
    assert _same(_line_data(det, "alexa"), rated)
    assert _same(_line_data(det, "alexa: 0 false accepts, drawn at the left edge"), zero)
    # One note for the 0-FA points, with the upper bound of 0 events in these hours.
    bound = poisson_rate_interval(0, points[0].negative_hours, 0.95).high
    [note] = drawing.zero_notes
    shown = f"{bound:.0f}" if bound >= 100 else f"{bound:.3g}"
    assert note == f"0 FA in {points[0].negative_hours:.3g} h\n(95 % upper bound {shown} FA/h)"
    assert any(note == t.get_text() for t in det.texts)
    # The operating star is where its point is, and its label says what the bound shows.
    [(model, star, label)] = drawing.operating
    words = " ".join(label.split())  # the label is wrapped over lines
    chosen = operating.point
    assert model == "alexa" and star.threshold == chosen.threshold
    assert star.x == (edge if chosen.false_accepts == 0 else chosen.fa_per_hour)
    assert star.y == pytest.approx(100 * chosen.frr)
    assert _same(_line_data(det, label), [(star.x, star.y)])
    if operating.shown_to_meet_target:
        assert "meets the 0.5 FA/h target" in words
    else:
        assert "meets" not in words and ("not shown" in words or "misses" in words)
    # The cost panel: kept seconds per hour at every threshold, as swept.
    [series] = drawing.cost
    assert series.thresholds == tuple(p.threshold for p in points)
    assert series.kept_s_per_hour == pytest.approx([p.kept_s_per_hour for p in points])
    expected = list(zip(series.thresholds, series.kept_s_per_hour, strict=True))
    assert _same(_line_data(cost, "alexa"), expected)


def test_short_negatives_are_never_said_to_meet_the_target() -> None:
    short, long = _costed_sweep(0.14, 5), _costed_sweep(40.0, 5)
    labels = []
    for points in (short, long):
        op = choose_operating_point(points, 0.5, conservative=True)
        assert op is not None
        drawing = draw_det(_figure(), [DetCurve("alexa", points, op)], data_label="t")
        labels.append(" ".join(drawing.operating[0][2].split()))
        assert ("meets the" in labels[-1]) == op.shown_to_meet_target
    # 0.14 h cannot show 0.5 FA/h even with 0 false accepts (upper bound 26 FA/h); 40 h can,
    # and the estimate's own choice there is not shown by its bound (see the test above).
    assert "not shown to meet it" in labels[0] and "meets the 0.5 FA/h target" in labels[1]
    plain = choose_operating_point(long, 0.5)
    assert plain is not None and plain.meets_target and not plain.shown_to_meet_target


def test_ticks_do_not_overlap_and_no_shading_covers_the_plot() -> None:
    points = _costed_sweep(0.14, 7)
    figure = _figure()
    draw_det(figure, [DetCurve("alexa", points, choose_operating_point(points))], data_label="t")
    figure.tight_layout()
    renderer = figure.canvas.get_renderer()  # type: ignore[attr-defined]
    for axes in (figure.axes[0], figure.axes[2]):
        for axis in (axes.xaxis, axes.yaxis):
            boxes = [
                t.get_window_extent(renderer)
                for t in axis.get_ticklabels(which="both")
                if t.get_visible() and t.get_text()
            ]
            assert len(boxes) >= 3
            for first, second in itertools.pairwise(boxes):
                assert not first.overlaps(second), (first, second)
        area = axes.bbox.width * axes.bbox.height
        shades = [c for c in axes.collections if isinstance(c, PolyCollection)]  # fill_between
        for patch in [*axes.patches, *shades]:
            extent = patch.get_window_extent(renderer)
            assert extent.width * extent.height < 0.5 * area, patch
    # The edge tick says it stands for 0 false accepts.
    labels = [t.get_text() for t in figure.axes[0].xaxis.get_ticklabels()]
    assert any("(0 FA)" in text for text in labels)
