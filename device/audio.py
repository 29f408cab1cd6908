"""The one audio format inside keepmum, and the frame that carries it.

Everything past a source's edge is 16 kHz mono int16 in frames of 1280 samples (80 ms), the chunk
openWakeWord's models are trained on. Sources convert once, at the edge; nothing downstream
resamples, mixes or rescales.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

__all__ = ["FRAME_SAMPLES", "FRAME_SECONDS", "SAMPLE_RATE", "SILENT_DB", "Frame", "Pcm"]

SAMPLE_RATE = 16_000
"""Samples per second of all audio inside keepmum (hertz)."""

FRAME_SAMPLES = 1280
"""Samples per frame: 80 ms, openWakeWord's streaming chunk."""

FRAME_SECONDS = FRAME_SAMPLES / SAMPLE_RATE
"""Duration of one frame (seconds)."""

SILENT_DB = -120.0
"""The level given to a digitally silent frame (dBFS): padding, a muted or absent signal, not a
room."""

Pcm = npt.NDArray[np.int16]
"""16 kHz mono signed 16-bit samples."""


@dataclass(frozen=True)
class Frame:
    """80 ms of audio and where it sits in its input."""

    samples: Pcm
    """Exactly :data:`FRAME_SAMPLES` int16 samples."""
    index: int
    """Position in the input, counted in frames from 0."""
    source: str = ""
    """Name of the input it came from (a file path, ``-`` for stdin, ``mic``)."""
    t0: float = 0.0
    """Time of frame 0 relative to the start of the input (seconds; negative when a replay
    hears silence before the file)."""

    @property
    def t(self) -> float:
        """Start of the frame (seconds from the start of the input)."""
        return self.t0 + self.index * FRAME_SECONDS

    @property
    def end_t(self) -> float:
        """End of the frame (seconds from the start of the input)."""
        return self.t0 + (self.index + 1) * FRAME_SECONDS
