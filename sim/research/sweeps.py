"""far's sweeps, run in the parent on scored files: FRR, false accepts per hour and kept
seconds per hour per threshold, over clips (:func:`clip_sweep`) or a labelled stream
(:func:`stream_sweep`).

A module of their own so that :mod:`sim.research.phases` sweeps every frame phase with the same
code as :mod:`sim.research.far` without the two importing each other.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from device.sources import REPLAY_PAD_S
from device.states import SpeakerSettings
from wakeword.cache import FileScores
from wakeword.metrics import DetPoint, KeywordSpan, device_kept_seconds, sweep_clips, sweep_stream
from wakeword.trigger import WakeSettings

if TYPE_CHECKING:
    from sim.research.far import ScoredFile

__all__ = ["clip_sweep", "model_scores", "stream_sweep"]


def model_scores(result: FileScores, names: Sequence[str]) -> npt.NDArray[np.float32]:
    """One model's per-frame score: its own, or for a multi-class model the highest class's."""
    stacked = np.stack([result.scores[n] for n in names])
    return stacked.max(axis=0) if len(names) > 1 else stacked[0]


def clip_sweep(
    scored: Sequence[ScoredFile],
    names: Sequence[str],
    thresholds: Sequence[float],
    wake: WakeSettings,
    speaker: SpeakerSettings,
) -> list[DetPoint]:
    """FRR, FA/h and kept seconds per hour over positive and negative clips, per threshold.

    Hours are those of the negatives' own audio (padding excluded); activations use the
    device's trigger frames and refractory period; each false accept costs what the device's
    endpointing would have kept after it.
    """
    positives = [model_scores(f.result, names) for f in scored if f.role == "positive"]
    negatives = [f for f in scored if f.role == "negative"]
    return sweep_clips(
        positives,
        [model_scores(f.result, names) for f in negatives],
        thresholds,
        trigger_frames=wake.trigger_frames,
        refractory_frames=wake.refractory_frames,
        negative_speech_flags=[f.result.decision_facts for f in negatives],
        kept_seconds=device_kept_seconds(speaker),
        negative_seconds=sum(f.result.audio_s for f in negatives),
    )


def stream_sweep(
    stream: ScoredFile,
    spans: Sequence[KeywordSpan],
    names: Sequence[str],
    thresholds: Sequence[float],
    wake: WakeSettings,
    speaker: SpeakerSettings,
    pad_s: float = REPLAY_PAD_S,
) -> list[DetPoint]:
    """Picovoice's stream rule (a detection in a keyword's span plus 0.5 s is a hit), per
    threshold. Spans are in seconds of the stream file; frame 0 starts ``pad_s`` before it."""
    shifted = [KeywordSpan(s.start_s + pad_s, s.end_s + pad_s) for s in spans]
    return sweep_stream(
        model_scores(stream.result, names),
        shifted,
        thresholds,
        trigger_frames=wake.trigger_frames,
        refractory_frames=wake.refractory_frames,
        tolerance_s=0.5,
        speech_flags=stream.result.decision_facts,
        kept_seconds=device_kept_seconds(speaker),
        stream_seconds=stream.result.audio_s,
    )
