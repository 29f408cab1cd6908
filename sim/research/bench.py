"""``keepmum bench``'s measurements: keepmum against its backend's own loop, in one process.

The reference is the streaming loop of the library whose models the installed backend runs
(:mod:`wakeword.backend`): openWakeWord 0.5.1's on the ``onnx`` backend (Python 3.10-3.11),
pyopen-wakeword's on the ``tflite`` backend (3.12+). Every line carries ``backend``.

Every comparison is made on the same audio, built here deterministically (the bundled fixtures in
``sim/data`` joined by quiet gaps, or speech-like noise when they are absent), and the two sides
run interleaved (A, B, A, B ...) with the median taken, so a noisy shared machine slows both
sides alike instead of biasing one.

Clocks: single-process measurements use the process's CPU time (``time.process_time``), which
other users of a shared machine do not inflate; the process-pool scaling uses wall time (the
work happens in other processes); peak memory is ``ru_maxrss`` of a child process that replays
a long file and does nothing else.

Before it starts, :func:`bench_plan` lists the measurements with a rough duration each
(from throughputs measured on these machines), and ``on_progress`` hears ``(measurement, runs
done, runs in all)`` after every timed run, for a progress bar.

Measurements and bars (a bar that fails makes ``keepmum bench`` exit 1):

* ``openwakeword_stream`` (onnx): openWakeWord 0.5.1 ``Model(["alexa"],
  inference_framework="onnx").predict`` over 1280-sample chunks (the reference; no bar).
  ``pyopen_wakeword_stream`` (tflite): pyopen-wakeword's ``OpenWakeWordFeatures`` and
  ``OpenWakeWord(alexa)`` ``process_streaming`` over the same 1280-sample chunks, as its own
  command line and wyoming-openwakeword drive it; its start-up fill (8 s of zeros it scores after
  ``reset``) is run before the clock starts, so only the audio is timed.
* ``device``: the whole keepmum device (``run_device``, default configuration, no vault), ratio
  against the reference; bar per backend (:data:`DEVICE_BARS`): >= 1.5 on onnx, where the device
  embeds each frame with the staged embedding model (:mod:`wakeword.incremental`; measured
  3.0-3.8x on 120 s of a loaded 2-core machine, 1.46-1.60x before it), and >= 1.4 on tflite,
  whose embedding cannot be staged bit for bit (TFLite's embedding of a longer strip differs from
  its window-by-window runs by up to 3e-5), so the device runs the same TFLite models per frame
  as pyopen-wakeword's loop and gains only that loop's own per-chunk overhead (shifting its
  10 s audio and mel buffers): measured 1.61-1.69x.
* ``device_vault``: the device storing what it keeps in an encrypted vault; CPU time against the
  device without a vault, bar <= 1.05.
* ``batch_1_worker``: batch scoring (``wakeword.batch``), one process, bar >= 1.5 x the
  reference's throughput. On tflite the models run one window at a time (batched TFLite runs are
  not bit-exact against single runs, and do not pay: the embedding model, most of the work, costs
  2.9 ms a window at batch 1, 2.8 at 8, 3.1 at 32); batch scoring still beats pyopen-wakeword's
  loop (measured 1.73x), whose per-chunk cost includes shifting its 10 s audio and mel buffers.
* ``voice_embedding``: CPU time of one speaker embedding of a 4-second kept request
  (:mod:`wakeword.voice`; the device computes one per kept request when voices are enrolled, never
  per frame), no bar; measured 61 ms, about 1.5 % of the request's own duration.
* ``batch_N_workers``: batch scoring on a warm process pool of N workers (wall time), against one
  worker on the same pool machinery; bar >= 1.3 when N >= 2, judged only when the machine has N
  cores free of other work (1-minute load average, less this process); otherwise reported with
  ``pass`` null and ``details.judged`` false.
* ``far_4_phases``: what ``keepmum far --phases 4`` pays per file (scores at 4 frame phases, the
  extra three with strip-run embeddings, :mod:`wakeword.phases`; VAD and second stage once)
  against ``far`` at one phase, CPU time, bar per backend (:data:`PHASES_BARS`): <= 2.5 on
  onnx, <= 4 on tflite (no strip runs there: every phase costs a full one); ``details`` gives
  the cost of each extra phase as a share of one phase, and the model-only ratio (four phases of
  :class:`wakeword.phases.PhaseScorer` against one of :class:`wakeword.batch.BatchScorer`).
* ``vad_gated_device``: the VAD-gated device against the ungated one on audio that is 80 %
  silence (CPU time), bar >= 3.
* ``replay_memory``: peak resident memory of a replay of ``--minutes-memory`` minutes, bar
  < 300 MB and no growth over a replay a sixth as long (within 10 % or 16 MB).
"""

from __future__ import annotations

import concurrent.futures
import multiprocessing
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from device.audio import FRAME_SAMPLES, SAMPLE_RATE, Pcm
from sim.research.far import limit_worker_threads

if TYPE_CHECKING:
    from wakeword.backend import Backend

__all__ = [
    "DATA",
    "Measurement",
    "Progress",
    "bench_audio",
    "bench_plan",
    "run_bench",
]

DATA = Path(__file__).resolve().parent.parent / "data"  # sim/data
"""The bundled fixtures the test audio is made of."""

_GAP_S = 0.6
_QUIET_RMS = 20.0  # int16 units, about -64 dBFS: a quiet room, not digital silence


@dataclass(frozen=True)
class Measurement:
    """One line of the benchmark: what ran, how fast, against what, and whether it passed."""

    name: str
    what: str
    audio_s: float
    """Seconds of audio processed per run."""
    seconds: float
    """Median time per run (``clock``)."""
    clock: str
    """``cpu`` (process CPU time), ``wall`` or ``-`` (not a timing)."""
    throughput: float
    """Audio seconds per second of ``clock`` (x real time); NaN for a non-timing line."""
    ratio: float | None = None
    """The compared figure (see ``bar``), or None for a reference line."""
    bar: str | None = None
    """The requirement on ``ratio`` (``>= 1.5``, ``<= 1.05`` ...), or None."""
    passed: bool | None = None
    """Whether ``ratio`` meets ``bar``; None when there is no bar."""
    details: dict[str, Any] = field(default_factory=dict)
    backend: str = ""
    """The wake-word backend measured (``onnx`` or ``tflite``, :mod:`wakeword.backend`)."""

    def as_dict(self) -> dict[str, Any]:
        """The JSON line: every field, ``passed`` as ``pass``."""
        row = asdict(self)
        row["pass"] = row.pop("passed")
        return row


# --- audio ----------------------------------------------------------------------------------


def _fixture_clips() -> list[Pcm]:
    from device.sources import read_audio

    return [read_audio(path) for path in sorted(DATA.glob("*.wav"))]


def _speechlike(seconds: float, seed: int) -> Pcm:
    rng = np.random.default_rng(seed)
    n = int(seconds * SAMPLE_RATE)
    t = np.arange(n) / SAMPLE_RATE
    envelope = np.clip(np.sin(2 * np.pi * 3 * t), 0, None) * (t % 2.0 < 1.2)
    return (8000 * envelope * rng.standard_normal(n)).astype(np.int16)


def bench_audio(seconds: float, silent_fraction: float = 0.0, seed: int = 0) -> Pcm:
    """Deterministic test audio of ``seconds``: fixtures (or speech-like noise) in a quiet room.

    The clips follow each other in a fixed order with short pauses, repeated as needed. With
    ``silent_fraction`` the audio is cut in equal cycles of at most 100 s, each
    ``1 - silent_fraction`` of clips (a conversation) then the quiet room alone, so that the share
    holds at any length, the way Picovoice's benchmark stream is 80 % silence. (Cycles of exactly
    100 s made 120 s of audio 33 % talk: 20 s, 80 s quiet, then 20 s of the next cycle's talk.)
    """
    rng = np.random.default_rng(seed)
    clips = _fixture_clips() or [_speechlike(4.0, seed=k) for k in range(6)]
    pause = np.zeros(int(_GAP_S * SAMPLE_RATE), dtype=np.int16)
    total = int(seconds * SAMPLE_RATE)
    talk = np.concatenate([piece for clip in clips for piece in (clip, pause)])
    if silent_fraction <= 0:
        audio = np.resize(talk, total).astype(np.float64)
    else:
        cycles = -(-total // (100 * SAMPLE_RATE))
        cycle = -(-total // cycles)
        spoken = int(cycle * (1 - silent_fraction))
        pieces: list[Pcm] = []
        held = position = 0
        while held < total:
            part = np.resize(np.roll(talk, -position), spoken)
            position = (position + spoken) % len(talk)
            pieces += [part, np.zeros(cycle - spoken, dtype=np.int16)]
            held += cycle
        audio = np.concatenate(pieces)[:total].astype(np.float64)
    audio += rng.normal(0.0, _QUIET_RMS, total)
    return np.clip(np.rint(audio), -32768, 32767).astype(np.int16)


def _write_wav(path: Path, samples: Pcm) -> Path:
    import soundfile

    soundfile.write(str(path), samples, SAMPLE_RATE, subtype="PCM_16")
    return path


# --- the runners ----------------------------------------------------------------------------


def _cpu(run: Callable[[], object]) -> float:
    start = time.process_time()
    run()
    return time.process_time() - start


def _wall(run: Callable[[], object]) -> float:
    start = time.perf_counter()
    run()
    return time.perf_counter() - start


Progress = Callable[[str, int, int], None]
"""``(measurement, runs done, runs in all)``."""


def _interleaved(
    rounds: int,
    runs: Mapping[str, Callable[[], float]],
    tick: Callable[[int, int], None] | None = None,
) -> dict[str, float]:
    """Median time of each run, the runs taking turns round after round (``tick(done, all)``
    after each)."""
    times: dict[str, list[float]] = {name: [] for name in runs}
    total = rounds * len(runs)
    for _ in range(rounds):
        for name, run in runs.items():
            times[name].append(run())
            if tick is not None:
                tick(sum(map(len, times.values())), total)
    return {name: statistics.median(values) for name, values in times.items()}


def _reference_loop(backend: str, audio: Pcm) -> Callable[[], float]:
    """The backend's own library's streaming loop over the audio's 1280-sample chunks; each
    call runs it once and returns its CPU seconds."""
    if backend == "onnx":
        loop = _openwakeword_loop(audio)
        return lambda: _cpu(loop)
    return _pyopen_wakeword_loop(audio)


def _pyopen_wakeword_loop(audio: Pcm) -> Callable[[], float]:
    from pyopen_wakeword import Model, OpenWakeWord, OpenWakeWordFeatures

    features = OpenWakeWordFeatures.from_builtin()
    model = OpenWakeWord.from_builtin(Model.ALEXA)
    frames = audio[: len(audio) - len(audio) % FRAME_SAMPLES].reshape(-1, FRAME_SAMPLES)
    chunks = [frame.tobytes() for frame in frames]
    silence = bytes(2 * FRAME_SAMPLES)

    def loop() -> None:
        for chunk in chunks:
            for embedding in features.process_streaming(chunk):
                for _ in model.process_streaming(embedding):
                    pass

    def timed() -> float:
        # reset() queues 8 s of zeros that the next chunk scores first: that start-up runs
        # here, off the clock (one chunk of silence), so only the audio itself is timed.
        features.reset()
        model.reset()
        for embedding in features.process_streaming(silence):
            for _ in model.process_streaming(embedding):
                pass
        return _cpu(loop)

    return timed


def _openwakeword_loop(audio: Pcm) -> Callable[[], object]:
    from openwakeword.model import Model

    model = Model(wakeword_models=["alexa"], inference_framework="onnx")
    frames = audio[: len(audio) - len(audio) % FRAME_SAMPLES].reshape(-1, FRAME_SAMPLES)

    def run() -> None:
        model.reset()
        for frame in frames:
            model.predict(frame)

    return run


def _batch(audio: Pcm) -> Callable[[], object]:
    from wakeword.batch import BatchScorer

    scorer = BatchScorer(("alexa",))
    frames = audio[: len(audio) - len(audio) % FRAME_SAMPLES].reshape(-1, FRAME_SAMPLES)
    return lambda: scorer.score_frames(frames)


def _device(
    path: Path, *, vault_home: Path | None = None, gate: bool = False
) -> Callable[[], object]:
    from device.pipeline import run_device
    from device.sources import FileSource
    from sim.assemble import VaultSink, build_speaker
    from sim.config import load_config

    overrides = {"device": {"vad_gate": gate}}
    config = load_config(None, overrides=overrides)
    speaker = build_speaker(config)
    sink = None
    if vault_home is not None:
        from storage.vault import Vault

        vault = Vault.create(vault_home, config.vault)
        vault.add_member("bench", "bench passphrase")
        sink = VaultSink(vault, "bench")

    def run() -> None:
        run_device([FileSource(path, pad_s=0.0)], speaker, lambda event: None, sink)

    return run


# --- process pool ---------------------------------------------------------------------------

_POOL_SCORER: Any = None


def _pool_init() -> None:
    global _POOL_SCORER
    limit_worker_threads()
    from wakeword.batch import BatchScorer

    _POOL_SCORER = BatchScorer(("alexa",))


def _pool_score(frames: npt.NDArray[np.int16]) -> int:
    return len(_POOL_SCORER.score_frames(frames)["alexa"])


def _pool_throughputs(
    audio: Pcm, workers: int, rounds: int, tick: Callable[[int, int], None] | None = None
) -> dict[int, float]:
    """Wall throughput (audio s per s) of 1 and ``workers`` warm processes on the same pieces."""
    frames = audio[: len(audio) - len(audio) % FRAME_SAMPLES].reshape(-1, FRAME_SAMPLES)
    pieces = np.array_split(frames, max(8, 4 * workers))
    audio_s = frames.size / SAMPLE_RATE
    context = multiprocessing.get_context("spawn")
    pools = {
        n: concurrent.futures.ProcessPoolExecutor(n, mp_context=context, initializer=_pool_init)
        for n in sorted({1, workers})
    }
    try:
        for n, pool in pools.items():  # warm: every worker imported and built its scorer
            list(pool.map(_pool_score, [frames[:20]] * n * 2))

        def timed(pool: concurrent.futures.ProcessPoolExecutor) -> Callable[[], float]:
            return lambda: _wall(lambda: list(pool.map(_pool_score, pieces)))

        runs = {str(n): timed(pool) for n, pool in pools.items()}
        medians = _interleaved(rounds, runs, tick)
    finally:
        for pool in pools.values():
            pool.shutdown()
    return {int(n): audio_s / seconds for n, seconds in medians.items()}


# --- memory ---------------------------------------------------------------------------------


def _write_long_wav(path: Path, minutes: float) -> Path:
    """A long replay file written a block at a time (never held whole)."""
    import soundfile

    block = bench_audio(60.0, seed=1)
    remaining = int(minutes * 60 * SAMPLE_RATE)
    with soundfile.SoundFile(
        str(path), "w", samplerate=SAMPLE_RATE, channels=1, subtype="PCM_16"
    ) as out:
        while remaining > 0:
            out.write(block[:remaining])
            remaining -= min(remaining, len(block))
    return path


_MEMORY_CHILD = """
import resource, sys
from device.pipeline import run_device
from device.sources import FileSource
from sim.assemble import build_speaker
from sim.config import load_config
run_device([FileSource(sys.argv[1], pad_s=0.0)], build_speaker(load_config(None)),
           lambda event: None, None)
try:  # Linux: this process image's own high-water mark, in kB
    with open("/proc/self/status") as status:
        print([line.split()[1] for line in status if line.startswith("VmHWM:")][0], "kB")
except OSError:  # elsewhere: ru_maxrss (bytes on macOS)
    unit = "B" if sys.platform == "darwin" else "kB"
    print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, unit)
"""


def replay_peak_rss_mb(path: Path) -> float:
    """Peak resident memory (MB) of a child process that replays ``path`` through the device.

    On Linux it is the child's ``VmHWM``: ``ru_maxrss`` survives ``exec`` and would report the
    parent's size when the parent is larger than the replay.
    """
    done = subprocess.run(
        [sys.executable, "-c", _MEMORY_CHILD, str(path)],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"replay of {path} failed: {done.stderr.strip()[-400:]}")
    value, unit = done.stdout.split()[-2:]
    return float(value) * (1 if unit == "B" else 1024) / 1e6


# --- the whole benchmark --------------------------------------------------------------------


# Throughputs (x real time, one core) the plan's estimates come from, measured on these machines.
_REFERENCE_X = 40.0
_DEVICE_X = 45.0
_BATCH_X = 58.0
_FAR_FILE_X = 45.0
_FAR_4_PHASES_X = 30.0
_GATED_X = 200.0


def bench_plan(
    seconds: float = 300.0,
    minutes_memory: float = 60.0,
    workers: int | None = None,
    rounds: int = 3,
) -> list[tuple[str, float]]:
    """The measurement groups :func:`run_bench` runs, in order, each with a rough duration
    (seconds) on an idle core of these machines; a busy or slower machine takes longer."""
    from wakeword.backend import installed_backend

    reference = REFERENCE_NAMES[installed_backend().name]
    workers = workers or os.cpu_count() or 1
    parallel = max(1, min(workers, os.cpu_count() or 1))
    speed = rounds * seconds * (1 / _REFERENCE_X + 2 / _DEVICE_X + 1 / _BATCH_X) + 5
    phases = rounds * seconds * (1 / _FAR_FILE_X + 1 / _FAR_4_PHASES_X) + 3
    scaling = rounds * seconds * (1 + 1 / parallel) / _BATCH_X + 10
    gate = rounds * seconds * (1 / _DEVICE_X + 1 / _GATED_X) + 2
    memory = minutes_memory * 60 * (1 + 1 / 6) / _DEVICE_X + 5
    return [
        (f"{reference}, device, device_vault, batch_1_worker", speed),
        ("voice_embedding", rounds * 0.3 + 2),
        ("far_4_phases", phases),
        (f"batch_{workers}_workers", scaling),
        ("vad_gated_device", gate),
        ("replay_memory", memory),
    ]


def run_bench(
    seconds: float = 300.0,
    minutes_memory: float = 60.0,
    workers: int | None = None,
    rounds: int = 3,
    on_measurement: Callable[[Measurement], None] | None = None,
    on_progress: Progress | None = None,
) -> list[Measurement]:
    """Run every measurement (module docstring) and return them in order."""
    from wakeword.backend import installed_backend

    workers = workers or os.cpu_count() or 1
    backend = installed_backend()
    results: list[Measurement] = []
    stages = [name for name, _ in bench_plan(seconds, minutes_memory, workers, rounds)]

    def ticker(stage: int) -> Callable[[int, int], None] | None:
        if on_progress is None:
            return None
        return lambda done, total: on_progress(stages[stage], done, total)

    def report(m: Measurement) -> None:
        m = replace(m, backend=backend.name)
        results.append(m)
        if on_measurement is not None:
            on_measurement(m)

    with tempfile.TemporaryDirectory(prefix="keepmum-bench-") as scratch:
        folder = Path(scratch)
        audio = bench_audio(seconds)
        audio_s = len(audio) // FRAME_SAMPLES * FRAME_SAMPLES / SAMPLE_RATE
        wav = _write_wav(folder / "bench.wav", audio)
        for m in _speed(audio, audio_s, wav, folder, rounds, backend, ticker(0)):
            report(m)
        report(_voice_embedding(audio, rounds, ticker(1)))
        report(_phases(wav, audio_s, rounds, backend, ticker(2)))
        for m in _scaling(audio, audio_s, workers, rounds, ticker(3)):
            report(m)
        report(_gate(seconds, folder, rounds, ticker(4)))
        report(_memory(minutes_memory, folder, ticker(5)))
    return results


REFERENCE_NAMES: dict[str, str] = {
    "onnx": "openwakeword_stream",
    "tflite": "pyopen_wakeword_stream",
}
"""The reference line's name per backend."""
REFERENCE_WHAT: dict[str, str] = {
    "onnx": "openWakeWord Model.predict loop, alexa, onnx, 1280-sample chunks",
    "tflite": "pyopen-wakeword process_streaming loop, alexa, tflite, 1280-sample chunks",
}


def _speed(
    audio: Pcm,
    audio_s: float,
    wav: Path,
    folder: Path,
    rounds: int,
    backend: Backend,
    tick: Callable[[int, int], None] | None = None,
) -> Iterator[Measurement]:
    oww, batch = _reference_loop(backend.name, audio), _batch(audio)
    device = _device(wav)
    stored = _device(wav, vault_home=folder / "vault-home")
    # One interleaved round for all four, so that load on a shared machine hits each alike.
    times = _interleaved(
        rounds,
        {
            "oww": oww,
            "batch": lambda: _cpu(batch),
            "device": lambda: _cpu(device),
            "vault": lambda: _cpu(stored),
        },
        tick,
    )
    reference = audio_s / times["oww"]
    ref_name = REFERENCE_NAMES[backend.name]
    yield Measurement(
        ref_name,
        REFERENCE_WHAT[backend.name],
        audio_s,
        times["oww"],
        "cpu",
        reference,
    )
    dev = times
    device_ratio = (audio_s / dev["device"]) / reference
    device_bar = DEVICE_BARS[backend.name]
    yield Measurement(
        "device",
        "the whole keepmum device (run_device, defaults, no vault)",
        audio_s,
        dev["device"],
        "cpu",
        audio_s / dev["device"],
        ratio=device_ratio,
        bar=f">= {device_bar:g}",
        passed=device_ratio >= device_bar,
        details={"ratio_of": ref_name},
    )
    vault_ratio = dev["vault"] / dev["device"]
    yield Measurement(
        "device_vault",
        "the device storing kept utterances in the encrypted vault",
        audio_s,
        dev["vault"],
        "cpu",
        audio_s / dev["vault"],
        ratio=vault_ratio,
        bar="<= 1.05",
        passed=vault_ratio <= 1.05,
        details={"ratio_of": "time against device"},
    )
    batch_ratio = (audio_s / times["batch"]) / reference
    yield Measurement(
        "batch_1_worker",
        "batch scoring (wakeword.batch), one process",
        audio_s,
        times["batch"],
        "cpu",
        audio_s / times["batch"],
        ratio=batch_ratio,
        bar=">= 1.5",
        passed=batch_ratio >= 1.5,
        details={"ratio_of": ref_name},
    )


def _scaling(
    audio: Pcm,
    audio_s: float,
    workers: int,
    rounds: int,
    tick: Callable[[int, int], None] | None = None,
) -> Iterator[Measurement]:
    cores = os.cpu_count() or 1
    load_before = _load_average()
    throughput = _pool_throughputs(audio, workers, rounds, tick)
    ratio = throughput[workers] / throughput[1]
    # Scaling can only be judged on cores that are free: with other work already holding them
    # (the 1-minute load, less this benchmark's own process), N workers cannot beat one.
    others = max(0.0, load_before - 1.0)
    judged = 2 <= workers <= cores and others <= cores - workers + 0.5
    yield Measurement(
        f"batch_{workers}_workers",
        f"batch scoring on a warm pool of {workers} processes",
        audio_s,
        audio_s / throughput[workers],
        "wall",
        throughput[workers],
        ratio=ratio,
        bar=">= 1.3" if workers >= 2 else None,
        passed=(ratio >= 1.3) if judged else None,
        details={
            "ratio_of": "1 worker, same pool machinery",
            "one_worker_throughput": throughput[1],
            "cores": cores,
            "load_average": load_before,
            "judged": judged,
        },
    )


DEVICE_BARS: dict[str, float] = {"onnx": 1.5, "tflite": 1.4}
"""The ``device`` line's bar per backend: the device at least this many times as fast as the
backend's own library loop (module docstring)."""

PHASES_BARS: dict[str, float] = {"onnx": 2.5, "tflite": 4.0}
"""``far --phases 4`` may cost at most this many times ``far`` at one phase, per backend: 2.5 on
onnx (issue 13), where the extra phases' embeddings run over strips; 4.0 on tflite, whose strip
runs are not bit-exact, so every phase runs the window-by-window embedding (measured 3.6-3.7x):
the bar there says that 4 phases never cost more than 4 separate runs of ``far``."""


def _voice_embedding(
    audio: Pcm, rounds: int, progress: Callable[[int, int], None] | None
) -> Measurement:
    """CPU time of one speaker embedding of a 4-second kept request (with voices enrolled the
    device computes one per kept utterance, never per frame; 4 s: a 3-second request with its
    pre-roll and wake word)."""
    from wakeword.voice import VoiceEncoder

    encoder = VoiceEncoder()
    request = audio[: 4 * SAMPLE_RATE]
    encoder.embed(request)  # first call: lazy imports and the mel filterbank
    times = []
    for done in range(rounds):
        times.append(_cpu(lambda: encoder.embed(request)))
        if progress is not None:
            progress(done + 1, rounds)
    seconds = float(np.median(times))
    return Measurement(
        "voice_embedding",
        "speaker embedding (GE2E, numpy) of one 4 s kept request, once per request",
        len(request) / SAMPLE_RATE,
        seconds,
        "cpu",
        len(request) / SAMPLE_RATE / seconds,
        details={"ms_per_request": round(1000 * seconds, 1)},
    )


def _phases(
    wav: Path,
    audio_s: float,
    rounds: int,
    backend: Backend,
    tick: Callable[[int, int], None] | None = None,
) -> Measurement:
    from sim.research.far import ScoreJob, score_file
    from sim.research.phases import phase_offsets
    from wakeword.batch import BatchScorer, device_frames
    from wakeword.phases import PhaseScorer

    offsets = phase_offsets(4)
    one, four = ScoreJob(models=("alexa",)), ScoreJob(models=("alexa",), phase_offsets=offsets)
    score_file(str(wav), four)  # warm: models loaded and checked off the clock
    from device.sources import read_audio

    samples = read_audio(wav)
    batch = BatchScorer(("alexa",))
    phased = PhaseScorer(batch)
    frames = device_frames(samples)
    times = _interleaved(
        rounds,
        {
            "far_1": lambda: _cpu(lambda: score_file(str(wav), one)),
            "far_4": lambda: _cpu(lambda: score_file(str(wav), four)),
            "model_1": lambda: _cpu(lambda: batch.score_frames(frames)),
            "model_4": lambda: _cpu(lambda: phased.score(samples, offsets)),
        },
        tick,
    )
    ratio = times["far_4"] / times["far_1"]
    bar = PHASES_BARS[backend.name]
    return Measurement(
        "far_4_phases",
        "far's per-file scoring at 4 frame phases (wakeword.phases)",
        audio_s,
        times["far_4"],
        "cpu",
        audio_s / times["far_4"],
        ratio=ratio,
        bar=f"<= {bar:g}",
        passed=ratio <= bar,
        details={
            "ratio_of": "far's per-file CPU time at 4 phases / at 1 phase",
            "phase_offsets": list(offsets),
            "one_phase_s": times["far_1"],
            "extra_phase_share": (ratio - 1) / 3,
            "model_only_ratio": times["model_4"] / times["model_1"],
            "strip_embeddings": phased.strip is not None,
        },
    )


def _load_average() -> float:
    try:
        return os.getloadavg()[0]
    except OSError:  # pragma: no cover - platforms without it
        return 0.0


def _gate(
    seconds: float, folder: Path, rounds: int, tick: Callable[[int, int], None] | None = None
) -> Measurement:
    quiet = bench_audio(seconds, silent_fraction=0.8, seed=2)
    audio_s = len(quiet) / SAMPLE_RATE
    wav = _write_wav(folder / "quiet.wav", quiet)
    ungated, gated = _device(wav), _device(wav, gate=True)
    times = _interleaved(
        rounds, {"ungated": lambda: _cpu(ungated), "gated": lambda: _cpu(gated)}, tick
    )
    ratio = times["ungated"] / times["gated"]
    return Measurement(
        "vad_gated_device",
        "the VAD-gated device on 80 %-silent audio",
        audio_s,
        times["gated"],
        "cpu",
        audio_s / times["gated"],
        ratio=ratio,
        bar=">= 3",
        passed=ratio >= 3.0,
        details={"ratio_of": "ungated device CPU time / gated", "ungated_s": times["ungated"]},
    )


def _memory(
    minutes: float, folder: Path, tick: Callable[[int, int], None] | None = None
) -> Measurement:
    long_path = _write_long_wav(folder / "long.wav", minutes)
    short_path = _write_long_wav(folder / "short.wav", minutes / 6)
    if tick is not None:
        tick(0, 2)
    start = time.perf_counter()
    peak_long = replay_peak_rss_mb(long_path)
    elapsed = time.perf_counter() - start
    if tick is not None:
        tick(1, 2)
    peak_short = replay_peak_rss_mb(short_path)
    if tick is not None:
        tick(2, 2)
    growth = peak_long - peak_short
    flat = growth <= max(0.10 * peak_short, 16.0)
    return Measurement(
        "replay_memory",
        f"peak RSS of a {minutes:g}-minute replay (child process)",
        minutes * 60,
        elapsed,
        "wall",
        minutes * 60 / elapsed,
        ratio=peak_long,
        bar="< 300 MB, flat",
        passed=peak_long < 300 and flat,
        details={
            "peak_mb": peak_long,
            f"peak_mb_{minutes / 6:g}_min": peak_short,
            "growth_mb": growth,
        },
    )
