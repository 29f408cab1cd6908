#!/usr/bin/env python3
"""Compare ways of making voiceprints and scoring requests, on ``keepmum voices``' halves.

Research only (docs/measurements/2026-12-08-voices.md): prints, per variant, the equal error rate
and d' (separation of own-voiceprint from other-voiceprint scores) of a corpus's 3-second
requests, quiet and babble pooled, on the *choose* half (which decides) and on the *report* half
(which shows whether the choice held); and for the variants that score by one cosine, the
threshold ``keepmum voices`` would choose (1 % of other-speaker scores on the choose half) and
the report half's counts at it, every rotation of 4 members. Variants:

- ``whole``: the mean of whole-recording embeddings (the enrolment before 2026-12-08);
- ``pieces``: the mean of 3-second pieces' embeddings (quiet only);
- ``pieces top3``: no mean: a request's score is the mean of its 3 best piece scores;
- ``pieces+babble``: what ``member enrol`` does (:func:`wakeword.voice.enrol_voiceprint`);
- ``... s-norm``: scores normalised (symmetric, T- and Z-norm averaged) against a cohort of
  espeak-ng voices the device could synthesise itself (every third voice of ``espeak-ng
  --voices``, two sentences, two pitches);
- ``... untrimmed``: requests embedded without Resemblyzer's silence trimming and volume raise.

Usage::

    python scripts/voice_variants.py ../shared/audio/speakers/librispeech \\
        --babble ../shared/audio/speech/silero
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from device.sources import read_audio  # noqa: E402
from sim.research.voices import (  # noqa: E402
    BABBLE_SNR_DB,
    CorpusEmbeddings,
    Request,
    choose_threshold,
    crops,
    equal_error_rate,
    load_speaker,
    make_babble,
    noise_name,
    report_corpus,
    with_noise,
)
from wakeword.voice import (  # noqa: E402
    VoiceEncoder,
    enrol_voiceprint,
    enrolment_pieces,
    mean_voiceprint,
)

COHORT_TEXTS = (
    "Please set a timer for ten minutes and remind me to call my sister.",
    "What is the weather like tomorrow morning in the city?",
)
Scorer = Callable[[np.ndarray, str], float]


def cohort(encoder: VoiceEncoder) -> np.ndarray:
    listing = subprocess.run(["espeak-ng", "--voices"], capture_output=True, text=True).stdout
    voices = [line.split()[4] for line in listing.splitlines()[1:]][::3]
    out = []
    with tempfile.TemporaryDirectory() as tmp:
        wav = Path(tmp) / "c.wav"
        for voice in voices:
            for text in COHORT_TEXTS:
                for pitch in (35, 60):
                    cmd = ["espeak-ng", "-v", voice, "-p", str(pitch), "-w", str(wav), text]
                    if subprocess.run(cmd, capture_output=True).returncode == 0:
                        out.append(encoder.embed(read_audio(wav)))
    return np.stack(out)


def snorm(prints: dict[str, np.ndarray], group: np.ndarray) -> Scorer:
    z = {
        name: (float((group @ vp).mean()), float((group @ vp).std())) for name, vp in prints.items()
    }

    def score(emb: np.ndarray, name: str) -> float:
        raw = float(prints[name] @ emb)
        t_scores = group @ emb
        t = (raw - t_scores.mean()) / t_scores.std()
        return float((t + (raw - z[name][0]) / z[name][1]) / 2)

    return score


def separation(targets: list[float], others: list[float]) -> tuple[float, float]:
    t, n = np.asarray(targets), np.asarray(others)
    return equal_error_rate(targets, others)[0], float(
        (t.mean() - n.mean()) / np.sqrt((t.var() + n.var()) / 2)
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("corpus", type=Path, help="a folder of speaker folders")
    parser.add_argument("--babble", type=Path, required=True)
    args = parser.parse_args()
    encoder = VoiceEncoder()
    speakers = [load_speaker(d) for d in sorted(p for p in args.corpus.iterdir() if p.is_dir())]
    babble_files = sorted(args.babble.glob("*.wav"))
    rng = np.random.default_rng(0)
    requests = []  # (speaker, half, embedding, untrimmed embedding, noise)
    for noisy in (False, True):
        for s in speakers:
            for index, audio in enumerate(s.requests):
                for piece in crops(audio, 3.0):
                    if noisy:
                        babble = make_babble(babble_files, len(piece), rng)
                        piece = with_noise(piece, babble, BABBLE_SNR_DB)
                    raw = encoder.embed_wav(piece.astype(np.float32) / 32768, preprocess=False)
                    half = "choose" if index % 2 == 0 else "report"
                    noise = noise_name(BABBLE_SNR_DB if noisy else None)
                    requests.append((s.name, half, encoder.embed(piece), raw, noise))
    whole = {s.name: mean_voiceprint([encoder.embed(u) for u in s.enrol]) for s in speakers}
    pieces = {
        s.name: [encoder.embed(p) for u in s.enrol for p in enrolment_pieces(u)] for s in speakers
    }
    mean_pieces = {name: mean_voiceprint(vs) for name, vs in pieces.items()}
    adopted = {s.name: enrol_voiceprint(encoder, s.enrol).voiceprint for s in speakers}
    group = cohort(encoder)

    def cos(prints: dict[str, np.ndarray]) -> Scorer:
        return lambda emb, name: float(prints[name] @ emb)

    def top3(emb: np.ndarray, name: str) -> float:
        return float(np.sort(np.stack(pieces[name]) @ emb)[::-1][:3].mean())

    variants: dict[str, tuple[Scorer, int]] = {
        "whole": (cos(whole), 2),
        "whole s-norm": (snorm(whole, group), 2),
        "whole untrimmed": (cos(whole), 3),
        "pieces": (cos(mean_pieces), 2),
        "pieces top3": (top3, 2),
        "pieces+babble": (cos(adopted), 2),
        "pieces+babble s-norm": (snorm(adopted, group), 2),
        "pieces+babble untrimmed": (cos(adopted), 3),
    }
    print(f"{len(group)} cohort voices; {len(requests)} requests (3 s, quiet and babble)")
    print(f"{'variant':26s} {'choose EER':>10s} {'d':>5s}   {'report EER':>10s} {'d':>5s}")
    for label, (score, column) in variants.items():
        cells = []
        for half in ("choose", "report"):
            targets: list[float] = []
            others: list[float] = []
            for request in requests:
                if request[1] != half:
                    continue
                for name in whole:
                    value = score(request[column], name)
                    (targets if name == request[0] else others).append(value)
            eer, d = separation(targets, others)
            cells.append(f"{100 * eer:9.2f} % {d:5.2f}")
        print(f"{label:26s} {cells[0]}   {cells[1]}")
    cosines = {"whole": whole, "pieces": mean_pieces, "pieces+babble": adopted}
    for label, prints in cosines.items():
        for column, how in ((2, ""), (3, " untrimmed")):
            batches: dict[tuple[str, str], list[Request]] = {}
            for r in requests:
                batches.setdefault(("3s", r[4]), []).append(Request(r[0], r[1], r[column]))
            embedded = CorpusEmbeddings(args.corpus.name, prints, batches)
            threshold = choose_threshold(embedded)
            counts = [
                f"{row.noise}: right {row.right}/{row.member_requests} wrong {row.wrong} "
                f"strangers {row.strangers_kept}/{row.stranger_requests}"
                for row in report_corpus(embedded, threshold)
            ]
            print(f"{label + how:26s} threshold {threshold:.3f}  " + "; ".join(counts))
    return 0


if __name__ == "__main__":
    sys.exit(main())
