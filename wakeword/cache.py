"""A file's scores, kept so that a benchmark over a large corpus is paid for once.

An entry is keyed by the SHA-256 of the audio file's bytes and by a *setup id*: the SHA-256 of
everything else its scores depend on (the scorer version, each model's name and the SHA-256 of
its ``.onnx`` file, the replay padding and the VAD settings). Thresholds, trigger frames and the
refractory period are not in it: they are applied to cached scores afterwards. So a changed file,
a retrained model or a different VAD is rescored, and a threshold sweep is not.

Layout: ``FOLDER/<setup id[:16]>/<file sha[:2]>/<file sha>.npz`` holding one float32 array per
score name (``score:<name>``), the per-frame speech flags (``speech``), the second stage's
confirmations (``confirmed``), which frames stand the noise margin over the floor (``loud``),
each frame's level in dBFS (``level_db``, float64, for the request's ``request_range_db`` rule)
and the file's own length (``audio_s``). Entries are written to a temporary name and renamed into
place, so an interrupted run leaves whole entries or none, and the next run resumes where it
stopped. An unreadable entry is treated as missing (and rewritten).
"""

from __future__ import annotations

import hashlib
import json
import zipfile
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from keepmum.files import write_file
from wakeword.backend import installed_backend
from wakeword.models import resolve_model
from wakeword.vad import VadSettings

__all__ = ["SCORER_VERSION", "FileScores", "ScoreCache", "file_sha256", "setup_id"]

SCORER_VERSION = 5
"""Bumped whenever a change in keepmum would change stored scores (2: confirmed speech; 3: frames
over the noise margin, for the wake-gap rule; 4: frame levels, for the request's talker; 5: Silero
VAD v6)."""


@dataclass(frozen=True)
class FileScores:
    """What scoring one audio file yields: per-frame scores and speech flags, aligned."""

    scores: dict[str, npt.NDArray[np.float32]]
    """Score name -> one score per frame (frames of the padded file, 80 ms each)."""
    speech: npt.NDArray[np.bool_]
    """One VAD decision per frame, same frames as the scores."""
    audio_s: float
    """Length of the file's own audio, padding excluded (seconds)."""
    confirmed: npt.NDArray[np.bool_] | None = None
    """Per frame, whether the device's second stage confirms the VAD's speech
    (``wakeword.confirm``): what its request decision counts. None: same as ``speech``."""
    loud: npt.NDArray[np.bool_] | None = None
    """Per frame, whether it stands ``vad.noise_margin_db`` over the room's noise floor. None:
    every frame does."""
    level_db: npt.NDArray[np.float64] | None = None
    """Per frame, its level (RMS, dBFS), for the ``speaker.request_range_db`` rule. None:
    unknown (the rule does not apply)."""

    @property
    def request_flags(self) -> npt.NDArray[np.bool_]:
        """The per-frame speech the device's request decision counts."""
        return self.speech if self.confirmed is None else self.confirmed

    @property
    def gap_flags(self) -> npt.NDArray[np.bool_]:
        """The per-frame speech the device's wake-gap rule hears: the VAD's speech over the noise
        margin (any other frame is a pause)."""
        return self.speech if self.loud is None else self.speech & self.loud

    @property
    def decision_facts(self) -> npt.NDArray[np.float64]:
        """The four per-frame facts the device's request decision reads, as rows: the VAD's
        speech, :attr:`request_flags` and :attr:`gap_flags` (1.0 or 0.0), and :attr:`level_db`
        (NaN where unknown) (``wakeword.metrics.DECISION_ROWS``), so that a false accept is
        priced with exactly the device's rule."""
        levels = np.full(self.frames, np.nan) if self.level_db is None else self.level_db
        # Stacking the flags with the float64 levels promotes them to float64: one array, made once.
        return np.stack((self.speech, self.request_flags, self.gap_flags, levels))

    @property
    def frames(self) -> int:
        """Frames scored (the padded file's)."""
        return int(self.speech.shape[0])


def file_sha256(path: Path, chunk_bytes: int = 1 << 20) -> str:
    """SHA-256 of a file's bytes (hex), read a megabyte at a time."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while block := handle.read(chunk_bytes):
            digest.update(block)
    return digest.hexdigest()


def setup_id(models: Sequence[str], pad_s: float, vad: VadSettings) -> str:
    """The hex id of everything besides the audio that a file's cached scores depend on."""
    described = {
        "scorer_version": SCORER_VERSION,
        # The mel and embedding models differ between backends too, not only the model files.
        "backend": installed_backend().name,
        "models": [
            {"name": spec.name, "sha256": file_sha256(spec.path)}
            for spec in map(resolve_model, models)
        ],
        "pad_s": pad_s,
        "vad": asdict(vad),
    }
    return hashlib.sha256(json.dumps(described, sort_keys=True).encode()).hexdigest()


class ScoreCache:
    """Per-file score entries under one folder, for one setup."""

    def __init__(self, folder: Path, setup: str) -> None:
        self.folder = folder
        self.setup = setup
        self._root = folder / setup[:16]

    def _path(self, file_sha: str) -> Path:
        return self._root / file_sha[:2] / f"{file_sha}.npz"

    def get(self, file_sha: str) -> FileScores | None:
        """The entry of a file (by content hash), or None when absent or unreadable."""
        path = self._path(file_sha)
        try:
            with np.load(path, allow_pickle=False) as data:
                scores = {
                    key.removeprefix("score:"): data[key].astype(np.float32)
                    for key in data.files
                    if key.startswith("score:")
                }
                speech = data["speech"].astype(np.bool_)
                confirmed = data["confirmed"].astype(np.bool_) if "confirmed" in data else None
                loud = data["loud"].astype(np.bool_) if "loud" in data else None
                level_db = data["level_db"].astype(np.float64) if "level_db" in data else None
                audio_s = float(data["audio_s"])
        except FileNotFoundError:
            return None
        except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile):
            return None  # a torn or foreign file: rescore and overwrite it
        if any(s.shape != speech.shape for s in scores.values()) or not scores:
            return None
        if any(f is not None and f.shape != speech.shape for f in (confirmed, loud, level_db)):
            return None
        return FileScores(
            scores=scores,
            speech=speech,
            audio_s=audio_s,
            confirmed=confirmed,
            loud=loud,
            level_db=level_db,
        )

    def put(self, file_sha: str, result: FileScores) -> None:
        """Store a file's entry atomically (temporary file, then rename)."""
        path = self._path(file_sha)
        path.parent.mkdir(parents=True, exist_ok=True)
        arrays: dict[str, npt.NDArray[np.generic]] = {
            f"score:{name}": np.asarray(values, dtype=np.float32)
            for name, values in result.scores.items()
        }
        arrays["speech"] = np.asarray(result.speech, dtype=np.bool_)
        if result.confirmed is not None:
            arrays["confirmed"] = np.asarray(result.confirmed, dtype=np.bool_)
        if result.loud is not None:
            arrays["loud"] = np.asarray(result.loud, dtype=np.bool_)
        if result.level_db is not None:
            arrays["level_db"] = np.asarray(result.level_db, dtype=np.float64)
        arrays["audio_s"] = np.asarray(result.audio_s, dtype=np.float64)
        write_file(path, lambda out: np.savez(out, **arrays), overwrite=True)  # type: ignore[arg-type]
