"""An optional chime when the device starts listening for a request (``keepmum listen --chime``).

A person who pauses after the wake word waits for a sign that the device heard it; a light ring
is one, a short rising tone another. The tone is generated here (no sound file is shipped) and
played on the output device through sounddevice without blocking the audio loop. Replaying files
never plays it.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any

import numpy as np
import numpy.typing as npt

__all__ = ["CHIME_RATE", "Chime", "Player", "chime_tone", "sounddevice_player"]

CHIME_RATE = 16000
"""Sample rate of the tone (Hz)."""
CHIME_NOTES_HZ = (880.0, 1320.0)
"""Two rising notes, a fifth apart: heard as "go ahead" rather than as an alarm."""
NOTE_S = 0.09
"""Length of each note (seconds): the chime is over in under 0.2 s."""
FADE_S = 0.01
"""Fade in and out of each note (seconds), so that it starts and stops without a click."""
VOLUME = 0.25
"""Peak amplitude (full scale 1.0): audible, not startling."""

Tone = npt.NDArray[np.float32]
Player = Callable[[Tone, int], None]
"""Plays a mono float tone at a sample rate without blocking (tests pass a recorder)."""


def chime_tone(rate: int = CHIME_RATE) -> Tone:
    """The chime: each of ``CHIME_NOTES_HZ`` for ``NOTE_S``, faded in and out, at ``VOLUME``."""
    n = round(NOTE_S * rate)
    t = np.arange(n) / rate
    fade = min(round(FADE_S * rate), n // 2)
    envelope = np.ones(n)
    envelope[:fade] = np.linspace(0.0, 1.0, fade, endpoint=False)
    envelope[n - fade :] = np.linspace(1.0, 0.0, fade)
    notes = [np.sin(2 * np.pi * hz * t) * envelope for hz in CHIME_NOTES_HZ]
    return (np.concatenate(notes) * VOLUME).astype(np.float32)


def sounddevice_player(tone: Tone, rate: int) -> None:
    """Play ``tone`` on the default output device and return at once. A missing or busy output
    device costs the chime, never the run."""
    import sounddevice

    with contextlib.suppress(sounddevice.PortAudioError):
        sounddevice.play(tone, rate)


class Chime:
    """An event listener that plays the chime on every ``listening`` event."""

    def __init__(self, player: Player) -> None:
        self._player = player
        self._tone = chime_tone()
        self.played = 0

    def __call__(self, event: dict[str, Any]) -> None:
        if event.get("event") == "listening":
            self._player(self._tone, CHIME_RATE)
            self.played += 1
