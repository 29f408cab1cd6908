"""When scores become a wake: thresholds, consecutive frames and the refractory period.

The rule, the same in the streaming :class:`WakeTrigger` and the vectorised :func:`activations`
(the false-wake benchmark uses the latter, so its counts are the device's):

* a score name is *ready* at frame ``f`` when its score has been ``>= threshold`` for
  ``trigger_frames`` consecutive frames ending at ``f``;
* a ready name *fires* when no detection (of any model) happened in the last
  ``refractory_frames`` frames, i.e. ``f - last_detection >= refractory_frames``;
* when several names fire on the same frame, the highest score wins (the first name on a tie).

Scores are compared with thresholds in float64 (a float32 score is exact there), in both.
Consecutive runs keep counting through the refractory period, so a score that stays high fires
again as soon as the period is over. Time is the frame index (80 ms a frame): no clock.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from device.audio import FRAME_SECONDS
from keepmum.errors import ConfigError
from keepmum.settings import check_settings, setting

__all__ = [
    "Detection",
    "WakeSettings",
    "WakeTrigger",
    "above_threshold",
    "activations",
    "refractory_frames",
]


def refractory_frames(refractory_s: float) -> int:
    """Whole frames a refractory period spans, rounded up (2.0 s -> 25 frames of 80 ms)."""
    # The epsilon keeps 2.0 / 0.08 = 25.000000000000004 at 25.
    return max(0, math.ceil(refractory_s / FRAME_SECONDS - 1e-9))


@dataclass(frozen=True)
class WakeSettings:
    """Which wake-word models listen, and when their scores count as a wake."""

    models: tuple[str, ...] = setting(
        ("alexa",), unit="", help="Built-in model names or model file paths (.onnx, .tflite)."
    )
    """Built-in model names or ``.onnx`` paths."""
    thresholds: tuple[tuple[str, float], ...] = setting(
        (), unit="score", help="Per score name thresholds (0 to 1) over default_threshold."
    )
    """Per score name thresholds (score in [0, 1]) overriding ``default_threshold``."""
    default_threshold: float = setting(
        0.5,
        unit="score",
        low=0.0,
        high=1.0,
        low_open=True,
        help="Score (0 to 1) at or above which a frame counts as positive.",
    )
    """Score (0 to 1) at or above which a frame counts as positive."""
    trigger_frames: int = setting(
        1,
        unit="frames",
        low=1,
        option="--trigger-frames",
        help="Consecutive frames over threshold to fire.",
    )
    """Consecutive positive frames (80 ms each) needed to fire."""
    refractory_s: float = setting(
        2.0,
        unit="s",
        low=0.0,
        option="--refractory-s",
        help="Seconds after a wake with no new wake.",
    )
    """Seconds after a detection during which no model fires again."""
    _threshold_map: dict[str, float] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not self.models:
            raise ConfigError("wakeword.models: expected at least one model, got none")
        check_settings(self, "wakeword")
        for name, value in self.thresholds:
            if not (isinstance(value, (int, float)) and 0.0 < value <= 1.0):
                raise ConfigError(
                    f"wake threshold for {name!r}: expected a number in (0, 1], got {value!r}"
                )
        object.__setattr__(self, "_threshold_map", dict(self.thresholds))

    def threshold_for(self, name: str) -> float:
        """The threshold of a score name (its own, else ``default_threshold``)."""
        return self._threshold_map.get(name, self.default_threshold)

    @property
    def refractory_frames(self) -> int:
        """The refractory period in whole frames (rounded up)."""
        return refractory_frames(self.refractory_s)


@dataclass(frozen=True)
class Detection:
    """A wake: which score name fired, its score, and the frame it fired on."""

    model: str
    """Score name (model name, or class label of a multi-class model)."""
    score: float
    """The score (0 to 1) on the firing frame."""
    frame_index: int
    """Index of the firing frame in its input (0-based)."""

    @property
    def t(self) -> float:
        """Start of the firing frame (seconds from the start of the input), like ``Frame.t``."""
        return self.frame_index * FRAME_SECONDS


class WakeTrigger:
    """Turns per-frame scores into detections; pure, the frame index is the time."""

    def __init__(self, settings: WakeSettings) -> None:
        self.settings = settings
        self._refractory = settings.refractory_frames
        self._runs: dict[str, int] = {}
        self._last: int | None = None
        self._previous_frame: int | None = None
        self._over = False

    @property
    def over_threshold(self) -> bool:
        """Whether any score name was at or over its threshold on the last frame fed, whether or
        not it fired (the refractory period and ``trigger_frames`` do not apply)."""
        return self._over

    def update(self, frame_index: int, scores: Mapping[str, float]) -> Detection | None:
        """Feed one frame's scores; the detection it fires, if any.

        Frames are expected in order; a skipped frame index breaks every consecutive run.
        """
        if self._previous_frame is not None and frame_index != self._previous_frame + 1:
            self._runs.clear()
        self._previous_frame = frame_index
        best: Detection | None = None
        self._over = False
        for name, raw in scores.items():
            score = float(raw)  # compared in float64, exactly as activations() compares
            run = self._runs.get(name, 0) + 1 if score >= self.settings.threshold_for(name) else 0
            self._runs[name] = run
            self._over = self._over or run > 0
            if run >= self.settings.trigger_frames and (best is None or score > best.score):
                best = Detection(name, score, frame_index)
        if best is None:
            return None
        if self._last is not None and frame_index - self._last < self._refractory:
            return None
        self._last = frame_index
        return best


def above_threshold(scores: npt.ArrayLike, threshold: float) -> npt.NDArray[np.bool_]:
    """Per frame, whether one model's score is at or over ``threshold`` (the :class:`WakeTrigger`
    comparison, vectorised)."""
    # In float64: float32 scores are exact there, and the streaming trigger compares Python
    # floats. (Under numpy 2 a float32 array would compare in float32, where 0.7 rounds to
    # float32(0.7) and a score of float32(0.7) would pass a 0.7 threshold that it misses on the
    # device.)
    return np.asarray(scores, dtype=np.float64) >= float(threshold)


def activations(
    scores: npt.NDArray[np.float32],
    threshold: float,
    trigger_frames: int,
    refractory_frames: int,
) -> list[int]:
    """Frame indices where one model's per-frame scores fire (the :class:`WakeTrigger` rule).

    Vectorised: the ready frames come from one cumulative pass; only the activations themselves
    (few) are visited in Python, each finding the next ready frame past its refractory period
    with a binary search.
    """
    values = np.asarray(scores)
    if values.ndim != 1:
        raise ValueError(f"scores must be one score per frame, got shape {values.shape}")
    above = above_threshold(values, threshold)
    index = np.arange(values.size)
    last_below = np.maximum.accumulate(np.where(above, -1, index))
    ready = np.flatnonzero(index - last_below >= trigger_frames)
    fired: list[int] = []
    position = 0
    step = max(1, refractory_frames)
    while position < ready.size:
        frame = int(ready[position])
        fired.append(frame)
        position = int(np.searchsorted(ready, frame + step))  # the first ready frame >= it
    return fired
