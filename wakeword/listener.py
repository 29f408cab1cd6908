"""The device's wake-word listener: openWakeWord scores plus the trigger rules.

Bridges :class:`wakeword.detector.OpenWakeWordDetector` (scores per frame) and
:class:`wakeword.trigger.WakeTrigger` (threshold, trigger level, refractory period) to the
:class:`device.speaker.WakeListener` protocol the speaker consults.
"""

from __future__ import annotations

from collections.abc import Mapping

from device.audio import Frame
from device.speaker import WakeHit
from wakeword.detector import OpenWakeWordDetector
from wakeword.trigger import WakeSettings, WakeTrigger

__all__ = ["OpenWakeWordListener"]


class OpenWakeWordListener:
    """Scores every frame; fires when the trigger says so. With the gate closed only the mel
    spectrogram runs (the detector keeps its history continuous) and nothing can fire."""

    def __init__(
        self, settings: WakeSettings, detector: OpenWakeWordDetector | None = None
    ) -> None:
        self.settings = settings
        self._detector = detector if detector is not None else OpenWakeWordDetector(settings.models)
        self._trigger = WakeTrigger(settings)
        self._scores: dict[str, float] = dict.fromkeys(self._detector.names, 0.0)

    @property
    def names(self) -> tuple[str, ...]:
        """The score keys, one per model (or class of a multi-class model)."""
        return self._detector.names

    @property
    def last_scores(self) -> Mapping[str, float]:
        """Scores of the last frame (zeros while the gate was closed)."""
        return self._scores

    @property
    def over_threshold(self) -> bool:
        """Whether any model scored at or over its threshold on the last frame (the trigger's
        comparison of it)."""
        return self._trigger.over_threshold

    def listen(self, frame: Frame, gate_open: bool) -> WakeHit | None:
        """Score one frame and apply the trigger rules."""
        if not gate_open:
            self._detector.process_mel_only(frame.samples)
            self._scores = dict.fromkeys(self._detector.names, 0.0)
            self._trigger.update(frame.index, self._scores)
            return None
        self._scores = self._detector.process(frame.samples)
        detection = self._trigger.update(frame.index, self._scores)
        return None if detection is None else WakeHit(detection.model, detection.score)

    def reset(self) -> None:
        """A new input: forget scores, features and the refractory clock."""
        self._detector.reset()
        self._trigger = WakeTrigger(self.settings)
        self._scores = dict.fromkeys(self._detector.names, 0.0)
