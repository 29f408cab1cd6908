"""The staged speech embedding (wakeword.incremental) gives the whole model's results bit for bit.

The device embeds each new frame with only the layers' new rows; these tests hold that to
``array_equal`` against the model run on whole 76-row windows: on mel rows, on the detector's
scores (gate gaps and resets included), and on the events of the whole device.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from device.audio import FRAME_SAMPLES
from device.pipeline import run_device
from device.sources import REPLAY_PAD_S, FileSource
from device.speaker import Speaker
from sim.config import load_config
from tests.conftest import backend_or_skip
from wakeword.backend import Backend
from wakeword.confirm import RequestConfirmer
from wakeword.detector import OpenWakeWordDetector
from wakeword.features import EMBEDDING_WINDOW, MEL_BINS, MEL_ROWS_PER_FRAME, MelFeatureModels
from wakeword.incremental import StreamState, stream_embedder
from wakeword.listener import OpenWakeWordListener
from wakeword.vad import WebRtcVad

DATA = Path(__file__).resolve().parents[2] / "sim" / "data"


def _whole_windows(backend: Backend) -> MelFeatureModels:
    """Feature models that run the embedding model on whole windows (a given session is used as
    it is, never staged)."""
    models = MelFeatureModels(
        embedding=backend.open_session(backend.embedding_model), backend=backend
    )
    assert models.stream is None
    return models


def test_staged_on_onnx_whole_windows_on_tflite(backend: Backend) -> None:
    staged = MelFeatureModels(backend=backend).stream
    assert (staged is not None) == (backend.name == "onnx")


def test_staged_embeddings_equal_whole_windows() -> None:
    backend = backend_or_skip("onnx")
    models = MelFeatureModels(backend=backend)
    staged = stream_embedder(models)
    assert staged is not None
    rng = np.random.default_rng(11)
    windows = 300
    mel = (
        rng.standard_normal((EMBEDDING_WINDOW + MEL_ROWS_PER_FRAME * (windows - 1), MEL_BINS)) * 3
    ).astype(np.float32)
    mel[:76] = 1.0  # the ring's start rows
    expected = np.concatenate(
        [
            models.embed(
                mel[MEL_ROWS_PER_FRAME * k : MEL_ROWS_PER_FRAME * k + EMBEDDING_WINDOW][None]
            )
            for k in range(windows)
        ]
    )
    got = np.full_like(expected, np.nan)
    state = StreamState()
    first = 0
    # From scratch, then one new window at a time, several at once, and a gap (from scratch).
    for count in [1] * 40 + [2, 5, 1, 16, 1, 1, 34] + [1] * 50:
        end = EMBEDDING_WINDOW + MEL_ROWS_PER_FRAME * (first + count - 1)
        got[first : first + count] = staged.embed(mel[:end], first, count, state)
        first += count
    state.clear()
    first += 7  # a gap: the next windows start from scratch
    for count in [3] + [1] * 60:
        end = EMBEDDING_WINDOW + MEL_ROWS_PER_FRAME * (first + count - 1)
        start = end - staged.rows_needed(first, count, state)
        got[first : first + count] = staged.embed(mel[start:end], first, count, state)
        first += count
    done = ~np.isnan(got).any(axis=1)
    assert done.sum() > 200
    assert np.array_equal(got[done], expected[done])


def test_detector_scores_equal_whole_window_detector(backend: Backend) -> None:
    rng = np.random.default_rng(4)
    n = 400
    t = np.arange(n * FRAME_SAMPLES) / 16000
    envelope = np.clip(np.sin(2 * np.pi * 3 * t), 0, None) * (t % 2.0 < 1.2)
    samples = (9000 * envelope * rng.standard_normal(t.size)).astype(np.int16)
    frames = samples.reshape(n, FRAME_SAMPLES)
    models = ("alexa", "timer") if backend.name == "onnx" else ("alexa", "okay_nabu")
    staged = OpenWakeWordDetector(models, backend=backend)
    whole = OpenWakeWordDetector(models, feature_models=_whole_windows(backend))
    closed = np.zeros(n, dtype=bool)
    for lo, hi in ((30, 31), (50, 58), (90, 130), (200, 205), (300, 360)):
        closed[lo:hi] = True
    compared = 0
    for index, frame in enumerate(frames):
        if index == 250:  # a new input
            staged.reset()
            whole.reset()
        if closed[index]:
            staged.process_mel_only(frame)
            whole.process_mel_only(frame)
            continue
        assert staged.process(frame) == whole.process(frame), index
        compared += 1
    assert compared > 250


def _speaker(feature_models: MelFeatureModels | None, gate: bool) -> Speaker:
    config = load_config(None, overrides={"device": {"vad_gate": gate}})
    settings = config.wakeword
    detector = OpenWakeWordDetector(settings.models, feature_models=feature_models)
    return Speaker(
        OpenWakeWordListener(settings, detector),
        WebRtcVad(config.vad),
        config.speaker,
        vad_gate_s=config.device.vad_gate_s if gate else None,
        confirm=RequestConfirmer(config.vad),
        clock=lambda: 0.0,
    )


@pytest.mark.slow
@pytest.mark.parametrize("gate", [False, True])
def test_device_events_equal_with_whole_windows(gate: bool) -> None:
    """Every bundled fixture replayed in one run (resets between inputs), muted and unmuted
    every 37 frames: the same scores on every frame and the same events."""
    backend = backend_or_skip("onnx")
    paths = sorted(DATA.glob("*.wav"))
    runs = []
    for feature_models in (None, _whole_windows(backend)):
        speaker = _speaker(feature_models, gate)
        scores: list[tuple[float, ...]] = []
        events: list[str] = []

        def on_frame(s: Speaker, frame: object, scores: list[tuple[float, ...]] = scores) -> None:
            scores.append(tuple(s.last_scores.values()))
            if len(scores) % 37 == 0:
                s.request_mute(len(scores) % 74 == 0)

        sources = [FileSource(p, pad_s=REPLAY_PAD_S) for p in paths]
        run_device(sources, speaker, lambda e, ev=events: ev.append(repr(e)), on_frame=on_frame)
        runs.append((scores, events))
    (scores, events), (whole_scores, whole_events) = runs
    assert sum("Wake(" in e for e in events) >= 1
    assert scores == whole_scores
    assert events == whole_events


def test_stages_that_differ_from_the_whole_model_are_not_used(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The start-up check decides: stages whose numbers differ from the whole model's by one
    unit in the last place (another CPU's kernels) fall back to whole windows, never change a
    score."""
    import wakeword.incremental as incremental

    backend = backend_or_skip("onnx")
    real_run = incremental.StreamEmbedder._run

    def one_ulp_off(self: incremental.StreamEmbedder, stage: Any, rows: Any) -> Any:
        return np.nextafter(real_run(self, stage, rows), np.float32(np.inf))

    built = dict(incremental._BUILT)
    incremental._BUILT.clear()
    try:
        # the real stages pass their check here
        assert MelFeatureModels(backend=backend).stream is not None
        incremental._BUILT.clear()
        monkeypatch.setattr(incremental.StreamEmbedder, "_run", one_ulp_off)
        assert MelFeatureModels(backend=backend).stream is None
    finally:
        monkeypatch.undo()
        incremental._BUILT.clear()
        incremental._BUILT.update(built)
