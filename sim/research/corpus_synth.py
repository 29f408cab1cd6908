"""Synthetic spoken phrases: espeak-ng across voices, speeds and pitches, mixed with noise.

Each clip is one phrase, made like this:

1. ``espeak-ng -v VOICE -s RATE -p PITCH -w tmp.wav`` (text on stdin, so a phrase that starts
   with ``-`` is not an option); its 22050 Hz output is resampled to 16 kHz with soxr (HQ);
2. the phrase's silent edges are trimmed and its level set to ``level_dbfs`` RMS, so that every
   voice is equally loud and no noise variant clips;
3. ``lead_ms`` of silence goes before it and ``tail_ms`` after it (a wake-word model needs about
   two seconds of context, and a clip that ends on the last phoneme is not how a person speaks);
4. noise is added at each SNR over the phrase's region (see :mod:`sim.research.corpus`):
   white, pink, or babble, a sum of several other phrases spoken by several voices at once, looped;
5. the result is written as 16 kHz mono int16 WAV, and described in ``labels.jsonl``.

The run is deterministic: the same arguments and seed give byte-identical WAVs and labels.
"""

from __future__ import annotations

import math
import re
import shutil
import subprocess
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from itertools import product
from pathlib import Path
from typing import Any

import numpy as np

from device.audio import SAMPLE_RATE, Pcm
from keepmum.errors import ConfigError, KeepmumError
from sim.research.corpus import (
    NoiseStream,
    mix_at_snr,
    to_pcm,
    trim_silence,
    writable_folder,
    write_jsonl,
    write_wav,
)

__all__ = [
    "BABBLE_PHRASES",
    "LABELS_NAME",
    "SYNTH_NOISES",
    "Espeak",
    "SynthSettings",
    "babble_bed",
    "synthesize_corpus",
]

LABELS_NAME = "labels.jsonl"
SYNTH_NOISES = ("none", "white", "pink", "babble")

BABBLE_PHRASES = (
    "the kettle is already boiling so pour the water slowly",
    "did you remember to bring the umbrella from the car",
    "we should leave before the traffic gets any worse tonight",
    "my sister moved to a small flat near the station last year",
    "put the green folder on the shelf next to the printer",
    "the match was cancelled because of the heavy rain",
    "could you pass me the salt and the pepper please",
    "they are painting the fence on saturday morning",
)
"""What the babble talkers say: everyday sentences with no wake word in them."""

_BABBLE_TALKERS = 4
_BABBLE_SECONDS = 12.0
_BABBLE_VOICES = ("en-us", "en-gb", "en-us+f3", "en-gb-x-rp+f2", "en-029", "en-us+m4")


@dataclass(frozen=True)
class SynthSettings:
    """What ``keepmum corpus synth`` makes: every text in every voice, rate, pitch and noise."""

    texts: tuple[str, ...]
    voices: tuple[str, ...] = ("en-us",)
    """espeak-ng voice names, optionally with a variant (``en-us+f3``)."""
    rates_wpm: tuple[int, ...] = (175,)
    """Speaking rates (words per minute, espeak-ng ``-s``, 80 to 450)."""
    pitches: tuple[int, ...] = (50,)
    """Pitches (espeak-ng ``-p``, 0 to 99)."""
    noises: tuple[str, ...] = ("none",)
    """``none`` (clean), ``white``, ``pink``, ``babble``."""
    snrs_db: tuple[float, ...] = (10.0,)
    """Signal-to-noise ratios for every noise but ``none`` (dB)."""
    seed: int = 0
    lead_ms: int = 1000
    """Silence before the phrase (milliseconds)."""
    tail_ms: int = 500
    """Silence after the phrase (milliseconds)."""
    level_dbfs: float = -26.0
    """RMS level of the phrase (dB relative to int16 full scale)."""

    def __post_init__(self) -> None:
        """Raise :class:`ConfigError` naming the first value out of range: at construction, so an
        invalid one cannot exist."""
        if not self.texts or any(not t.strip() for t in self.texts):
            raise ConfigError("--text: expected at least one non-empty phrase")
        if not self.voices or any(not re.fullmatch(r"[A-Za-z0-9_+\-/]+", v) for v in self.voices):
            raise ConfigError(f"--voices: expected espeak-ng voice names, got {self.voices!r}")
        for rate in self.rates_wpm:
            if not 80 <= rate <= 450:
                raise ConfigError(f"--rates: expected words per minute in 80..450, got {rate}")
        for pitch in self.pitches:
            if not 0 <= pitch <= 99:
                raise ConfigError(f"--pitches: expected 0..99, got {pitch}")
        for noise in self.noises:
            if noise not in SYNTH_NOISES:
                raise ConfigError(
                    f"--noise: expected one of {', '.join(SYNTH_NOISES)}, got {noise!r}"
                )
        for snr in self.snrs_db:
            if math.isnan(snr) or not -5.0 <= snr <= 100.0:
                raise ConfigError(
                    f"--snr-db: expected decibels in -5..100 (lower would clip), got {snr}"
                )
        if self.lead_ms < 0 or self.tail_ms < 0:
            raise ConfigError(f"padding must be 0 ms or more, got {self.lead_ms}, {self.tail_ms}")
        if not -60.0 <= self.level_dbfs <= -3.0:
            raise ConfigError(f"level must be in -60..-3 dBFS, got {self.level_dbfs}")

    def variants(self) -> list[tuple[str, float | None]]:
        """(noise, SNR) pairs: ``("none", None)`` once, every other noise at every SNR."""
        out: list[tuple[str, float | None]] = []
        for noise in self.noises:
            if noise == "none":
                out.append(("none", None))
            else:
                out.extend((noise, snr) for snr in self.snrs_db)
        return out


class Espeak:
    """The espeak-ng command: one phrase in, 16 kHz float samples (int16 scale) out."""

    def __init__(self, executable: str | None = None) -> None:
        found = executable or shutil.which("espeak-ng")
        if found is None:
            raise KeepmumError(
                "espeak-ng is not installed (needed by `keepmum corpus synth`; "
                "e.g. `apt install espeak-ng`)"
            )
        self.executable = found

    def speak(self, text: str, voice: str, rate_wpm: int, pitch: int) -> np.ndarray:
        """The phrase, resampled from espeak-ng's 22050 Hz to 16 kHz."""
        import soundfile
        import soxr

        with tempfile.TemporaryDirectory(prefix="keepmum-espeak-") as folder:
            wav = Path(folder) / "phrase.wav"
            command = [self.executable, "-v", voice, "-s", str(rate_wpm), "-p", str(pitch)]
            result = subprocess.run(
                [*command, "-w", str(wav), "--stdin"],
                input=text.encode("utf-8"),
                capture_output=True,
                check=False,
            )
            message = result.stderr.decode("utf-8", "replace").strip()
            if result.returncode != 0 or not wav.exists():
                raise ConfigError(
                    f"espeak-ng failed for voice {voice!r} (exit {result.returncode}: "
                    f"{message or 'no message'})"
                )
            samples, rate = soundfile.read(str(wav), dtype="float64", always_2d=True)
        mono = samples.mean(axis=1)
        if rate != SAMPLE_RATE:
            mono = soxr.resample(mono, rate, SAMPLE_RATE, quality="HQ")
        return np.asarray(mono, dtype=np.float64) * 32768.0


Speaker = Callable[[str, str, int, int], np.ndarray]


def babble_bed(speak: Speaker, seed: int, seconds: float = _BABBLE_SECONDS) -> np.ndarray:
    """Several talkers at once: each talker is a chain of :data:`BABBLE_PHRASES` in one voice,
    started at a random offset; the talkers are summed. Unit RMS, ``seconds`` long, looped
    into clips by the caller."""
    rng = np.random.default_rng([seed, 0xBABB1E])
    length = int(seconds * SAMPLE_RATE)
    bed = np.zeros(length)
    for talker in range(_BABBLE_TALKERS):
        voice = _BABBLE_VOICES[talker % len(_BABBLE_VOICES)]
        order = rng.permutation(len(BABBLE_PHRASES))
        chain = []
        for k in order:
            phrase = speak(BABBLE_PHRASES[k], voice, 160 + 10 * talker, 30 + 15 * talker)
            region = trim_silence(phrase)
            chain.append(phrase[region])
            chain.append(np.zeros(int(0.15 * SAMPLE_RATE)))
        voice_track = np.concatenate(chain)
        voice_track /= max(float(np.sqrt(np.mean(voice_track**2))), 1e-9)
        voice_track = np.resize(voice_track, length)  # np.resize repeats the chain
        bed += np.roll(voice_track, int(rng.integers(length)))
    return np.asarray(bed / max(float(np.sqrt(np.mean(bed**2))), 1e-9), dtype=np.float64)


def _slug(text: str, limit: int = 24) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
    return slug[:limit].rstrip("-") or "phrase"


def _file_name(
    index: int, text: str, voice: str, rate: int, pitch: int, noise: str, snr: float | None
) -> str:
    condition = "clean" if snr is None else f"{noise}{snr:g}db"
    voice_slug = re.sub(r"[^A-Za-z0-9]+", "-", voice)
    return f"{index:05d}_{_slug(text)}_{voice_slug}_s{rate}_p{pitch}_{condition}.wav"


def synthesize_corpus(
    out: Path,
    settings: SynthSettings,
    *,
    speak: Speaker | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> list[dict[str, Any]]:
    """Write every clip and ``labels.jsonl`` into ``out`` (created); returns the label rows.

    ``speak`` defaults to :class:`Espeak` (tests may pass another speaker); ``progress`` is
    called with (clips done, clips in all).
    """
    speaker = speak if speak is not None else Espeak().speak
    writable_folder(out, "--out")
    variants = settings.variants()
    combos = list(product(settings.texts, settings.voices, settings.rates_wpm, settings.pitches))
    total = len(combos) * len(variants)
    bed = babble_bed(speaker, settings.seed) if any(n == "babble" for n, _ in variants) else None
    level = 32768.0 * 10.0 ** (settings.level_dbfs / 20.0)
    lead = settings.lead_ms * SAMPLE_RATE // 1000
    tail = settings.tail_ms * SAMPLE_RATE // 1000
    rows: list[dict[str, Any]] = []
    index = 0
    for text, voice, rate, pitch in combos:
        phrase = speaker(text, voice, rate, pitch)
        region = trim_silence(phrase)
        spoken = phrase[region]
        if spoken.size == 0:
            raise ConfigError(f"espeak-ng produced silence for {text!r} in voice {voice!r}")
        spoken = spoken * (level / float(np.sqrt(np.mean(spoken**2))))
        clean = np.concatenate((np.zeros(lead), spoken, np.zeros(tail)))
        speech_region = slice(lead, lead + len(spoken))
        for noise, snr in variants:
            if snr is None:
                mixed = clean
            else:
                noise_samples = _noise_for_clip(noise, len(clean), settings.seed, index, bed)
                mixed, _ = mix_at_snr(clean, noise_samples, snr, speech_region)
            pcm: Pcm = to_pcm(mixed)
            name = _file_name(index, text, voice, rate, pitch, noise, snr)
            write_wav(out / name, pcm)
            rows.append(
                {
                    "file": name,
                    "text": text,
                    "voice": voice,
                    "rate": rate,
                    "pitch": pitch,
                    "noise": noise,
                    "snr_db": None if snr is None else float(snr),
                    "seed": settings.seed,
                    "duration_s": round(len(pcm) / SAMPLE_RATE, 6),
                    "speech_start_s": round(lead / SAMPLE_RATE, 6),
                    "speech_end_s": round((lead + len(spoken)) / SAMPLE_RATE, 6),
                }
            )
            index += 1
            if progress is not None:
                progress(index, total)
    write_jsonl(out / LABELS_NAME, rows)
    return rows


def _noise_for_clip(
    kind: str, samples: int, seed: int, index: int, bed: np.ndarray | None
) -> np.ndarray:
    """Noise for clip ``index``: its own seeded stream, or a seeded slice of the babble bed."""
    if kind == "babble":
        if bed is None:
            raise ConfigError("babble noise needs a babble bed (internal: none was built)")
        start = int(np.random.default_rng([seed, index, 2]).integers(len(bed)))
        return np.resize(np.roll(bed, -start), samples)
    return NoiseStream(kind, [seed, index, 1]).take(samples)
