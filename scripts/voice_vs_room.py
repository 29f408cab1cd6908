#!/usr/bin/env python3
"""Does the voice tell a request from the room's talk? One line per kept wake of request sets.

Why: issue 27 (item 5) asks whether the voice can mend the request decision's babble misses (a
request must come from the person who said the wake word, or sound unlike the room before it).
This script measures it on the sets ``scripts/make_request_sets.py`` builds, before any rule is
written: for every wake that the request decision keeps, it embeds (``wakeword.voice``, GE2E)

- the request: what is kept after the wake word's end (the pauses not kept left out);
- the wake word: the kept frames up to the wake word's end (pre-roll, detection, tail);
- the room: the 2 s before the pre-roll (frames 37 to 13 before the detection),

and prints, per kept wake, the cosine of the request with the room and with the wake word, the
pause before the request and how far the request's loudest confirmed frame stands over the room
before the wake word (dB, as ``speaker.room_margin_db`` measures it). A false wake kept is a
file with nothing after its wake word. The last line sums them up: the spread of each figure
for false wakes and for requests, all of them and those after a pause of at least ``--late-s``.

The wakes and the decision are ``keepmum far --requests``'s (the score cache is shared with it);
``--late-room-margin-db`` defaults to 0, the rule as it was before it, so that the candidates the
voice would judge are those the device kept then.

Usage::

    python scripts/voice_vs_room.py /tmp/babble /tmp/talk/dev > voice.jsonl
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from device.audio import FRAME_SAMPLES, FRAME_SECONDS  # noqa: E402
from device.sources import FileSource  # noqa: E402
from device.states import ROOM_FROM_FRAMES, decide, room_level_db  # noqa: E402
from sim.commands._scoring import default_cache_dir, wake_settings  # noqa: E402
from sim.config import load_config  # noqa: E402
from sim.research import far as engine  # noqa: E402
from sim.research.corpus import audio_files  # noqa: E402
from wakeword.cache import ScoreCache, setup_id  # noqa: E402
from wakeword.voice import VoiceEncoder, cosine  # noqa: E402

MODELS = ("alexa", "hey_jarvis", "hey_mycroft", "hey_rhasspy")


def padded_audio(path: Path, pad_s: float) -> np.ndarray:
    """The file as ``far`` frames it: ``pad_s`` of silence before and after."""
    pad = np.zeros(round(pad_s * 16000), np.int16)
    return np.concatenate([pad, *FileSource(path).chunks(), pad])


def frames_audio(audio: np.ndarray, frames: Sequence[int]) -> np.ndarray:
    """The samples of the given frames, in order (one silent frame when there are none)."""
    parts = [audio[f * FRAME_SAMPLES : (f + 1) * FRAME_SAMPLES] for f in frames if f >= 0]
    return np.concatenate(parts) if parts else np.zeros(FRAME_SAMPLES, np.int16)


def kept_wakes(folder: Path, scored: list[Any], settings: Any, wake: Any) -> list[dict[str, Any]]:
    """Every wake of one condition folder that the decision keeps, with its voice figures."""
    labels = {}
    for line in (folder / "labels.jsonl").read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        labels[row["file"]] = row
    encoder = VoiceEncoder()
    rows = []
    for item in scored:
        result, label = item.result, labels[item.path.name]
        over = engine.over_threshold_flags(result, wake)
        busy, audio = -1, None
        for frame in engine.device_wakes(result, wake):
            if frame <= busy:
                continue
            decision = decide(
                result.speech,
                result.request_flags,
                frame,
                settings,
                gap_flags=result.gap_flags,
                levels=result.level_db,
                over_flags=over,
            )
            busy = decision.end_frame
            if not decision.kept:
                continue
            audio = padded_audio(item.path, 1.0) if audio is None else audio
            first = frame - min(settings.preroll_frames, frame + 1) + 1  # utterance frame 0
            kept = np.ones(decision.kept_end_frame - first + 1, dtype=bool)
            for start, length in decision.gaps:
                kept[start : start + length] = False
            request = [first + k for k in range(decision.head_frames, len(kept)) if kept[k]]
            room = room_level_db(result.level_db, frame)
            confirmed = [f for f in request if result.request_flags[f]]
            peak = max((float(result.level_db[f]) for f in confirmed), default=math.nan)
            head = range(first, first + decision.head_frames)
            before = range(frame - ROOM_FROM_FRAMES, first)
            embed = {
                "request": encoder.embed(frames_audio(audio, request)),
                "wake": encoder.embed(frames_audio(audio, head)),
                "room": encoder.embed(frames_audio(audio, before)),
            }
            rows.append(
                {
                    "condition": folder.name,
                    "file": str(item.path),
                    "wake_s": round((frame + 1) * FRAME_SECONDS - 1.0, 2),
                    "false_wake": label.get("request_end_s") is None,
                    "speaker": label.get("speaker"),
                    "gap_ms": decision.gap_ms,
                    "peak_over_room_db": round(peak - room, 1),
                    "cos_room": round(cosine(embed["request"], embed["room"]), 3),
                    "cos_wake": round(cosine(embed["request"], embed["wake"]), 3),
                }
            )
    return rows


def spread(values: list[float]) -> dict[str, float] | None:
    """Least, median and greatest (NaN, an unknown room, left out)."""
    known = [v for v in values if not math.isnan(v)]
    if not known:
        return None
    return {"min": min(known), "median": float(np.median(known)), "max": max(known)}


def summary(rows: list[dict[str, Any]], late_s: float) -> dict[str, Any]:
    """Each figure's spread for false wakes and for requests, all and after a long pause."""
    out: dict[str, Any] = {}
    for name, pick in (("all", lambda r: True), ("late", lambda r: r["gap_ms"] >= late_s * 1000)):
        for kind, false_wake in (("false_wakes", True), ("requests", False)):
            mine = [r for r in rows if r["false_wake"] == false_wake and pick(r)]
            out[f"{name}_{kind}"] = {
                "n": len(mine),
                **{
                    key: spread([float(r[key]) for r in mine])
                    for key in ("cos_room", "cos_wake", "peak_over_room_db")
                },
            }
    return out


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("sets", nargs="+", type=Path, help="request-set folders (as far takes)")
    parser.add_argument("--late-room-margin-db", type=float, default=0.0)
    parser.add_argument("--late-s", type=float, default=1.0, help="a long pause (seconds)")
    args = parser.parse_args(argv)
    config = load_config()
    settings = dataclasses.replace(config.speaker, late_room_margin_db=args.late_room_margin_db)
    wake = wake_settings(config, MODELS)
    job = engine.ScoreJob(models=MODELS, vad=config.vad)
    cache = ScoreCache(default_cache_dir(), setup_id(job.models, job.pad_s, job.vad))
    rows: list[dict[str, Any]] = []
    for base in args.sets:
        if not base.is_dir():
            print(f"{base}: no such folder", file=sys.stderr)
            return 2
        for folder in sorted({p.parent for p in audio_files(base, "sets")}):
            files = [(p, str(folder)) for p in sorted(folder.iterdir()) if p.suffix == ".wav"]
            scored = engine.score_files(files, job, workers=2, cache=cache)
            rows += kept_wakes(folder, scored, settings, wake)
    for row in rows:
        print(json.dumps(row))
    print(json.dumps({"summary": summary(rows, args.late_s)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
