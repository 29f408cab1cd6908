#!/usr/bin/env python3
"""Issue 27's bar as a tester would check it: a household of four enrolled readers, and a replay
without ``--member`` of requests (a wake word, then 3 s of one person's speech).

Research only (docs/measurements/2026-12-08-voice-household.md). Through keepmum's public API
(``keepmum.Device``: ``init_vault``, ``add_member``, ``enrol``, ``replay``), the whole device:
wake word, request decision, attribution, vault. For each rotation (one per speaker: the next
four speakers after it are members, each enrolled with their first 3 files, as ``keepmum
voices`` does; the others are strangers), one replay of every speaker's 3-second request
pieces (every request file), each ``[0.5 s][a real "alexa" clip of another person][0.4 s][3 s
of the speaker][3 s]``, one after another in one recording, optionally with babble (other
talkers) under all of it. Counts:

- a member's request: *right* (stored under them), *wrong* (under another member), *stranger*
  (discarded as nobody's voice), *lost* (no wake, or not kept by the request decision);
- a stranger's request: *kept* (stored under anyone).

Usage::

    python scripts/voice_household.py ../shared/audio/speakers/librispeech \\
        --wake ../shared/audio/wake [--babble ../shared/audio/speech/silero --snr 10] [--json]
    python scripts/voice_household.py ../shared/audio/speakers/fsdd --join-short 3 \
        --wake ../shared/audio/wake

(``--join-short``: each speaker's short files joined into utterances of that length, as
``keepmum voices --join-short`` does.)
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import keepmum  # noqa: E402
from device.audio import SAMPLE_RATE  # noqa: E402
from device.sources import read_audio  # noqa: E402
from sim.research.voices import (  # noqa: E402
    ENROL_UTTERANCES,
    MEMBERS,
    Speaker,
    crops,
    load_speaker,
    make_babble,
    with_noise,
)
from sim.research.voices_join import load_joined_speaker  # noqa: E402
from wakeword.stats import wilson_interval  # noqa: E402

WAKE_CLIPS = (
    "wyoming/alexa.wav",
    "pymicro/alexa/1.wav",
    "pymicro/alexa/2.wav",
    "pymicro/alexa/3.wav",
    "openwakeword/alexa_test.wav",
)
"""Real "alexa" clips (other people than the readers), taken in turn."""
LEAD_S, GAP_S, AFTER_S = 0.5, 0.4, 3.0

Pcm = npt.NDArray[np.int16]


@dataclass
class Counts:
    member_requests: int = 0
    right: int = 0
    wrong: int = 0
    stranger: int = 0
    lost: int = 0
    """Not kept by the device: no wake, or discarded by the request decision (not attribution)."""
    no_wake: int = 0
    stranger_requests: int = 0
    strangers_kept: int = 0

    def add(self, other: Counts) -> None:
        for name, value in asdict(other).items():
            setattr(self, name, getattr(self, name) + value)


def _silence(seconds: float) -> Pcm:
    return np.zeros(int(seconds * SAMPLE_RATE), np.int16)


def household_recording(
    speakers: list[Speaker], wakes: list[Pcm]
) -> tuple[Pcm, list[tuple[str, float, float]]]:
    """Every reader's 3-second request pieces after a wake word, one after another; with each
    request's speaker and span (seconds)."""
    parts: list[Pcm] = []
    spans: list[tuple[str, float, float]] = []
    t = 0.0
    for speaker in speakers:
        for audio in speaker.requests:
            for piece in crops(audio, 3.0):
                wake = wakes[len(spans) % len(wakes)]
                block = np.concatenate(
                    [_silence(LEAD_S), wake, _silence(GAP_S), piece, _silence(AFTER_S)]
                )
                spans.append((speaker.name, t, t + len(block) / SAMPLE_RATE))
                parts.append(block)
                t += len(block) / SAMPLE_RATE
    return np.concatenate(parts), spans


def rotation_members(speakers: list[Speaker], index: int) -> list[Speaker]:
    """Rotation ``index``'s four members: the next four speakers after speaker ``index``, around
    the list; the others (``index`` among them) are strangers."""
    return [speakers[(index + k) % len(speakers)] for k in range(1, MEMBERS + 1)]


def run_rotation(
    speakers: list[Speaker],
    members: list[Speaker],
    recording: Pcm,
    spans: list[tuple[str, float, float]],
    voice_threshold: float | None = None,
) -> Counts:
    """Enrol ``members`` in a fresh home, replay (at ``voice_threshold``, or the shipped one),
    count."""
    with tempfile.TemporaryDirectory() as tmp:
        device = keepmum.Device(tmp)
        for index, member in enumerate(members):
            name = f"r{member.name}"
            secret = device.init_vault(name) if index == 0 else device.add_member(name)
            device.enrol(name, *member.enrol, passphrase=secret)
        settings = {} if voice_threshold is None else {"voice_threshold": voice_threshold}
        run = device.replay(recording, name="household", **settings)
    counts = Counts()
    decided = [e for e in run.events if e["event"] in ("stored", "discarded")]
    wakes = [e["t"] for e in run.events if e["event"] == "wake"]
    for speaker, start, end in spans:
        mine = [e for e in decided if start <= e["t"] < end]
        stored = [e for e in mine if e["event"] == "stored"]
        if speaker not in {m.name for m in members}:
            counts.stranger_requests += 1
            counts.strangers_kept += bool(stored)
            continue
        counts.member_requests += 1
        if stored:
            right = stored[0]["member"] == f"r{speaker}"
            counts.right += right
            counts.wrong += not right
        elif any(e.get("reason") == "stranger" for e in mine):
            counts.stranger += 1
        else:
            counts.lost += 1
            counts.no_wake += not any(start <= t < end for t in wakes)
    return counts


def main() -> int:
    try:
        return _main()
    except keepmum.KeepmumError as exc:
        print(f"voice_household: {exc}", file=sys.stderr)
        return 2


def _main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("corpus", type=Path, help="a folder of speaker folders (5 or more)")
    parser.add_argument("--wake", type=Path, required=True, help="../shared/audio/wake")
    parser.add_argument("--babble", type=Path, help="folder of babble WAVs (other talkers)")
    parser.add_argument(
        "--snr", type=float, default=10.0, help="babble level under the whole recording (dB)"
    )
    parser.add_argument(
        "--voice-threshold", type=float, help="instead of the shipped one (a research run)"
    )
    parser.add_argument(
        "--join-short",
        type=float,
        metavar="SECONDS",
        help="join each speaker's short files into utterances this long (FSDD's digits)",
    )
    parser.add_argument("--rotations", type=int, default=0, help="only the first N (0: all)")
    parser.add_argument("--json", action="store_true", help="one JSON object")
    args = parser.parse_args()
    folders = sorted(p for p in args.corpus.iterdir() if p.is_dir())
    if len(folders) <= MEMBERS:
        raise keepmum.ConfigError(f"{args.corpus}: {len(folders)} speakers; at least 5 needed")
    if args.join_short:
        speakers = [load_joined_speaker(d, ENROL_UTTERANCES, args.join_short) for d in folders]
    else:
        speakers = [load_speaker(d) for d in folders]
    wakes = [read_audio(args.wake / clip) for clip in WAKE_CLIPS]
    recording, spans = household_recording(speakers, wakes)
    if args.babble is not None:
        babble = make_babble(
            sorted(args.babble.glob("*.wav")), len(recording), np.random.default_rng(0)
        )
        recording = with_noise(recording, babble, args.snr)
    chosen = speakers[: args.rotations] if args.rotations else speakers
    total = Counts()
    rows = {}
    for index, stranger in enumerate(chosen):
        members = rotation_members(speakers, index)
        counts = run_rotation(speakers, members, recording, spans, args.voice_threshold)
        rows[stranger.name] = asdict(counts)
        total.add(counts)
        if not args.json:
            print(f"stranger {stranger.name}: {counts}", flush=True)
    shares = {
        "right": wilson_interval(total.right, total.member_requests, 0.95),
        "wrong": wilson_interval(total.wrong, total.member_requests, 0.95),
        "strangers_kept": wilson_interval(total.strangers_kept, total.stranger_requests, 0.95),
    }
    if args.json:
        print(json.dumps({"rotations": rows, "total": asdict(total)}))
        return 0
    n, m = total.member_requests, total.stranger_requests
    print(
        f"members' requests {n}: right {total.right}, wrong {total.wrong}, "
        f"discarded as a stranger's {total.stranger}, lost {total.lost} "
        f"({total.no_wake} without a wake)"
    )
    print(f"strangers' requests {m}: kept {total.strangers_kept}")
    for name, interval in shares.items():
        print(f"  {name}: 95 % interval [{interval.low:.1%}, {interval.high:.1%}]")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
