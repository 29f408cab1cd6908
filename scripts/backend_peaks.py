#!/usr/bin/env python3
"""Per-clip peak scores of the shared real recordings, per wake-word backend, as JSON.

Why: the two backends (ONNX on Python 3.10-3.11, TFLite on 3.12+; ``wakeword/backend.py``) never
share a Python where only one is installable, so ``tests/wakeword/test_backend_agreement.py``
compares the backend it runs on with the *other* backend's peaks committed here, made by this
script. On 3.10-3.11 with ``.[test]`` both backends are installed and the test also compares them
live, in one process, on the same audio.

The clips: every file of ``../shared/audio/wake/`` (30) and the first 50 ``keywords/computer``
clips (negatives), 80 in all. Each is scored exactly as ``keepmum replay`` frames it (1 s of
silence before and after, ``wakeword.batch.BatchScorer``) with the four models both backends
ship; a clip is *detected* by a model when its peak reaches the default threshold.

Usage::

    python scripts/backend_peaks.py                       # every installed backend
    python scripts/backend_peaks.py --backend onnx        # one; writes tests/data/peaks_onnx.json
    python scripts/backend_peaks.py --shared PATH --out-dir DIR
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from device.sources import read_audio  # noqa: E402
from wakeword.backend import available_backends, backend_named  # noqa: E402
from wakeword.batch import BatchScorer  # noqa: E402

COMMON_MODELS = ("alexa", "hey_jarvis", "hey_mycroft", "hey_rhasspy")
"""Models both backends ship (``timer``/``weather`` are ONNX-only, ``okay_nabu`` TFLite-only)."""
KEYWORD_CLIPS = 50


def shared_clips(shared: Path) -> list[str]:
    """The 80 clips, as paths relative to ``shared`` (the ``audio`` folder)."""
    wake = sorted(p.relative_to(shared).as_posix() for p in (shared / "wake").rglob("*.wav"))
    computer = sorted((shared / "keywords" / "computer").glob("*.flac"))[:KEYWORD_CLIPS]
    return wake + [p.relative_to(shared).as_posix() for p in computer]


def peaks(backend_name: str, shared: Path) -> dict[str, Any]:
    """``{"backend": ..., "package": ..., "runtime": ..., "peaks": {clip: {model: peak}}}``."""
    backend = backend_named(backend_name)
    scorer = BatchScorer(COMMON_MODELS, backend=backend)
    out: dict[str, dict[str, float]] = {}
    for clip in shared_clips(shared):
        scores = scorer.score(read_audio(shared / clip))
        out[clip] = {name: round(float(s.max()), 6) for name, s in scores.items()}
    return {
        "backend": backend.name,
        "package": backend.package,
        "runtime": backend.runtime,
        "framing": "keepmum replay: 1 s of silence before and after, BatchScorer",
        "peaks": out,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--backend", choices=("onnx", "tflite"), action="append")
    parser.add_argument("--shared", type=Path, default=REPO.parent / "shared" / "audio")
    parser.add_argument("--out-dir", type=Path, default=REPO / "tests" / "data")
    args = parser.parse_args()
    if not (args.shared / "wake").is_dir():
        print(f"{args.shared}: no wake/ folder (the shared recordings)", file=sys.stderr)
        return 2
    names = args.backend or [b.name for b in available_backends()]
    args.out_dir.mkdir(parents=True, exist_ok=True)
    for name in names:
        result = peaks(name, args.shared)
        path = args.out_dir / f"peaks_{name}.json"
        path.write_text(json.dumps(result, indent=1, sort_keys=True) + "\n")
        detected = sum(1 for clip in result["peaks"].values() for p in clip.values() if p >= 0.5)
        print(f"{path}: {len(result['peaks'])} clips, {detected} (clip, model) detections")
    return 0


if __name__ == "__main__":
    sys.exit(main())
