"""The field's two published evaluation protocols, built from a user's own folders.

``keepmum far --protocol picovoice|openwakeword`` mixes the user's positives, background speech,
noise and (openWakeWord) room impulse responses the way each project's own code does, seeded,
and scores the result with ``far``'s usual machinery. Read from the projects' code (their
behaviour is restated here, none of their code is used):

**picovoice** (Picovoice/wake-word-benchmark, ``mixer.py``): one long stream.

1. The keyword clips, in a seeded random order, alternate with background slots:
   ``slot = total_samples // (keywords + 1)`` samples each, one before every keyword and one
   after the last. A slot is filled with randomly chosen background clips, whole, until it is at
   least ``slot`` long; each clip is kept as speech with probability 0.2 and otherwise replaced
   by silence of the same length (so about 20 % of the stream is background speech). Every clip
   is peak-normalised (divided by its largest absolute sample).
2. Noise covers the whole stream: randomly chosen noise clips, each peak-normalised, end to end.
3. Each part (a keyword clip, or a background clip) is scaled *against the noise under it* so
   that its SNR is ``snr_db`` (Picovoice: 10 dB), with this energy measure::

       E(x)     = max over whole 512-sample frames f of  sum(x[f]^2)      (peak-frame energy;
                                                                         frames from the part's
                                                                         first sample, the last
                                                                         partial frame ignored)
       scale    = sqrt( E(noise[part]) * 10^(snr_db / 10) / E(part) )
       SNR (dB) = 10 log10( E(scale * part) / E(noise[part]) )   =  snr_db

   The speech is scaled, not the noise; silent parts get scale 0.
4. The mix (noise + scaled parts) is divided by its largest absolute sample and written as
   16-bit PCM (``round(32767 * x)``).

Labels are the keyword clips' spans; a detection within a span or 0.5 s after it is a hit,
every other activation a false alarm (``far --stream``'s rule), and the headline is the **miss
rate at 1 false alarm per 10 hours** (the lowest miss rate among thresholds with at most
0.1 FA/h). The stream is written in two passes over its parts (scales and peak, then audio), so
24 hours are never held in memory.

**openwakeword** (dscripka/openWakeWord, ``openwakeword/data.py``, ``mix_clips_batch``): clips.

1. Each positive ``fg`` is placed ``start_s`` (0.5 s) into a background window of
   ``len(fg) + context_s`` (1 s) samples cut from a randomly chosen noise clip (a random stretch
   of a longer clip; a shorter one repeated end to end).
2. The energy measure is the L2 norm of the *whole* clip against the *whole* window, at
   ``snr_db`` (openWakeWord draws it from ``[snr_low, snr_high]``; the preset uses one value,
   10 dB by default)::

       scale    = 10^(snr_db / 20) * ||bg||_2 / ||fg||_2
       SNR (dB) = 20 log10( ||scale * fg||_2 / ||bg||_2 )   =  snr_db

   then ``mix = (bg + scale * fg placed at start) / 2``.
3. With room impulse responses, one chosen at random reverberates the mix: convolution aligned
   on the response's largest sample (the direct path), cut to the mix's length, rescaled to the
   mix's mean absolute amplitude (speechbrain's ``reverberate(..., rescale_amp="avg")``; the SNR
   above is the dry one).
4. Divided by its largest absolute value only when that exceeds 1 (full scale), written as
   16-bit PCM (``round(32767 * x)``).

False accepts are counted on the background speech and noise files as they are (openWakeWord
reports false accepts per hour on hours of far-field speech, music and noise), and the headline
is the **false-reject rate at the threshold giving 0.5 false accepts per hour** (the lowest FRR
among thresholds with at most 0.5 FA/h).

Caching: a built mixture is kept under ``CACHE/protocols/<key>/``, where the key is the SHA-256
of the protocol, its settings, the seed, this module's version and the SHA-256 of every input
file; the same inputs and seed are built once. A mixture is built in a temporary folder and
renamed into place when complete.
"""

from __future__ import annotations

import bisect
import functools
import hashlib
import json
import math
import shutil
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from device.audio import SAMPLE_RATE, Pcm
from keepmum.errors import AudioInputError, ConfigError
from sim.research.corpus import read_clip, to_pcm, write_jsonl, write_wav

__all__ = [
    "PICOVOICE_FRAME",
    "PROTOCOLS",
    "PROTOCOL_VERSION",
    "Mixture",
    "ProtocolInputs",
    "ProtocolSettings",
    "build_mixture",
    "collect_inputs",
    "headline_target",
    "mixture_key",
    "openwakeword_scale",
    "openwakeword_snr_db",
    "peak_frame_energy",
    "picovoice_snr_db",
    "picovoice_speech_scale",
    "reverberate",
    "stream_bytes",
]

PROTOCOLS = ("picovoice", "openwakeword")
PROTOCOL_VERSION = 1
"""Bumped whenever a change here would change a built mixture."""
PICOVOICE_FRAME = 512
"""Samples per frame of Picovoice's energy measure (its engines' frame length)."""
PICOVOICE_TARGET_FA_PER_HOUR = 0.1
"""1 false alarm per 10 hours."""
OPENWAKEWORD_TARGET_FA_PER_HOUR = 0.5

Signal = npt.NDArray[np.float64]
Reader = Callable[[Path], Pcm]


# --- the energy measures ---------------------------------------------------------------------


def peak_frame_energy(x: npt.ArrayLike, frame: int = PICOVOICE_FRAME) -> float:
    """Picovoice's energy: the largest sum of squares over whole ``frame``-sample frames (0 for
    a signal shorter than one frame)."""
    a = np.asarray(x, dtype=np.float64)
    n = a.size // frame
    if n == 0:
        return 0.0
    return float((a[: n * frame].reshape(n, frame) ** 2).sum(axis=1).max())


def picovoice_speech_scale(speech: npt.ArrayLike, noise: npt.ArrayLike, snr_db: float) -> float:
    """The factor on ``speech`` that puts it ``snr_db`` above ``noise`` (same length) in peak-
    frame energy; 0 for silent speech."""
    s, n = np.asarray(speech), np.asarray(noise)
    if s.shape != n.shape:
        raise ConfigError(f"speech and noise must be the same length, got {s.shape} and {n.shape}")
    speech_energy = peak_frame_energy(s)
    if speech_energy == 0.0:
        return 0.0
    return math.sqrt(peak_frame_energy(n) * 10.0 ** (snr_db / 10.0) / speech_energy)


def picovoice_snr_db(speech: npt.ArrayLike, noise: npt.ArrayLike) -> float:
    """SNR in Picovoice's measure: ``10 log10(E(speech) / E(noise))`` (``inf`` for silent
    noise)."""
    noise_energy = peak_frame_energy(noise)
    if noise_energy == 0.0:
        return math.inf
    return 10.0 * math.log10(peak_frame_energy(speech) / noise_energy)


def openwakeword_scale(fg: npt.ArrayLike, bg: npt.ArrayLike, snr_db: float) -> float:
    """openWakeWord's factor on the foreground: ``10^(snr/20) * ||bg|| / ||fg||``."""
    fg_norm = float(np.linalg.norm(np.asarray(fg, dtype=np.float64)))
    if fg_norm == 0.0:
        return 0.0
    return (
        10.0 ** (snr_db / 20.0) * float(np.linalg.norm(np.asarray(bg, dtype=np.float64))) / fg_norm
    )


def openwakeword_snr_db(fg: npt.ArrayLike, bg: npt.ArrayLike) -> float:
    """SNR in openWakeWord's measure: ``20 log10(||fg|| / ||bg||)`` (whole signals)."""
    bg_norm = float(np.linalg.norm(np.asarray(bg, dtype=np.float64)))
    if bg_norm == 0.0:
        return math.inf
    return 20.0 * math.log10(float(np.linalg.norm(np.asarray(fg, dtype=np.float64))) / bg_norm)


def reverberate(x: npt.ArrayLike, rir: npt.ArrayLike) -> Signal:
    """``x`` through a room impulse response, aligned on its direct path and rescaled to ``x``'s
    mean absolute amplitude (module docstring, openwakeword step 3)."""
    from scipy.signal import fftconvolve

    a = np.asarray(x, dtype=np.float64)
    h = np.asarray(rir, dtype=np.float64)
    if a.size == 0 or h.size == 0 or not np.any(h):
        return a.copy()
    direct = int(np.argmax(np.abs(h)))
    wet = fftconvolve(a, h)[direct : direct + a.size]
    level, wet_level = float(np.mean(np.abs(a))), float(np.mean(np.abs(wet)))
    return wet * (level / wet_level) if wet_level > 0 else wet


# --- inputs, settings, cache -----------------------------------------------------------------


@dataclass(frozen=True)
class ProtocolSettings:
    """How a protocol's mixture is built (see the module docstring)."""

    protocol: str
    snr_db: float = 10.0
    """Signal-to-noise ratio of the mixing, in the protocol's own energy measure (dB)."""
    seed: int = 0
    hours: float = 24.0
    """picovoice: length of the stream (hours; Picovoice's is 24)."""
    background_probability: float = 0.2
    """picovoice: share of background clips kept as speech (the rest become silence)."""
    start_s: float = 0.5
    """openwakeword: where each positive starts in its noise window (seconds)."""
    context_s: float = 1.0
    """openwakeword: noise window length beyond the positive (seconds)."""

    def __post_init__(self) -> None:
        """Refuse a value out of range, naming it, at construction."""
        if self.protocol not in PROTOCOLS:
            raise ConfigError(
                f"--protocol: expected one of {', '.join(PROTOCOLS)}, got {self.protocol!r}"
            )
        if not math.isfinite(self.snr_db) or not -20.0 <= self.snr_db <= 60.0:
            raise ConfigError(f"--snr-db: expected decibels in [-20, 60], got {self.snr_db}")
        if not (math.isfinite(self.hours) and 0.0 < self.hours <= 1000.0):
            raise ConfigError(
                f"--protocol-hours: expected a length in (0, 1000] hours, got {self.hours}"
            )


@dataclass(frozen=True)
class ProtocolInputs:
    """The user's files, per role, each list sorted (a seed means the same order everywhere)."""

    positives: tuple[Path, ...]
    background: tuple[Path, ...]
    noise: tuple[Path, ...]
    rirs: tuple[Path, ...] = ()


@dataclass(frozen=True)
class Mixture:
    """A built mixture: what ``far`` scores, where it is, and how it was made."""

    folder: Path
    positives: tuple[Path, ...]
    """openwakeword: the mixed positive clips (empty for picovoice)."""
    negatives: tuple[Path, ...]
    """openwakeword: the files false accepts are counted on (the user's own)."""
    stream: Path | None
    """picovoice: the stream."""
    labels: Path | None
    """picovoice: its keyword spans (JSON lines)."""
    meta: dict[str, Any]
    cached: bool


def _file_sha(path: Path) -> str:
    from wakeword.cache import file_sha256

    try:
        return file_sha256(path)
    except OSError as exc:
        raise AudioInputError(f"{path}: cannot be read ({exc.strerror})") from None


def stream_bytes(hours: float) -> int:
    """Bytes of the picovoice protocol's stream of ``hours``: 16 kHz mono 16-bit WAV."""
    return 44 + 2 * round(hours * 3600 * SAMPLE_RATE)


def mixture_key(inputs: ProtocolInputs, settings: ProtocolSettings) -> str:
    """The hex key of a mixture: everything it depends on, inputs by content."""
    described = {
        "version": PROTOCOL_VERSION,
        "settings": asdict(settings),
        "inputs": {
            role: [_file_sha(p) for p in getattr(inputs, role)]
            for role in ("positives", "background", "noise", "rirs")
        },
    }
    return hashlib.sha256(json.dumps(described, sort_keys=True).encode()).hexdigest()


def build_mixture(
    inputs: ProtocolInputs,
    settings: ProtocolSettings,
    cache_root: Path | None,
    *,
    read: Reader = read_clip,
    progress: Callable[[int, int], None] | None = None,
    on_build: Callable[[Path], None] | None = None,
) -> Mixture:
    """The protocol's mixture of these inputs: from ``cache_root/<key[:16]>`` when built before,
    else built there (or, with no cache, in a temporary folder the caller must remove: the
    returned ``folder``). ``on_build(folder)`` is called before a build starts, not for a
    mixture found in the cache (a caller says there how long and how much disk it takes)."""
    if settings.protocol == "openwakeword" and not inputs.noise:
        raise ConfigError("--protocol openwakeword: give --noise DIR")
    key = mixture_key(inputs, settings)
    if cache_root is not None:
        final = cache_root / key[:16]
        meta_path = final / "meta.json"
        if meta_path.is_file():
            try:
                meta = json.loads(meta_path.read_text(encoding="utf-8"))
                if meta.get("key") == key:
                    return _mixture(final, inputs, meta, cached=True)
            except (OSError, ValueError):
                pass  # a torn entry: build it again
        cache_root.mkdir(parents=True, exist_ok=True)
        work = Path(tempfile.mkdtemp(prefix=f".{key[:16]}-", dir=cache_root))
    else:
        work = Path(tempfile.mkdtemp(prefix="keepmum-protocol-"))
    try:
        if on_build is not None:
            on_build(work)
        if settings.protocol == "picovoice":
            meta = _build_picovoice(inputs, settings, work, read, progress)
        else:
            meta = _build_openwakeword(inputs, settings, work, read, progress)
        meta.update({"key": key, "protocol": settings.protocol, "settings": asdict(settings)})
        (work / "meta.json").write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
        if cache_root is None:
            return _mixture(work, inputs, meta, cached=False)
        if final.exists() and not (final / "meta.json").is_file():
            shutil.rmtree(final, ignore_errors=True)  # a torn entry of an older run
        try:
            work.rename(final)
        except OSError:
            if not (final / "meta.json").is_file():
                raise
            # Another run built the same mixture meanwhile: same key, same bytes; keep theirs.
            shutil.rmtree(work, ignore_errors=True)
            return _mixture(final, inputs, meta, cached=True)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    return _mixture(final, inputs, meta, cached=False)


def _mixture(folder: Path, inputs: ProtocolInputs, meta: dict[str, Any], cached: bool) -> Mixture:
    if meta["protocol"] == "picovoice":
        return Mixture(
            folder, (), (), folder / "stream.wav", folder / "stream.labels.jsonl", meta, cached
        )
    positives = tuple(folder / "positives" / name for name in meta["positive_files"])
    return Mixture(folder, positives, (*inputs.background, *inputs.noise), None, None, meta, cached)


def _normalised_reader(read: Reader) -> Callable[[Path], Signal]:
    @functools.lru_cache(maxsize=32)
    def clip(path: Path) -> Signal:
        x = read(path).astype(np.float64) / 32768.0
        peak = float(np.max(np.abs(x))) if x.size else 0.0
        return x / peak if peak > 0 else x

    return clip


# --- picovoice -------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Part:
    start: int
    length: int
    path: Path | None
    """None: silence."""
    keyword: bool


def _build_picovoice(
    inputs: ProtocolInputs,
    settings: ProtocolSettings,
    folder: Path,
    read: Reader,
    progress: Callable[[int, int], None] | None,
) -> dict[str, Any]:
    clip = _normalised_reader(read)
    rng = np.random.default_rng([settings.seed, 0x91C0])
    parts, keywords = _lay_out_stream(inputs, settings, rng, clip)
    stream_samples = parts[-1].start + parts[-1].length if parts else 0
    noise = _NoiseBed(inputs.noise, stream_samples, rng, clip)
    scales, peak = _scale_parts(parts, noise, clip, settings.snr_db, progress)
    gain = 32767.0 / peak if peak > 0 else 0.0
    _write_stream(folder / "stream.wav", parts, scales, gain, noise, clip, progress)
    rows = [
        {
            "file": p.path.name if p.path is not None else "",
            "start_s": round(p.start / SAMPLE_RATE, 6),
            "end_s": round((p.start + p.length) / SAMPLE_RATE, 6),
            "start_sample": p.start,
            "samples": p.length,
            "scale": s,
        }
        for p, s in zip(parts, scales, strict=True)
        if p.keyword
    ]
    write_jsonl(folder / "stream.labels.jsonl", rows)
    return {
        "stream_s": stream_samples / SAMPLE_RATE,
        "keywords": keywords,
        "background_speech_s": sum(p.length for p in parts if not p.keyword and p.path)
        / SAMPLE_RATE,
        "output_gain": gain / 32767.0,
        "snr_measure": "peak 512-sample-frame energy, per part",
    }


def _lay_out_stream(
    inputs: ProtocolInputs,
    settings: ProtocolSettings,
    rng: np.random.Generator,
    clip: Callable[[Path], Signal],
) -> tuple[list[_Part], int]:
    """The stream's parts in order: a slot of background (speech or silence), then each keyword
    in a random order followed by another slot; and the number of keywords."""
    total = round(settings.hours * 3600 * SAMPLE_RATE)
    keywords = [inputs.positives[i] for i in rng.permutation(len(inputs.positives))]
    slot = total // (len(keywords) + 1)
    if slot <= 0:
        raise ConfigError(
            f"--protocol-hours {settings.hours:g}: too short for {len(keywords)} keywords"
        )
    lengths: dict[Path, int] = {}

    def length_of(path: Path) -> int:
        if path not in lengths:
            lengths[path] = clip(path).size
        return lengths[path]

    parts: list[_Part] = []
    position = 0

    def fill_slot() -> None:
        nonlocal position
        filled = 0
        while filled < slot:
            path = inputs.background[int(rng.integers(len(inputs.background)))]
            n = length_of(path)
            if n == 0:
                if all(length_of(p) == 0 for p in inputs.background):
                    raise AudioInputError("--background: every clip is empty")
                continue
            speech = rng.uniform() < settings.background_probability
            parts.append(_Part(position, n, path if speech else None, False))
            position += n
            filled += n

    fill_slot()
    for path in keywords:
        n = length_of(path)
        if n == 0:
            raise AudioInputError(f"--positives {path}: the clip is empty")
        parts.append(_Part(position, n, path, True))
        position += n
        fill_slot()
    return parts, len(keywords)


class _NoiseBed:
    """Noise clips drawn at random and laid end to end under the whole stream."""

    def __init__(
        self,
        paths: Sequence[Path],
        samples: int,
        rng: np.random.Generator,
        clip: Callable[[Path], Signal],
    ) -> None:
        self._clip = clip
        self._starts: list[int] = []
        self._paths: list[Path] = []
        covered = 0
        while covered < samples:
            path = paths[int(rng.integers(len(paths)))]
            n = clip(path).size
            if n == 0:
                if all(clip(p).size == 0 for p in paths):
                    raise AudioInputError("--noise: every clip is empty")
                continue
            self._starts.append(covered)
            self._paths.append(path)
            covered += n

    def at(self, begin: int, end: int) -> Signal:
        """The noise under samples ``begin`` to ``end`` of the stream."""
        out = np.zeros(end - begin)
        k = bisect.bisect_right(self._starts, begin) - 1
        while k < len(self._starts) and self._starts[k] < end:
            piece = self._clip(self._paths[k])
            start = self._starts[k]
            lo, hi = max(begin, start), min(end, start + piece.size)
            out[lo - begin : hi - begin] = piece[lo - start : hi - start]
            k += 1
        return out


def _render(part: _Part, scale: float, noise: _NoiseBed, clip: Callable[[Path], Signal]) -> Signal:
    mix = noise.at(part.start, part.start + part.length)
    if part.path is not None and scale:
        mix += scale * clip(part.path)
    return mix


def _scale_parts(
    parts: Sequence[_Part],
    noise: _NoiseBed,
    clip: Callable[[Path], Signal],
    snr_db: float,
    progress: Callable[[int, int], None] | None,
) -> tuple[list[float], float]:
    """Pass 1: every part's scale against the noise under it, and the mix's peak."""
    stream_samples = parts[-1].start + parts[-1].length if parts else 0
    scales: list[float] = []
    peak = 0.0
    for part in parts:
        if part.path is None:
            scale = 0.0
        else:
            under = noise.at(part.start, part.start + part.length)
            scale = picovoice_speech_scale(clip(part.path), under, snr_db)
        scales.append(scale)
        peak = max(peak, float(np.max(np.abs(_render(part, scale, noise, clip)))))
        if progress is not None:
            progress(part.start + part.length, 2 * stream_samples)
    return scales, peak


def _write_stream(
    path: Path,
    parts: Sequence[_Part],
    scales: Sequence[float],
    gain: float,
    noise: _NoiseBed,
    clip: Callable[[Path], Signal],
    progress: Callable[[int, int], None] | None,
) -> None:
    """Pass 2: the audio, part by part."""
    import soundfile

    stream_samples = parts[-1].start + parts[-1].length if parts else 0
    with soundfile.SoundFile(
        str(path), "w", SAMPLE_RATE, 1, subtype="PCM_16", format="WAV"
    ) as sink:
        for part, scale in zip(parts, scales, strict=True):
            sink.write(to_pcm(gain * _render(part, scale, noise, clip)))
            if progress is not None:
                progress(stream_samples + part.start + part.length, 2 * stream_samples)


# --- openwakeword ----------------------------------------------------------------------------


def _build_openwakeword(
    inputs: ProtocolInputs,
    settings: ProtocolSettings,
    folder: Path,
    read: Reader,
    progress: Callable[[int, int], None] | None,
) -> dict[str, Any]:
    rng = np.random.default_rng([settings.seed, 0x0E3A])
    (folder / "positives").mkdir()
    start = round(settings.start_s * SAMPLE_RATE)
    context = round(settings.context_s * SAMPLE_RATE)

    def as_float(path: Path) -> Signal:
        return read(path).astype(np.float64) / 32768.0

    names: list[str] = []
    rows: list[dict[str, Any]] = []
    for index, path in enumerate(inputs.positives):
        fg = as_float(path)
        if fg.size == 0 or not np.any(fg):
            raise AudioInputError(f"--positives {path}: the clip is silent")
        window = fg.size + context
        noise_path = inputs.noise[int(rng.integers(len(inputs.noise)))]
        noise = as_float(noise_path)
        if noise.size == 0:
            raise AudioInputError(f"--noise {noise_path}: the clip is empty")
        if noise.size < window:
            bg = np.tile(noise, -(-window // noise.size))[:window]
        else:
            offset = int(rng.integers(0, max(1, noise.size - window)))
            bg = noise[offset : offset + window].copy()
        place = min(start, window - fg.size)
        scale = openwakeword_scale(fg, bg, settings.snr_db)
        mix = bg.copy()
        mix[place : place + fg.size] += scale * fg
        mix /= 2.0
        rir_name = None
        if inputs.rirs:
            rir_path = inputs.rirs[int(rng.integers(len(inputs.rirs)))]
            mix = reverberate(mix, as_float(rir_path))
            rir_name = rir_path.name
        peak = float(np.max(np.abs(mix)))
        if peak > 1.0:
            mix /= peak
        name = f"{index:05d}_{path.stem}.wav"
        write_wav(folder / "positives" / name, to_pcm(32767.0 * mix))
        names.append(name)
        rows.append(
            {
                "file": name,
                "source": path.name,
                "noise": noise_path.name,
                "rir": rir_name,
                "start_s": place / SAMPLE_RATE,
                "end_s": (place + fg.size) / SAMPLE_RATE,
                "scale": scale,
            }
        )
        if progress is not None:
            progress(index + 1, len(inputs.positives))
    write_jsonl(folder / "labels.jsonl", rows)
    return {
        "positive_files": names,
        "negative_s": None,
        "snr_measure": "L2 norm of the whole positive against the whole noise window",
    }


def headline_target(protocol: str) -> float:
    """The FA/h the protocol's headline is read at."""
    return (
        PICOVOICE_TARGET_FA_PER_HOUR
        if protocol == "picovoice"
        else (OPENWAKEWORD_TARGET_FA_PER_HOUR)
    )


def collect_inputs(
    positives: Sequence[Path],
    background: Sequence[Path],
    noise: Sequence[Path],
    rirs: Sequence[Path],
) -> ProtocolInputs:
    """The audio files under each role's folders (recursive, sorted); AudioInputError names a
    folder that is missing or holds no audio."""
    from sim.research.corpus import audio_files

    def files(folders: Sequence[Path], option: str) -> tuple[Path, ...]:
        return tuple(p for folder in folders for p in audio_files(folder, option))

    return ProtocolInputs(
        positives=files(positives, "--positives"),
        background=files(background, "--background"),
        noise=files(noise, "--noise"),
        rirs=files(rirs, "--rirs"),
    )
