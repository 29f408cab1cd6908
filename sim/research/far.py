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
from dataclasses import dataclass, field, fields
from pathlib import Path

import numpy as np
import numpy.typing as npt

from device.audio import FRAME_SECONDS, SAMPLE_RATE
from device.sources import REPLAY_PAD_S, FileSource
from device.states import SpeakerSettings, decide
from keepmum.errors import AudioInputError, ConfigError, DetectorError
from sim.research.sweeps import clip_sweep, model_scores, stream_sweep
from wakeword.batch import BatchScorer, frame_blocks
from wakeword.cache import FileScores, ScoreCache, file_sha256
from wakeword.confirm import ConfirmedFlags
from wakeword.metrics import KeywordSpan
from wakeword.silero import SileroVad
from wakeword.trigger import WakeSettings, above_threshold
from wakeword.vad import VadSettings, WebRtcVad

__all__ = [
    "DEFAULT_SWEEP",
    "ConditionReport",
    "RequestLabel",
    "ScoreJob",
    "ScoredFile",
    "clip_sweep",
    "device_wakes",
    "limit_worker_threads",
    "model_scores",
    "names_of",
    "parse_thresholds",
    "read_labels",
    "read_request_labels",
    "request_report",
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
    phase_offsets: tuple[int, ...] = ()
    """Frame phases to score besides the device's (``--phases``, :mod:`sim.research.phases`)."""


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


@functools.lru_cache(maxsize=1)
def _silero() -> SileroVad:
    return SileroVad()


def score_file(
    path: str, job: ScoreJob, on_audio: Callable[[float], None] | None = None
) -> FileScores:
    """Score one file as the device would hear it: per-frame scores and speech flags.

    Top-level and picklable, for process pools and Dask. Each worker process builds its scorer
    once (models loaded and checked once per process, not per file). ``on_audio`` is told the
    seconds of the file scored so far after every block (a long stream's progress).
    """
    with _TOOLS_LOCK:  # Dask may run tasks on threads of one process
        scorer = _scorer(job.models)
        silero = _silero()
    source = FileSource(path)
    vad = WebRtcVad(job.vad)
    stream = scorer.stream()
    parts: list[dict[str, npt.NDArray[np.float32]]] = []
    flags: list[bool] = []
    confirmed: list[npt.NDArray[np.bool_]] = []
    loud: list[npt.NDArray[np.bool_]] = []
    levels: list[npt.NDArray[np.float64]] = []
    # The device's second stage, on every frame webrtcvad called speech (the device asks only
    # while awake, but where the wakes fall depends on thresholds swept later): same numbers.
    confirm = ConfirmedFlags(job.vad, silero)
    samples = 0

    def counted(chunks: Iterable[npt.NDArray[np.int16]]) -> Iterable[npt.NDArray[np.int16]]:
        nonlocal samples
        for chunk in chunks:
            samples += chunk.size
            yield chunk

    for block in frame_blocks(counted(source.chunks()), job.pad_s):
        parts.append(stream.push(block))
        block_flags = np.fromiter((vad.is_speech(frame) for frame in block), dtype=np.bool_)
        flags.extend(block_flags)
        judged = confirm.push(block, block_flags)
        confirmed.append(judged.confirmed)
        loud.append(judged.loud)
        levels.append(judged.levels)
        if on_audio is not None:
            on_audio(samples / SAMPLE_RATE)
    scores = {name: np.concatenate([p[name] for p in parts]) for name in scorer.names}
    speech = np.array(flags, dtype=np.bool_)
    result = FileScores(
        scores=scores,
        speech=speech,
        audio_s=samples / SAMPLE_RATE,
        confirmed=np.concatenate(confirmed) if confirmed else np.zeros(0, dtype=np.bool_),
        loud=np.concatenate(loud) if loud else np.zeros(0, dtype=np.bool_),
        level_db=np.concatenate(levels) if levels else np.zeros(0, dtype=np.float64),
    )
    if job.phase_offsets:
        from sim.research.phases import add_phase_scores

        result = add_phase_scores(path, result, job, scorer)
    return result


def limit_worker_threads() -> None:
    """Make this (worker) process use one core for numpy's BLAS (far's and bench's pools)."""
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
    on_audio: Callable[[Path, float], None] | None = None,
) -> list[ScoredFile]:
    """Score ``(path, role)`` pairs; results in the order given.

    Cached files are served first; the rest go to ``workers`` processes (or to the Dask cluster
    at ``scheduler``) and are stored in the cache as each arrives. ``on_result`` is called once
    per file, cached or not (the progress bar). With ``on_audio`` (a long stream's progress) the
    files are scored in this process, one after another, and it is told ``(file, seconds
    scored)`` after every block.
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
    elif todo and (workers <= 1 or on_audio is not None):
        for item in todo:
            heard = None if on_audio is None else functools.partial(on_audio, item[1])
            accept(item, score_file(str(item[1]), job, heard))
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
        max_workers=workers, mp_context=context, initializer=limit_worker_threads
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


# --- request sets: what the device keeps after each wake, per condition folder -------------------


@dataclass(frozen=True)
class RequestLabel:
    """Where the request is in a file of a request set (``labels.jsonl``), seconds from the file's
    first sample; None when the wake word is followed by nothing."""

    request_start_s: float | None
    request_end_s: float | None
    pause_s: float | None = None
    """The pause between the wake word's speech and the request's (the talk sets; None: not
    labelled)."""
    gain_db: float | None = None
    """The request's level against the wake word's (dB; the talk sets; None: not labelled)."""


@dataclass(frozen=True)
class RequestCase:
    """One wake behind a miss in a request set (``keepmum far --requests --cases``)."""

    file: str
    """The audio file (as given)."""
    wake_s: float
    """When the wake fired, seconds from the file's first sample."""
    what: str
    """``false_wake_kept``, ``request_discarded``, ``cut_short``, ``over_bound``, or
    ``late_wake``: a wake discarded after the request was kept or had ended (rightly: it is
    counted among the condition's wakes, but it is no miss)."""
    reason: str
    """The device's reason: ``silence``, ``max_length``, ``end_of_input`` or a discard reason."""
    kept_s: float
    """Seconds the device kept (0 when discarded)."""
    end_s: float
    """When the utterance ended (or was discarded), seconds from the file's first sample."""
    request_end_s: float | None
    """The request's last speech (labels), or None without a request."""

    def as_dict(self) -> dict[str, object]:
        """The case in a ``--json`` line."""
        return {
            "file": self.file,
            "wake_s": round(self.wake_s, 3),
            "what": self.what,
            "reason": self.reason,
            "kept_s": round(self.kept_s, 3),
            "end_s": round(self.end_s, 3),
            "request_end_s": self.request_end_s,
        }


@dataclass
class ConditionReport:
    """What the device did after the wakes in one condition folder."""

    condition: str
    files: int = 0
    wakes: int = 0
    discarded: int = 0
    kept: int = 0
    kept_s: float = 0.0
    """Seconds of audio the device would keep (0 for discards)."""
    requests: int = 0
    """Files with a labelled request."""
    requests_kept: int = 0
    """Labelled requests that a kept utterance covers (it ended after the request began)."""
    late_wakes: int = 0
    """Discarded wakes after the request was kept or had ended (the model firing on the request
    itself, or on the room after missing the wake word): among ``wakes`` and ``discarded``, but
    no wake followed by a request, so no miss."""
    cut_short: int = 0
    """Kept utterances that ended before their request's last speech: during the request, or
    before it began when no later utterance covered it (the device was awake on a wake word
    taken for a request, ended, and heard the request while listening: lost as surely)."""
    over_bound: int = 0
    """Kept requests longer than request + pre-roll + ``silence_ms`` + 0.3 s (issue 8's bar)."""
    reasons: dict[str, int] = field(default_factory=dict)
    """Discards per reason."""
    folders: int = 1
    """Condition folders pooled into this report (one per build of the sets given)."""
    cases: list[RequestCase] = field(default_factory=list)
    """The wakes behind the misses: false wakes kept, request wakes discarded, requests cut
    short or kept longer than the bound."""

    def pooled_with(self, other: ConditionReport) -> ConditionReport:
        """This report and ``other`` (the same condition, another folder) as one: every count
        summed, the cases joined, the discard reasons merged."""
        summed = {
            f.name: getattr(self, f.name) + getattr(other, f.name)
            for f in fields(self)
            if f.name not in ("condition", "reasons")
        }
        reasons = dict(self.reasons)
        for reason, count in other.reasons.items():
            reasons[reason] = reasons.get(reason, 0) + count
        return ConditionReport(self.condition, reasons=reasons, **summed)

    def as_dict(self, cases: bool = False) -> dict[str, object]:
        """The report's ``--json`` line (with ``cases``: the wakes behind its misses too)."""
        line: dict[str, object] = {
            "condition": self.condition,
            "folders": self.folders,
            "files": self.files,
            "wakes": self.wakes,
            "discarded": self.discarded,
            "kept": self.kept,
            "kept_s": round(self.kept_s, 3),
            "requests": self.requests,
            "requests_kept": self.requests_kept,
            "late_wakes": self.late_wakes,
            "cut_short": self.cut_short,
            "over_bound": self.over_bound,
            "discard_reasons": dict(sorted(self.reasons.items())),
        }
        if cases:
            line["cases"] = [case.as_dict() for case in self.cases]
        return line


BOUND_SLACK_S = 0.3
"""Issue 8's allowance over request + pre-roll + silence for a kept request (seconds)."""


def read_request_labels(folder: Path, files: Sequence[Path]) -> dict[str, RequestLabel]:
    """``labels.jsonl`` of a request set folder (as ``scripts/make_request_sets.py`` writes it):
    file name -> request span; empty when there is none. With a labels file, every audio file
    of the folder (``files``) must have a line and every line an audio file: a file left out
    would count as a wake followed by nothing, and a line for a missing file hides a labels file
    from another folder, either way a wrong figure. :class:`ConfigError` names the line or file."""
    path = folder / "labels.jsonl"
    if not path.is_file():
        return {}
    labels: dict[str, RequestLabel] = {}
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            start, end = row.get("request_start_s"), row.get("request_end_s")
            pause, gain = row.get("pause_s"), row.get("request_gain_db")
            labels[str(row["file"])] = RequestLabel(
                None if start is None else float(start),
                None if end is None else float(end),
                None if pause is None else float(pause),
                None if gain is None else float(gain),
            )
        except (ValueError, KeyError, TypeError, AttributeError):
            raise ConfigError(
                f"{path}:{number}: expected a JSON object with file, request_start_s and "
                f"request_end_s, got {line[:60]!r}"
            ) from None
    names = {p.name for p in files}
    absent = sorted(set(labels) - names)
    if absent:
        raise ConfigError(f"{path}: {absent[0]} has a line but is not in {folder}")
    unlabelled = sorted(names - set(labels))
    if unlabelled:
        raise ConfigError(
            f"{path}: {unlabelled[0]} has no line (a file with nothing after its wake word "
            "needs one too, with request_start_s and request_end_s null)"
        )
    return labels


def device_wakes(result: FileScores, wake: WakeSettings) -> list[int]:
    """Frames where the device's wake trigger fires on a file's scores (every firing, awake or
    not: the trigger's refractory clock runs on all of them, as on the device)."""
    from wakeword.trigger import WakeTrigger

    trigger = WakeTrigger(wake)
    names = list(result.scores)
    stacked = np.stack([result.scores[n] for n in names], axis=1)
    fired = []
    for index in range(stacked.shape[0]):
        if trigger.update(index, dict(zip(names, stacked[index].tolist(), strict=True))):
            fired.append(index)
    return fired


def over_threshold_flags(result: FileScores, wake: WakeSettings) -> npt.NDArray[np.bool_]:
    """Per frame, whether any model scored at or over its threshold (what the device's listener
    tells it for :func:`device.states.wake_again`)."""
    over = np.zeros(len(result.speech), dtype=bool)
    for name, scores in result.scores.items():
        over |= above_threshold(scores, wake.threshold_for(name))
    return over


def request_report(
    condition: str,
    scored: Sequence[ScoredFile],
    labels: dict[str, RequestLabel],
    wake: WakeSettings,
    speaker: SpeakerSettings,
    pad_s: float = REPLAY_PAD_S,
) -> ConditionReport:
    """Replay the device's decisions over one condition's scored files: each wake that finds the
    device listening starts an utterance, which :func:`device.states.decide` keeps or discards
    from the cached VAD and confirmation flags, exactly as the speaker's state machine would."""
    report = ConditionReport(condition)
    for item in scored:
        report.files += 1
        result = item.result
        label = labels.get(item.path.name)
        request_start, request_end = (
            (label.request_start_s, label.request_end_s) if label is not None else (None, None)
        )
        report.requests += int(request_end is not None)
        covered = False
        ended_before: RequestCase | None = None
        busy_until = -1
        over = over_threshold_flags(result, wake)
        for frame in device_wakes(result, wake):
            if frame <= busy_until:
                continue  # awake: the device does not hear a second wake word
            report.wakes += 1
            decision = decide(
                result.speech,
                result.request_flags,
                frame,
                speaker,
                levels=result.level_db,
                over_flags=over,
            )
            busy_until = decision.end_frame
            wake_t = (frame + 1) * FRAME_SECONDS - pad_s
            end_t = (decision.end_frame + 1) * FRAME_SECONDS - pad_s
            # A request is cut where the audio kept ends, which is before the utterance's end
            # where the device waited past silence_ms for speech that did not come.
            kept_end_t = (decision.kept_end_frame + 1) * FRAME_SECONDS - pad_s
            case = functools.partial(
                RequestCase,
                file=str(item.path),
                wake_s=wake_t,
                reason=decision.reason,
                kept_s=decision.kept_s,
                end_s=end_t,
                request_end_s=request_end,
            )
            if not decision.kept:
                report.discarded += 1
                report.reasons[decision.reason] = report.reasons.get(decision.reason, 0) + 1
                if request_end is not None:
                    # A wake after a kept utterance covered the request (the model firing on the
                    # request itself), or after the request ended (the wake word was missed and
                    # the model fired on the room), is rightly dropped: listed, not a miss.
                    late = covered or wake_t >= request_end
                    report.late_wakes += int(late)
                    report.cases.append(case(what="late_wake" if late else "request_discarded"))
                continue
            report.kept += 1
            report.kept_s += decision.kept_s
            if request_end is None:
                report.cases.append(case(what="false_wake_kept"))
                continue
            start_t = request_start if request_start is not None else wake_t
            if kept_end_t <= start_t:
                # Ended before the request began: a miss unless a later wake covers it.
                ended_before = case(what="cut_short")
                continue
            covered = True
            if kept_end_t < request_end:
                report.cut_short += 1
                report.cases.append(case(what="cut_short"))
            bound = (
                (request_end - wake_t)
                + speaker.preroll_ms / 1000
                + speaker.silence_ms / 1000
                + BOUND_SLACK_S
            )
            if decision.kept_s > bound + 1e-9:
                report.over_bound += 1
                report.cases.append(case(what="over_bound"))
        if ended_before is not None and not covered:
            report.cut_short += 1
            report.cases.append(ended_before)
        report.requests_kept += int(covered)
    return report
