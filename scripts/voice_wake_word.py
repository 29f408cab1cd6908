#!/usr/bin/env python3
"""Should the voice be matched on the request alone, or with the wake word before it?

Research only (docs/measurements/2026-12-08-request-voice.md). A kept utterance is the pre-roll,
the wake word and the request. The wake word is often not the requester's voice (a tester's
stock clip; one person waking the device for another). This script builds, from each LibriSpeech
reader's 3-second request pieces (every request file; nothing here is chosen), three utterances
and counts what ``keepmum voices`` counts (every rotation of 4 enrolled members, the shipped
threshold):

- ``request``: the request alone (what the device matches since 2026-12-08);
- ``other wake + request``: 1 s of silence (the pre-roll), then a real wake-word clip of
  another person (../shared/audio/wake: alexa, hey_jarvis, hey_mycroft; taken in turn), then the
  request (what it matched before);
- ``own 1 s + request``: the pre-roll, then 1 s of the same reader's speech from another file
  (the wake word in their own voice: what matching the request alone gives up).

Usage::

    python scripts/voice_wake_word.py ../shared/audio/speakers/librispeech \\
        --wake ../shared/audio/wake --babble ../shared/audio/speech/silero
"""

from __future__ import annotations

import argparse
import itertools
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from device.audio import SAMPLE_RATE  # noqa: E402
from device.sources import read_audio  # noqa: E402
from sim.research.voices import (  # noqa: E402
    BABBLE_SNR_DB,
    CorpusEmbeddings,
    Request,
    crops,
    load_speaker,
    make_babble,
    noise_name,
    report_corpus,
    with_noise,
)
from wakeword.voice import DEFAULT_VOICE_THRESHOLD, VoiceEncoder, enrol_voiceprint  # noqa: E402

WAKE_CLIPS = ("wyoming/alexa.wav", "wyoming/hey_jarvis.wav", "pymicro/hey_mycroft/1.wav")
PREROLL = np.zeros(SAMPLE_RATE, np.int16)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("corpus", type=Path, help="a folder of speaker folders")
    parser.add_argument("--wake", type=Path, required=True, help="../shared/audio/wake")
    parser.add_argument("--babble", type=Path, required=True, help="babble WAV folder")
    args = parser.parse_args()
    encoder = VoiceEncoder()
    speakers = [load_speaker(d) for d in sorted(p for p in args.corpus.iterdir() if p.is_dir())]
    wakes = itertools.cycle([read_audio(args.wake / clip) for clip in WAKE_CLIPS])
    babble_files = sorted(args.babble.glob("*.wav"))
    prints = {s.name: enrol_voiceprint(encoder, s.enrol).voiceprint for s in speakers}
    rng = np.random.default_rng(0)
    variants = ("request", "other wake + request", "own 1 s + request")
    batches: dict[tuple[str, str], list[Request]] = {}
    for snr in (None, BABBLE_SNR_DB):
        for s in speakers:
            for index, audio in enumerate(s.requests):
                own = s.requests[(index + 1) % len(s.requests)][:SAMPLE_RATE]
                for piece in crops(audio, 3.0):
                    heads = {
                        "request": np.zeros(0, np.int16),
                        "other wake + request": np.concatenate([PREROLL, next(wakes)]),
                        "own 1 s + request": np.concatenate([PREROLL, own]),
                    }
                    for variant, head in heads.items():
                        utterance = np.concatenate([head, piece])
                        if snr is not None:
                            babble = make_babble(babble_files, len(utterance), rng)
                            utterance = with_noise(utterance, babble, snr)
                        key = (variant, noise_name(snr))
                        # Every request is reported: nothing is chosen on these.
                        request = Request(s.name, "report", encoder.embed(utterance))
                        batches.setdefault(key, []).append(request)
    print(f"threshold {DEFAULT_VOICE_THRESHOLD}; {len(speakers)} readers, rotations of 4")
    print("| matched on | noise | right | wrong | strangers kept |")
    print("|---|---|---|---|---|")
    for variant in variants:
        for snr in (None, BABBLE_SNR_DB):
            key = (variant, noise_name(snr))
            embedded = CorpusEmbeddings(args.corpus.name, prints, {key: batches[key]})
            (row,) = report_corpus(embedded, DEFAULT_VOICE_THRESHOLD)
            members, strangers = row.member_requests, row.stranger_requests
            print(
                f"| {variant} | {key[1]} | {row.right}/{members} | {row.wrong}/{members} | "
                f"{row.strangers_kept}/{strangers} |"
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
