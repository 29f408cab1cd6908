"""The false-wake benchmark's engine: score every file once (cached), then sweep thresholds.

Scoring (the expensive part) happens per file in a worker: the file is decoded by the device's
own source, framed as the device replays it (1 s of silence before and after), scored by
:class:`wakeword.batch.BatchScorer` block by block (the device's scores, bit for bit) and given
one webrtcvad decision per frame by the device's own :class:`wakeword.vad.WebRtcVad`. Workers
are a process pool (one ONNX thread each) or, with a scheduler address, a Dask distributed
cluster; the parent hashes each file, serves what the cache holds and stores each new result as
it arrives, so an interrupted run resumes where it stopped.

The sweep (cheap) runs in the parent on the cached arrays, with :mod:`wakeword.metrics` and the
device's own trigger rule (:func:`wakeword.trigger.activations`) and endpointing
(:func:`device.states.kept_seconds`).

Dask workers must see the files at the same paths (a shared folder), as a process pool does.
"""

from __future__ import annotations

import concurrent.futures
import functools
import json
import math
import multiprocessing
import os
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import cast

import numpy as np
import numpy.typing as npt

from device.audio import SAMPLE_RATE
from device.errors import AudioInputError, ConfigError, DetectorError
from device.sources import REPLAY_PAD_S, FileSource
from device.states import SpeakerSettings, kept_seconds
from wakeword.batch import BatchScorer, frame_blocks
from wakeword.cache import FileScores, ScoreCache, file_sha256
from wakeword.metrics import DetPoint, KeywordSpan, sweep_clips, sweep_stream
from wakeword.trigger import WakeSettings
from wakeword.vad import VadSettings, WebRtcVad

__all__ = [
    "DEFAULT_SWEEP",
    "ScoreJob",
    "ScoredFile",
    "clip_sweep",
    "model_scores",
    "names_of",
    "parse_thresholds",
    "read_labels",
    "score_file",
    "score_files",
    "stream_sweep",
]

DEFAULT_SWEEP = "0.05:0.95:0.05"
"""Thresholds swept by default: 0.05 to 0.95 in steps of 0.05."""


@dataclass(frozen=True)
class ScoreJob:
    """What a worker needs to score a file: everything the scores depend on but the audio."""

    models: tuple[str, ...]
    """Built-in model names or ``.onnx`` paths."""
    pad_s: float = REPLAY_PAD_S
    """Silence heard before and after each file (seconds), as the device's replay."""
    vad: VadSettings = field(default_factory=VadSettings)
    """The device's VAD, for the per-frame speech flags."""


@dataclass(frozen=True)
class ScoredFile:
    """One file's result and where it came from."""

    path: Path
    role: str
    """``positive``, ``negative`` or ``stream``."""
    sha256: str
    result: FileScores
    cached: bool
    """Whether the scores came from the cache."""


def parse_thresholds(text: str) -> tuple[float, ...]:
    """``START:STOP:STEP`` (STOP included when the steps land on it) or ``A,B,C``; each in (0, 1].

    Raises :class:`ConfigError` naming the value.
    """
    try:
        if ":" in text:
            start, stop, step = (float(part) for part in text.split(":"))
            if not all(map(math.isfinite, (start, stop, step))) or step <= 0 or stop < start:
                raise ValueError
            count = int(np.floor((stop - start) / step + 1e-9)) + 1
            values = tuple(round(start + i * step, 6) for i in range(count))
        else:
            values = tuple(float(part) for part in text.split(","))
    except ValueError:
        raise ConfigError(
            f"--thresholds {text!r}: expected START:STOP:STEP (e.g. {DEFAULT_SWEEP}) "
            "or a comma-separated list"
        ) from None
    bad = [v for v in values if not 0.0 < v <= 1.0]
    if not values or bad:
        raise ConfigError(f"--thresholds {text!r}: thresholds must be in (0, 1], got {bad}")
    return values


# --- scoring (runs in workers) -----------------------------------------------------------------

_TOOLS_LOCK = threading.Lock()


@functools.lru_cache(maxsize=4)
def _scorer(models: tuple[str, ...]) -> BatchScorer:
    return BatchScorer(models)


def score_file(path: str, job: ScoreJob) -> FileScores:
    """Score one file as the device would hear it: per-frame scores and speech flags.

    Top-level and picklable, for process pools and Dask. Each worker process builds its scorer
    once (models loaded and checked once per process, not per file).
    """
    with _TOOLS_LOCK:  # Dask may run tasks on threads of one process
        scorer = _scorer(job.models)
    source = FileSource(path)
    vad = WebRtcVad(job.vad)
    stream = scorer.stream()
    parts: list[dict[str, npt.NDArray[np.float32]]] = []
    flags: list[bool] = []
    samples = 0

    def counted(chunks: Iterable[npt.NDArray[np.int16]]) -> Iterable[npt.NDArray[np.int16]]:
        nonlocal samples
        for chunk in chunks:
            samples += chunk.size
            yield chunk

    for block in frame_blocks(counted(source.chunks()), job.pad_s):
        parts.append(stream.push(block))
        flags.extend(vad.is_speech(frame) for frame in block)
    scores = {name: np.concatenate([p[name] for p in parts]) for name in scorer.names}
    speech = np.array(flags, dtype=np.bool_)
    return FileScores(scores=scores, speech=speech, audio_s=samples / SAMPLE_RATE)


def _limit_threads() -> None:
    # One core per worker: onnxruntime sessions are opened single-threaded already; this keeps
    # numpy's BLAS from fanning out too.
    for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[name] = "1"


ProgressFn = Callable[[ScoredFile], None]


def score_files(
    files: Sequence[tuple[Path, str]],
    job: ScoreJob,
    *,
    workers: int = 1,
    cache: ScoreCache | None = None,
    scheduler: str | None = None,
    on_result: ProgressFn | None = None,
) -> list[ScoredFile]:
    """Score ``(path, role)`` pairs; results in the order given.

    Cached files are served first; the rest go to ``workers`` processes (or to the Dask cluster
    at ``scheduler``) and are stored in the cache as each arrives. ``on_result`` is called once
    per file, cached or not (the progress bar).
    """
    results: dict[int, ScoredFile] = {}
    todo: list[tuple[int, Path, str, str]] = []
    for index, (path, role) in enumerate(files):
        try:
            sha = file_sha256(path)
        except OSError as exc:
            raise AudioInputError(f"{path}: cannot be read ({exc.strerror})") from None
        hit = cache.get(sha) if cache is not None else None
        if hit is not None:
            results[index] = ScoredFile(path, role, sha, hit, cached=True)
            if on_result is not None:
                on_result(results[index])
        else:
            todo.append((index, path, role, sha))

    def accept(item: tuple[int, Path, str, str], result: FileScores) -> None:
        index, path, role, sha = item
        if cache is not None:
            cache.put(sha, result)
        results[index] = ScoredFile(path, role, sha, result, cached=False)
        if on_result is not None:
            on_result(results[index])

    if todo and scheduler is not None:
        _run_dask(scheduler, todo, job, accept)
    elif todo and workers <= 1:
        for item in todo:
            accept(item, score_file(str(item[1]), job))
    elif todo:
        _run_pool(min(workers, len(todo)), todo, job, accept)
    return [results[i] for i in range(len(files))]


def _run_pool(
    workers: int,
    todo: list[tuple[int, Path, str, str]],
    job: ScoreJob,
    accept: Callable[[tuple[int, Path, str, str], FileScores], None],
) -> None:
    # spawn: a fresh interpreter per worker, never a fork of a parent holding onnxruntime state.
    context = multiprocessing.get_context("spawn")
    with concurrent.futures.ProcessPoolExecutor(
        max_workers=workers, mp_context=context, initializer=_limit_threads
    ) as pool:
        pending = {pool.submit(score_file, str(item[1]), job): item for item in todo}
        try:
            for future in concurrent.futures.as_completed(pending):
                accept(pending[future], future.result())
        except BaseException:
            for future in pending:
                future.cancel()
            raise


def _run_dask(
    address: str,
    todo: list[tuple[int, Path, str, str]],
    job: ScoreJob,
    accept: Callable[[tuple[int, Path, str, str], FileScores], None],
) -> None:
    try:
        from distributed import Client, as_completed
    except ImportError:
        raise ConfigError(
            f"--scheduler {address}: needs dask.distributed (pip install 'keepmum[cluster]')"
        ) from None
    try:
        client = Client(address, timeout="10s")
    except (OSError, TimeoutError) as exc:
        raise ConfigError(
            f"--scheduler {address}: cannot reach the Dask scheduler ({exc})"
        ) from None
    with client:
        futures = client.map(score_file, [str(item[1]) for item in todo], job=job, pure=False)
        owner = {future.key: item for future, item in zip(futures, todo, strict=True)}
        try:
            for future in as_completed(futures):
                accept(owner[future.key], future.result())
        finally:
            client.cancel(futures)


# --- sweeps (run in the parent) ------------------------------------------------------------------


def model_scores(result: FileScores, names: Sequence[str]) -> npt.NDArray[np.float32]:
    """One model's per-frame score: its own, or for a multi-class model the highest class's."""
    stacked = np.stack([result.scores[n] for n in names])
    return stacked.max(axis=0) if len(names) > 1 else stacked[0]


def _kept(speaker: SpeakerSettings) -> Callable[[npt.NDArray[np.bool_], int], float]:
    def cost(flags: npt.NDArray[np.bool_], wake_frame: int) -> float:
        # kept_seconds reads flags by index from the wake on: an array serves as the sequence.
        return float(kept_seconds(cast("Sequence[bool]", flags), wake_frame, speaker))

    return cost


def clip_sweep(
    scored: Sequence[ScoredFile],
    names: Sequence[str],
    thresholds: Sequence[float],
    wake: WakeSettings,
    speaker: SpeakerSettings,
) -> list[DetPoint]:
    """FRR, FA/h and kept seconds per hour over positive and negative clips, per threshold.

    Hours are those of the negatives' own audio (padding excluded); activations use the
    device's trigger frames and refractory period; each false accept costs what the device's
    endpointing would have kept after it.
    """
    positives = [model_scores(f.result, names) for f in scored if f.role == "positive"]
    negatives = [f for f in scored if f.role == "negative"]
    return sweep_clips(
        positives,
        [model_scores(f.result, names) for f in negatives],
        thresholds,
        trigger_frames=wake.trigger_frames,
        refractory_frames=wake.refractory_frames,
        negative_speech_flags=[f.result.speech for f in negatives],
        kept_seconds=_kept(speaker),
        negative_seconds=sum(f.result.audio_s for f in negatives),
    )


def stream_sweep(
    stream: ScoredFile,
    spans: Sequence[KeywordSpan],
    names: Sequence[str],
    thresholds: Sequence[float],
    wake: WakeSettings,
    speaker: SpeakerSettings,
    pad_s: float = REPLAY_PAD_S,
) -> list[DetPoint]:
    """Picovoice's stream rule (a detection in a keyword's span plus 0.5 s is a hit), per
    threshold. Spans are in seconds of the stream file; frame 0 starts ``pad_s`` before it."""
    shifted = [KeywordSpan(s.start_s + pad_s, s.end_s + pad_s) for s in spans]
    return sweep_stream(
        model_scores(stream.result, names),
        shifted,
        thresholds,
        trigger_frames=wake.trigger_frames,
        refractory_frames=wake.refractory_frames,
        tolerance_s=0.5,
        speech_flags=stream.result.speech,
        kept_seconds=_kept(speaker),
        stream_seconds=stream.result.audio_s,
    )


def read_labels(path: Path) -> list[KeywordSpan]:
    """Keyword spans of a stream: JSON lines with ``start_s`` and ``end_s`` (seconds), as
    ``keepmum corpus stream`` writes them. :class:`ConfigError` names a malformed line."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise ConfigError(f"--labels {path}: cannot be read ({exc.strerror})") from None
    except UnicodeDecodeError:
        raise ConfigError(f"--labels {path}: not a text file (expected JSON lines)") from None
    spans = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            span = KeywordSpan(float(row["start_s"]), float(row["end_s"]))
        except (ValueError, KeyError, TypeError):
            raise ConfigError(
                f"--labels {path}:{number}: expected a JSON object with start_s and end_s "
                f"(seconds), got {line[:60]!r}"
            ) from None
        if not 0 <= span.start_s <= span.end_s:
            raise ConfigError(f"--labels {path}:{number}: span ends before it starts: {line[:60]}")
        spans.append(span)
    return spans


def names_of(models: Sequence[str]) -> tuple[str, ...]:
    """The score names the models report (loads them; DetectorError names a bad one)."""
    from wakeword.detector import load_models

    loaded = load_models(models)
    names = tuple(label for m in loaded for _, label in m.labels)
    if not names:  # pragma: no cover - load_models always yields names
        raise DetectorError(f"models {models!r} report no scores")
    return names
