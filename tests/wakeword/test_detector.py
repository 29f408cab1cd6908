"""The streaming detector computes openWakeWord's own scores, frame for frame.

Reference: openWakeWord 0.5.1's ``Model(..., inference_framework="onnx").predict`` fed 1280-sample
chunks. The first ``N`` frames (``N`` = the model's input length: 16, 22 for weather, 34 for
timer) differ by design: openWakeWord starts its feature ring from random audio, keepmum from
seeded audio. From frame ``N`` on the bound is atol 1e-5 (observed: exactly equal on x86-64).
Those reference tests need the ``onnx`` backend (Python 3.10-3.11); the tests of keepmum's own
rings (determinism, the VAD gate) run on every installed backend.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from keepmum.errors import DetectorError
from tests.conftest import MISSED_BY_OPENWAKEWORD, SHARED_POSITIVES, backend_or_skip
from wakeword.backend import Backend
from wakeword.detector import WARMUP_FRAMES, OpenWakeWordDetector
from wakeword.models import resolve_model

ATOL = 1e-5
FRAME = 1280


def _frames(samples: np.ndarray) -> list[np.ndarray]:
    return [samples[i : i + FRAME] for i in range(0, samples.size - FRAME + 1, FRAME)]


def _pad(samples: np.ndarray) -> np.ndarray:
    # The way predict_clip pads: 1 s of silence on both sides.
    silence = np.zeros(16000, dtype=np.int16)
    return np.concatenate((silence, samples, silence))


def _synthetic_audio(seconds: float, seed: int) -> np.ndarray:
    """Speech-like test audio: noise bursts shaped by a syllable-rate envelope, and a chirp."""
    rng = np.random.default_rng(seed)
    n = int(seconds * 16000)
    t = np.arange(n) / 16000
    envelope = np.clip(np.sin(2 * np.pi * 4 * t) + 0.3, 0, None) * (t % 1.5 < 1.0)
    chirp = np.sin(2 * np.pi * (200 + 800 * t / seconds) * t)
    signal = 6000 * envelope * (0.6 * rng.standard_normal(n) + chirp)
    return np.clip(signal, -32768, 32767).astype(np.int16)


def _openwakeword_scores(model: str, samples: np.ndarray, names: tuple[str, ...]) -> np.ndarray:
    from openwakeword.model import Model  # the reference; installed with the onnx backend only

    reference = Model(wakeword_models=[model], inference_framework="onnx")
    rows = []
    for frame in _frames(samples):
        out = reference.predict(frame)
        rows.append([float(out[name]) for name in names])
    return np.array(rows)


def _keepmum_scores(detector: OpenWakeWordDetector, samples: np.ndarray) -> np.ndarray:
    rows = [detector.process(frame) for frame in _frames(samples)]
    return np.array([[row[name] for name in detector.names] for row in rows])


@pytest.mark.parametrize("model", ["alexa", "timer"])
def test_scores_equal_openwakeword_on_synthetic_audio(model: str) -> None:
    onnx = backend_or_skip("onnx")
    samples = _synthetic_audio(6.0, seed=3)
    detector = OpenWakeWordDetector((model,), backend=onnx)
    ours = _keepmum_scores(detector, samples)
    theirs = _openwakeword_scores(model, samples, detector.names)
    warm = detector.models[0].feature_frames
    assert ours.shape == theirs.shape == (len(_frames(samples)), len(detector.names))
    np.testing.assert_allclose(ours[warm:], theirs[warm:], rtol=0, atol=ATOL)
    assert np.all(ours[:WARMUP_FRAMES] == 0.0)


def test_multi_class_model_reports_openwakeword_labels() -> None:
    detector = OpenWakeWordDetector(("alexa", "timer"), backend=backend_or_skip("onnx"))
    assert detector.names[0] == "alexa"
    assert detector.names[1:] == (
        "1_minute_timer",
        "5_minute_timer",
        "10_minute_timer",
        "20_minute_timer",
        "30_minute_timer",
        "1_hour_timer",
    )
    scores = detector.process(np.zeros(FRAME, dtype=np.int16))
    assert tuple(scores) == detector.names


def test_start_is_deterministic_and_reset_starts_over(backend: Backend) -> None:
    samples = _synthetic_audio(2.0, seed=5)
    first = _keepmum_scores(OpenWakeWordDetector(("alexa",), backend=backend), samples)
    detector = OpenWakeWordDetector(("alexa",), backend=backend)
    again = _keepmum_scores(detector, samples)
    detector.reset()
    after_reset = _keepmum_scores(detector, samples)
    assert np.array_equal(first, again)
    assert np.array_equal(first, after_reset)
    assert first[WARMUP_FRAMES:].max() > 0  # the frames past warm-up are really scored


def test_gated_detector_scores_equal_ungated_when_open(backend: Backend) -> None:
    samples = _synthetic_audio(8.0, seed=7)
    # weather reads 22 frames (ONNX only); TFLite's models all read 16.
    models = ("alexa", "weather") if backend.name == "onnx" else ("alexa", "okay_nabu")
    ungated = OpenWakeWordDetector(models, backend=backend)
    gated = OpenWakeWordDetector(models, backend=backend)
    # Closed spans of every length, including longer than a model's window (16-22 frames).
    pattern = np.ones(len(_frames(samples)), dtype=bool)
    pattern[3:7] = False
    pattern[20:50] = False
    pattern[60:61] = False
    pattern[70:95] = False
    compared = 0
    for index, frame in enumerate(_frames(samples)):
        expected = ungated.process(frame)
        if pattern[index]:
            got = gated.process(frame)
            for name in expected:
                assert got[name] == pytest.approx(expected[name], abs=1e-6), (index, name)
            compared += 1
        else:
            assert gated.process_mel_only(frame) is None
    assert compared > 30
    assert gated.frames == ungated.frames


def test_long_closed_gate_then_open_scores_as_ungated(backend: Backend) -> None:
    samples = np.concatenate((np.zeros(1280 * 600, dtype=np.int16), _synthetic_audio(3.0, 9)))
    frames = _frames(samples)
    ungated = OpenWakeWordDetector(("alexa",), backend=backend)
    gated = OpenWakeWordDetector(("alexa",), backend=backend)
    for index, frame in enumerate(frames):
        expected = ungated.process(frame)
        if index < 590:
            gated.process_mel_only(frame)
        else:
            assert gated.process(frame)["alexa"] == pytest.approx(expected["alexa"], abs=1e-6)


def test_wrong_frame_is_refused() -> None:
    detector = OpenWakeWordDetector()
    with pytest.raises(ValueError, match="1280 int16"):
        detector.process(np.zeros(1000, dtype=np.int16))
    with pytest.raises(ValueError, match="1280 int16"):
        detector.process(np.zeros(FRAME, dtype=np.float32))  # type: ignore[arg-type]


def test_unknown_model_names_the_value_and_lists_builtins(backend: Backend) -> None:
    with pytest.raises(DetectorError, match=rf"'alexia'.*{backend.name} backend.*hey_jarvis"):
        OpenWakeWordDetector(("alexia",), backend=backend)
    with pytest.raises(DetectorError, match="file not found"):
        resolve_model(f"/nonexistent/model{backend.suffix}", backend)
    common = {"alexa", "hey_jarvis", "hey_mycroft", "hey_rhasspy"}
    only = {"onnx": {"timer", "weather"}, "tflite": {"okay_nabu"}}[backend.name]
    assert set(backend.builtin_models) == common | only
    assert all(backend.builtin(name).is_file() for name in backend.builtin_models)


# --- real recordings -------------------------------------------------------------------------

POSITIVES = SHARED_POSITIVES


def _read(path: Path) -> np.ndarray:
    samples, rate = sf.read(path, dtype="int16")
    assert rate == 16000 and samples.ndim == 1, path
    return samples


@pytest.mark.shared_audio
@pytest.mark.parametrize("model", sorted(POSITIVES))
def test_positives_score_as_openwakeword_and_fire(shared_audio: Path, model: str) -> None:
    detector = OpenWakeWordDetector((model,), backend=backend_or_skip("onnx"))
    for name in POSITIVES[model]:
        samples = _pad(_read(shared_audio / "wake" / name))
        detector.reset()
        ours = _keepmum_scores(detector, samples)[:, 0]
        theirs = _openwakeword_scores(model, samples, (model,))[:, 0]
        np.testing.assert_allclose(ours[16:], theirs[16:], rtol=0, atol=ATOL, err_msg=name)
        if name in MISSED_BY_OPENWAKEWORD:
            assert theirs.max() < 0.5 and ours.max() < 0.5, name
        else:
            assert ours.max() >= 0.5, f"{name}: peak {ours.max():.3f} on {model}"
