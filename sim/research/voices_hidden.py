"""Hidden speakers: each speaker held out of choosing the threshold it is measured at.

``keepmum voices --hidden`` (docs/measurements/2026-12-08-hidden-speakers.md). The shipped
threshold is chosen on the ``choose`` half of every speaker of one corpus, so the ``report`` half
holds other utterances of the same people, not other people. Leave one speaker out:

- for each speaker S, the threshold is chosen exactly as :func:`~sim.research.voices.
  choose_over_channels` chooses it, on the corpus (and its telephone-band channel) without S:
  neither S's requests nor S's voiceprint take part (:func:`without_speaker`);
- at that threshold, S's own ``report``-half 3-second requests are filed in every rotation of
  :data:`~sim.research.voices.MEMBERS` members: those that enrol S count S's requests as a
  member's (right, wrong, unattributed), those that do not as a stranger's (kept or not);
- the folds' counts are pooled over S.

Only S's ``report`` half is counted, although S's ``choose`` half did not choose this fold's
threshold either: the choose halves of every speaker chose the enrolment recipe
(docs/measurements/2026-12-08-voices.md), the report halves chose nothing. With every speaker
held out once, the pooled counts have the same requests and rotations as ``keepmum voices``'
own rows; only the threshold each is filed at differs.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass

from sim.research.voices import (
    FALSE_ACCEPT,
    MEMBERS,
    ConditionResult,
    CorpusEmbeddings,
    choose_over_channels,
    count_at_threshold,
)

__all__ = ["HIDDEN_DURATION", "Fold", "leave_one_speaker_out", "pool_folds", "without_speaker"]

HIDDEN_DURATION = "3s"
"""The requests the issue's hidden-speaker bar speaks of (a wake word, then 3 s of speech)."""


@dataclass
class Fold:
    """One held-out speaker: the threshold chosen without them, and their requests' counts."""

    held_out: str
    threshold: float
    rows: list[ConditionResult]
    """One per noise: the held-out speaker's requests only, every rotation."""


def without_speaker(embedded: CorpusEmbeddings, name: str) -> CorpusEmbeddings:
    """The corpus as if ``name`` had never been recorded: no voiceprint, no request of theirs."""
    return CorpusEmbeddings(
        embedded.corpus,
        {n: vp for n, vp in embedded.prints.items() if n != name},
        {key: [r for r in batch if r.speaker != name] for key, batch in embedded.requests.items()},
    )


def leave_one_speaker_out(
    embedded: CorpusEmbeddings,
    false_accept: float = FALSE_ACCEPT,
    channels: Sequence[CorpusEmbeddings] = (),
) -> list[Fold]:
    """One :class:`Fold` per speaker, in the corpus's order; each fold's threshold chosen as the
    device's is (:func:`choose_over_channels`) on the corpus and the same speakers' other
    ``channels`` (the telephone band), all without the held-out speaker. ConfigError (from
    :func:`choose_threshold`) if the corpus has no 3-second requests."""
    rotations = list(itertools.combinations(embedded.prints, MEMBERS))
    folds = []
    for name in embedded.prints:
        chosen_on = [without_speaker(c, name) for c in (embedded, *channels)]
        threshold = choose_over_channels(chosen_on, false_accept)
        rows = []
        for (duration, noise), batch in embedded.requests.items():
            if duration != HIDDEN_DURATION:
                continue
            row = ConditionResult(
                embedded.corpus,
                duration,
                noise,
                speakers=len(embedded.prints),
                rotations=len(rotations),
            )
            own = [r for r in batch if r.speaker == name]
            count_at_threshold(row, own, embedded.prints, rotations, threshold)
            rows.append(row)
        folds.append(Fold(name, threshold, rows))
    return folds


def pool_folds(folds: list[Fold]) -> list[ConditionResult]:
    """The folds' counts summed per noise (in the order of the first fold's rows)."""
    pooled: dict[str, ConditionResult] = {}
    for fold in folds:
        for row in fold.rows:
            total = pooled.setdefault(
                row.noise,
                ConditionResult(
                    row.corpus,
                    row.duration,
                    row.noise,
                    speakers=row.speakers,
                    rotations=row.rotations,
                ),
            )
            total.member_requests += row.member_requests
            total.right += row.right
            total.wrong += row.wrong
            total.stranger_requests += row.stranger_requests
            total.strangers_kept += row.strangers_kept
    return list(pooled.values())
