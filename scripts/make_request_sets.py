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
"""

from __future__ import annotations

import argparse
import sys
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared" / "audio"
sys.path.insert(0, str(REPO))

from device.audio import FRAME_SAMPLES  # noqa: E402
from sim.research.corpus import NoiseStream, read_clip, write_jsonl, write_wav  # noqa: E402
from sim.research.shared_audio import HEARD_POSITIVES  # noqa: E402
from wakeword.confirm import frame_level_db  # noqa: E402
from wakeword.silero import SileroVad  # noqa: E402

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
    known = {c.name for c in conditions()}
    unknown = [name for name in args.only if name not in known]
    if unknown:
        print(
            f"--only {unknown[0]}: unknown condition (known: {', '.join(known)})", file=sys.stderr
        )
        return 2

    silero = SileroVad()
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
