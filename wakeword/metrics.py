"""Detection metrics of a wake-word model: false rejects, false accepts per hour, and what a false
accept costs in audio the device would keep.

Everything here is pure (numpy in, numbers out) so that ``keepmum far`` and the tests share one
definition of every figure. Frames are 80 ms: frame ``i`` of a file covers
``[i * 0.08, (i + 1) * 0.08)`` seconds, and a file's scores, speech flags and activations are
indexed by the same frame numbers.

Two ways of counting, because the field uses both:

*Clip mode* (openWakeWord's way): positives and negatives are separate clips.

    frr            = false_rejects / positives          a positive is rejected when the model
                                                        makes no activation anywhere in it
    fa_per_hour    = false_accepts / negative_hours     every activation in a negative is one
                                                        false accept; activations are already
                                                        separated by the refractory period
    kept_s_per_hour = sum(kept_seconds(flags, frame) for each false accept) / negative_hours

*Stream mode* (Picovoice's wake-word-benchmark): one long stream with each keyword placed once,
labelled by spans ``(start_s, end_s)``. An activation at frame ``i`` is a hit for a span when the
frame overlaps ``[start_s, end_s + tolerance_s]`` (tolerance 0.5 s) and that span has not been hit
yet; each span is hit at most once, and every other activation, a second one on an already-hit
span included, is a false accept. ``frr`` is then the miss rate, ``misses / spans``, and
``negative_hours`` is the length of the whole stream, as Picovoice divides by it.

Activations come from :func:`wakeword.trigger.activations` (``score >= threshold`` held for
``trigger_frames`` frames, then ``refractory_frames`` frames ignored), passed in as a function so
a test can give its own. The cost of a false accept comes from the device's own endpointing,
``device.states.kept_seconds``, also passed in as a function (:func:`device_kept_seconds`).

Every :class:`DetPoint` carries its own confidence intervals (Wilson for ``frr``, exact Poisson
for ``fa_per_hour``; :mod:`wakeword.stats`), computed from its counts.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, replace
from typing import TYPE_CHECKING, Any, cast

import numpy as np
import numpy.typing as npt

from device.audio import FRAME_SECONDS
from keepmum.errors import ConfigError
from wakeword.stats import DEFAULT_CONFIDENCE, poisson_rate_interval, wilson_interval

if TYPE_CHECKING:
    from device.states import SpeakerSettings

__all__ = [
    "DECISION_ROWS",
    "DEFAULT_THRESHOLDS",
    "ActivationsFn",
    "DetPoint",
    "FileSummary",
    "KeptSecondsFn",
    "KeywordSpan",
    "OperatingPoint",
    "choose_operating_point",
    "classify_stream_activations",
    "device_kept_seconds",
    "summarize_file",
    "sweep_clips",
    "sweep_stream",
]

Scores = npt.NDArray[np.floating[Any]]

ActivationsFn = Callable[[npt.NDArray[Any], float, int, int], list[int]]
"""``(scores, threshold, trigger_frames, refractory_frames) -> frame indices`` of activations."""

KeptSecondsFn = Callable[[npt.NDArray[Any], int], float]
"""``(speech_flags, wake_frame) -> seconds`` the device would keep for a wake at that frame.
``speech_flags`` is one flag per frame, or the device's four per-frame facts as rows
(:data:`DECISION_ROWS`)."""

DECISION_ROWS = ("speech", "confirmed", "gap_speech", "level_db")
"""The rows of a 2-D ``speech_flags`` (float64): the VAD's speech, the second stage's
confirmations and what the wake-gap rule hears as speech (each 1.0 or 0.0), and each frame's level
in dBFS (NaN: unknown) (``wakeword.cache.FileScores.decision_facts``)."""

SECONDS_PER_HOUR = 3600.0

DEFAULT_THRESHOLDS: tuple[float, ...] = (
    *(round(0.01 * k, 2) for k in range(1, 100)),
    0.995,
    0.999,
)
"""A sweep fine enough for a DET curve: 0.01 to 0.99 in steps of 0.01, then 0.995 and 0.999,
where openWakeWord's saturating scores still separate some false accepts."""


@dataclass(frozen=True)
class DetPoint:
    """One threshold of a sweep: the point it puts on a DET curve, and its cost."""

    threshold: float
    """Score at or above which a frame counts towards an activation."""
    positives: int
    """Clip mode: positive clips. Stream mode: keyword spans."""
    false_rejects: int
    """Positives with no activation (stream mode: spans never hit)."""
    frr: float
    """``false_rejects / positives`` (stream mode: the miss rate); NaN when there are none."""
    false_accepts: int
    """Activations on negative audio (stream mode: activations that hit no unhit span)."""
    negative_hours: float
    """Hours of audio the false accepts were counted in (hours)."""
    fa_per_hour: float
    """``false_accepts / negative_hours`` (per hour); NaN when there is no negative audio."""
    kept_s: float
    """Seconds of audio the device would keep over all false accepts; NaN when not computed."""
    kept_s_per_hour: float
    """``kept_s / negative_hours`` (seconds per hour); NaN when not computed."""
    confidence: float = DEFAULT_CONFIDENCE
    """Two-sided level of the intervals below (:mod:`wakeword.stats`)."""
    frr_low: float = field(init=False)
    """Wilson interval of ``frr``, lower end; NaN when there are no positives."""
    frr_high: float = field(init=False)
    """Wilson interval of ``frr``, upper end."""
    fa_per_hour_low: float = field(init=False)
    """Exact (Garwood) Poisson interval of ``fa_per_hour``, lower end (per hour); NaN when there
    is no negative audio."""
    fa_per_hour_high: float = field(init=False)
    """Its upper end: "the upper bound" that ``--conservative`` and the warnings use."""

    def __post_init__(self) -> None:
        # Computed from the counts, never passed in: a point cannot carry an interval that does
        # not belong to it (dataclasses.replace(point, confidence=c) recomputes them).
        frr = wilson_interval(self.false_rejects, self.positives, self.confidence)
        fa = poisson_rate_interval(self.false_accepts, self.negative_hours, self.confidence)
        object.__setattr__(self, "frr_low", frr.low)
        object.__setattr__(self, "frr_high", frr.high)
        object.__setattr__(self, "fa_per_hour_low", fa.low)
        object.__setattr__(self, "fa_per_hour_high", fa.high)

    def at_confidence(self, confidence: float) -> DetPoint:
        """The same point with its intervals at another two-sided level."""
        return replace(self, confidence=confidence)

    def as_dict(self) -> dict[str, float | int]:
        """The fields by name, in declaration order (a ``--json`` line or a CSV row)."""
        return asdict(self)


@dataclass(frozen=True)
class KeywordSpan:
    """Where one keyword sits in a stream (seconds from the start of the stream)."""

    start_s: float
    end_s: float


@dataclass(frozen=True)
class OperatingPoint:
    """The threshold a researcher would ship, and whether it meets the false-accept target."""

    point: DetPoint
    target_fa_per_hour: float
    """The false-accept budget it was chosen against (per hour)."""
    meets_target: bool
    """Whether ``point.fa_per_hour <= target_fa_per_hour`` (the point estimate)."""
    conservative: bool = False
    """Whether it was chosen on the upper bound of FA/h rather than on the estimate."""

    @property
    def shown_to_meet_target(self) -> bool:
        """Whether even the upper bound of its FA/h is within the target: only then do the data
        show that it meets it (0 false accepts in a few minutes do not)."""
        return self.point.fa_per_hour_high <= self.target_fa_per_hour

    def verdict(self) -> str:
        """What it shows about the target, in words, never more than its upper bound does (the
        table's line and the plot's legend both say this)."""
        p, target = self.point, self.target_fa_per_hour
        chosen = "chosen on the upper bound; " if self.conservative else ""
        if math.isnan(p.fa_per_hour_high):
            return f"{chosen}no negative audio: FA/h unknown against the {target:g} FA/h target"
        bound = f"{100 * p.confidence:g} % upper bound {_short(p.fa_per_hour_high)} FA/h"
        if self.shown_to_meet_target:
            return f"{chosen}meets the {target:g} FA/h target: {bound}"
        if self.meets_target:
            return (
                f"{chosen}{p.fa_per_hour:.2f} FA/h is within the {target:g} FA/h target, "
                f"but its {bound} is not: not shown to meet it"
            )
        return f"{chosen}misses the {target:g} FA/h target ({bound})"


def _short(value: float) -> str:
    """A rate in few characters: whole numbers from 100 up, three significant digits below."""
    return f"{value:.0f}" if abs(value) >= 100 else f"{value:.3g}"


@dataclass(frozen=True)
class FileSummary:
    """One file's scores under one model at one threshold: one row of the per-file table."""

    frames: int
    duration_s: float
    """``frames * 0.08`` (seconds)."""
    max_score: float
    """Highest score in the file; NaN for a file with no frames."""
    max_score_frame: int
    """Frame of the first highest score; -1 for a file with no frames."""
    activation_frames: tuple[int, ...]
    """Frames at which the model activates at this threshold."""
    t0_s: float = 0.0
    """Time of frame 0 relative to the file's first sample (seconds): ``-pad_s`` when the file was
    scored with silence before it, so times match ``keepmum replay``'s event times."""

    @property
    def max_score_t_s(self) -> float:
        """Start of the frame with the highest score (seconds); NaN for an empty file."""
        if self.max_score_frame < 0:
            return math.nan
        return self.t0_s + self.max_score_frame * FRAME_SECONDS

    @property
    def activation_times_s(self) -> tuple[float, ...]:
        """Ends of the activation frames (seconds): the moment the device fires, which is the
        ``t`` of ``keepmum replay``'s ``wake`` events."""
        return tuple(self.t0_s + (frame + 1) * FRAME_SECONDS for frame in self.activation_frames)


def device_kept_seconds(settings: SpeakerSettings) -> KeptSecondsFn:
    """The device's own cost of a wake, ``device.states.kept_seconds`` bound to its
    ``SpeakerSettings``, so that a false accept is charged exactly what the speaker would keep."""
    from device.states import decide, kept_seconds

    def cost(flags: npt.NDArray[Any], wake_frame: int) -> float:
        # decide() only indexes the rows and takes each entry's truth (1.0 or 0.0 here), so the
        # rows serve as they are: no copy of a whole file's flags per false accept.
        if flags.ndim == 2:
            speech, confirmed = (cast("Sequence[bool]", row) for row in flags[:2])
            decision = decide(speech, confirmed, wake_frame, settings, levels=flags[3])
            return float(decision.kept_s)
        return float(kept_seconds(cast("Sequence[bool]", flags), wake_frame, settings))

    return cost


def _default_activations() -> ActivationsFn:
    from wakeword.trigger import activations

    return activations


def _as_scores(values: npt.ArrayLike, what: str) -> Scores:
    # Scores keep their float dtype (no copy of hours of float32 scores); the trigger decides in
    # float64, and the float32 pre-check in _fires is true whenever that float64 one is.
    array = np.asarray(values)
    if not np.issubdtype(array.dtype, np.floating):
        array = array.astype(np.float64)
    if array.ndim != 1:
        raise ConfigError(f"{what}: expected one score per frame (1-D), got shape {array.shape}")
    return array


def _as_flags(values: npt.ArrayLike, frames: int, what: str) -> npt.NDArray[Any]:
    """One flag per frame (bool), or :data:`DECISION_ROWS` (float64: the levels are no flags)."""
    array = np.asarray(values)
    array = array.astype(np.float64 if array.ndim == 2 else np.bool_, copy=False)
    rows_ok = array.ndim == 1 or (array.ndim == 2 and len(array) == len(DECISION_ROWS))
    if not rows_ok or array.shape[-1] != frames:
        raise ConfigError(
            f"{what}: expected one speech flag per score frame ({frames}), got shape {array.shape}"
        )
    return array


def _check_settings(
    trigger_frames: int, refractory_frames: int, thresholds: Sequence[float]
) -> None:
    if trigger_frames < 1:
        raise ConfigError(f"trigger_frames must be at least 1, got {trigger_frames}")
    if refractory_frames < 0:
        raise ConfigError(f"refractory_frames must be 0 or more, got {refractory_frames}")
    for threshold in thresholds:
        if not math.isfinite(threshold):
            raise ConfigError(f"thresholds must be finite numbers, got {threshold!r}")


def _fires(
    scores: Scores,
    threshold: float,
    trigger_frames: int,
    refractory_frames: int,
    activations: ActivationsFn,
) -> list[int]:
    # No frame reaches the threshold: no activation under any trigger rule. Skips most files at
    # most thresholds, which is what makes a 100-threshold sweep over hours affordable. In float32
    # the threshold rounds to the nearest float32, which can only let more frames through.
    if not bool(np.any(scores >= threshold)):
        return []
    return list(activations(scores, threshold, trigger_frames, refractory_frames))


def _ratio(count: float, total: float) -> float:
    return count / total if total > 0 else math.nan


def _point(
    threshold: float,
    positives: int,
    false_rejects: int,
    false_accepts: int,
    negative_seconds: float,
    kept_s: float,
) -> DetPoint:
    hours = negative_seconds / SECONDS_PER_HOUR
    return DetPoint(
        threshold=float(threshold),
        positives=positives,
        false_rejects=false_rejects,
        frr=_ratio(false_rejects, positives),
        false_accepts=false_accepts,
        negative_hours=hours,
        fa_per_hour=_ratio(false_accepts, hours),
        kept_s=kept_s,
        kept_s_per_hour=_ratio(kept_s, hours) if not math.isnan(kept_s) else math.nan,
    )


def sweep_clips(
    positive_scores: Sequence[npt.ArrayLike],
    negative_scores: Sequence[npt.ArrayLike],
    thresholds: Sequence[float],
    *,
    trigger_frames: int = 1,
    refractory_frames: int = 0,
    negative_speech_flags: Sequence[npt.ArrayLike] | None = None,
    kept_seconds: KeptSecondsFn | None = None,
    negative_seconds: float | None = None,
    activations: ActivationsFn | None = None,
) -> list[DetPoint]:
    """Clip-mode FRR, FA/h and kept seconds per hour, one :class:`DetPoint` per threshold (in the
    order given).

    ``negative_seconds`` defaults to the negatives' total frames times 0.08 s. ``kept_s`` is
    computed only when both ``negative_speech_flags`` (one array per negative, one flag per score
    frame) and ``kept_seconds`` are given; otherwise it is NaN.
    """
    _check_settings(trigger_frames, refractory_frames, thresholds)
    fire = activations if activations is not None else _default_activations()
    positives = [_as_scores(s, f"positive {i}") for i, s in enumerate(positive_scores)]
    negatives = [_as_scores(s, f"negative {i}") for i, s in enumerate(negative_scores)]
    flags: list[npt.NDArray[Any]] | None = None
    if negative_speech_flags is not None:
        if len(negative_speech_flags) != len(negatives):
            raise ConfigError(
                f"negative_speech_flags: expected one array per negative ({len(negatives)}), "
                f"got {len(negative_speech_flags)}"
            )
        flags = [
            _as_flags(f, len(s), f"speech flags of negative {i}")
            for i, (f, s) in enumerate(zip(negative_speech_flags, negatives, strict=True))
        ]
    if negative_seconds is None:
        negative_seconds = sum(len(s) for s in negatives) * FRAME_SECONDS
    elif negative_seconds < 0:
        raise ConfigError(f"negative_seconds must be 0 or more, got {negative_seconds}")

    points = []
    for threshold in thresholds:
        false_rejects = sum(
            1
            for s in positives
            if not _fires(s, threshold, trigger_frames, refractory_frames, fire)
        )
        false_accepts = 0
        kept_s = 0.0 if flags is not None and kept_seconds is not None else math.nan
        for i, s in enumerate(negatives):
            frames = _fires(s, threshold, trigger_frames, refractory_frames, fire)
            false_accepts += len(frames)
            if flags is not None and kept_seconds is not None:
                kept_s += sum(kept_seconds(flags[i], frame) for frame in frames)
        points.append(
            _point(
                threshold, len(positives), false_rejects, false_accepts, negative_seconds, kept_s
            )
        )
    return points


def classify_stream_activations(
    activation_frames: Sequence[int], spans: Sequence[KeywordSpan], tolerance_s: float = 0.5
) -> tuple[list[bool], list[int]]:
    """Picovoice's rule: which spans were hit, and which activations are false accepts.

    Activations are taken in time order; each goes to the earliest-starting span it overlaps
    (frame ``[i*0.08, (i+1)*0.08)`` against ``[start_s, end_s + tolerance_s]``) that is not hit yet.
    Returns ``(hit per span, in the order given; false-accept frames, ascending)``.
    """
    order = sorted(range(len(spans)), key=lambda k: (spans[k].start_s, spans[k].end_s))
    starts = [spans[k].start_s for k in order]
    hit = [False] * len(spans)
    false_accepts: list[int] = []
    first = 0  # spans before this one ended (plus tolerance) before the current frame began
    for frame in sorted(activation_frames):
        frame_start, frame_end = frame * FRAME_SECONDS, (frame + 1) * FRAME_SECONDS
        while first < len(order) and spans[order[first]].end_s + tolerance_s < frame_start:
            first += 1
        # Only spans starting before the frame ends can overlap it.
        last = bisect.bisect_left(starts, frame_end)
        chosen = next(
            (
                k
                for k in order[first:last]
                if not hit[k] and frame_start <= spans[k].end_s + tolerance_s
            ),
            None,
        )
        if chosen is None:
            false_accepts.append(frame)
        else:
            hit[chosen] = True
    return hit, false_accepts


def sweep_stream(
    scores: npt.ArrayLike,
    spans: Sequence[KeywordSpan],
    thresholds: Sequence[float],
    *,
    trigger_frames: int = 1,
    refractory_frames: int = 0,
    tolerance_s: float = 0.5,
    speech_flags: npt.ArrayLike | None = None,
    kept_seconds: KeptSecondsFn | None = None,
    stream_seconds: float | None = None,
    activations: ActivationsFn | None = None,
) -> list[DetPoint]:
    """Stream-mode miss rate and FA/h (Picovoice's benchmark), one :class:`DetPoint` per threshold.

    ``stream_seconds`` defaults to the frames times 0.08 s. ``kept_s`` is charged for each false
    accept when ``speech_flags`` (one per frame of the stream) and ``kept_seconds`` are given.
    """
    _check_settings(trigger_frames, refractory_frames, thresholds)
    if tolerance_s < 0:
        raise ConfigError(f"tolerance_s must be 0 or more, got {tolerance_s}")
    for span in spans:
        if not span.end_s >= span.start_s:
            raise ConfigError(f"keyword span ends before it starts: {span}")
    fire = activations if activations is not None else _default_activations()
    stream = _as_scores(scores, "stream scores")
    flags = (
        _as_flags(speech_flags, len(stream), "stream speech flags")
        if speech_flags is not None
        else None
    )
    seconds = len(stream) * FRAME_SECONDS if stream_seconds is None else stream_seconds
    points = []
    for threshold in thresholds:
        frames = _fires(stream, threshold, trigger_frames, refractory_frames, fire)
        hit, false_accepts = classify_stream_activations(frames, spans, tolerance_s)
        kept_s = math.nan
        if flags is not None and kept_seconds is not None:
            kept_s = float(sum(kept_seconds(flags, frame) for frame in false_accepts))
        points.append(
            _point(threshold, len(spans), hit.count(False), len(false_accepts), seconds, kept_s)
        )
    return points


def choose_operating_point(
    points: Sequence[DetPoint], max_fa_per_hour: float = 0.5, *, conservative: bool = False
) -> OperatingPoint | None:
    """The threshold to ship: the lowest FRR among points with ``fa_per_hour <= max_fa_per_hour``
    (ties: fewer false accepts per hour, then the higher threshold); when none meets the target,
    the lowest FA/h (ties: lower FRR, then the higher threshold). ``None`` for no points.

    ``conservative`` ranks on the upper bound of each point's FA/h (``fa_per_hour_high``)
    instead of its estimate: the chosen point is then one the data show to meet the target.

    0.5 FA/h is openWakeWord's published target; Picovoice's headline uses 0.1 (one per 10 h).
    Points whose FRR or FA/h is NaN (no positives or no negative audio) are ranked last.
    """
    if not points:
        return None

    def finite(value: float) -> float:
        return math.inf if math.isnan(value) else value

    def rate(p: DetPoint) -> float:
        return p.fa_per_hour_high if conservative else p.fa_per_hour

    meeting = [p for p in points if rate(p) <= max_fa_per_hour]
    if meeting:
        best = min(meeting, key=lambda p: (finite(p.frr), rate(p), -p.threshold))
    else:
        best = min(points, key=lambda p: (finite(rate(p)), finite(p.frr), -p.threshold))
    return OperatingPoint(
        best, max_fa_per_hour, best.fa_per_hour <= max_fa_per_hour, conservative=conservative
    )


def summarize_file(
    scores: npt.ArrayLike,
    threshold: float,
    *,
    trigger_frames: int = 1,
    refractory_frames: int = 0,
    activations: ActivationsFn | None = None,
    t0_s: float = 0.0,
) -> FileSummary:
    """Highest score, where it is, and the activations of one file at one threshold.
    ``t0_s``: time of frame 0 relative to the file's start (see :attr:`FileSummary.t0_s`)."""
    _check_settings(trigger_frames, refractory_frames, [threshold])
    fire = activations if activations is not None else _default_activations()
    array = _as_scores(scores, "scores")
    if len(array) == 0:
        return FileSummary(0, 0.0, math.nan, -1, (), t0_s)
    top = int(np.argmax(array))
    frames = _fires(array, threshold, trigger_frames, refractory_frames, fire)
    return FileSummary(
        frames=len(array),
        duration_s=len(array) * FRAME_SECONDS,
        max_score=float(array[top]),
        max_score_frame=top,
        activation_frames=tuple(int(f) for f in frames),
        t0_s=t0_s,
    )
