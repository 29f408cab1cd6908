"""16 kHz mono int16 audio to and from WAV bytes, in memory only.

The vault never writes plaintext audio to a file, not even a temporary one: a kept utterance
becomes WAV bytes here, in RAM, and goes straight to age encryption.

Layout produced (the canonical 44-byte RIFF header, then little-endian int16 samples)::

    0  "RIFF" | u32 36+n | "WAVE" | "fmt " | u32 16 | u16 1 (PCM) | u16 1 channel
    22 u32 16000 Hz | u32 32000 bytes/s | u16 2 block align | u16 16 bits | "data" | u32 n
    44 n bytes of samples
"""

from __future__ import annotations

import io
import wave
from dataclasses import dataclass

import numpy as np

from device.audio import SAMPLE_RATE, Pcm

__all__ = ["WAV_HEADER_BYTES", "WavError", "WavInfo", "pcm_to_wav", "wav_bytes_len", "wav_to_pcm"]

WAV_HEADER_BYTES = 44
"""Length of the header :func:`pcm_to_wav` writes (bytes)."""


class WavError(ValueError):
    """WAV bytes are malformed or not 16-bit PCM (callers turn it into their own error)."""


@dataclass(frozen=True)
class WavInfo:
    """What a WAV header says about its audio."""

    sample_rate: int
    """Samples per second (hertz)."""
    channels: int
    sample_width_bytes: int
    frames: int
    """Samples per channel."""

    @property
    def duration_s(self) -> float:
        """Length of the audio (seconds)."""
        return self.frames / self.sample_rate if self.sample_rate else 0.0


def wav_bytes_len(samples: int) -> int:
    """Length of the WAV :func:`pcm_to_wav` makes for ``samples`` mono int16 samples (bytes)."""
    return WAV_HEADER_BYTES + 2 * samples


def pcm_to_wav(samples: Pcm, sample_rate: int = SAMPLE_RATE) -> bytes:
    """Mono int16 samples as WAV bytes (in memory)."""
    pcm = np.ascontiguousarray(samples, dtype="<i2")
    if pcm.ndim != 1:
        raise WavError(f"expected mono samples (1-D), got shape {pcm.shape}")
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(sample_rate)
        w.writeframes(pcm.tobytes())
    return buf.getvalue()


def wav_to_pcm(data: bytes) -> tuple[Pcm, WavInfo]:
    """Parse WAV bytes into int16 samples and header facts; WavError if malformed.

    Strict: the data chunk must hold exactly the frames the header announces, so a truncated or
    padded file is an error rather than silently shorter audio.
    """
    try:
        with wave.open(io.BytesIO(data), "rb") as w:
            info = WavInfo(w.getframerate(), w.getnchannels(), w.getsampwidth(), w.getnframes())
            raw = w.readframes(info.frames)
    except (wave.Error, EOFError, ValueError) as exc:
        raise WavError(f"not a WAV file ({exc})") from exc
    if info.sample_width_bytes != 2 or info.channels != 1:
        raise WavError(
            f"expected mono 16-bit PCM, got {info.channels} channel(s) of "
            f"{8 * info.sample_width_bytes} bits"
        )
    if len(raw) != 2 * info.frames:
        raise WavError(f"header announces {info.frames} samples, data holds {len(raw) // 2}")
    return np.frombuffer(raw, dtype="<i2").astype(np.int16), info
