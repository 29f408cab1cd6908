"""What the speaker hands on when an utterance is kept: its audio and where it came from."""

from __future__ import annotations

from dataclasses import dataclass

from device.audio import SAMPLE_RATE, Pcm

__all__ = ["Utterance"]


@dataclass(frozen=True)
class Utterance:
    """A kept utterance: from ``preroll_ms`` before the wake word to its end, in RAM only.

    Nothing of it has touched the disk; the vault encrypts it on commit (deferred commit).
    """

    samples: Pcm
    """16 kHz mono int16 audio of the whole utterance, pre-roll included."""
    start_t: float
    """Start of the audio (seconds from the start of the input)."""
    started_at: float
    """Start of the audio as wall-clock time (Unix seconds, from the speaker's clock)."""
    model: str
    """The wake-word model that woke the device."""
    score: float
    """That model's score at the wake."""
    end_reason: str
    """Why it ended: ``silence`` or ``max_length``."""
    source: str = ""
    """The input it came from (file path, ``-``, ``mic``)."""
    gap_ms: int = 0
    """The pause between the wake word and the request, cut out of ``samples`` (milliseconds):
    the audio runs on from the wake word's end to the request's start."""

    @property
    def duration_s(self) -> float:
        """Length of the audio (seconds)."""
        return len(self.samples) / SAMPLE_RATE
