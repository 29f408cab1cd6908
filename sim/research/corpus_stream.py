"""A long test stream in the manner of Picovoice's wake-word benchmark, written block by block.

The stream is mostly silence with some background speech, each keyword clip placed once in it,
and noise over the whole of it:

1. every keyword clip and as many background clips as it takes (shuffled by the seed, reused in
   turn when the folder holds too little) are trimmed of their silent edges, so that together
   they fill ``speech_fraction`` of the stream (Picovoice: about 20 % speech, 80 % silence); the
   last background clip is cut to make the fraction exact;
2. the clips are shuffled and separated by silences of random length (each between 0.5 and 1.5
   times the mean), so keywords sit between background utterances at unpredictable times;
3. noise (pink by default) is added everywhere at ``snr_db`` below the mean power of the placed
   speech (see :mod:`sim.research.corpus`; Picovoice mixes DEMAND noise at 10 dB);
4. the WAV (16 kHz mono int16) is written in blocks of ``block_s`` seconds: hours of audio are
   never held in memory, only the block and the few clips that overlap it.

Labels: one JSON object a line per keyword, in time order::

    {"file": "<clip path relative to the keyword folder>", "start_s": 12.3456, "end_s": 13.01,
     "text": "alexa"}            # "text" only when the folder's labels.jsonl names it

``start_s``/``end_s`` are the keyword's trimmed extent in the stream; the metrics add Picovoice's
0.5 s tolerance after ``end_s`` themselves (:func:`wakeword.metrics.sweep_stream`), and
``keepmum far --stream S.wav --labels S.labels.jsonl`` reads them
(``sim.research.far.read_labels``). A ``<stem>.meta.json`` beside the stream records the
settings and what was placed.
"""

from __future__ import annotations

import json
import math
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from device.audio import SAMPLE_RATE, Pcm
from keepmum.errors import ConfigError
from keepmum.files import write_file
from sim.research.corpus import (
    NoiseStream,
    audio_files,
    noise_gain,
    read_clip,
    to_pcm,
    trim_silence,
    writable_folder,
)

__all__ = [
    "STREAM_NOISES",
    "Placement",
    "StreamPlan",
    "StreamSettings",
    "labels_path_for",
    "make_stream",
    "noise_seed",
    "plan_stream",
    "render_stream",
]

STREAM_NOISES = ("pink", "white", "none")

Reader = Callable[[Path], Pcm]


@dataclass(frozen=True)
class StreamSettings:
    """What ``keepmum corpus stream`` makes."""

    hours: float
    """Length of the stream (hours)."""
    snr_db: float = 10.0
    """Noise level below the mean power of the placed speech (dB); ``inf`` for no noise."""
    speech_fraction: float = 0.2
    """Share of the stream that is speech, keywords included (0 to 0.9)."""
    noise: str = "pink"
    """``pink``, ``white`` or ``none``."""
    seed: int = 0
    block_s: float = 10.0
    """Seconds written at a time (bounds memory)."""

    def __post_init__(self) -> None:
        """Raise :class:`ConfigError` naming the first value out of range: at construction, so an
        invalid one cannot exist."""
        if not (math.isfinite(self.hours) and 0.0 < self.hours <= 1000.0):
            raise ConfigError(f"--hours: expected a length in (0, 1000] hours, got {self.hours}")
        if math.isnan(self.snr_db) or self.snr_db < -5.0:
            raise ConfigError(f"--snr-db: expected decibels >= -5 (or inf), got {self.snr_db}")
        if not 0.0 < self.speech_fraction <= 0.9:
            raise ConfigError(
                f"--speech-fraction: expected a share in (0, 0.9], got {self.speech_fraction}"
            )
        if self.noise not in STREAM_NOISES:
            raise ConfigError(
                f"--noise: expected one of {', '.join(STREAM_NOISES)}, got {self.noise!r}"
            )
        if not 0.08 <= self.block_s <= 600.0:
            raise ConfigError(f"block length must be 0.08..600 s, got {self.block_s}")

    @property
    def total_samples(self) -> int:
        """Length of the stream (samples)."""
        return round(self.hours * 3600.0 * SAMPLE_RATE)


@dataclass(frozen=True)
class Placement:
    """One clip in the stream: ``samples`` samples of the file from ``clip_start``, placed at
    ``start`` (all in 16 kHz samples)."""

    start: int
    path: Path
    clip_start: int
    samples: int
    keyword: bool
    name: str
    """The label's ``file``: the path relative to its folder."""
    text: str | None = None


@dataclass(frozen=True)
class StreamPlan:
    """Where everything goes; small (one entry per clip) and computed before any audio is
    written."""

    total_samples: int
    placements: tuple[Placement, ...]
    speech_samples: int
    speech_power: float
    """Mean square of the placed speech (int16 scale squared)."""
    noise_gain: float
    """RMS of the noise added (int16 scale); 0 for no noise."""
    background_reused: int
    """Background clips placed more than once because the folder held too little."""


def noise_seed(seed: int) -> list[int]:
    """The seed of the stream's noise (tests rebuild the noise from it)."""
    return [seed, 0x57AEA4]


def labels_path_for(out: Path) -> Path:
    """``stream.wav`` -> ``stream.labels.jsonl``."""
    return out.with_name(out.stem + ".labels.jsonl")


def _known_texts(folder: Path) -> dict[str, str]:
    """File name -> text from a ``labels.jsonl`` of ``keepmum corpus synth``, when there is one."""
    labels = folder / "labels.jsonl"
    texts: dict[str, str] = {}
    if labels.is_file():
        for line in labels.read_text(encoding="utf-8").splitlines():
            try:
                row = json.loads(line)
            except json.JSONDecodeError:
                continue
            if isinstance(row, dict) and isinstance(row.get("text"), str) and "file" in row:
                texts[str(row["file"])] = row["text"]
    return texts


def _trimmed(path: Path, read: Reader) -> tuple[int, int, float]:
    """(start, length, sum of squares) of a clip's non-silent region."""
    samples = read(path)
    region = trim_silence(samples)
    part = samples[region].astype(np.float64)
    return region.start, len(part), float(np.sum(part**2))


def plan_stream(
    keywords_dir: Path, background_dir: Path, settings: StreamSettings, read: Reader = read_clip
) -> StreamPlan:
    """Decide where every clip goes (reading each clip once, one at a time)."""
    keyword_files = audio_files(keywords_dir, "--keywords")
    background_files = audio_files(background_dir, "--background")
    texts = _known_texts(keywords_dir)
    rng = np.random.default_rng([settings.seed, 0x5EC7])
    total = settings.total_samples
    target_speech = round(settings.speech_fraction * total)

    items: list[Placement] = []
    energy = 0.0
    keyword_samples = 0
    for path in keyword_files:
        start, length, squares = _trimmed(path, read)
        if length == 0:
            raise ConfigError(f"--keywords {path}: the clip is silent")
        name = path.relative_to(keywords_dir).as_posix()
        items.append(Placement(0, path, start, length, True, name, texts.get(name)))
        energy += squares
        keyword_samples += length
    if keyword_samples > target_speech:
        need_h = keyword_samples / settings.speech_fraction / SAMPLE_RATE / 3600.0
        raise ConfigError(
            f"--hours {settings.hours:g}: too short for {len(keyword_files)} keywords "
            f"({keyword_samples / SAMPLE_RATE:.1f} s of keyword speech at speech fraction "
            f"{settings.speech_fraction:g} needs at least {need_h:.4f} h)"
        )

    background_needed = target_speech - keyword_samples
    order = [background_files[i] for i in rng.permutation(len(background_files))]
    measured: dict[Path, tuple[int, int, float]] = {}
    placed_background = 0
    uses = 0
    while background_needed > 0:
        path = order[uses % len(order)]
        uses += 1
        if uses > len(order) and all(measured[p][1] == 0 for p in order):
            raise ConfigError(f"--background {background_dir}: every clip is silent")
        if path not in measured:
            measured[path] = _trimmed(path, read)
        start, length, squares = measured[path]
        if length == 0:
            continue
        take = min(length, background_needed)
        energy += squares * take / length  # the cut clip's share, assuming even power
        name = path.relative_to(background_dir).as_posix()
        items.append(Placement(0, path, start, take, False, name))
        background_needed -= take
        placed_background += 1

    items = [items[i] for i in rng.permutation(len(items))]
    speech = sum(p.samples for p in items)
    weights = rng.uniform(0.5, 1.5, size=len(items) + 1)
    gaps = np.floor((total - speech) * weights / weights.sum()).astype(np.int64)
    gaps[-1] += (total - speech) - int(gaps.sum())
    placements = []
    position = 0
    for gap, item in zip(gaps[:-1], items, strict=True):
        position += int(gap)
        placements.append(replace(item, start=position))
        position += item.samples
    speech_power = energy / speech if speech else 0.0
    gain = 0.0
    if settings.noise != "none":
        gain = noise_gain(speech_power, 1.0, settings.snr_db)
    return StreamPlan(
        total_samples=total,
        placements=tuple(placements),
        speech_samples=speech,
        speech_power=speech_power,
        noise_gain=gain,
        background_reused=max(0, placed_background - len(measured)),
    )


class _ClipCache:
    """The last few decoded clips: a clip that spans several blocks is decoded once."""

    def __init__(self, read: Reader, size: int = 8) -> None:
        self._read = read
        self._size = size
        self._clips: OrderedDict[Path, Pcm] = OrderedDict()

    def get(self, path: Path) -> Pcm:
        if path in self._clips:
            self._clips.move_to_end(path)
            return self._clips[path]
        clip = self._read(path)
        self._clips[path] = clip
        if len(self._clips) > self._size:
            self._clips.popitem(last=False)
        return clip


def render_stream(
    plan: StreamPlan,
    out: Path,
    settings: StreamSettings,
    *,
    read: Reader = read_clip,
    progress: Callable[[int, int], None] | None = None,
) -> None:
    """Write the planned stream to ``out`` block by block (to a temporary name first, renamed
    when complete, so an interrupted run leaves no stream that looks whole)."""
    import soundfile

    block = max(1, round(settings.block_s * SAMPLE_RATE))
    noise = NoiseStream(settings.noise, noise_seed(settings.seed)) if plan.noise_gain else None
    cache = _ClipCache(read)
    out.parent.mkdir(parents=True, exist_ok=True)
    first = 0  # placements before this one end before the current block

    def render(handle: BinaryIO) -> None:
        nonlocal first
        with soundfile.SoundFile(
            handle, "w", SAMPLE_RATE, 1, subtype="PCM_16", format="WAV"
        ) as sink:
            for begin in range(0, plan.total_samples, block):
                end = min(begin + block, plan.total_samples)
                mix = np.zeros(end - begin)
                while first < len(plan.placements) and (
                    plan.placements[first].start + plan.placements[first].samples <= begin
                ):
                    first += 1
                for placed in plan.placements[first:]:
                    if placed.start >= end:
                        break
                    lo = max(begin, placed.start)
                    hi = min(end, placed.start + placed.samples)
                    clip = cache.get(placed.path)
                    offset = placed.clip_start + (lo - placed.start)
                    mix[lo - begin : hi - begin] += clip[offset : offset + (hi - lo)]
                if noise is not None:
                    mix += plan.noise_gain * noise.take(end - begin)
                sink.write(to_pcm(mix))
                if progress is not None:
                    progress(end, plan.total_samples)

    # A temporary file renamed when complete, so an interrupted run leaves no stream that looks
    # whole; replacing is right: the command line checked --out and --force beforehand.
    write_file(out, render, overwrite=True)


def make_stream(
    keywords_dir: Path,
    background_dir: Path,
    out: Path,
    settings: StreamSettings,
    *,
    labels: Path | None = None,
    read: Reader = read_clip,
    progress: Callable[[int, int], None] | None = None,
) -> dict[str, Any]:
    """Plan, render, and write the labels and ``<stem>.meta.json``; returns the summary."""
    writable_folder(out.parent, "--out")
    if labels is not None:
        writable_folder(labels.parent, "--labels")
    plan = plan_stream(keywords_dir, background_dir, settings, read)
    render_stream(plan, out, settings, read=read, progress=progress)
    labels_path = labels if labels is not None else labels_path_for(out)
    rows = []
    for placed in plan.placements:
        if placed.keyword:
            row: dict[str, Any] = {
                "file": placed.name,
                "start_s": round(placed.start / SAMPLE_RATE, 6),
                "end_s": round((placed.start + placed.samples) / SAMPLE_RATE, 6),
            }
            if placed.text is not None:
                row["text"] = placed.text
            rows.append(row)
    _write_text_atomically(labels_path, "".join(json.dumps(r) + "\n" for r in rows))
    summary = {
        "stream": str(out),
        "labels": str(labels_path),
        "hours": settings.hours,
        "seconds": plan.total_samples / SAMPLE_RATE,
        "keywords": len(rows),
        "background_clips": sum(1 for p in plan.placements if not p.keyword),
        "background_reused": plan.background_reused,
        "speech_s": plan.speech_samples / SAMPLE_RATE,
        "speech_fraction": plan.speech_samples / plan.total_samples,
        "speech_rms": math.sqrt(plan.speech_power),
        "noise": settings.noise,
        "noise_rms": plan.noise_gain,
        "snr_db": settings.snr_db if plan.noise_gain else None,
        "seed": settings.seed,
    }
    recorded = {k: (None if v == math.inf else v) for k, v in asdict(settings).items()}
    meta = {"settings": recorded, "summary": summary}
    meta_path = out.with_name(out.stem + ".meta.json")
    _write_text_atomically(meta_path, json.dumps(meta, indent=2, default=str) + "\n")
    return summary


def _write_text_atomically(path: Path, text: str) -> None:
    # Replacing is right here: the command line checked the path (and --force) beforehand.
    write_file(path, text.encode("utf-8"), overwrite=True)
