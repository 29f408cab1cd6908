#!/usr/bin/env python3
"""Convert Resemblyzer's voice encoder to keepmum's numpy weights, and write reference embeddings.

Run once, in a scratch environment (never keepmum's own: torch and Resemblyzer are not keepmum
dependencies)::

    python3 -m venv /tmp/rzenv
    /tmp/rzenv/bin/pip install torch==2.13.0 librosa==0.11.0 webrtcvad-wheels numpy
    pip download resemblyzer==0.1.4 --no-deps -d /tmp/rz
    /tmp/rzenv/bin/pip install --no-deps /tmp/rz/Resemblyzer-0.1.4-py3-none-any.whl
    /tmp/rzenv/bin/python scripts/convert_voice_model.py

It writes:

- ``wakeword/data/voice_ge2e.npz``: the LSTM and linear weights of ``resemblyzer/pretrained.pt``
  (the training-only ``similarity_*`` scalars and optimizer state dropped), as float16 when every
  probe's embedding from float16 weights is within cosine 0.9995 of Resemblyzer's, else float32;
- ``wakeword/data/voice_ge2e.LICENSE``: Resemblyzer's Apache-2.0 licence;
- ``tests/data/voice_reference.json``: Resemblyzer's own embeddings (its ``preprocess_wav`` and
  ``embed_utterance``, torch on the CPU) of probe audio the project made itself (the espeak-ng
  fixtures in ``sim/data``), which ``tests/wakeword/test_voice.py`` holds keepmum's numpy
  implementation to.

It then runs keepmum's numpy implementation (``wakeword/voice.py``) on the same probes and prints
each cosine; it exits 1 if any is under 0.999.
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import librosa
import numpy as np
import resemblyzer
import torch
from resemblyzer import VoiceEncoder, preprocess_wav

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from wakeword import voice  # noqa: E402  (the repository's own, after the path is set)

DATA = ROOT / "sim" / "data"
OUT_WEIGHTS = ROOT / "wakeword" / "data" / "voice_ge2e.npz"
OUT_LICENSE = ROOT / "wakeword" / "data" / "voice_ge2e.LICENSE"
OUT_REFERENCE = ROOT / "tests" / "data" / "voice_reference.json"

PROBES = [
    # (file, start s, end s or None, preprocess): whole clips, a sub-second cut, a long stretch
    # of the household scenario (several partials), and one without preprocessing (the model
    # and mel alone, no webrtcvad).
    ("alexa_lights.wav", 0.0, None, True),
    ("talk_cat.wav", 0.0, None, True),
    ("talk_salt.wav", 0.0, None, True),
    ("hey_jarvis_kitchen.wav", 0.0, None, True),
    ("television.wav", 0.0, None, True),
    ("talk_cat.wav", 0.2, 0.9, True),
    ("household.wav", 0.0, 12.0, True),
    ("talk_salt.wav", 0.0, None, False),
]
MIN_COSINE = 0.999
FLOAT16_MIN_COSINE = 0.9995


def _load(name: str, start_s: float, end_s: float | None) -> np.ndarray:
    wav, sr = librosa.load(str(DATA / name), sr=None)
    assert sr == 16000, (name, sr)
    stop = None if end_s is None else int(end_s * sr)
    return wav[int(start_s * sr) : stop]


def main() -> int:
    pretrained = Path(resemblyzer.__file__).resolve().parent / "pretrained.pt"
    state = torch.load(pretrained, map_location="cpu")["model_state"]
    weights = {
        k: v.numpy().astype(np.float32)
        for k, v in state.items()
        if k.startswith(("lstm.", "linear."))
    }
    encoder = VoiceEncoder(device="cpu", verbose=False)

    references = []
    for name, start_s, end_s, preprocess in PROBES:
        wav = _load(name, start_s, end_s)
        processed = preprocess_wav(wav) if preprocess else wav
        embedding = encoder.embed_utterance(processed)
        references.append(
            {
                "file": name,
                "start_s": start_s,
                "end_s": end_s,
                "preprocess": preprocess,
                "embedding": [round(float(x), 7) for x in embedding],
            }
        )

    def worst_cosine(dtype: type) -> float:
        path = OUT_WEIGHTS.with_suffix(".try.npz")
        np.savez_compressed(path, **{k: v.astype(dtype) for k, v in weights.items()})
        ours = voice.VoiceEncoder(path)
        path.unlink()
        worst = 1.0
        for ref, (name, start_s, end_s, preprocess) in zip(references, PROBES, strict=True):
            got = ours.embed_wav(_load(name, start_s, end_s), preprocess=preprocess)
            cos = voice.cosine(got, np.array(ref["embedding"], dtype=np.float32))
            print(
                f"{np.dtype(dtype).name:8} {name:24} {start_s}-{end_s} pre={preprocess}: {cos:.6f}"
            )
            worst = min(worst, cos)
        return worst

    dtype: type = np.float16 if worst_cosine(np.float16) >= FLOAT16_MIN_COSINE else np.float32
    np.savez_compressed(OUT_WEIGHTS, **{k: v.astype(dtype) for k, v in weights.items()})
    shutil.copyfile(
        next(Path(resemblyzer.__file__).resolve().parent.parent.glob("Resemblyzer-*.dist-info"))
        / "LICENSE",
        OUT_LICENSE,
    )
    OUT_REFERENCE.write_text(
        json.dumps(
            {
                "source": "Resemblyzer 0.1.4 (preprocess_wav, VoiceEncoder.embed_utterance), "
                f"torch {torch.__version__}, librosa {librosa.__version__}",
                "probes": references,
            },
            indent=1,
        )
        + "\n"
    )
    worst = worst_cosine(dtype)
    print(f"wrote {OUT_WEIGHTS.name} as {np.dtype(dtype).name}; worst cosine {worst:.6f}")
    return 0 if worst >= MIN_COSINE else 1


if __name__ == "__main__":
    sys.exit(main())
