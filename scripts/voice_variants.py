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

``--requests`` (docs/measurements/2026-12-08-voices-in-babble.md) prints only a second table:
one factor at a time away from the adopted recipe, for requests in babble: how a request is
embedded (untrimmed, volume raised only, its louder half of frames, frames over the room's
level, dense partials, their louder half), which SNRs the enrolment babble has, and how a
request is decided (margin over the second-best member, over the others' mean, the cosine
threshold plus a margin, scores projected away from the room's own embedding). Each row gets
its own threshold on the choose half (``--stranger-share`` of the stranger requests' decisions
reach it) and shows both halves' counts at it.

Usage::

    python scripts/voice_variants.py ../shared/audio/speakers/librispeech \\
        --babble ../shared/audio/speech/silero [--requests]
"""

from __future__ import annotations

import argparse
import itertools
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
    MEMBERS,
    CorpusEmbeddings,
    Request,
    Speaker,
    choose_threshold,
    crops,
    equal_error_rate,
    load_speaker,
    make_babble,
    noise_name,
    operating_threshold,
    report_corpus,
    with_noise,
)
from wakeword import voice  # noqa: E402
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


# --- Requests in babble (docs/measurements/2026-12-08-voices-in-babble.md) ---

ROOM_MARGIN_DB = 3.0
"""``room+3dB``: a frame is kept when it is this much louder than the room's median frame."""
DENSE_STEP = 20
"""``dense``: partials every 20 frames (0.2 s) instead of Resemblyzer's 77."""

RequestRow = tuple[str, str, str, np.ndarray, np.ndarray | None]
"""(speaker, half, noise, embedding, the room's embedding or None in quiet)."""
Decision = tuple[str, bool, bool, float]
"""(noise, a member's request, filed under the right member if accepted, the rule's score)."""


def _embed_mel(encoder: VoiceEncoder, mel: np.ndarray, step: int | None = None) -> np.ndarray:
    """Embed mel rows as ``embed_wav`` does (partials averaged); ``step``: frames between
    partials (Resemblyzer's when None)."""
    n = len(mel)
    if step is None:
        starts = voice._partial_starts(n * voice._HOP)
    else:
        starts = list(range(0, max(1, n - voice._PARTIAL_FRAMES + 1), step))
    needed = starts[-1] + voice._PARTIAL_FRAMES
    if needed > n:
        mel = np.pad(mel, ((0, needed - n), (0, 0)))
    mels = np.stack([mel[s : s + voice._PARTIAL_FRAMES] for s in starts])
    partials = encoder._forward(mels)
    mean = partials.mean(axis=0)
    return mean / np.linalg.norm(mean)


def _dense_top(encoder: VoiceEncoder, mel: np.ndarray) -> np.ndarray:
    """Dense partials, only the louder half of them (by mel energy) averaged."""
    if len(mel) < voice._PARTIAL_FRAMES:
        return _embed_mel(encoder, mel)
    starts = list(range(0, len(mel) - voice._PARTIAL_FRAMES + 1, DENSE_STEP))
    mels = np.stack([mel[s : s + voice._PARTIAL_FRAMES] for s in starts])
    loud = np.argsort(mels.sum(axis=(1, 2)))[::-1][: max(1, len(starts) // 2)]
    mean = encoder._forward(mels[loud]).mean(axis=0)
    return mean / np.linalg.norm(mean)


def request_embeddings(
    encoder: VoiceEncoder, piece: np.ndarray, room: np.ndarray | None, quick: bool = False
) -> dict[str, np.ndarray]:
    """One request (int16) embedded every way measured (``quick``: trimmed and untrimmed only);
    ``room`` is the babble alone at the level it was mixed in (what the device hears before the
    wake word), None in quiet."""
    wav = piece.astype(np.float32) / 32768
    if quick:
        return {
            "trimmed": encoder.embed_wav(wav),
            "untrimmed": encoder.embed_wav(wav, preprocess=False),
        }
    raised = voice._raise_volume(wav)
    gain = float(np.max(np.abs(raised)) / max(float(np.max(np.abs(wav))), 1e-9))
    mel = voice._mel_spectrogram(raised)
    energy = mel.sum(axis=1)
    trimmed = voice._trim_long_silences(raised)
    trimmed_mel = voice._mel_spectrogram(trimmed if len(trimmed) else raised)
    out = {
        "trimmed": encoder.embed_wav(wav),
        "untrimmed": encoder.embed_wav(wav, preprocess=False),
        "volume only": _embed_mel(encoder, mel),
        "loud half": _embed_mel(encoder, mel[energy > np.median(energy)]),
        "dense": _embed_mel(encoder, trimmed_mel, DENSE_STEP),
        "dense top half": _dense_top(encoder, trimmed_mel),
    }
    if room is None:
        out["room+3dB"] = out["volume only"]
    else:
        room_energy = voice._mel_spectrogram(room / 32768 * gain).sum(axis=1)
        over = energy > np.median(room_energy) * 10 ** (ROOM_MARGIN_DB / 10)
        out["room+3dB"] = _embed_mel(encoder, mel[over] if over.sum() >= 40 else mel)
    return out


ENROL_SNRS: dict[str, tuple[float, ...]] = {
    "10+20 dB": (10.0, 20.0),
    "5+10+20 dB": (5.0, 10.0, 20.0),
    "10 dB": (10.0,),
    "quiet only": (),
}


def untrimmed_voiceprint(encoder: VoiceEncoder, recordings: list[np.ndarray]) -> np.ndarray:
    """``enrol_voiceprint``'s recipe (10 and 20 dB) with every piece embedded untrimmed."""
    babble = voice._enrol_babble()
    rng = np.random.default_rng(0)
    embeddings = []
    for samples in recordings:
        pieces = enrolment_pieces(samples)
        embeddings += [encoder.embed_wav(p / 32768, preprocess=False) for p in pieces]
        for piece in pieces:
            for snr in voice.ENROL_BABBLE_SNRS_DB:
                noisy = voice._with_babble(piece, babble, snr, int(rng.integers(len(babble))))
                if noisy is not None:
                    embeddings.append(encoder.embed_wav(noisy / 32768, preprocess=False))
    return mean_voiceprint(embeddings)


def _project(x: np.ndarray, room: np.ndarray) -> np.ndarray:
    y = x - (x @ room) * room
    return y / np.linalg.norm(y)


def rule_score(scores: np.ndarray, rule: str) -> float:
    """The best member's score under a rule (it is filed when that reaches the threshold)."""
    ranked = np.sort(scores)[::-1]
    if rule == "margin":
        return float(ranked[0] - ranked[1])
    if rule == "over mean":
        return float(ranked[0] - ranked[1:].mean())
    if rule.startswith("cosine+margin"):
        # An addition: the cosine must reach the threshold and the margin this fixed figure.
        needed = float(rule.split()[-1])
        return float(ranked[0]) if ranked[0] - ranked[1] >= needed else -1.0
    return float(ranked[0])


def decisions(
    requests: list[RequestRow], prints: dict[str, np.ndarray], rule: str, half: str
) -> list[Decision]:
    """Every (rotation of 4 members, request) of one half."""
    out = []
    for members in itertools.combinations(list(prints), MEMBERS):
        matrix = np.stack([prints[m] for m in members])
        for speaker, h, noise, emb, room in requests:
            if h != half:
                continue
            if rule == "room-projected" and room is not None:
                scores = np.array([_project(vp, room) @ _project(emb, room) for vp in matrix])
            else:
                scores = matrix @ emb
            member = speaker in members
            right = member and members[int(np.argmax(scores))] == speaker
            out.append((noise, member, right, rule_score(scores, rule)))
    return out


def tally(rows: list[Decision], threshold: float) -> str:
    """``right/member-requests wrong strangers-kept/stranger-requests``, quiet | babble."""
    cells = []
    for noise in ("quiet", noise_name(BABBLE_SNR_DB)):
        these = [d for d in rows if d[0] == noise]
        members = [d for d in these if d[1]]
        right = sum(d[2] and d[3] >= threshold for d in members)
        wrong = sum((not d[2]) and d[3] >= threshold for d in members)
        kept = sum(d[3] >= threshold for d in these if not d[1])
        cells.append(f"{right}/{len(members)} {wrong} {kept}/{len(these) - len(members)}")
    return " | ".join(cells)


def embed_requests(
    encoder: VoiceEncoder,
    speakers: list[Speaker],
    babble_files: list[Path],
    seed: int = 0,
    quick: bool = False,
) -> dict[str, list[RequestRow]]:
    """Every 3-second request, quiet and in babble (seed 0: the same babble as the first part),
    embedded every way of :func:`request_embeddings`."""
    rng = np.random.default_rng(seed)
    requests: dict[str, list[RequestRow]] = {}
    for noisy in (False, True):
        for s in speakers:
            for index, audio in enumerate(s.requests):
                for piece in crops(audio, 3.0):
                    room = None
                    if noisy:
                        mixed = with_noise(piece, make_babble(babble_files, len(piece), rng), 10)
                        room = mixed.astype(np.float32) - piece
                        piece = mixed
                    half = "choose" if index % 2 == 0 else "report"
                    noise = noise_name(BABBLE_SNR_DB if noisy else None)
                    room_emb = (
                        None if room is None else encoder.embed_wav(room / 32768, preprocess=False)
                    )
                    for how, emb in request_embeddings(encoder, piece, room, quick).items():
                        requests.setdefault(how, []).append((s.name, half, noise, emb, room_emb))
    return requests


def babble_variants(
    encoder: VoiceEncoder,
    speakers: list[Speaker],
    babble_files: list[Path],
    share: float,
    seed: int = 0,
    quick: bool = False,
) -> None:
    """One factor at a time from the adopted recipe (pieces + babble 10/20 dB, trimmed
    requests, cosine): request embedding, enrolment SNRs, decision rule. Each row's threshold is
    chosen on the choose half: the lowest that at most ``share`` of the stranger requests'
    decisions (every rotation, quiet and babble pooled) reach."""
    requests = embed_requests(encoder, speakers, babble_files, seed, quick)
    base = "10+20 dB"
    if quick:
        prints = {base: {s.name: enrol_voiceprint(encoder, s.enrol).voiceprint for s in speakers}}
        rules = [("trimmed", base, "cosine"), ("untrimmed", base, "cosine")]
        show(requests, prints, share, [*rules, ("trimmed", base, "cosine+margin 0.02")])
        return
    prints = {
        label: {
            s.name: enrol_voiceprint(encoder, s.enrol, snrs_db=snrs).voiceprint for s in speakers
        }
        for label, snrs in ENROL_SNRS.items()
    }
    prints["10+20 dB untrimmed"] = {
        s.name: untrimmed_voiceprint(encoder, s.enrol) for s in speakers
    }
    rows = [(how, base, "cosine") for how in requests]
    rows += [("trimmed", label, "cosine") for label in ENROL_SNRS if label != base]
    rows += [("untrimmed", "10+20 dB untrimmed", "cosine")]
    rules = ["margin", "over mean", "cosine+margin 0.02", "cosine+margin 0.04", "room-projected"]
    rows += [("trimmed", base, rule) for rule in rules]
    show(requests, prints, share, rows)


def show(
    requests: dict[str, list[RequestRow]],
    prints: dict[str, dict[str, np.ndarray]],
    share: float,
    rows: list[tuple[str, str, str]],
) -> None:
    """One line per (request embedding, enrolment, rule): its threshold, EERs and counts."""
    print(
        f"\nrequests in babble: threshold where {100 * share:g} % of the choose half's stranger "
        "decisions reach it. right/member-requests wrong strangers-kept/stranger-requests, "
        "quiet | babble 10 dB; EER: right decisions against all others, choose/report"
    )
    for how, enrol, rule in rows:
        choose = decisions(requests[how], prints[enrol], rule, "choose")
        report = decisions(requests[how], prints[enrol], rule, "report")
        threshold = operating_threshold([d[3] for d in choose if not d[1]], share)
        eers = [
            100 * equal_error_rate([d[3] for d in h if d[2]], [d[3] for d in h if not d[2]])[0]
            for h in (choose, report)
        ]
        print(
            f"{how:14s} {enrol:18s} {rule:18s} {threshold:6.3f} {eers[0]:5.2f}/{eers[1]:5.2f} %"
            f"  choose {tally(choose, threshold)}  report {tally(report, threshold)}"
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("corpus", type=Path, help="a folder of speaker folders")
    parser.add_argument("--babble", type=Path, required=True)
    parser.add_argument(
        "--requests",
        action="store_true",
        help="only the requests-in-babble variants (request embedding, enrolment SNRs, rules)",
    )
    parser.add_argument(
        "--stranger-share",
        type=float,
        default=0.04,
        help="--requests: share of the choose half's stranger decisions the threshold lets by",
    )
    parser.add_argument("--seed", type=int, default=0, help="--requests: babble draws' seed")
    parser.add_argument(
        "--quick",
        action="store_true",
        help="--requests: only trimmed and untrimmed requests, and the cosine + margin 0.02 rule",
    )
    args = parser.parse_args()
    encoder = VoiceEncoder()
    speakers = [load_speaker(d) for d in sorted(p for p in args.corpus.iterdir() if p.is_dir())]
    babble_files = sorted(args.babble.glob("*.wav"))
    if args.requests:
        babble_variants(encoder, speakers, babble_files, args.stranger_share, args.seed, args.quick)
        return 0
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
