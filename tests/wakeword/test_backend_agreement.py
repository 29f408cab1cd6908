"""The two wake-word backends give the same detections, and peak scores within a stated bound.

How the comparison is made (the backends rarely share a Python: openWakeWord 0.5.1, the ONNX
reference, installs only on 3.10-3.11; pyopen-wakeword's TFLite models are the only ones on 3.12+):

* **Bundled fixtures** (no ``../shared`` needed): ``sim/data/fixtures.json`` holds each clip's
  peak per model as openWakeWord 0.5.1's own ONNX ``predict_clip`` scored it (4 decimals). The
  installed backend's peaks, scored as ``keepmum replay`` frames a file, must detect the same
  clips at the default threshold and stay within :data:`FIXTURE_BOUND` of those (looser: that
  reference started from openWakeWord's *random* start features, which move the first 16
  frames' scores from run to run, and was rounded; the ONNX backend itself differs from it by
  up to 0.003 on a near miss).
* **Shared real recordings** (80 clips, ``../shared/audio``): ``tests/data/peaks_<backend>.json``
  are per-clip peaks made by ``scripts/backend_peaks.py`` with each backend. The installed
  backend is scored live and compared with the *other* backend's committed file (same detections,
  :data:`PEAK_BOUND`) and with its own (1e-5: the committed file is still what this code computes).
* **Both live** where both are installed (3.10-3.11 with ``.[test]``): the same fixtures scored by
  both in one process.

Why hey_rhasspy's bound is wider: pyopen-wakeword's ``.tflite`` models are byte for byte the
``.tflite`` files openWakeWord 0.5.1 ships, and alexa, hey_jarvis and hey_mycroft agree with the
ONNX ones to about 1e-5 (the mel and embedding models agree to that too); hey_rhasspy's TFLite
conversion differs from its ONNX export by up to 0.063 at its peak (0.929 ONNX vs 0.991 TFLite on
``wake/wyoming/hey_rhasspy.wav``, 0.009 on negatives), measured with ``scripts/backend_peaks.py``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from device.sources import read_audio
from tests.conftest import REPO, backend_or_skip
from wakeword.backend import Backend, installed_backend
from wakeword.batch import BatchScorer

COMMON_MODELS = ("alexa", "hey_jarvis", "hey_mycroft", "hey_rhasspy")
PEAK_BOUND: dict[str, float] = {
    "alexa": 1e-3,
    "hey_jarvis": 1e-3,
    "hey_mycroft": 1e-3,
    "hey_rhasspy": 0.1,
}
"""Largest allowed |peak difference| between backends, per model (see the module docstring)."""
FIXTURE_BOUND: dict[str, float] = {
    **PEAK_BOUND,
    "alexa": 0.02,
    "hey_jarvis": 0.02,
    "hey_mycroft": 0.02,
}
"""Against fixtures.json's openWakeWord reference peaks (random start features, 4 decimals)."""
THRESHOLD = 0.5
DATA = REPO / "sim" / "data"
PEAKS = REPO / "tests" / "data"


def _fixture_clips() -> list[dict[str, Any]]:
    manifest = json.loads((DATA / "fixtures.json").read_text())
    clips: list[dict[str, Any]] = manifest["clips"]
    return clips


def _peaks(scorer: BatchScorer, path: Path) -> dict[str, float]:
    return {name: float(s.max()) for name, s in scorer.score(read_audio(path)).items()}


def _assert_agree(
    ours: dict[str, float],
    theirs: dict[str, float],
    what: str,
    bounds: dict[str, float] = PEAK_BOUND,
) -> None:
    for model in COMMON_MODELS:
        a, b = ours[model], theirs[model]
        assert (a >= THRESHOLD) == (b >= THRESHOLD), f"{what} {model}: {a:.4f} vs {b:.4f}"
        assert abs(a - b) <= bounds[model], f"{what} {model}: {a:.6f} vs {b:.6f}"


def test_installed_backend_detects_the_fixtures_as_openwakeword_did() -> None:
    scorer = BatchScorer(COMMON_MODELS)
    compared = 0
    for clip in _fixture_clips():
        reference = {m: float(clip["scores"][m]) for m in COMMON_MODELS}
        ours = _peaks(scorer, DATA / clip["file"])
        _assert_agree(ours, reference, f"{clip['file']} ({scorer.backend.name})", FIXTURE_BOUND)
        if clip["kind"] == "positive":
            assert ours[clip["model"]] >= THRESHOLD, clip["file"]
        compared += 1
    assert compared >= 10


def test_both_backends_live_agree_on_the_fixtures() -> None:
    onnx, tflite = backend_or_skip("onnx"), backend_or_skip("tflite")
    a, b = BatchScorer(COMMON_MODELS, backend=onnx), BatchScorer(COMMON_MODELS, backend=tflite)
    differ = 0.0
    for clip in _fixture_clips():
        ours, theirs = _peaks(a, DATA / clip["file"]), _peaks(b, DATA / clip["file"])
        _assert_agree(ours, theirs, clip["file"])
        differ = max(differ, abs(ours["alexa"] - theirs["alexa"]))
    assert differ < 1e-4  # the same model in two formats: close, though not bit for bit


def _committed(backend: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((PEAKS / f"peaks_{backend}.json").read_text())
    return data


@pytest.mark.shared_audio
@pytest.mark.slow
def test_shared_recordings_agree_with_the_other_backends_committed_peaks(
    shared_audio: Path,
) -> None:
    backend: Backend = installed_backend()
    other = "tflite" if backend.name == "onnx" else "onnx"
    own, theirs = _committed(backend.name)["peaks"], _committed(other)["peaks"]
    assert set(own) == set(theirs) and len(own) == 80
    scorer = BatchScorer(COMMON_MODELS, backend=backend)
    detected = {"ours": 0, "theirs": 0}
    for clip in sorted(own):
        ours = _peaks(scorer, shared_audio / clip)
        for model in COMMON_MODELS:
            assert ours[model] == pytest.approx(own[clip][model], abs=1e-5), (clip, model)
        _assert_agree(ours, theirs[clip], f"{clip} ({backend.name} vs committed {other})")
        detected["ours"] += any(ours[m] >= THRESHOLD for m in COMMON_MODELS)
        detected["theirs"] += any(theirs[clip][m] >= THRESHOLD for m in COMMON_MODELS)
    assert detected["ours"] == detected["theirs"] >= 15


OKAY_NABU_CLIPS = {
    "wyoming/okay_nabu.wav": True,
    "pymicro/okay_nabu/1.wav": False,  # pyopen-wakeword's own loop peaks at 0.001 here too
    "pymicro/okay_nabu/2.wav": True,
    "pymicro/okay_nabu/3.wav": True,
}
"""Whether okay_nabu (TFLite backend only) wakes on each shared clip of "okay nabu"."""


def _pyopen_wakeword_peak(samples: np.ndarray) -> float:
    """pyopen-wakeword's own streaming loop over 1280-sample chunks (its CLI's way)."""
    from pyopen_wakeword import Model, OpenWakeWord, OpenWakeWordFeatures

    features, model = (
        OpenWakeWordFeatures.from_builtin(),
        OpenWakeWord.from_builtin(Model.OKAY_NABU),
    )
    peaks = [
        p
        for i in range(0, samples.size, 1280)
        for embedding in features.process_streaming(samples[i : i + 1280].tobytes())
        for p in model.process_streaming(embedding)
    ]
    return max(peaks)


@pytest.mark.shared_audio
def test_okay_nabu_wakes_as_in_pyopen_wakeword(shared_audio: Path) -> None:
    tflite = backend_or_skip("tflite")
    scorer = BatchScorer(("okay_nabu",), backend=tflite)
    for clip, wakes in OKAY_NABU_CLIPS.items():
        samples = read_audio(shared_audio / "wake" / clip)
        ours = float(scorer.score(samples)["okay_nabu"].max())
        silence = np.zeros(16000, dtype=np.int16)  # the replay's 1 s on each side
        theirs = _pyopen_wakeword_peak(np.concatenate((silence, samples, silence)))
        assert (ours >= THRESHOLD) == wakes == (theirs >= THRESHOLD), (clip, ours, theirs)
        # Close, not equal: pyopen-wakeword starts from 8 s of zeros (keepmum: openWakeWord's
        # ring of ones and seeded features) and runs its mel model on each chunk with the 480
        # samples *after* it, not before, so its embedding windows sit at other offsets of the
        # audio than openWakeWord's (measured: up to 0.038 apart, on wyoming/okay_nabu.wav).
        assert abs(ours - theirs) < 0.05, (clip, ours, theirs)
