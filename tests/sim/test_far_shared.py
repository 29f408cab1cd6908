"""Real recordings: `keepmum far` detects exactly where openWakeWord's `predict_clip` does.

Positives: every clip under ``wake/``; negatives: every 16th clip of ``keywords/`` (about 50
crowd-sourced clips, to keep the suite short; the rule is the same for all 812). For each file,
the activations ``keepmum far`` reports (device threshold 0.5, trigger 1 frame, refractory 2 s)
must equal the activations of openWakeWord 0.5.1's own ``Model(...).predict_clip`` scores (onnx,
a fresh model per file) under the same rule.

Compared from frame 16 on: before it openWakeWord's scores depend on its *random* start features
(keepmum seeds them); those frames are the first 1.28 s, which ``predict_clip``'s 1 s of leading
silence mostly covers. ``predict_clip`` also drops the last frame that the device's replay scores
(zero-padded, in the trailing silence), so only the frames both have are compared.

openWakeWord is installed with the ``onnx`` backend only (Python 3.10-3.11); on 3.12+ this skips,
and ``tests/wakeword/test_backend_agreement.py`` holds the ``tflite`` backend to the ONNX peaks.
"""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from device.sources import REPLAY_PAD_S
from tests.conftest import backend_or_skip
from wakeword.trigger import activations

pytestmark = [pytest.mark.shared_audio, pytest.mark.slow]

FIRST_COMPARED_FRAME = 16


def _corpus(shared: Path, tmp: Path) -> tuple[Path, Path]:
    negatives = tmp / "negatives"
    negatives.mkdir()
    keywords = sorted((shared / "keywords").rglob("*.flac"))
    for index, path in enumerate(keywords[::16]):
        (negatives / f"{index:03d}_{path.parent.name}{path.suffix}").symlink_to(path)
    return shared / "wake", negatives


def _openwakeword_activations(path: Path) -> tuple[list[int], int]:
    from openwakeword.model import Model  # the reference; installed with the onnx backend only

    samples, rate = sf.read(path, dtype="int16")
    assert rate == 16000 and samples.ndim == 1, path
    model = Model(wakeword_models=["alexa"], inference_framework="onnx")
    scores = np.array([frame["alexa"] for frame in model.predict_clip(samples)], np.float32)
    return activations(scores, 0.5, 1, 25), len(scores)


def test_far_detections_equal_predict_clip(shared_audio: Path, tmp_path: Path) -> None:
    backend_or_skip("onnx")
    positives, negatives = _corpus(shared_audio, tmp_path)
    table = tmp_path / "files.csv"
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path / "cache")}
    shim = "import sys; from sim.cli import main; main(sys.argv[1:])"
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            shim,
            "far",
            "--positives",
            str(positives),
            "--negatives",
            str(negatives),
            "--model",
            "alexa",
            "--workers",
            "2",
            "--thresholds",
            "0.5",
            "--csv",
            str(table),
            "--json",
            "--home",
            str(tmp_path / "h"),
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=900,
    )
    assert result.returncode == 0, result.stderr
    [line] = [json.loads(x) for x in result.stdout.splitlines()]
    assert line["backend"] == "onnx"  # far says which backend scored
    rows = list(csv.DictReader(table.open()))
    assert len(rows) == line["positives"] + len(list(negatives.iterdir()))
    compared = fired = 0
    for row in rows:
        # CSV times are file-relative frame ends (as replay's wake t): frame = (t + pad) / 0.08 - 1
        ours = [
            round((float(t) + REPLAY_PAD_S) / 0.08) - 1 for t in row["activation_times_s"].split()
        ]
        theirs, frames = _openwakeword_activations(Path(row["file"]))
        assert int(row["frames"]) - frames in (1, 2), row["file"]
        keep = range(FIRST_COMPARED_FRAME, frames)
        assert [f for f in ours if f in keep] == [f for f in theirs if f in keep], row["file"]
        compared += 1
        fired += bool(theirs)
    assert compared == len(rows) > 70
    assert fired >= 5  # the five alexa clips of wake/ really fire: the comparison is not all-empty
