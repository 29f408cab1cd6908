"""Parts shared by the synthetic corpora (``keepmum corpus synth`` and ``keepmum corpus stream``):
seeded noise, mixing at a signal-to-noise ratio, trimming silence, and reading and writing audio.

Definitions, used everywhere a corpus says ``snr_db``::

    SNR (dB) = 10 log10( mean(speech[r]^2) / mean(noise[r]^2) )

where ``r`` is the speech region (the clip with its leading and trailing silence trimmed). The
noise is scaled, never the speech. White noise is seeded Gaussian noise; pink noise is that white
noise through a 1/f ("pinking") IIR filter (Julius O. Smith's 3-pole approximation: -3 dB per
octave over the speech band, which the tests measure), filtered with its state carried across
blocks so a stream of any length is one continuous noise. Both are scaled to unit RMS, so a
gain is an RMS level.

Determinism: every random choice draws from ``numpy.random.default_rng`` seeded from the run's
``--seed`` and a fixed tag, so the same seed gives byte-identical files.
"""

from __future__ import annotations

import functools
import json
import math
import os
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from device.audio import SAMPLE_RATE, Pcm
from keepmum.errors import AudioInputError, ConfigError
from keepmum.files import write_file

__all__ = [
    "AUDIO_SUFFIXES",
    "NOISE_KINDS",
    "NoiseStream",
    "audio_files",
    "mix_at_snr",
    "noise_gain",
    "read_clip",
    "snr_db",
    "to_pcm",
    "trim_silence",
    "writable_folder",
    "write_jsonl",
    "write_wav",
]

Signal = npt.NDArray[np.float64]

NOISE_KINDS = ("white", "pink")
"""Noises a :class:`NoiseStream` makes (``synth`` adds ``babble``, made of speech)."""

AUDIO_SUFFIXES = (".wav", ".flac", ".ogg", ".oga", ".mp3")
"""File endings read as audio when a corpus command is given a folder."""

# Julius O. Smith's pinking filter (b, a): poles and zeros interlaced over the audio band.
_PINK_B = np.array([0.049922035, -0.095993537, 0.050612699, -0.004408786])
_PINK_A = np.array([1.0, -2.494956002, 2.017265875, -0.522189400])
_PINK_WARMUP = 8192
"""Samples discarded at the start so the filter is past its start-up transient."""


@functools.cache
def _pink_rms() -> float:
    """RMS of the pinking filter's output for unit white noise: the norm of its impulse response
    (which has decayed below 1e-30 after 2^14 samples)."""
    from scipy.signal import lfilter

    impulse = np.zeros(1 << 14)
    impulse[0] = 1.0
    return float(np.sqrt(np.sum(lfilter(_PINK_B, _PINK_A, impulse) ** 2)))


class NoiseStream:
    """Unit-RMS noise of one kind, drawn block by block; the same seed gives the same samples
    however the draws are cut into blocks."""

    def __init__(self, kind: str, seed: int | Sequence[int]) -> None:
        if kind not in NOISE_KINDS:
            raise ConfigError(f"noise kind must be one of {', '.join(NOISE_KINDS)}, got {kind!r}")
        self.kind = kind
        self._rng = np.random.default_rng(seed)
        self._state: Signal | None = None
        if kind == "pink":
            from scipy.signal import lfilter_zi

            self._scale = 1.0 / _pink_rms()
            self._state = lfilter_zi(_PINK_B, _PINK_A) * 0.0
            self.take(_PINK_WARMUP)

    def take(self, samples: int) -> Signal:
        """The next ``samples`` noise samples (float64, unit RMS in expectation)."""
        white = self._rng.standard_normal(samples)
        if self._state is None:
            return white
        from scipy.signal import lfilter

        pink, self._state = lfilter(_PINK_B, _PINK_A, white, zi=self._state)
        return np.asarray(pink, dtype=np.float64) * self._scale


def snr_db(speech: npt.ArrayLike, noise: npt.ArrayLike) -> float:
    """Measured SNR of two equal-length signals (dB); ``inf`` for silent noise."""
    s = np.asarray(speech, dtype=np.float64)
    n = np.asarray(noise, dtype=np.float64)
    noise_power = float(np.mean(n**2)) if n.size else 0.0
    if noise_power == 0.0:
        return math.inf
    return 10.0 * math.log10(float(np.mean(s**2)) / noise_power)


def noise_gain(speech_power: float, noise_power: float, target_snr_db: float) -> float:
    """The factor that puts noise of ``noise_power`` at ``target_snr_db`` below speech of
    ``speech_power`` (mean squares); 0 for an infinite SNR or silent noise."""
    if math.isinf(target_snr_db) or noise_power <= 0.0:
        return 0.0
    return math.sqrt(speech_power / (noise_power * 10.0 ** (target_snr_db / 10.0)))


def mix_at_snr(
    speech: npt.ArrayLike, noise: npt.ArrayLike, target_snr_db: float, region: slice
) -> tuple[Signal, float]:
    """``speech + gain * noise`` with the gain that makes the SNR over ``region`` (the speech)
    equal ``target_snr_db``; returns the mix and the gain. Signals are equal-length floats."""
    s = np.asarray(speech, dtype=np.float64)
    n = np.asarray(noise, dtype=np.float64)
    if s.shape != n.shape:
        raise ConfigError(f"speech and noise must be the same length, got {s.shape} and {n.shape}")
    speech_power = float(np.mean(s[region] ** 2)) if s[region].size else 0.0
    noise_power = float(np.mean(n[region] ** 2)) if n[region].size else 0.0
    gain = noise_gain(speech_power, noise_power, target_snr_db)
    return s + gain * n, gain


def to_pcm(signal: npt.ArrayLike) -> Pcm:
    """Float samples on the int16 scale, rounded and clipped to int16."""
    return np.clip(np.rint(np.asarray(signal, dtype=np.float64)), -32768, 32767).astype(np.int16)


def trim_silence(samples: npt.ArrayLike, floor_db: float = 40.0, frame_ms: int = 10) -> slice:
    """The region from the first to the last 10 ms frame whose RMS is within ``floor_db`` of the
    loudest frame (and above -70 dBFS); an empty slice for a silent clip. Clean synthesized or
    recorded speech loses only its silent edges; a noisy clip keeps nearly everything."""
    x = np.asarray(samples, dtype=np.float64)
    step = SAMPLE_RATE * frame_ms // 1000
    n_frames = -(-len(x) // step)
    if n_frames == 0:
        return slice(0, 0)
    padded = np.zeros(n_frames * step)
    padded[: len(x)] = x
    rms = np.sqrt(np.mean(padded.reshape(n_frames, step) ** 2, axis=1))
    threshold = max(float(rms.max()) * 10.0 ** (-floor_db / 20.0), 32768.0 * 10.0 ** (-70 / 20))
    loud = np.flatnonzero(rms > threshold)
    if loud.size == 0:
        return slice(0, 0)
    return slice(int(loud[0]) * step, min(len(x), (int(loud[-1]) + 1) * step))


def audio_files(folder: Path, what: str) -> list[Path]:
    """Audio files in ``folder`` and below, sorted (so a seed means the same order everywhere),
    through links to folders too; :class:`AudioInputError` naming the folder when it is missing
    or holds none."""
    if not folder.exists():
        raise AudioInputError(f"{what} {folder}: no such folder")
    if not folder.is_dir():
        raise AudioInputError(f"{what} {folder}: not a folder")
    files = sorted(_audio_below(folder))
    if not files:
        raise AudioInputError(
            f"{what} {folder}: no audio files (expected {', '.join(AUDIO_SUFFIXES)})"
        )
    return files


def _audio_below(folder: Path) -> Iterator[Path]:
    """Every audio file under ``folder``, following symbolic links to folders: a corpus is often
    put together from links (``ln -s ~/recordings/kitchen negatives/``), and ``Path.rglob`` does
    not follow them, so the linked files were silently left out of the sweep. A folder reached
    again (a link to a parent, or two links to one place) is not entered again."""
    entered: set[tuple[int, int]] = set()
    for root, subfolders, names in os.walk(folder, followlinks=True):
        status = os.stat(root)
        if (status.st_dev, status.st_ino) in entered:
            subfolders.clear()
            continue
        entered.add((status.st_dev, status.st_ino))
        subfolders.sort()  # of two links to one folder, the first by name is the one read
        for name in names:
            path = Path(root, name)
            if path.suffix.lower() in AUDIO_SUFFIXES and path.is_file():
                yield path


def writable_folder(folder: Path, what: str) -> None:
    """Create ``folder`` if needed; :class:`ConfigError` naming it when that fails or it cannot
    be written, before any work is done."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(f"{what} {folder}: cannot create the folder ({exc.strerror})") from None
    if not os.access(folder, os.W_OK | os.X_OK):
        raise ConfigError(f"{what} {folder}: the folder is not writable")


def read_clip(path: Path) -> Pcm:
    """A whole audio file as 16 kHz mono int16, through the device's own edge conversion."""
    from device.sources import read_audio

    return read_audio(path)


def write_wav(path: Path, samples: Pcm) -> None:
    """A 16 kHz mono 16-bit PCM WAV (libsndfile writes no timestamps: same samples, same
    bytes)."""
    import soundfile

    # Replacing is right: the command line guarded the folder (and --force) beforehand.
    write_file(
        path,
        lambda handle: soundfile.write(
            handle, samples, SAMPLE_RATE, subtype="PCM_16", format="WAV"
        ),
        overwrite=True,
    )


def write_jsonl(path: Path, rows: Iterable[dict[str, Any]]) -> None:
    """One JSON object a line, keys in the order given, UTF-8."""
    text = "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows)
    write_file(path, text.encode("utf-8"), overwrite=True)
