#!/usr/bin/env python3
"""Make the babble that voice enrolment mixes into a member's recordings (espeak-ng, no person).

Why: a voiceprint made from quiet recordings alone sits far from the same voice heard through
other talkers, so a member's requests in a noisy room score under the threshold. Enrolment
therefore also embeds each recording mixed with babble at 10 and 20 dB SNR (docs/voices.md).
The device may hold nobody's recordings but the member's own, so the babble is synthetic:
six espeak-ng voices (none of the ones the end-to-end tests enrol) reading sentences, three at a
time summed, 16 kHz int16, written to ``wakeword/data/voice_babble.npz`` (key ``samples``).

espeak-ng's output differs between its versions, so the committed file is the babble; rerun this
only to change it. Usage::

    python scripts/make_voice_babble.py      # needs espeak-ng
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from device.sources import read_audio  # noqa: E402

OUT = REPO / "wakeword" / "data" / "voice_babble.npz"
VOICES = (
    ("en-us+m1", 45),
    ("en+f2", 60),
    ("en-gb-scotland", 40),
    ("en+f4", 70),
    ("en-us+m5", 30),
    ("en-029+f1", 55),
)
"""(espeak-ng voice, pitch): three of each sex; the end-to-end tests enrol en+m3 and en-us+f3."""
SENTENCES = (
    "The train to the coast leaves at half past nine, so we should pack tonight.",
    "I told them the meeting had moved, but nobody read the message in time.",
    "Could you pass the salt, and is there any more bread in the kitchen?",
    "On the radio they said the storm would reach us by the end of the week.",
    "My brother fixed the old bicycle and now he rides it to work every day.",
)
TARGET_DBFS = -20.0


def _speak(voice: str, pitch: int, text: str, scratch: Path) -> np.ndarray:
    path = scratch / "s.wav"
    subprocess.run(
        ["espeak-ng", "-v", voice, "-p", str(pitch), "-s", "160", "-w", str(path), text],
        check=True,
    )
    return read_audio(path).astype(np.float32)


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        tracks = []
        for k, (voice, pitch) in enumerate(VOICES):
            # Each talker starts at another sentence, so the three summed say different things.
            order = SENTENCES[k % len(SENTENCES) :] + SENTENCES[: k % len(SENTENCES)]
            gap = np.zeros(int(0.3 * 16000), np.float32)
            said = [_speak(voice, pitch, text, Path(tmp)) for text in order]
            track = np.concatenate([part for clip in said for part in (clip, gap)])
            tracks.append(track / np.sqrt(np.mean(track**2)))
    halves = []
    for group in (tracks[:3], tracks[3:]):
        n = min(len(t) for t in group)
        halves.append(np.sum([t[:n] for t in group], axis=0))
    babble = np.concatenate(halves)
    babble *= 32767 * 10 ** (TARGET_DBFS / 20) / np.sqrt(np.mean(babble**2))
    samples = np.clip(np.round(babble), -32768, 32767).astype(np.int16)
    np.savez_compressed(OUT, samples=samples)
    print(f"{OUT.relative_to(REPO)}: {len(samples) / 16000:.1f} s of 3-talker babble")
    return 0


if __name__ == "__main__":
    sys.exit(main())
