"""The DET plot is a real PNG, and the CSV tables hold what the sweep and the files say."""

from __future__ import annotations

import csv
import math
import struct
from pathlib import Path

import numpy as np
import pytest

from sim.research import det_plot
from sim.research.det_plot import (
    FILE_COLUMNS,
    SWEEP_COLUMNS,
    DetCurve,
    FileScoreRow,
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
    assert (width, height) == (880, 616)  # 8 x 5.6 inches at 110 dpi
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
