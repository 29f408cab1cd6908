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
    request_offset: int = 0
    """Samples of ``samples`` up to the wake word's end (the pre-roll and the wake word); the
    request's audio follows. 0: not known (the whole utterance is the request)."""

    @property
    def request_samples(self) -> Pcm:
        """The audio after the wake word: the request, as its speaker said it (no pause)."""
        return self.samples[self.request_offset :]

    @property
    def duration_s(self) -> float:
        """Length of the audio (seconds)."""
        return len(self.samples) / SAMPLE_RATE
