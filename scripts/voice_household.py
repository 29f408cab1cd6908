#!/usr/bin/env python3
"""Issue 27's bar as a tester would check it: a household of four enrolled readers, and a replay
without ``--member`` of requests (a wake word, then 3 s of one person's speech).

Research only (docs/measurements/2026-12-08-voice-household.md). Through keepmum's public API
(``keepmum.Device``: ``init_vault``, ``add_member``, ``enrol``, ``replay``), the whole device:
wake word, request decision, attribution, vault. For each rotation (each reader in turn is the
stranger; the other four are members, each enrolled with their first 3 files, as ``keepmum
voices`` does), one replay of every reader's 3-second request pieces (every request file), each
``[0.5 s][a real "alexa" clip of another person][0.4 s][3 s of the reader][3 s]``, one after
another in one recording, optionally with babble (other talkers) under all of it. Counts:

- a member's request: *right* (stored under them), *wrong* (under another member), *stranger*
  (discarded as nobody's voice), *lost* (no wake, or not kept by the request decision);
- a stranger's request: *kept* (stored under anyone).

Usage::

    python scripts/voice_household.py ../shared/audio/speakers/librispeech \\
        --wake ../shared/audio/wake [--babble ../shared/audio/speech/silero --snr 10] [--json]
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
    Speaker,
    crops,
    load_speaker,
    make_babble,
    with_noise,
)
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


def run_rotation(
    speakers: list[Speaker], stranger: str, recording: Pcm, spans: list[tuple[str, float, float]]
) -> Counts:
    """Enrol every speaker but ``stranger`` in a fresh home, replay, count."""
    with tempfile.TemporaryDirectory() as tmp:
        device = keepmum.Device(tmp)
        members = [s for s in speakers if s.name != stranger]
        for index, member in enumerate(members):
            name = f"r{member.name}"
            secret = device.init_vault(name) if index == 0 else device.add_member(name)
            device.enrol(name, *member.enrol, passphrase=secret)
        run = device.replay(recording, name="household")
    counts = Counts()
    decided = [e for e in run.events if e["event"] in ("stored", "discarded")]
    wakes = [e["t"] for e in run.events if e["event"] == "wake"]
    for speaker, start, end in spans:
        mine = [e for e in decided if start <= e["t"] < end]
        stored = [e for e in mine if e["event"] == "stored"]
        if speaker == stranger:
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
    parser.add_argument("--rotations", type=int, default=0, help="only the first N (0: all)")
    parser.add_argument("--json", action="store_true", help="one JSON object")
    args = parser.parse_args()
    speakers = [load_speaker(d) for d in sorted(p for p in args.corpus.iterdir() if p.is_dir())]
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
    for stranger in chosen:
        counts = run_rotation(speakers, stranger.name, recording, spans)
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
