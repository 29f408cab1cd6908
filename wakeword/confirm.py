"""Is this frame a person speaking to the device? webrtcvad, then Silero, over the noise floor.

The device's request decision (``device/states.py``) counts *confirmed* speech frames. A frame is
confirmed when all three hold:

1. webrtcvad calls it speech (the cheap first stage, :class:`wakeword.vad.WebRtcVad`);
2. Silero VAD gives it at least ``vad.silero_threshold`` (:class:`wakeword.silero.SileroVad`,
   a function of the frame and the 240 ms before it), or only ``vad.loud_silero_threshold``
   when the frame stands ``vad.loud_margin_db`` or more above the floor (:func:`confirms`);
3. its level is at least ``vad.noise_margin_db`` above the room's noise floor: the 20th
   percentile of the levels (dBFS, RMS per 80 ms frame) of the last ``vad.noise_window_s``
   seconds of frames with any sound, this frame included (digitally silent frames, such as a
   replay's padding, are not the room).

Why the floor: webrtcvad fires on much steady noise and Silero on much background talk (a
television, a room full of people); a request is spoken *to* the device, louder than the room.
The floor is a percentile rather than a minimum so that one quiet gap does not drag it down, and
it is updated on every frame (listening or awake: one mean of squares and a percentile of
``noise_window_s / 0.08`` numbers, a few microseconds) so that it is a function of the input
alone and ``keepmum far`` computes exactly the device's value. Silero runs only on frames the
device hears while awake that webrtcvad called speech; ``keepmum far`` runs it on every such
frame of a file (it does not know yet where the wakes will be) and gets the same numbers.
"""

from __future__ import annotations

import bisect
import math
from collections import deque
from collections.abc import Iterable
from typing import NamedTuple

import numpy as np
import numpy.typing as npt

from device.audio import FRAME_SECONDS, SILENT_DB, Pcm
from wakeword.silero import SileroVad
from wakeword.vad import VadSettings

__all__ = [
    "FLOOR_PERCENTILE",
    "ConfirmedBlock",
    "ConfirmedFlags",
    "NoiseFloor",
    "RequestConfirmer",
    "confirmed_flags",
    "confirms",
    "frame_level_db",
    "loud_enough",
]

FLOOR_PERCENTILE = 20.0
"""Percentile of recent frame levels taken as the noise floor."""


def frame_level_db(samples: Pcm) -> float:
    """RMS level of a frame (dBFS; -120 for digital silence)."""
    x = samples.astype(np.float64)
    power = float(np.dot(x, x)) / (len(x) * 32768.0 * 32768.0) if len(x) else 0.0
    return 10.0 * math.log10(power) if power > 1e-12 else SILENT_DB


def loud_enough(over_floor_db: float, settings: VadSettings) -> bool:
    """Whether a frame standing ``over_floor_db`` over the room's floor is loud enough to be a
    request (``vad.noise_margin_db``): the first test of :func:`confirms`, and a quieter frame is
    a pause to the speaker's wake-gap rule, even when webrtcvad calls the room's noise speech."""
    return over_floor_db >= settings.noise_margin_db


def confirms(probability: float, over_floor_db: float, settings: VadSettings) -> bool:
    """The second stage's verdict on a webrtcvad speech frame: Silero's ``probability`` against
    the threshold its level above the floor (``over_floor_db``) asks for."""
    if not loud_enough(over_floor_db, settings):
        return False
    threshold = settings.silero_threshold
    if over_floor_db >= settings.loud_margin_db:
        threshold = min(threshold, settings.loud_silero_threshold)
    return probability >= threshold


class NoiseFloor:
    """The room's level: a percentile of the last frames' levels.

    Kept as a sorted list beside the window (a few dozen numbers), so a frame costs two bisects
    and one interpolation, microseconds, instead of a ``numpy.percentile`` call (about a hundred):
    the floor is updated on every frame the device hears, listening included."""

    def __init__(self, window_s: float) -> None:
        self._window: deque[float] = deque()
        self._sorted: list[float] = []
        self._size = max(1, round(window_s / FRAME_SECONDS))
        self.floor_db = SILENT_DB

    def push(self, level_db: float) -> float:
        """Add a frame's level; return the floor including it. Digitally silent frames (all
        zeros: a replay's padding, a muted or absent signal) are not the room and are skipped;
        the floor is -120 dBFS until a frame with any sound arrives."""
        if level_db <= SILENT_DB:
            return self.floor_db
        if len(self._window) == self._size:
            oldest = self._window.popleft()
            del self._sorted[bisect.bisect_left(self._sorted, oldest)]
        self._window.append(level_db)
        bisect.insort(self._sorted, level_db)
        # numpy's default ("linear") percentile of the sorted levels.
        position = FLOOR_PERCENTILE / 100.0 * (len(self._sorted) - 1)
        low = math.floor(position)
        high = min(low + 1, len(self._sorted) - 1)
        fraction = position - low
        below, above = self._sorted[low], self._sorted[high]
        self.floor_db = below + (above - below) * fraction
        return self.floor_db

    def reset(self) -> None:
        """A new input: forget the room."""
        self._window.clear()
        self._sorted.clear()
        self.floor_db = SILENT_DB


class RequestConfirmer:
    """The device's second stage: the noise floor on every frame, Silero on demand."""

    def __init__(
        self, settings: VadSettings | None = None, silero: SileroVad | None = None
    ) -> None:
        self.settings = settings or VadSettings()
        self._silero = silero if silero is not None else SileroVad()
        self._floor = NoiseFloor(self.settings.noise_window_s)
        self.level_db = SILENT_DB
        self.last_probability: float | None = None
        """Silero's probability of the last frame it judged (None before any)."""
        self.runs = 0
        """Frames Silero judged since the last reset (it runs only while awake)."""

    @property
    def window_samples(self) -> int:
        """Audio one confirmation reads: the frame and the frames before it."""
        return self._silero.window_samples

    @property
    def floor_db(self) -> float:
        """The current noise floor (dBFS)."""
        return self._floor.floor_db

    @property
    def over_margin(self) -> bool:
        """Whether the last heard frame is :func:`loud_enough` over the floor."""
        return loud_enough(self.level_db - self._floor.floor_db, self.settings)

    def hear(self, frame: Pcm) -> None:
        """Every frame the device processes: update the noise floor (cheap)."""
        self.level_db = frame_level_db(frame)
        self._floor.push(self.level_db)

    def confirm(self, window: Pcm) -> bool:
        """Whether the frame ending ``window`` (up to :attr:`window_samples` samples, the frame
        last) is speech over the room: loud enough first (free), then Silero."""
        if not self.over_margin:
            return False
        self.runs += 1
        self.last_probability = self._silero.probability(window)
        return confirms(self.last_probability, self.level_db - self._floor.floor_db, self.settings)

    def reset(self) -> None:
        """A new input."""
        self._floor.reset()
        self.level_db = SILENT_DB
        self.last_probability = None
        self.runs = 0


class ConfirmedBlock(NamedTuple):
    """What :class:`ConfirmedFlags` says about a block of frames, one entry per frame."""

    confirmed: npt.NDArray[np.bool_]
    """What :meth:`RequestConfirmer.confirm` would say (False where webrtcvad heard none)."""
    loud: npt.NDArray[np.bool_]
    """:attr:`RequestConfirmer.over_margin`: loud enough over the floor to be a request."""
    levels: npt.NDArray[np.float64]
    """:attr:`RequestConfirmer.level_db`: the frame's level (dBFS), float64 as the device's."""


class ConfirmedFlags:
    """The device's confirmation of every frame of an input, block by block (a long stream is
    never held whole): what :class:`RequestConfirmer` would say on each frame it were asked
    about, given webrtcvad's flags. Silero runs, batched, only on loud-enough VAD frames."""

    def __init__(self, settings: VadSettings, silero: SileroVad) -> None:
        self.settings = settings
        self._silero = silero
        self._floor = NoiseFloor(settings.noise_window_s)
        self._history: deque[Pcm] = deque(maxlen=silero.context_frames + 1)

    def push(self, frames: Iterable[Pcm], speech: npt.NDArray[np.bool_]) -> ConfirmedBlock:
        """Confirmations of the next frames (``speech``: webrtcvad's flag for each), with which
        of them stand ``noise_margin_db`` over the floor and their levels."""
        width = self._silero.window_samples
        candidates: list[int] = []
        over: list[float] = []
        windows: list[Pcm] = []
        loud = np.zeros(len(speech), dtype=np.bool_)
        levels = np.zeros(len(speech), dtype=np.float64)
        for index, frame in enumerate(frames):
            self._history.append(frame)
            level = levels[index] = frame_level_db(frame)
            above = level - self._floor.push(level)
            loud[index] = loud_enough(above, self.settings)
            if speech[index] and loud[index]:
                joined = np.concatenate(list(self._history))
                window = np.zeros(width, dtype=np.int16)
                window[width - len(joined) :] = joined
                candidates.append(index)
                over.append(above)
                windows.append(window)
        out = np.zeros(len(speech), dtype=np.bool_)
        for first in range(0, len(windows), _BATCH):
            probability = self._silero.probabilities(np.stack(windows[first : first + _BATCH]))
            for k, p in enumerate(probability.tolist()):
                out[candidates[first + k]] = confirms(p, over[first + k], self.settings)
        return ConfirmedBlock(out, loud, levels)


_BATCH = 256
"""Windows per batched Silero run."""


def confirmed_flags(
    frames: Iterable[Pcm],
    speech: npt.NDArray[np.bool_],
    settings: VadSettings,
    silero: SileroVad,
) -> npt.NDArray[np.bool_]:
    """:class:`ConfirmedFlags`' confirmations over one whole input (frame 0 first)."""
    return ConfirmedFlags(settings, silero).push(frames, speech).confirmed
