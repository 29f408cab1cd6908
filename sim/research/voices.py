"""Whose voice is it, measured: attribution, stranger rejection and equal error rate.

The protocol (``keepmum voices DIR``), per corpus folder ``DIR/<corpus>/<speaker>/<audio>``:

- each speaker's files in name order; the first :data:`ENROL_UTTERANCES` (``--enrol``) are
  enrolment (made into a voiceprint as ``keepmum member enrol`` does: :func:`~wakeword.voice.
  enrol_voiceprint`), the rest are requests;
- requests are cut from those files: ``3s`` up to :data:`CROPS_PER_FILE` non-overlapping 3-second
  pieces per file (files shorter than 3 s are used whole), ``sub1s`` up to as many 0.8-second
  pieces (a file under 1 s, a spoken digit, is one phrase as it is);
- rotations: every way of choosing :data:`MEMBERS` enrolled members from the corpus's speakers;
  the others are strangers. A member's request is *right* when filed under that member, *wrong*
  when filed under another, *unattributed* when no voiceprint reaches the threshold; a stranger's
  request is *kept* when any voiceprint reaches it;
- each request in quiet, and in babble at each of :data:`BABBLE_SNRS_DB` dB SNR (``--snr``):
  three other talkers (``--babble`` files, seeded offsets) summed and scaled against the
  request's own level;
- the equal error rate: the verification EER of the cosine scores (a request against its own
  speaker's voiceprint versus against every other enrolled voiceprint), needing no threshold.

The threshold is chosen on half of the requests and reported on the other half: requests from a
speaker's even-numbered request files are the *choose* half, odd-numbered the *report* half.
The chosen threshold is an operating point on the ``choose`` half's 3-second requests (quiet and
every babble SNR pooled) of the corpus named by ``--choose-on`` (the device has one threshold for
every condition): the lowest at which at most :data:`FALSE_ACCEPT` of the scores of a request
against another speaker's voiceprint reach it. With four members a stranger meets four such
chances, so about 4 % of strangers' requests are kept at it: under the issue's 10 % bar, with
room for speakers unlike these. Every figure printed is on the ``report`` half. Speakers of a
corpus not named by ``--choose-on`` are never used to choose (they are the hidden-speaker test).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
from scipy.signal import resample_poly

from device.audio import SAMPLE_RATE
from device.sources import read_audio
from keepmum.errors import ConfigError
from sim.research.corpus import to_pcm
from wakeword.stats import Interval, wilson_interval
from wakeword.voice import VoiceEncoder, enrol_voiceprint

__all__ = [
    "BABBLE_SNRS_DB",
    "BABBLE_SNR_DB",
    "BAND_SUFFIX",
    "CROPS_PER_FILE",
    "DURATIONS",
    "ENROL_UTTERANCES",
    "FALSE_ACCEPT",
    "MEMBERS",
    "ConditionResult",
    "CorpusEmbeddings",
    "Speaker",
    "choose_over_channels",
    "choose_threshold",
    "count_at_threshold",
    "embed_corpus",
    "equal_error_rate",
    "find_corpora",
    "load_speaker",
    "make_babble",
    "noise_name",
    "operating_threshold",
    "report_corpus",
    "telephone_band",
    "through_telephone_band",
]

ENROL_UTTERANCES = 3
BAND_SUFFIX = " 8 kHz band"
"""The choosing corpus through a telephone band is reported as ``<corpus> 8 kHz band``."""
MEMBERS = 4
CROPS_PER_FILE = 3
BABBLE_SNR_DB = 10.0
BABBLE_SNRS_DB = (BABBLE_SNR_DB,)
"""Babble conditions measured by default: the issue's 10 dB."""
FALSE_ACCEPT = 0.01
"""Operating point: the share of other-speaker scores allowed to reach the chosen threshold."""
DURATIONS = {"3s": 3.0, "sub1s": 0.8}
"""Request lengths: a spoken request, and a phrase as short as a wake word or one word."""
AUDIO_SUFFIXES = (".wav", ".flac", ".ogg")

Vector = npt.NDArray[np.float32]


@dataclass
class Speaker:
    """One speaker's audio, 16 kHz int16: enrolment utterances and request files."""

    name: str
    enrol: list[npt.NDArray[np.int16]]
    requests: list[npt.NDArray[np.int16]]


@dataclass
class Request:
    speaker: str
    half: str  # "choose" or "report"
    embedding: Vector


@dataclass
class ConditionResult:
    """One corpus x length x noise: counts over all rotations, on the report half."""

    corpus: str
    duration: str
    noise: str
    member_requests: int = 0
    right: int = 0
    wrong: int = 0
    stranger_requests: int = 0
    strangers_kept: int = 0
    eer: float = 0.0
    eer_threshold: float = 0.0
    speakers: int = 0
    rotations: int = 0

    def rates(self, confidence: float) -> dict[str, Interval]:
        """Right, wrong and strangers-kept shares with Wilson intervals."""
        return {
            "right": wilson_interval(self.right, self.member_requests, confidence),
            "wrong": wilson_interval(self.wrong, self.member_requests, confidence),
            "strangers_kept": wilson_interval(
                self.strangers_kept, self.stranger_requests, confidence
            ),
        }


def find_corpora(root: Path) -> dict[str, list[Path]]:
    """``{corpus: [speaker folders]}``: ``root`` holds corpus folders of speaker folders, or is
    itself one corpus of speaker folders. ConfigError naming ``root`` if neither."""
    if not root.is_dir():
        raise ConfigError(f"{root}: not a folder (expected <corpus>/<speaker>/<audio files>)")

    def speaker_dirs(folder: Path) -> list[Path]:
        return sorted(
            d
            for d in folder.iterdir()
            if d.is_dir() and any(f.suffix.lower() in AUDIO_SUFFIXES for f in d.iterdir())
        )

    direct = speaker_dirs(root)
    if direct:
        return {root.name: direct}
    corpora = {d.name: speaker_dirs(d) for d in sorted(root.iterdir()) if d.is_dir()}
    corpora = {name: dirs for name, dirs in corpora.items() if dirs}
    if not corpora:
        raise ConfigError(f"{root}: no speaker folders of audio files in it or one level down")
    for name, dirs in corpora.items():
        if len(dirs) <= MEMBERS:
            raise ConfigError(
                f"{root / name}: {len(dirs)} speakers; {MEMBERS} are enrolled, so at least "
                f"{MEMBERS + 1} are needed (one stranger)"
            )
    return corpora


def load_speaker(folder: Path, enrol: int = ENROL_UTTERANCES) -> Speaker:
    """A speaker folder: the first ``enrol`` files (by name) enrol, the rest are requests."""
    files = sorted(f for f in folder.iterdir() if f.suffix.lower() in AUDIO_SUFFIXES)
    if len(files) <= enrol:
        raise ConfigError(
            f"{folder}: {len(files)} audio files; {enrol} enrol, so at least {enrol + 1} are needed"
        )
    audio = [read_audio(f) for f in files]
    return Speaker(folder.name, audio[:enrol], audio[enrol:])


def crops(samples: npt.NDArray[np.int16], seconds: float) -> list[npt.NDArray[np.int16]]:
    """Up to :data:`CROPS_PER_FILE` non-overlapping pieces of ``seconds`` (the whole file when
    it is shorter than one piece)."""
    n = int(seconds * SAMPLE_RATE)
    if len(samples) <= n * 1.25:
        return [samples]
    return [samples[i * n : (i + 1) * n] for i in range(min(CROPS_PER_FILE, len(samples) // n))]


def make_babble(
    files: Iterable[Path], length: int, rng: np.random.Generator, talkers: int = 3
) -> npt.NDArray[np.float32]:
    """``talkers`` pieces of the babble files summed, each from a random offset (unit RMS)."""
    sources = [read_audio(f).astype(np.float32) for f in files]
    sources = [s for s in sources if len(s) > 0]
    if not sources:
        raise ConfigError("--babble: no audio in the babble files")
    out = np.zeros(length, np.float32)
    for _ in range(talkers):
        src = sources[int(rng.integers(len(sources)))]
        reps = int(np.ceil((length + len(src)) / len(src)))
        tiled = np.tile(src, reps)
        start = int(rng.integers(len(src)))
        out += tiled[start : start + length]
    rms = float(np.sqrt(np.mean(out**2)))
    return out / rms if rms > 0 else out


def with_noise(
    samples: npt.NDArray[np.int16], babble: npt.NDArray[np.float32], snr_db: float
) -> npt.NDArray[np.int16]:
    x = samples.astype(np.float32)
    level = float(np.sqrt(np.mean(x**2)))
    mixed = x + babble[: len(x)] * level / (10 ** (snr_db / 20))
    return to_pcm(mixed)


def equal_error_rate(targets: list[float], nontargets: list[float]) -> tuple[float, float]:
    """(EER, the threshold at it): where the share of targets under the threshold equals the
    share of non-targets at or over it (the mean of the two at the closest point)."""
    t = np.sort(np.asarray(targets))
    n = np.sort(np.asarray(nontargets))
    if len(t) == 0 or len(n) == 0:
        return 0.0, 0.0
    best = (2.0, 0.0, 0.0)
    for thr in np.unique(np.concatenate((t, n))):
        miss = np.searchsorted(t, thr, side="left") / len(t)
        false = 1 - np.searchsorted(n, thr, side="left") / len(n)
        gap = abs(miss - false)
        if gap < best[0]:
            best = (gap, (miss + false) / 2, float(thr))
    return float(best[1]), best[2]


@dataclass
class CorpusEmbeddings:
    """One corpus embedded: voiceprints and every request of every condition."""

    corpus: str
    prints: dict[str, Vector]
    requests: dict[tuple[str, str], list[Request]]


def noise_name(snr_db: float | None) -> str:
    """A condition's noise: ``quiet``, or ``babble 10 dB``."""
    return "quiet" if snr_db is None else f"babble {snr_db:g} dB"


def embed_corpus(
    corpus: str,
    speakers: list[Speaker],
    encoder: VoiceEncoder,
    babble_files: list[Path],
    *,
    snrs_db: tuple[float, ...] = BABBLE_SNRS_DB,
    seed: int = 0,
    on_request: Callable[[], None] | None = None,
    durations: Mapping[str, float] = DURATIONS,
) -> CorpusEmbeddings:
    """Voiceprints (as ``member enrol`` makes them) and request embeddings per duration (of
    ``durations``) x noise; a duration is skipped when no request file is as long (spoken digits
    have no 3-second requests), babble when no babble files are given."""
    prints = {s.name: enrol_voiceprint(encoder, s.enrol).voiceprint for s in speakers}
    rng = np.random.default_rng(seed)
    longest = max(len(a) for s in speakers for a in s.requests) / SAMPLE_RATE
    noises: tuple[float | None, ...] = (None, *snrs_db) if babble_files else (None,)
    requests: dict[tuple[str, str], list[Request]] = {}
    for duration, seconds in durations.items():
        if longest < seconds:
            continue
        for snr in noises:
            batch = []
            for speaker in speakers:
                for index, audio in enumerate(speaker.requests):
                    half = "choose" if index % 2 == 0 else "report"
                    for piece in crops(audio, seconds):
                        if snr is not None:
                            babble = make_babble(babble_files, len(piece), rng)
                            piece = with_noise(piece, babble, snr)
                        batch.append(Request(speaker.name, half, encoder.embed(piece)))
                        if on_request is not None:
                            on_request()
            requests[(duration, noise_name(snr))] = batch
    return CorpusEmbeddings(corpus, prints, requests)


def operating_threshold(nontargets: list[float], false_accept: float = FALSE_ACCEPT) -> float:
    """The lowest threshold (in steps of 0.001) that at most ``false_accept`` of ``nontargets``
    reach."""
    ranked = np.sort(np.asarray(nontargets))[::-1]
    allowed = int(np.floor(false_accept * len(ranked)))
    if allowed >= len(ranked):
        return 0.0
    # Over the first score that must be refused: every score reaching it is among the allowed.
    edge = float(ranked[allowed])
    threshold = np.ceil(edge * 1000) / 1000
    return round(float(threshold if threshold > edge else threshold + 0.001), 3)


def choose_threshold(embedded: CorpusEmbeddings, false_accept: float = FALSE_ACCEPT) -> float:
    """The operating point (:func:`operating_threshold`) of the ``choose`` half's 3-second
    requests, every noise pooled (the requests the bars speak of, in every room measured);
    ConfigError if the corpus has no 3-second requests."""
    nontargets: list[float] = []
    for (duration, _noise), batch in embedded.requests.items():
        if duration == "3s":
            nontargets += _pairs(batch, embedded.prints, ("choose",))[1]
    if not nontargets:
        raise ConfigError(
            f"--choose-on {embedded.corpus}: it has no requests of 3 s or more to choose on"
        )
    return operating_threshold(nontargets, false_accept)


def choose_over_channels(
    channels: Sequence[CorpusEmbeddings], false_accept: float = FALSE_ACCEPT
) -> float:
    """The device's threshold: the highest of the channels' operating points
    (:func:`choose_threshold` of each). One threshold serves every microphone, so it must keep
    the false-accept bound in the channel where voices lie closest (through a telephone band,
    every voice is nearer every other: docs/decisions/2026-12-08-threshold-over-channels.md)."""
    if not channels:
        raise ConfigError("choosing a threshold needs at least one corpus")
    return max(choose_threshold(channel, false_accept) for channel in channels)


def telephone_band(samples: npt.NDArray[np.int16]) -> npt.NDArray[np.int16]:
    """The audio as a telephone-band channel passes it: down to 8 kHz and back up to 16 kHz
    (polyphase filters), so nothing above 4 kHz is left, as in FSDD's 8 kHz files."""
    return to_pcm(
        resample_poly(resample_poly(samples.astype(np.float64), 1, 2), 2, 1)[: len(samples)]
    )


def through_telephone_band(speakers: Sequence[Speaker]) -> list[Speaker]:
    """Every speaker's recordings, enrolment and requests, through :func:`telephone_band`."""
    return [
        Speaker(
            s.name, [telephone_band(a) for a in s.enrol], [telephone_band(a) for a in s.requests]
        )
        for s in speakers
    ]


def report_corpus(
    embedded: CorpusEmbeddings, threshold: float, halves: Collection[str] = ("report",)
) -> list[ConditionResult]:
    """Every condition of one corpus on its ``report`` half (``halves``: both, for a corpus no
    part of which chose anything), at ``threshold``."""
    names = list(embedded.prints)
    rotations = list(itertools.combinations(names, MEMBERS))
    out = []
    for key, batch in embedded.requests.items():
        result = _score(embedded.corpus, key, batch, embedded.prints, rotations, halves)
        count_at_threshold(result, batch, embedded.prints, rotations, threshold, halves)
        out.append(result)
    return out


def _pairs(
    batch: list[Request], prints: dict[str, Vector], halves: Collection[str]
) -> tuple[list[float], list[float]]:
    """Scores against the speaker's own voiceprint, and against every other one."""
    targets: list[float] = []
    nontargets: list[float] = []
    for request in batch:
        if request.half not in halves:
            continue
        for name, vp in prints.items():
            score = float(vp @ request.embedding)
            (targets if name == request.speaker else nontargets).append(score)
    return targets, nontargets


def _score(
    corpus: str,
    key: tuple[str, str],
    batch: list[Request],
    prints: dict[str, Vector],
    rotations: list[tuple[str, ...]],
    halves: Collection[str],
) -> ConditionResult:
    """The EER of ``halves`` (threshold-free): own voiceprint versus every other one."""
    result = ConditionResult(corpus, key[0], key[1], speakers=len(prints), rotations=len(rotations))
    targets, nontargets = _pairs(batch, prints, halves)
    result.eer, result.eer_threshold = equal_error_rate(targets, nontargets)
    return result


def count_at_threshold(
    result: ConditionResult,
    batch: list[Request],
    prints: dict[str, Vector],
    rotations: list[tuple[str, ...]],
    threshold: float,
    halves: Collection[str] = ("report",),
) -> None:
    """Add to ``result`` how each request of ``batch`` (of ``halves``) is filed at ``threshold``
    in every rotation: right, wrong or unattributed as a member, kept or not as a stranger."""
    for members in rotations:
        matrix = np.stack([prints[m] for m in members])
        for request in batch:
            if request.half not in halves:
                continue
            scores = matrix @ request.embedding
            best = int(np.argmax(scores))
            filed = members[best] if scores[best] >= threshold else None
            if request.speaker in members:
                result.member_requests += 1
                result.right += filed == request.speaker
                result.wrong += filed is not None and filed != request.speaker
            else:
                result.stranger_requests += 1
                result.strangers_kept += filed is not None
