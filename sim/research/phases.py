"""``keepmum far --phases N``: every file scored at N frame phases, the mean and the worst phase.

Offsets (samples into the 1280-sample frame, see :mod:`wakeword.phases`)::

    offset_k = k * 1280 // N                         k = 0 .. N-1          (no --seed)
    offset_0 = 0, offset_k uniform in [k*1280//N, (k+1)*1280//N)   k >= 1  (--seed S)

Offset 0 is always the device's own replay phase, so the one-phase figures are always among the
N, and the worst phase can never look better than one phase. With ``--seed`` the other offsets
are drawn (``numpy.random.default_rng([S, 0xF4A5E])``), one in each slot, so the same seed gives
the same offsets and the same counts.

Scoring: phase 0 is scored as without ``--phases`` (scores, VAD and the second stage's flags);
each further phase adds only its wake-word scores, under ``<score name>@<offset>`` in the same
cache entry (the cache's setup id includes the offsets). The speech flags of phase 0 serve every
phase: a false accept's kept seconds are charged from the device-phase flags at the phase's wake
frame (the flags of the other phase differ by under one 80 ms frame).

Figures per threshold: the per-phase mean of FRR, false accepts and FA/h, and the worst phase,
chosen separately for positives (the phase with most misses) and negatives (the phase with most
false accepts, and its kept seconds per hour); ties go to the lower offset.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from device.audio import FRAME_SAMPLES

if TYPE_CHECKING:
    from device.states import SpeakerSettings
    from sim.research.far import ScoredFile, ScoreJob
    from wakeword.batch import BatchScorer
    from wakeword.cache import FileScores
    from wakeword.trigger import WakeSettings

__all__ = [
    "MAX_PHASES",
    "PhaseSummary",
    "add_phase_scores",
    "phase_names",
    "phase_offsets",
    "phase_setup",
    "phase_sweep",
    "phase_table",
]

MAX_PHASES = FRAME_SAMPLES
"""At most one phase per sample of the 80 ms frame."""


def phase_offsets(phases: int, seed: int | None = None) -> tuple[int, ...]:
    """The N offsets (samples) of ``--phases N`` (module docstring); ValueError out of range."""
    if not 1 <= phases <= MAX_PHASES:
        raise ValueError(f"--phases {phases}: expected 1 to {MAX_PHASES}")
    even = [k * FRAME_SAMPLES // phases for k in range(phases)]
    if seed is None:
        return tuple(even)
    rng = np.random.default_rng([seed, 0xF4A5E])
    bounds = [*even, FRAME_SAMPLES]
    return (0, *(int(rng.integers(bounds[k], bounds[k + 1])) for k in range(1, phases)))


def phase_names(names: Sequence[str], offset: int) -> tuple[str, ...]:
    """The score names a phase's scores are stored under (phase 0: the names themselves)."""
    return tuple(names) if offset == 0 else tuple(f"{name}@{offset}" for name in names)


def phase_setup(setup: str, offsets: Sequence[int]) -> str:
    """A score cache's setup id for phased entries: the plain setup plus the offsets."""
    if len(offsets) <= 1:
        return setup
    described = json.dumps({"setup": setup, "phase_offsets": list(offsets)})
    return hashlib.sha256(described.encode()).hexdigest()


_PHASE_SCORERS: dict[int, Any] = {}


def add_phase_scores(
    path: str, result: FileScores, job: ScoreJob, scorer: BatchScorer
) -> FileScores:
    """``result`` (phase 0) with the scores of the job's other phases added (module docstring)."""
    from dataclasses import replace

    from device.sources import read_audio
    from wakeword.phases import PhaseScorer

    others = [d for d in job.phase_offsets if d != 0]
    if not others:
        return result
    phase_scorer = _PHASE_SCORERS.get(id(scorer))
    if phase_scorer is None or phase_scorer.scorer is not scorer:
        phase_scorer = _PHASE_SCORERS[id(scorer)] = PhaseScorer(scorer)
    samples = read_audio(path)
    scores = dict(result.scores)
    for offset, phase in zip(others, phase_scorer.score(samples, others, job.pad_s), strict=True):
        for name, values in phase.items():
            scores[f"{name}@{offset}"] = values[: result.frames]
    return replace(result, scores=scores)


@dataclass(frozen=True)
class PhaseSummary:
    """One threshold over N phases: the per-phase mean and the worst phase."""

    threshold: float
    offsets: tuple[int, ...]
    frr_mean: float
    frr_worst: float
    frr_worst_offset: int
    false_accepts_mean: float
    false_accepts_worst: int
    fa_per_hour_mean: float
    fa_per_hour_worst: float
    fa_worst_offset: int
    kept_s_per_hour_worst: float
    """Kept seconds per hour of the phase with most false accepts."""

    def as_dict(self) -> dict[str, Any]:
        """The fields added to ``far --json``'s line of this threshold."""
        return {
            "phases": len(self.offsets),
            "phase_offsets": list(self.offsets),
            "frr_phase_mean": self.frr_mean,
            "frr_phase_worst": self.frr_worst,
            "frr_worst_phase_offset": self.frr_worst_offset,
            "false_accepts_phase_mean": self.false_accepts_mean,
            "false_accepts_phase_worst": self.false_accepts_worst,
            "fa_per_hour_phase_mean": self.fa_per_hour_mean,
            "fa_per_hour_phase_worst": self.fa_per_hour_worst,
            "fa_worst_phase_offset": self.fa_worst_offset,
            "kept_s_per_hour_phase_worst": self.kept_s_per_hour_worst,
        }


def _mean(values: Sequence[float]) -> float:
    finite = [v for v in values if not math.isnan(v)]
    return float(np.mean(finite)) if finite else math.nan


def phase_sweep(
    scored: Sequence[ScoredFile],
    names: Sequence[str],
    offsets: Sequence[int],
    thresholds: Sequence[float],
    wake: WakeSettings,
    speaker: SpeakerSettings,
) -> list[PhaseSummary]:
    """Clip-mode sweeps at every phase (:func:`sim.research.sweeps.clip_sweep`), summarised per
    threshold."""
    from sim.research.sweeps import clip_sweep

    per_phase = [
        clip_sweep(scored, phase_names(names, d), thresholds, wake, speaker) for d in offsets
    ]
    summaries = []
    for i, threshold in enumerate(thresholds):
        points = [sweep[i] for sweep in per_phase]
        misses = max(range(len(points)), key=lambda k: (points[k].false_rejects, -offsets[k]))
        accepts = max(range(len(points)), key=lambda k: (points[k].false_accepts, -offsets[k]))
        summaries.append(
            PhaseSummary(
                threshold=float(threshold),
                offsets=tuple(offsets),
                frr_mean=_mean([p.frr for p in points]),
                frr_worst=points[misses].frr,
                frr_worst_offset=offsets[misses],
                false_accepts_mean=float(np.mean([p.false_accepts for p in points])),
                false_accepts_worst=points[accepts].false_accepts,
                fa_per_hour_mean=_mean([p.fa_per_hour for p in points]),
                fa_per_hour_worst=points[accepts].fa_per_hour,
                fa_worst_offset=offsets[accepts],
                kept_s_per_hour_worst=points[accepts].kept_s_per_hour,
            )
        )
    return summaries


def phase_table(model: str, summaries: Sequence[PhaseSummary]) -> Any:
    """The ``--phases`` table (a rich Table) printed under far's own."""
    from rich.table import Table

    offsets = summaries[0].offsets if summaries else ()
    table = Table(
        title=f"{model} at {len(offsets)} frame phases "
        f"(offsets {', '.join(map(str, offsets))} samples)"
    )
    for column in (
        "threshold",
        "FRR % mean",
        "FRR % worst",
        "FA mean",
        "FA worst",
        "FA/h mean",
        "FA/h worst",
        "kept s/h worst",
    ):
        table.add_column(column, justify="right")

    def fmt(value: float, spec: str) -> str:
        return "-" if value != value else format(value, spec)  # NaN: no denominator

    for s in summaries:
        table.add_row(
            f"{s.threshold:g}",
            fmt(100 * s.frr_mean, ".1f"),
            f"{fmt(100 * s.frr_worst, '.1f')} @{s.frr_worst_offset}",
            f"{s.false_accepts_mean:.2f}",
            f"{s.false_accepts_worst} @{s.fa_worst_offset}",
            fmt(s.fa_per_hour_mean, ".2f"),
            fmt(s.fa_per_hour_worst, ".2f"),
            fmt(s.kept_s_per_hour_worst, ".1f"),
        )
    return table
