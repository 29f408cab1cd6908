"""Fixed RAM buffers for audio that may never be kept.

Both buffers are allocated once and overwritten in place, and zeroed when their audio is dropped,
so discarded speech does not linger in freed memory or get paged out in a fresh allocation.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from device.audio import FRAME_SAMPLES, Pcm

__all__ = ["FrameBuffer", "PrerollRing"]


class PrerollRing:
    """The last frames heard while listening: the only audio a listening device holds."""

    def __init__(self, capacity_frames: int) -> None:
        self._data = np.zeros((capacity_frames, FRAME_SAMPLES), dtype=np.int16)
        self._next = 0
        self._count = 0

    @property
    def count(self) -> int:
        """Frames held now (at most the capacity)."""
        return self._count

    def push(self, samples: Pcm) -> None:
        """Overwrite the oldest frame with this one."""
        self._data[self._next] = samples
        self._next = (self._next + 1) % len(self._data)
        self._count = min(self._count + 1, len(self._data))

    def latest(self, n_frames: int) -> Pcm:
        """A copy of the last ``n_frames`` frames in time order, as one array."""
        n = min(n_frames, self._count)
        indices = [(self._next - n + i) % len(self._data) for i in range(n)]
        return self._data[indices].reshape(-1).copy()

    def clear(self) -> None:
        """Zero every sample and forget them."""
        self._data.fill(0)
        self._next = 0
        self._count = 0


class FrameBuffer:
    """A preallocated utterance buffer of at most ``capacity`` frames."""

    def __init__(self, capacity_frames: int) -> None:
        self._data = np.zeros(capacity_frames * FRAME_SAMPLES, dtype=np.int16)
        self._length = 0

    @property
    def n_samples(self) -> int:
        """Samples held now."""
        return self._length

    def extend(self, samples: Pcm) -> None:
        """Append samples; beyond capacity the excess is an error in the caller's counting."""
        end = self._length + len(samples)
        if end > len(self._data):
            raise ValueError(f"utterance buffer overflow: {end} > {len(self._data)} samples")
        self._data[self._length : end] = samples
        self._length = end

    def latest(self, n_samples: int) -> Pcm:
        """A copy of the last ``n_samples`` held, zero-padded in front when fewer are held."""
        out = np.zeros(n_samples, dtype=np.int16)
        n = min(n_samples, self._length)
        if n:
            out[n_samples - n :] = self._data[self._length - n : self._length]
        return out

    def take(self, n_samples: int | None = None, skips: Sequence[slice] = ()) -> Pcm:
        """A copy of the first ``n_samples`` held (None: all), without the samples in ``skips``
        (in order, not overlapping: the pauses before a request); the buffer is zeroed and
        emptied, so what is not taken is gone."""
        n = self._length if n_samples is None else min(n_samples, self._length)
        pieces, at = [], 0
        for skip in skips:
            pieces.append(self._data[at : min(skip.start, n)])
            at = max(at, skip.stop)
        pieces.append(self._data[at:n])
        out = np.concatenate(pieces) if len(pieces) > 1 else self._data[:n].copy()
        self.clear()
        return out

    def clear(self) -> None:
        """Zero what was held and empty the buffer."""
        self._data[: self._length] = 0
        self._length = 0
