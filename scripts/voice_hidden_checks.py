#!/usr/bin/env python3
"""Two side checks of the hidden-speaker measurement (2026-12-08-hidden-speakers.md).

Research only; ``keepmum voices --hidden --join-short 3`` gives the figures in force. This prints:

1. leave-one-speaker-out counting *both* halves of the held-out speaker's requests (the command
   counts the report half only: the choose halves chose the enrolment recipe), each fold's
   threshold chosen as the device's is, over both channels;
2. the LibriSpeech readers through FSDD's band: every recording down to 8 kHz and back up (as
   FSDD's 8 kHz files are read), 3-second requests, report half, at 0.733 (the threshold before
   the channel rule), 0.77 and the threshold these band-limited recordings would choose
   themselves: does the telephone band alone bring other speakers closer?

Usage::

    python scripts/voice_hidden_checks.py ../shared/audio/speakers/librispeech \\
        --babble ../shared/audio/speech/silero
"""

from __future__ import annotations

import argparse
import itertools
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from sim.research.voices import (  # noqa: E402
    MEMBERS,
    ConditionResult,
    CorpusEmbeddings,
    choose_over_channels,
    choose_threshold,
    count_at_threshold,
    embed_corpus,
    find_corpora,
    load_speaker,
    report_corpus,
    through_telephone_band,
)
from sim.research.voices_hidden import without_speaker  # noqa: E402
from wakeword.voice import VoiceEncoder  # noqa: E402

THREE_SECONDS = {"3s": 3.0}
BOTH_HALVES = ("choose", "report")


def _line(label: str, r: ConditionResult) -> str:
    shares = ", ".join(
        f"{k} [{100 * v.low:.1f}, {100 * v.high:.1f}] %" for k, v in r.rates(0.95).items()
    )
    return (
        f"{label} {r.noise}: right {r.right}/{r.member_requests}, wrong {r.wrong}, "
        f"strangers kept {r.strangers_kept}/{r.stranger_requests} ({shares})"
    )


def both_halves(embedded: CorpusEmbeddings, narrow: CorpusEmbeddings) -> None:
    rotations = list(itertools.combinations(embedded.prints, MEMBERS))
    pooled: dict[str, ConditionResult] = {}
    for name in embedded.prints:
        chosen_on = [without_speaker(c, name) for c in (embedded, narrow)]
        threshold = choose_over_channels(chosen_on)
        for (_, noise), batch in embedded.requests.items():
            row = pooled.setdefault(noise, ConditionResult(embedded.corpus, "3s", noise))
            own = [r for r in batch if r.speaker == name]
            count_at_threshold(row, own, embedded.prints, rotations, threshold, BOTH_HALVES)
    for row in pooled.values():
        print(_line("held out, both halves", row))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("corpus", type=Path, help="a corpus of speaker folders (LibriSpeech)")
    parser.add_argument("--babble", type=Path, required=True, help="folder of babble speech")
    args = parser.parse_args()
    ((name, folders),) = find_corpora(args.corpus).items()
    babble = sorted(f for f in args.babble.rglob("*") if f.suffix in (".wav", ".flac", ".ogg"))
    speakers = [load_speaker(d) for d in folders]
    encoder = VoiceEncoder()
    embedded = embed_corpus(name, speakers, encoder, babble, durations=THREE_SECONDS)
    band = through_telephone_band(speakers)
    narrow = embed_corpus(f"{name} 8 kHz", band, encoder, babble, durations=THREE_SECONDS)
    both_halves(embedded, narrow)
    own = choose_threshold(narrow)
    for threshold in sorted({0.733, 0.77, own}):
        for row in report_corpus(narrow, threshold):
            print(_line(f"8 kHz band at {threshold:.3f}", row))
    print(f"8 kHz band: the threshold it would choose itself: {own:.3f}")
    for label, corpus in (("16 kHz", embedded), ("8 kHz band", narrow)):
        prints = np.stack(list(corpus.prints.values()))
        cosines = (prints @ prints.T)[np.triu_indices(len(prints), 1)]
        print(
            f"{label}: voiceprint cosines between readers {cosines.min():.2f}-{cosines.max():.2f}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
