#!/usr/bin/env python3
"""Build the request-decision evaluation sets from the real recordings in ``../shared/audio``.

Why: keepmum must keep a wake word followed by a request and drop a wake word followed by
nothing, in real rooms. The project may not ship anyone's recordings, so these sets are made on
the researcher's machine, from the human clips beside the checkout, by this committed script (the
same seed gives the same files), and read by ``keepmum far --requests DIR...``.

Every file is ``LEAD_S`` of background, one human wake-word clip (``wake/``, trimmed to its
speech with ``EDGE_S`` of its own recording around it), then either a request or nothing, over a
background. Speech (wake word and request) is scaled to ``SPEECH_DBFS`` RMS over its speech
region. One folder per condition:

- ``nothing_silence``: the wake word, then ``AFTER_S`` of digital silence;
- ``nothing_<noise>_<level>``: the wake word in continuous room noise (pink, brown or babble)
  at -50, -40 or -30 dBFS RMS, and nothing but that noise for ``AFTER_S`` after it;
- ``request_silence``: the wake word, a gap of 0.2-0.9 s, a request, then ``TAIL_S`` of silence;
- ``request_<noise>_snr<S>``: the same in continuous noise at 20, 10 or 5 dB SNR (noise RMS =
  ``SPEECH_DBFS`` - S: -46, -36, -31 dBFS).

Requests are other people's speech: crowd-sourced "computer" / "snowboy" keyword clips
(``keywords/``) and other short clips (``wake/`` negatives), trimmed to their speech. Babble is
six talkers from ``speech/`` at random offsets, summed. Pink noise is keepmum's own
(:class:`sim.research.corpus.NoiseStream`); brown noise is integrated white noise with a leak
(-6 dB per octave above 20 Hz).

Each folder gets ``labels.jsonl``: per file, the wake word's and the request's speech spans in
seconds from the file's first sample (``request_start_s``/``request_end_s`` null without one)
and which recording the request is (``request_clip``, under ``../shared/audio``). A clip's
speech span is where Silero VAD hears speech in the clean clip and the clip is within
``SPEECH_RANGE_DB`` of its loudest (80 ms resolution).

A build has 15-45 wakes per condition, so one condition's share moves by several points from one
``--seed`` to the next; ``keepmum far --requests`` given several builds pools each condition.

Usage::

    python scripts/make_request_sets.py --out /tmp/requests            # all 20 folders
    python scripts/make_request_sets.py --out DIR --variants 1 --only nothing_pink_-40
    for s in 8 9 10 11 12 13; do
        python scripts/make_request_sets.py --out /tmp/requests/seed$s --seed $s
    done
    keepmum far --requests /tmp/requests --cases     # each condition pooled over the six builds
    # a wake word said 12 dB softer than the request (a talker across the room, then nearer):
    python scripts/make_request_sets.py --out /tmp/soft --wake-gain-db -12 --only request_pink_snr10

**The talk sets** (``--split dev`` or ``--split heldout``): how people talk to a speaker. The
wake-word clips and the request recordings are split once, by source recording (a CRC of the
clip's path, :func:`split_of`), into a development half, used to choose the rule and its
parameters, and a held-out half, never used to choose; the seed of each split differs too
(:data:`SPLIT_SEEDS`). The held-out split leaves out every recording that is the development
audio under another path (the same decoded samples) or the voice of a development recording (the
voice embedding's cosine at least :data:`VOICE_LEAK_COSINE`): :data:`HELD_OUT_EXCLUDED` names
the wake clips and named requests, the keyword and LibriSpeech pools are sifted by the same rule,
and the build refuses (exit 1, naming the files) a held-out set that still shares audio or a
voice with the development one (:func:`held_out_leaks`). Folders (``TALK_CONDITIONS``), all in
a quiet room (pink noise at ``QUIET_DBFS``) unless named otherwise:

- ``pause_0.15-0.5``, ``pause_0.3``, ``pause_1``, ``pause_2``, ``pause_3``: a request that
  many seconds after the wake word's speech ends (+-0.05 s; 0.15-0.5 s uniform);
- ``talk_mixed``: the pause drawn as people pause (``pause_draw``: half 0.2-1 s, a quarter 1-2
  s, a quarter 2-4 s), the request 10 dB under to 10 dB over the wake word, a third of the files
  in a reverberant room (sox ``reverb``), a quarter far-field (all speech 14 dB softer), the room
  quiet, or pink/brown/babble at -50 to -35 dBFS;
- ``same_speaker``: the wake word and then the same person's words, with a pause drawn as
  above. Development: ``wake/mycroft/mycroft_wakeup.wav``, the one clip in which the wake word
  is followed by the same person's words, cut at its pause. Held-out: a held-out wake clip and
  another held-out recording of the same voice (:data:`SAME_VOICE_PAIRS`); none is left since
  every pair has a development recording's voice, so the held-out build writes no such folder;
- ``nothing_quiet``, ``nothing_room``: the wake word followed by ``TALK_AFTER_S`` of the quiet
  room, or of room noise (pink, brown or babble, -50 to -30 dBFS);
- ``request_babble_snr5``, ``request_babble_snr10``, ``request_pink_snr10``,
  ``request_brown_snr20``: a request 0.2-0.9 s after the wake word in continuous noise at that
  SNR, where the noise rules of the request decision claimed their gains (talk after a request,
  late detections, a short request's soft end).

Every label line also says ``pause_s``, ``request_gain_db`` (the request against the wake
word), ``reverb``, ``far`` and ``speaker`` (``other`` or ``same``). Requests are other people's:
the keyword clips and short clips as above, and the first phrase (up to a 400 ms pause, at most
2-3 s) of each utterance of the LibriSpeech readers in ``speakers/librispeech``; same-person
requests exist only in ``same_speaker``::

    python scripts/make_request_sets.py --out /tmp/talk/dev --split dev
    python scripts/make_request_sets.py --out /tmp/talk/heldout --split heldout
    keepmum far --requests /tmp/talk/heldout --buckets
"""

from __future__ import annotations

import argparse
import hashlib
import sys
import zlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared" / "audio"
sys.path.insert(0, str(REPO))

from device.audio import FRAME_SAMPLES, Pcm  # noqa: E402
from sim.research.corpus import NoiseStream, read_clip, write_jsonl, write_wav  # noqa: E402
from sim.research.shared_audio import HEARD_POSITIVES  # noqa: E402
from wakeword.confirm import frame_level_db  # noqa: E402
from wakeword.silero import SileroVad  # noqa: E402
from wakeword.voice import cosine  # noqa: E402

SAMPLE_RATE = 16000
LEAD_S = 1.0
"""Background before the wake word (seconds): the device hears the room before anyone speaks."""
EDGE_S = 0.15
"""The clip's own recording kept around its speech (seconds)."""
AFTER_S = 4.0
"""Background after a wake word with nothing after it (seconds), as in issue 8's table."""
TAIL_S = 2.0
"""Background after a request (seconds)."""
GAP_S = (0.2, 0.9)
"""Silence between the wake word's speech and the request's (seconds, uniform)."""
SPEECH_DBFS = -26.0
"""RMS of the wake word and the request over their speech regions (dBFS)."""
SPEECH_RANGE_DB = 30.0
"""A clip's speech frames are at most this much quieter than its loudest frame (dB): a word's
onsets and endings stand 20-28 dB under its peak, a silent lead-in 60 dB or more."""
LEVELS_DBFS = (-50, -40, -30)
SNRS_DB = (20, 10, 5)
NOISES = ("pink", "brown", "babble")

OTHER_REQUESTS = (
    "wake/openwakeword/hey_jane.wav",
    "wake/mycroft/record.wav",
    "wake/mycroft/stop.wav",
    "wake/wyoming/okay_nabu.wav",
    "wake/pymicro/computer/hey_peppa_pig.wav",
)
BABBLE_SOURCES = (
    "speech/silero/de.wav",
    "speech/silero/es.wav",
    "speech/silero/ru.wav",
    "speech/silero/en_num.wav",
    "speech/openwakeword/turn_on_the_office_lights_test_clip.wav",
    "speech/openwakeword/negative_reference.wav",
)
SPLITS = ("dev", "heldout")
SPLIT_SEEDS = {"dev": 101, "heldout": 202}
"""The seed of each split's draws (pauses, levels, noise): fixed, so a split is one set."""
QUIET_DBFS = -55.0
"""A quiet room: pink noise at this RMS (dBFS)."""
TALK_AFTER_S = 6.0
"""Room after a wake word with nothing after it in the talk sets: longer than the wait."""
TALK_TAIL_S = 2.5
"""Room after a request in the talk sets (seconds)."""
FAR_GAIN_DB = -14.0
"""A far-field file's speech against the near one's (dB)."""
SAME_SPEAKER_CLIP = "wake/mycroft/mycroft_wakeup.wav"
"""The one shared clip with a wake word and then the same person's words (development split)."""
SAME_VOICE_PAIRS = (
    ("pymicro/hey_mycroft/1.wav", "wake/pymicro/hey_jarvis/1.wav"),
    ("pymicro/hey_jarvis/2.wav", "wake/pymicro/hey_jarvis/1.wav"),
    ("pymicro/hey_mycroft/1.wav", "wake/mycroft/mycroft.wav"),
)
"""(wake clip, request) recorded by one voice, both in the held-out split: the voice embedding's
cosine (wakeword/voice.py) is 0.87, 0.83 and 0.75, where the other held-out wake clips score
0.31-0.69 against these requests and the five dev alexa clips of one speaker 0.89-0.92 among
themselves. No other held-out recording pairs with a held-out wake clip at 0.75 or more:
``mycroft/record.wav``, ``stop.wav`` and ``weather_mycroft.wav`` are not the voice of any held-out
wake clip (0.28-0.65), and ``mycroft/hey_mycroft.wav`` (0.85 with ``mycroft.wav``) is a
development wake clip."""
VOICE_LEAK_COSINE = 0.75
"""A held-out recording whose voice embedding (wakeword/voice.py) scores at least this cosine
against a development recording's is that voice, and is not held out: the lowest of the
same-person pairs above, where a held-out wake clip and an unrelated held-out request score up to
0.69. Keyword clips are about 1 s long, and 1 s embeddings of different people can score this
high; dropping them is the safe side."""
HELD_OUT_EXCLUDED = (
    "wake/wyoming/alexa.wav",  # the same samples as wake/pymicro/alexa/1.wav (dev)
    "wake/pymicro/hey_mycroft/1.wav",  # the same samples as wake/wyoming/hey_mycroft.wav (dev)
    "wake/pymicro/hey_jarvis/1.wav",  # 0.87: the voice of wake/wyoming/hey_mycroft.wav (dev)
    "wake/pymicro/hey_jarvis/2.wav",  # 0.86: the voice of wake/wyoming/hey_mycroft.wav (dev)
    "wake/pymicro/hey_jarvis/3.wav",  # 0.76: the voice of a dev snowboy keyword clip
    "wake/mycroft/mycroft.wav",  # 0.85: the voice of wake/mycroft/hey_mycroft.wav (dev)
)
"""Held-out wake clips and named requests left out (2026-12-08): each is a development
recording's samples or voice (:data:`VOICE_LEAK_COSINE`). Left: ``openwakeword/alexa_test.wav``,
``openwakeword/hey_mycroft_test.wav`` and ``pymicro/hey_mycroft/2.wav`` and ``3.wav`` as wake
words (no ``hey_jarvis`` clip), ``mycroft/stop.wav``, ``record.wav`` and ``wyoming/okay_nabu.wav``
as named requests; no :data:`SAME_VOICE_PAIRS` pair."""
SIFTED_POOLS = ("keywords/", "speakers/")
"""Held-out requests drawn from these pools are sifted by the leak rule when the set is built
(every LibriSpeech reader also reads in the development split, so none of them is left)."""
LIBRISPEECH = "speakers/librispeech"
LIBRI_PHRASE_S = (2.0, 3.0)
"""Longest phrase cut from a LibriSpeech utterance as a request (seconds)."""


@dataclass(frozen=True)
class TalkCondition:
    name: str
    request: bool
    pause_s: tuple[float, float] | None
    """A fixed pause range; None: drawn as people pause (:func:`pause_draw`)."""
    mixed: bool = False
    """Levels, reverb, far field and room noise drawn per file."""
    room: tuple[str, float] | None = None
    """Continuous room noise (kind, SNR in dB against the speech), where the request decision's
    noise rules claimed their gains; None: a quiet room (or drawn, when ``mixed``)."""


TALK_CONDITIONS = (
    TalkCondition("pause_0.15-0.5", True, (0.15, 0.5)),
    TalkCondition("pause_0.3", True, (0.25, 0.35)),
    TalkCondition("pause_1", True, (0.95, 1.05)),
    TalkCondition("pause_2", True, (1.95, 2.05)),
    TalkCondition("pause_3", True, (2.95, 3.05)),
    TalkCondition("talk_mixed", True, None, mixed=True),
    TalkCondition("same_speaker", True, None),
    TalkCondition("nothing_quiet", False, None),
    TalkCondition("nothing_room", False, None, mixed=True),
    *(
        TalkCondition(f"request_{kind}_snr{snr}", True, GAP_S, room=(kind, float(snr)))
        for kind, snr in (("babble", 5), ("babble", 10), ("pink", 10), ("brown", 20))
    ),
)


def split_of(recording: str) -> str:
    """The split a source recording belongs to: by a CRC of its path, once and for all."""
    return SPLITS[zlib.crc32(recording.encode()) % 2]


def pause_draw(rng: np.random.Generator) -> float:
    """A pause after a wake word as people make them: half 0.2-1 s, a quarter 1-2 s, a quarter
    2-4 s (uniform within each)."""
    u = float(rng.uniform())
    if u < 0.5:
        return float(rng.uniform(0.2, 1.0))
    if u < 0.75:
        return float(rng.uniform(1.0, 2.0))
    return float(rng.uniform(2.0, 4.0))


def reverberant(samples: Signal, seed: int) -> Signal:
    """``samples`` through sox ``reverb`` (reverberance 40-90 %, room scale 50-100 %), as long as
    they were: a reverberant room."""
    import subprocess
    import tempfile

    rng = np.random.default_rng(seed)
    reverberance, scale = int(rng.uniform(40, 90)), int(rng.uniform(50, 100))
    peak = max(float(np.max(np.abs(samples))), 1.0)
    with tempfile.TemporaryDirectory() as tmp:
        src, dst = Path(tmp) / "in.wav", Path(tmp) / "out.wav"
        write_wav(src, np.rint(samples / peak * 16000).astype(np.int16))
        subprocess.run(
            ["sox", str(src), str(dst), "reverb", str(reverberance), "50", str(scale)],
            check=True,
            capture_output=True,
        )
        wet = read_clip(dst).astype(np.float64)[: len(samples)]
    wet = np.pad(wet, (0, len(samples) - len(wet)))
    # Keep the dry speech's RMS: the room adds reverberation, not loudness.
    return wet * float(np.sqrt(np.mean(samples**2)) / max(np.sqrt(np.mean(wet**2)), 1e-9))


def librispeech_phrases(
    shared: Path, silero: SileroVad, split: str
) -> list[tuple[str, Signal, int, int]]:
    """The first phrase of each LibriSpeech utterance of ``split`` (by recording): from its
    first speech to the last speech before a pause of ``PHRASE_PAUSE_FRAMES`` or
    ``LIBRI_PHRASE_S`` (the longer of the two, per recording), with ``EDGE_S`` of its recording
    around it, and where its speech is. Read speech pauses between clauses; a request said to a
    speaker is one phrase, and a label must end where its speech does."""
    out = []
    edge = int(EDGE_S * SAMPLE_RATE)
    for path in sorted((shared / LIBRISPEECH).glob("*/*.flac")):
        name = str(path.relative_to(shared))
        if split_of(name) != split:
            continue
        x = read_clip(path).astype(np.float64)[: 8 * SAMPLE_RATE]
        pcm = np.clip(np.rint(x), -32768, 32767).astype(np.int16)
        whole = pcm[: len(pcm) // FRAME_SAMPLES * FRAME_SAMPLES]
        speech = silero.frame_probabilities(whole) >= 0.5
        heard = np.flatnonzero(speech)
        if heard.size == 0:
            continue
        first = int(heard[0])
        longest = first + round(LIBRI_PHRASE_S[zlib.crc32(name.encode()) % 2] / 0.08)
        last, quiet = first, 0
        for index in range(first, min(len(speech), longest)):
            if speech[index]:
                last, quiet = index, 0
            else:
                quiet += 1
                if quiet >= PHRASE_PAUSE_FRAMES:
                    break
        start, stop = first * FRAME_SAMPLES, (last + 1) * FRAME_SAMPLES
        lo, hi = max(0, start - edge), min(len(x), stop + edge)
        phrase = at_level(x[lo:hi], slice(start - lo, stop - lo), SPEECH_DBFS)
        out.append((name, phrase, start - lo, stop - lo))
    return out


PHRASE_PAUSE_FRAMES = 5
"""A pause of this many 80 ms frames (400 ms) ends a LibriSpeech phrase."""
KEYWORD_REQUESTS = 40
"""Keyword clips drawn (seeded) from each of ``keywords/computer`` and ``keywords/snowboy``."""

Signal = npt.NDArray[np.float64]


@dataclass(frozen=True)
class Condition:
    name: str
    request: bool
    noise: str | None
    level_dbfs: float | None


def conditions() -> list[Condition]:
    out = [Condition("nothing_silence", False, None, None)]
    out += [
        Condition(f"nothing_{n}_{lv}", False, n, float(lv)) for n in NOISES for lv in LEVELS_DBFS
    ]
    out.append(Condition("request_silence", True, None, None))
    out += [
        Condition(f"request_{n}_snr{s}", True, n, SPEECH_DBFS - s) for n in NOISES for s in SNRS_DB
    ]
    return out


def speech_region(samples: Signal, silero: SileroVad) -> slice:
    """The clip's speech: from the first to the last 80 ms frame Silero VAD gives >= 0.5 and
    that is at most ``SPEECH_RANGE_DB`` quieter than the clip's loudest frame, on the clean clip
    (before any noise is added). Crowd-sourced clips carry their room's noise and breaths for
    seconds around the word; an energy rule alone calls those speech, and a request placed
    "0.5 s after the wake word" would then start seconds later. Silero alone is not enough
    either: judged without context, the first frame of a clip that opens with a second of
    near-silence (-85 dBFS) gets 0.5, and such requests were labelled as starting 1.2 s before
    anyone spoke."""
    pcm = np.clip(np.rint(samples), -32768, 32767).astype(np.int16)
    whole = pcm[: len(pcm) // FRAME_SAMPLES * FRAME_SAMPLES]
    probability = silero.frame_probabilities(whole)
    levels = np.array([frame_level_db(frame) for frame in whole.reshape(-1, FRAME_SAMPLES)])
    loud = levels >= levels.max(initial=-120.0) - SPEECH_RANGE_DB
    speech = np.flatnonzero((probability >= 0.5) & loud)
    if speech.size == 0:
        return slice(0, len(samples))
    return slice(int(speech[0]) * FRAME_SAMPLES, (int(speech[-1]) + 1) * FRAME_SAMPLES)


def at_level(samples: Signal, region: slice, dbfs: float) -> Signal:
    rms = float(np.sqrt(np.mean(samples[region] ** 2)))
    return samples * (32768.0 * 10 ** (dbfs / 20) / max(rms, 1e-9))


def trimmed(path: Path, silero: SileroVad) -> tuple[Signal, int, int]:
    """The clip cut to its speech plus ``EDGE_S``, at ``SPEECH_DBFS``; and where the speech is."""
    x = read_clip(path).astype(np.float64)
    region = speech_region(x, silero)
    edge = int(EDGE_S * SAMPLE_RATE)
    start, stop = max(0, region.start - edge), min(len(x), region.stop + edge)
    clip = at_level(x[start:stop], slice(region.start - start, region.stop - start), SPEECH_DBFS)
    return clip, region.start - start, region.stop - start


def brown(rng: np.random.Generator, n: int) -> Signal:
    """Leaky-integrated white noise (unit RMS)."""
    from scipy.signal import lfilter

    leak = 1.0 - 2 * np.pi * 20 / SAMPLE_RATE
    y = lfilter([1.0], [1.0, -leak], rng.standard_normal(n + 8000))[8000:]
    return np.asarray(y / np.sqrt(np.mean(y**2)), dtype=np.float64)


def babble(rng: np.random.Generator, n: int, sources: Sequence[Signal]) -> Signal:
    """Six talkers at random offsets, each at the same level, summed (unit RMS)."""
    total = np.zeros(n)
    for source in sources:
        start = int(rng.integers(0, max(1, len(source) - n)))
        piece = source[start : start + n]
        total[: len(piece)] += piece / max(float(np.sqrt(np.mean(piece**2))), 1e-9)
    return total / max(float(np.sqrt(np.mean(total**2))), 1e-9)


def background(kind: str | None, n: int, seed: int, sources: Sequence[Signal]) -> Signal:
    if kind is None:
        return np.zeros(n)
    rng = np.random.default_rng(seed)
    if kind == "pink":
        return NoiseStream("pink", seed).take(n)
    if kind == "brown":
        return brown(rng, n)
    return babble(rng, n, sources)


def split_at_pause(x: Signal, silero: SileroVad) -> tuple[Signal, Signal]:
    """The clip's first phrase (the wake word, with 160 ms of its recording each side) and the
    rest (the same person's words), cut at the first pause of at least 240 ms inside its speech,
    each at ``SPEECH_DBFS``."""
    pcm = np.clip(np.rint(x), -32768, 32767).astype(np.int16)
    whole = pcm[: len(pcm) // FRAME_SAMPLES * FRAME_SAMPLES]
    speech = silero.frame_probabilities(whole) >= 0.5
    heard = np.flatnonzero(speech)
    first, last = int(heard[0]), int(heard[-1])
    quiet = 0
    for index in range(first, last + 1):
        quiet = 0 if speech[index] else quiet + 1
        if quiet >= 3:
            cut = index - quiet + 1
            wake = x[max(0, first - 2) * FRAME_SAMPLES : (cut + 2) * FRAME_SAMPLES]
            rest = x[(index + 1) * FRAME_SAMPLES : (last + 1) * FRAME_SAMPLES]
            whole_wake, whole_rest = slice(0, len(wake)), slice(0, len(rest))
            return at_level(wake, whole_wake, SPEECH_DBFS), at_level(rest, whole_rest, SPEECH_DBFS)
    raise ValueError(f"{SAME_SPEAKER_CLIP}: no pause between the wake word and the words")


def _talk_requests(
    shared: Path, silero: SileroVad, split: str, pick: np.random.Generator, excluded: set[str]
) -> list[tuple[str, Signal, int, int]]:
    """Other people's requests of ``split``: short clips, keyword clips and LibriSpeech phrases,
    each with where its speech is."""
    out = []
    for name in [*OTHER_REQUESTS, *_keyword_picks(shared, pick)]:
        if split_of(name) == split and name not in excluded:
            clip, r0, r1 = trimmed(shared / name, silero)
            out.append((name, clip, r0, r1))
    out += [p for p in librispeech_phrases(shared, silero, split) if p[0] not in excluded]
    return out


def _keyword_picks(shared: Path, pick: np.random.Generator) -> list[str]:
    """``KEYWORD_REQUESTS`` keyword clips of each word, drawn with ``pick`` (either split)."""
    names = []
    for word in ("computer", "snowboy"):
        pool = sorted((shared / "keywords" / word).glob("*.flac"))
        chosen = pick.choice(len(pool), size=min(KEYWORD_REQUESTS, len(pool)), replace=False)
        names += [str(pool[i].relative_to(shared)) for i in sorted(chosen)]
    return names


def split_sources(shared: Path, split: str) -> list[str]:
    """Every recording (path under ``shared``) a build of ``split`` draws on before any is left
    out: its wake clips, its requests and its same-person clips."""
    names = [f"wake/{name}" for name in HEARD_POSITIVES]
    names += [*OTHER_REQUESTS, *_keyword_picks(shared, np.random.default_rng(SPLIT_SEEDS[split]))]
    names += [str(p.relative_to(shared)) for p in sorted((shared / LIBRISPEECH).glob("*/*.flac"))]
    names += [
        SAME_SPEAKER_CLIP,
        *(n for pair in SAME_VOICE_PAIRS for n in (f"wake/{pair[0]}", pair[1])),
    ]
    return sorted({name for name in names if split_of(name) == split})


Embed = Callable[[Pcm], npt.NDArray[np.float32]]


def held_out_leaks(held: Mapping[str, Pcm], dev: Mapping[str, Pcm], embed: Embed) -> dict[str, str]:
    """The held-out recordings that are development audio, each with why: the same decoded
    samples (16 kHz int16, whatever the file's format or path) as a development recording, or
    its voice (embedding cosine at least ``VOICE_LEAK_COSINE``)."""
    twins = {_samples_digest(x): name for name, x in dev.items()}
    voices = [(name, embed(x)) for name, x in dev.items()]
    leaks = {}
    for name, samples in held.items():
        twin = twins.get(_samples_digest(samples))
        if twin is not None:
            leaks[name] = f"the same samples as {twin}"
            continue
        voice = embed(samples)
        score, nearest = max(((cosine(voice, v), d) for d, v in voices), default=(0.0, ""))
        if score >= VOICE_LEAK_COSINE:
            leaks[name] = f"the voice of {nearest} (cosine {score:.2f})"
    return leaks


def _samples_digest(samples: Pcm) -> str:
    return hashlib.sha256(np.ascontiguousarray(samples, dtype="<i2").tobytes()).hexdigest()


def refused_leaks(leaks: Mapping[str, str]) -> list[str]:
    """The leaks a held-out build refuses: those of recordings neither named in
    ``HELD_OUT_EXCLUDED`` nor drawn from a sifted pool (``SIFTED_POOLS``), one line each."""
    return [
        f"{name}: held out, but {why} in the development split"
        for name, why in sorted(leaks.items())
        if name not in HELD_OUT_EXCLUDED and not name.startswith(SIFTED_POOLS)
    ]


def held_out_exclusions(shared: Path) -> set[str] | None:
    """The recordings a held-out build leaves out, or None (after one line per file on stderr)
    when a held-out recording not named in ``HELD_OUT_EXCLUDED`` is development audio."""
    from wakeword.voice import VoiceEncoder

    encoder = VoiceEncoder()

    def embed(samples: Pcm) -> npt.NDArray[np.float32]:
        return encoder.embed(samples[: 8 * SAMPLE_RATE])

    dev = {name: read_clip(shared / name) for name in split_sources(shared, "dev")}
    held = {name: read_clip(shared / name) for name in split_sources(shared, "heldout")}
    leaks = held_out_leaks(held, dev, embed)
    refused = refused_leaks(leaks)
    for line in refused:
        print(line, file=sys.stderr)
    if refused:
        print(
            f"refusing to build a held-out set with {len(refused)} development recording(s)",
            file=sys.stderr,
        )
        return None
    excluded = set(HELD_OUT_EXCLUDED) | set(leaks)
    print(
        f"heldout: {len(excluded & set(held))} of {len(held)} recordings left out as development"
        " audio or voices",
        file=sys.stderr,
    )
    return excluded


SamePair = tuple[str, Signal, int, str, Signal]
"""A same-person file's wake clip (name, audio, samples after its speech) and request (name,
its speech)."""


def _same_speaker_pairs(
    shared: Path, silero: SileroVad, split: str, excluded: set[str]
) -> list[SamePair]:
    """The same-person pairs of ``split`` not left out, repeated to about 5 per folder per
    variant."""
    pairs: list[SamePair] = []
    if split_of(SAME_SPEAKER_CLIP) == split:
        wake, words = split_at_pause(
            read_clip(shared / SAME_SPEAKER_CLIP).astype(np.float64), silero
        )
        pairs += [(SAME_SPEAKER_CLIP, wake, 2 * FRAME_SAMPLES, SAME_SPEAKER_CLIP, words)] * 5
    for wake_name, request_name in SAME_VOICE_PAIRS:
        if excluded & {f"wake/{wake_name}", request_name}:
            continue
        if split_of(f"wake/{wake_name}") == split == split_of(request_name):
            wake, _, w1 = trimmed(shared / "wake" / wake_name, silero)
            request, r0, r1 = trimmed(shared / request_name, silero)
            pairs += [(wake_name, wake, len(wake) - w1, request_name, request[r0:r1])] * 2
    return pairs


def _talk_noise(condition: TalkCondition, rng: np.random.Generator) -> tuple[str | None, float]:
    """The room of one talk file: its noise and level (dBFS)."""
    if condition.room is not None:
        kind, snr_db = condition.room
        return kind, SPEECH_DBFS - snr_db
    if not condition.mixed:
        return "pink", QUIET_DBFS
    top = -30.0 if not condition.request else -35.0
    kind = str(rng.choice(["quiet", "pink", "brown", "babble"] if condition.request else NOISES))
    if kind == "quiet":
        return "pink", QUIET_DBFS
    return kind, float(rng.uniform(-50.0, top))


def build_talk(args: argparse.Namespace, silero: SileroVad) -> int:
    """The talk sets of one split (``--split``): see the module's docstring."""
    split = args.split
    seed = SPLIT_SEEDS[split]
    excluded = held_out_exclusions(args.shared) if split == "heldout" else set()
    if excluded is None:
        return 1
    wakes = []
    for name in HEARD_POSITIVES:
        if split_of(f"wake/{name}") == split and f"wake/{name}" not in excluded:
            clip, _, w1 = trimmed(args.shared / "wake" / name, silero)
            wakes.append((name, clip, len(clip) - w1))
    requests = _talk_requests(args.shared, silero, split, np.random.default_rng(seed), excluded)
    same = _same_speaker_pairs(args.shared, silero, split, excluded)
    sources = [read_clip(args.shared / p).astype(np.float64) for p in BABBLE_SOURCES]
    print(f"{split}: {len(wakes)} wake clips, {len(requests)} requests", file=sys.stderr)
    for condition in TALK_CONDITIONS:
        if args.only and condition.name not in args.only:
            continue
        pairs: list[tuple[str, Signal, int, str | None, Signal | None]]
        if condition.name == "same_speaker":
            if not same:
                print(f"{condition.name}: no same-person pair in this split")
                continue
            pairs = same
        else:
            pairs = [(name, wake, after, None, None) for name, wake, after in wakes]
        folder = args.out / condition.name
        folder.mkdir(parents=True, exist_ok=True)
        rows = []
        for number, (wake_name, wake, after, request_name, own) in enumerate(pairs):
            for variant in range(args.variants):
                tag = f"{split}/{condition.name}/{wake_name}/{number}/{variant}"
                rng = np.random.default_rng([seed, zlib.crc32(tag.encode())])
                row = _talk_file(
                    folder, condition, tag, rng, (wake, after), request_name, own, requests, sources
                )
                rows.append({**row, "wake_clip": wake_name})
        write_jsonl(folder / "labels.jsonl", rows)
        print(f"{condition.name}: {len(rows)} files")
    return 0


def _talk_file(
    folder: Path,
    condition: TalkCondition,
    tag: str,
    rng: np.random.Generator,
    wake_clip: tuple[Signal, int],
    request_name: str | None,
    own: Signal | None,
    requests: Sequence[tuple[str, Signal, int, int]],
    sources: Sequence[Signal],
) -> dict[str, object]:
    """Write one talk file and return its label line. ``wake_clip``: the wake word's recording and
    how many of its samples follow the end of its speech."""
    wake, after = wake_clip
    lead = int(LEAD_S * SAMPLE_RATE)
    pause_s = float(rng.uniform(*condition.pause_s)) if condition.pause_s else pause_draw(rng)
    gain_db = float(rng.uniform(-10.0, 10.0)) if condition.mixed else 0.0
    reverb = condition.mixed and bool(rng.uniform() < 1 / 3)
    far = condition.mixed and bool(rng.uniform() < 0.25)
    parts = [np.zeros(lead), wake]
    request_span: tuple[float, float] | None = None
    if condition.request:
        if own is not None:
            request, r0, r1 = own, 0, len(own)
        else:
            request_name, request, r0, r1 = requests[int(rng.integers(len(requests)))]
            request = request[max(0, r0 - int(EDGE_S * SAMPLE_RATE)) :]
            shift = r0 - max(0, r0 - int(EDGE_S * SAMPLE_RATE))
            r0, r1 = shift, shift + (r1 - r0)
        # The pause runs from the end of the wake word's speech to the request's.
        pause = max(0, int(pause_s * SAMPLE_RATE) - after - r0)
        offset = lead + len(wake) + pause
        parts += [np.zeros(pause), request * 10 ** (gain_db / 20)]
        parts.append(np.zeros(int(TALK_TAIL_S * SAMPLE_RATE)))
        request_span = ((offset + r0) / SAMPLE_RATE, (offset + r1) / SAMPLE_RATE)
    else:
        parts.append(np.zeros(int(TALK_AFTER_S * SAMPLE_RATE)))
        request_name = None
    speech = np.concatenate(parts)
    if reverb:
        speech = reverberant(speech, zlib.crc32(tag.encode()))
    if far:
        speech = speech * 10 ** (FAR_GAIN_DB / 20)
    kind, level = _talk_noise(condition, rng)
    noise = background(kind, len(speech), zlib.crc32(tag.encode()), sources)
    mix = speech + noise * 32768.0 * 10 ** (level / 20)
    name = f"{zlib.crc32(tag.encode()):08x}.wav"
    write_wav(folder / name, np.clip(np.rint(mix), -32768, 32767).astype(np.int16))
    return {
        "file": name,
        "condition": condition.name,
        "wake_start_s": LEAD_S,
        "wake_end_s": round((lead + len(wake) - after) / SAMPLE_RATE, 3),
        "request_start_s": None if request_span is None else round(request_span[0], 3),
        "request_end_s": None if request_span is None else round(request_span[1], 3),
        "request_clip": request_name,
        "pause_s": round(pause_s, 3) if condition.request else None,
        "request_gain_db": round(gain_db, 1) if condition.request else None,
        "reverb": reverb,
        "far": far,
        "room": f"{kind} {level:.0f} dBFS",
        "speaker": "same" if own is not None else ("other" if condition.request else None),
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--shared", type=Path, default=SHARED, help="the real recordings")
    parser.add_argument("--out", type=Path, required=True, help="folder for the condition sets")
    parser.add_argument("--variants", type=int, default=3, help="files per wake clip per folder")
    parser.add_argument("--seed", type=int, default=8)
    parser.add_argument("--only", action="append", default=[], help="condition name(s) to make")
    parser.add_argument(
        "--wake-gain-db",
        type=float,
        default=0.0,
        help="the wake word's level against the request's, in dB (-12: said softly, from afar)",
    )
    parser.add_argument(
        "--split",
        choices=SPLITS,
        help="build the talk sets of this split (dev: to choose on; heldout: to report on)",
    )
    args = parser.parse_args(argv)
    if not (args.shared / "wake").is_dir():
        print(f"--shared {args.shared}: no wake/ folder (the real recordings)", file=sys.stderr)
        return 2
    if args.variants < 1:
        print(f"--variants {args.variants}: must be at least 1", file=sys.stderr)
        return 2
    if not -40.0 <= args.wake_gain_db <= 10.0:
        print(f"--wake-gain-db {args.wake_gain_db}: must be from -40 to 10 dB", file=sys.stderr)
        return 2
    known = {c.name for c in (TALK_CONDITIONS if args.split else conditions())}
    unknown = [name for name in args.only if name not in known]
    if unknown:
        print(
            f"--only {unknown[0]}: unknown condition (known: {', '.join(known)})", file=sys.stderr
        )
        return 2

    silero = SileroVad()
    if args.split:
        return build_talk(args, silero)
    gain = 10 ** (args.wake_gain_db / 20)
    wakes = []
    for name in HEARD_POSITIVES:  # the wake words openWakeWord wakes on
        clip, w0, w1 = trimmed(args.shared / "wake" / name, silero)
        wakes.append((name, clip * gain, w0, w1))
    pick = np.random.default_rng(args.seed)
    request_paths = [args.shared / p for p in OTHER_REQUESTS]
    for word in ("computer", "snowboy"):
        pool = sorted((args.shared / "keywords" / word).glob("*.flac"))
        chosen = pick.choice(len(pool), size=min(KEYWORD_REQUESTS, len(pool)), replace=False)
        request_paths += [pool[i] for i in sorted(chosen)]
    requests = [trimmed(p, silero) for p in request_paths]
    sources = [read_clip(args.shared / p).astype(np.float64) for p in BABBLE_SOURCES]

    for condition in conditions():
        if args.only and condition.name not in args.only:
            continue
        folder = args.out / condition.name
        folder.mkdir(parents=True, exist_ok=True)
        rows = []
        for wake_name, wake, w0, w1 in wakes:
            for variant in range(args.variants):
                tag = f"{condition.name}/{wake_name}/{variant}"
                rng = np.random.default_rng([args.seed, zlib.crc32(tag.encode())])
                lead = int(LEAD_S * SAMPLE_RATE)
                parts = [np.zeros(lead), wake]
                wake_span = ((lead + w0) / SAMPLE_RATE, (lead + w1) / SAMPLE_RATE)
                request_span: tuple[float, float] | None = None
                request_name: str | None = None
                if condition.request:
                    chosen_request = int(rng.integers(len(requests)))
                    request, r0, r1 = requests[chosen_request]
                    request_name = str(request_paths[chosen_request].relative_to(args.shared))
                    gap = int(rng.uniform(*GAP_S) * SAMPLE_RATE)
                    # The gap runs from the end of the wake word's speech to the request's speech.
                    pause = max(0, gap - (len(wake) - w1) - r0)
                    offset = lead + len(wake) + pause
                    parts += [np.zeros(pause), request, np.zeros(int(TAIL_S * SAMPLE_RATE))]
                    request_span = ((offset + r0) / SAMPLE_RATE, (offset + r1) / SAMPLE_RATE)
                else:
                    parts.append(np.zeros(int(AFTER_S * SAMPLE_RATE)))
                speech = np.concatenate(parts)
                noise = background(
                    condition.noise, len(speech), zlib.crc32(tag.encode()) + args.seed, sources
                )
                level = condition.level_dbfs if condition.level_dbfs is not None else -200.0
                mix = speech + noise * 32768.0 * 10 ** (level / 20)
                stem = wake_name.removesuffix(".wav").replace("/", "_")
                name = f"{stem}_{variant}.wav"
                write_wav(folder / name, np.clip(np.rint(mix), -32768, 32767).astype(np.int16))
                rows.append(
                    {
                        "file": name,
                        "condition": condition.name,
                        "wake_clip": wake_name,
                        "wake_start_s": round(wake_span[0], 3),
                        "wake_end_s": round(wake_span[1], 3),
                        "request_start_s": None
                        if request_span is None
                        else round(request_span[0], 3),
                        "request_end_s": None
                        if request_span is None
                        else round(request_span[1], 3),
                        "request_clip": request_name,
                    }
                )
        write_jsonl(folder / "labels.jsonl", rows)
        print(f"{condition.name}: {len(rows)} files")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
