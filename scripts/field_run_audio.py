"""A few minutes of real speech for a field run, from ../shared/audio (never committed):
15 human "alexa" wakes, each followed after 0.6-3.6 s by a request read by one of two
LibriSpeech speakers (1688 and 1998, turn about), with continuous speech between.

    .venv/bin/python scripts/field_run_audio.py /tmp/field/run.wav [--shared DIR]

(``--shared``: the recordings, by default ``../shared/audio`` beside the checkout.)
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr

SHARED = Path(__file__).resolve().parent.parent.parent / "shared" / "audio"
RATE = 16000


def _load(path: Path) -> np.ndarray:
    audio, rate = sf.read(path, dtype="float32", always_2d=True)
    mono = audio.mean(axis=1)
    return mono if rate == RATE else soxr.resample(mono, rate, RATE)


def build(out: Path, shared: Path = SHARED) -> float:
    """Write the run's WAV (16 kHz, 16-bit) to ``out``; its length in seconds."""
    rng = np.random.default_rng(3)

    def hiss(seconds: float) -> np.ndarray:
        return (rng.standard_normal(int(seconds * RATE)) * 0.002).astype(np.float32)

    wakes = [
        shared / "wake/wyoming/alexa.wav",
        *sorted((shared / "wake/pymicro/alexa").glob("*.wav")),
        shared / "wake/openwakeword/alexa_test.wav",
    ]
    speakers = [sorted((shared / f"speakers/librispeech/{s}").glob("*.flac")) for s in (1688, 1998)]
    parts = [_load(shared / "speech/silero/en_num.wav"), hiss(2)]
    for i, wake in enumerate(wakes * 3):
        request = _load(speakers[i % 2][3 + (i // 2) % 7])[: 6 * RATE]  # not the enrolment's
        parts += [hiss(1.0), _load(wake), hiss(0.6 + (i % 3) * 1.5), request, hiss(3.0)]
        if i % 4 == 3:
            parts += [_load(shared / "speech/silero/es.wav")[: 20 * RATE], hiss(2)]
    pcm = np.concatenate(parts)
    sf.write(out, (np.clip(pcm, -1, 1) * 32767).astype(np.int16), RATE, subtype="PCM_16")
    return len(pcm) / RATE


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path, help="the WAV file to write")
    parser.add_argument("--shared", type=Path, default=SHARED, help="the shared recordings")
    args = parser.parse_args()
    print(f"{args.out}: {build(args.out, args.shared):.0f} s")
