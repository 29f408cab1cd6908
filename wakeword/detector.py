"""The streaming wake-word detector: openWakeWord's scores, one 80 ms frame at a time.

:class:`OpenWakeWordDetector` computes the same scores as openWakeWord 0.5.1's
``Model(wakeword_models=[...], inference_framework="onnx").predict`` called with 1280-sample
chunks (see :mod:`wakeword.features` for the math and its one intended difference: seeded start
features, so the first 16 frames are deterministic). Like openWakeWord it reports 0 for the first
5 frames, while its models warm up.

Score names: a single-output model reports under its model name (``alexa``, or the file stem of
an ``.onnx`` path); openWakeWord's multi-class ``timer`` reports one score per class under
openWakeWord's own labels (``1_minute_timer`` ... ``1_hour_timer``); any other multi-class model
reports ``<model>:<column>``. :attr:`OpenWakeWordDetector.names` lists them in order.

For small boards the detector can be gated: :meth:`OpenWakeWordDetector.process_mel_only`
takes frames without scoring them while nobody speaks; the next
:meth:`~OpenWakeWordDetector.process` computes the mel rows and speech embeddings its models
still need (the last 16 frames' worth), so its scores are those of the ungated detector.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from keepmum.errors import DetectorError
from wakeword.backend import Backend, Session, installed_backend
from wakeword.features import START_FEATURE_FRAMES, MelFeatureModels, StreamingFeatures
from wakeword.models import ModelSpec, class_labels, resolve_model

__all__ = ["WARMUP_FRAMES", "OpenWakeWordDetector", "WakeWordModel", "load_models"]

WARMUP_FRAMES = 5
"""Frames at the start of a stream whose scores are reported as 0 (openWakeWord does the same)."""


@dataclass(frozen=True)
class WakeWordModel:
    """One loaded wake-word model: its session, input length and the scores it reports."""

    spec: ModelSpec
    session: Session
    input_name: str
    feature_frames: int
    """Features (80 ms frames) the model reads: its input shape[1]."""
    labels: tuple[tuple[int, str], ...]
    """(output column, score name) pairs."""

    def score(self, features: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
        """Raw output row of one window of ``feature_frames`` features."""
        out = self.session.run(None, {self.input_name: features[None]})[0]
        row: npt.NDArray[np.float32] = out.reshape(-1)
        return row


def load_models(models: Sequence[str], backend: Backend | None = None) -> tuple[WakeWordModel, ...]:
    """Open wake-word models by name or path on ``backend`` (default: the installed one);
    DetectorError names a bad one."""
    backend = backend if backend is not None else installed_backend()
    if not models:
        raise DetectorError(
            f"no wake-word model given (expected at least one name or {backend.suffix} path)"
        )
    loaded: list[WakeWordModel] = []
    seen: set[str] = set()
    for name in models:
        spec = resolve_model(name, backend)
        session = backend.open_session(spec.path)
        labels = class_labels(spec, session)
        clash = seen.intersection(label for _, label in labels)
        if clash:
            raise DetectorError(
                f"wake-word model {name!r}: score name {sorted(clash)[0]!r} is already "
                "reported by another model (give each model once)"
            )
        seen.update(label for _, label in labels)
        feature_frames = int(session.get_inputs()[0].shape[1])
        if not 1 <= feature_frames <= START_FEATURE_FRAMES:
            raise DetectorError(
                f"wake-word model {name!r}: reads {feature_frames} feature frames; openWakeWord "
                f"models read 1 to {START_FEATURE_FRAMES} (the built-ins 16 to 34)"
            )
        loaded.append(
            WakeWordModel(
                spec=spec,
                session=session,
                input_name=session.get_inputs()[0].name,
                feature_frames=feature_frames,
                labels=labels,
            )
        )
    return tuple(loaded)


class OpenWakeWordDetector:
    """Scores every 1280-sample frame with one or more openWakeWord models.

    ``models`` are built-in names (:data:`wakeword.models.BUILTIN_MODELS`) or paths of model
    files the backend runs (``.onnx`` or ``.tflite``). ``feature_models`` lets several detectors
    share one pair of mel/embedding sessions; ``backend`` (default: ``feature_models``' or the
    installed one) says which runtime and model files.
    """

    def __init__(
        self,
        models: Sequence[str] = ("alexa",),
        *,
        feature_models: MelFeatureModels | None = None,
        backend: Backend | None = None,
    ) -> None:
        if backend is None:
            backend = feature_models.backend if feature_models is not None else installed_backend()
        if feature_models is None:
            feature_models = MelFeatureModels(backend=backend)
        self.backend = backend
        """The runtime and model files the scores come from."""
        self.models = load_models(models, backend)
        self.names: tuple[str, ...] = tuple(
            label for model in self.models for _, label in model.labels
        )
        """The score names, in the order :meth:`process` reports them."""
        self._features = StreamingFeatures(
            feature_models, max_feature_frames=max(m.feature_frames for m in self.models)
        )

    @property
    def frames(self) -> int:
        """Frames processed since the start or the last :meth:`reset` (the next frame's index)."""
        return self._features.frames

    def process(self, frame: npt.NDArray[np.int16]) -> dict[str, float]:
        """Score one frame of 1280 int16 samples: ``{score name: score in [0, 1]}``."""
        self._features.push_mel(frame)
        warming_up = self._features.frames <= WARMUP_FRAMES
        scores: dict[str, float] = {}
        for model in self.models:
            if warming_up:
                scores.update((label, 0.0) for _, label in model.labels)
                continue
            row = model.score(self._features.features(model.feature_frames))
            scores.update((label, float(row[column])) for column, label in model.labels)
        return scores

    def process_mel_only(self, frame: npt.NDArray[np.int16]) -> None:
        """Take one frame without scoring it (VAD gate closed).

        The frame's mel rows and embedding are left for later: the next :meth:`process`
        computes what its models read (the last 16 frames' features for the built-ins, 34 for
        ``timer``, from the last 25 frames' mel rows) and skips anything older, so its scores
        equal those of a detector that was never gated, at the cost of those frames only.
        """
        self._features.push_mel(frame)

    def reset(self) -> None:
        """Start over, as a freshly built detector (new stream)."""
        self._features.reset()
