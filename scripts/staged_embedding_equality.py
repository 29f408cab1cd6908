#!/usr/bin/env python3
"""The device with the staged speech embedding against the whole-window model, on any audio.

Why: ``wakeword/incremental.py`` computes each frame's embedding from the stages' new rows only;
it must change no score and no event. ``tests/wakeword/test_incremental.py`` checks that on the
bundled fixtures; this script does the same on any recordings (``../shared/audio`` by default),
replayed as ``keepmum replay`` does (1 s of silence before and after each file, one run over all
files, so the resets between inputs are exercised), with one and with five models, with and
without the VAD gate, and with and without muting and unmuting every 37 frames. For each case it
prints the frames, events and wakes, and whether every frame's scores and every event are equal;
it exits 1 on any difference.

Usage::

    python scripts/staged_embedding_equality.py                 # every .wav in ../shared/audio
    python scripts/staged_embedding_equality.py a.wav b.flac    # these files
"""

from __future__ import annotations

import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from device.pipeline import run_device  # noqa: E402
from device.sources import REPLAY_PAD_S, FileSource  # noqa: E402
from device.speaker import Speaker  # noqa: E402
from sim.config import load_config  # noqa: E402
from wakeword.backend import installed_backend  # noqa: E402
from wakeword.confirm import RequestConfirmer  # noqa: E402
from wakeword.detector import OpenWakeWordDetector  # noqa: E402
from wakeword.features import MelFeatureModels  # noqa: E402
from wakeword.listener import OpenWakeWordListener  # noqa: E402
from wakeword.vad import WebRtcVad  # noqa: E402

ONE = ("alexa",)
FIVE = ("alexa", "hey_jarvis", "hey_mycroft", "timer", "weather")
MUTE_EVERY = 37


def replay(
    paths: list[Path], models: tuple[str, ...], gate: bool, mute: bool, staged: bool
) -> tuple[list[tuple[float, ...]], list[str]]:
    """Every frame's scores and every event of one run over ``paths``."""
    backend = installed_backend()
    # A given embedding session is used as it is (whole windows); none: staged when possible.
    embedding = None if staged else backend.open_session(backend.embedding_model)
    features = MelFeatureModels(embedding=embedding, backend=backend)
    assert (features.stream is not None) == staged, "the staged embedding is not available"
    config = load_config(
        None, overrides={"device": {"vad_gate": gate}, "wakeword": {"models": list(models)}}
    )
    detector = OpenWakeWordDetector(config.wakeword.models, feature_models=features)
    speaker = Speaker(
        OpenWakeWordListener(config.wakeword, detector),
        WebRtcVad(config.vad),
        config.speaker,
        vad_gate_s=config.device.vad_gate_s if gate else None,
        confirm=RequestConfirmer(config.vad),
        clock=lambda: 0.0,
    )
    scores: list[tuple[float, ...]] = []
    events: list[str] = []

    def on_frame(s: Speaker, frame: object) -> None:
        scores.append(tuple(s.last_scores.values()))
        if mute and len(scores) % MUTE_EVERY == 0:
            s.request_mute(len(scores) % (2 * MUTE_EVERY) == 0)

    sources = [FileSource(p, pad_s=REPLAY_PAD_S) for p in paths]
    run_device(sources, speaker, lambda e: events.append(repr(e)), on_frame=on_frame)
    return scores, events


def main(argv: list[str]) -> int:
    paths = [Path(a) for a in argv] or sorted((REPO.parent / "shared" / "audio").rglob("*.wav"))
    if not paths:
        print("no audio given and none in ../shared/audio", file=sys.stderr)
        return 2
    same = True
    for gate in (False, True):
        for models in (ONE, FIVE):
            for mute in (False, True):
                staged = replay(paths, models, gate, mute, staged=True)
                whole = replay(paths, models, gate, mute, staged=False)
                wakes = sum(e.startswith("Wake(") for e in staged[1])
                ok = staged == whole
                same &= ok
                print(
                    f"gate={gate!s:5} models={len(models)} mute={mute!s:5} files={len(paths)} "
                    f"frames={len(staged[0])} events={len(staged[1])} wakes={wakes} "
                    f"scores_equal={staged[0] == whole[0]} events_equal={staged[1] == whole[1]}",
                    flush=True,
                )
    print("equal" if same else "DIFFERENT")
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
