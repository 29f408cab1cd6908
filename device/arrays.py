"""Audio sources from memory: a numpy array, or an iterator of chunks (a stream).

Both go through the conversion a file goes through (:func:`device.sources.to_device_pcm`), so the
samples of a file, held in an array or handed over in pieces, make the same frames and the same
events. Samples are int16, or float in [-1, 1]; one channel (1-D) or several (samples x
channels, as soundfile returns them), at any rate of 4 kHz or more. Anything else is an
:class:`~keepmum.errors.AudioInputError` naming the input, before any frame is heard.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import numpy as np
import numpy.typing as npt

from device.audio import Frame, Pcm
from device.sources import BLOCK_SECONDS, Blocks, padded_frames, sized_blocks, to_device_pcm
from keepmum.errors import AudioInputError

__all__ = ["MIN_RATE", "ArraySource", "ChunkSource", "as_float_block"]

MIN_RATE = 4000
"""The lowest sample rate accepted (hertz), as for files."""

Chunk = npt.NDArray[np.int16] | npt.NDArray[np.floating] | bytes
"""A piece of a stream: samples as an array, or raw s16le bytes (what ``arecord`` sends)."""


def _check_rate(rate: int, name: str) -> int:
    if isinstance(rate, bool) or not isinstance(rate, (int, np.integer)) or rate < MIN_RATE:
        raise AudioInputError(
            f"{name}: rate must be a whole number of hertz, at least {MIN_RATE}, got {rate!r}"
        )
    return int(rate)


def as_float_block(samples: object, name: str) -> npt.NDArray[np.float32]:
    """``samples`` as float32 samples x channels in [-1, 1], as soundfile reads a file; an
    AudioInputError naming ``name`` for anything that is not audio of that form."""
    if isinstance(samples, (bytes, bytearray, memoryview)):
        if len(samples) % 2:
            raise AudioInputError(f"{name}: raw bytes end in the middle of a sample (odd length)")
        samples = np.frombuffer(samples, dtype="<i2")
    array = np.asarray(samples)
    if array.ndim not in (1, 2):
        raise AudioInputError(
            f"{name}: expected samples (1-D) or samples x channels (2-D), got shape {array.shape}"
        )
    if array.dtype == np.int16:
        block = array.astype(np.float32) / np.float32(32768.0)
    elif np.issubdtype(array.dtype, np.floating):
        if not np.isfinite(array).all():
            raise AudioInputError(f"{name}: holds NaN or infinite samples")
        peak = float(np.abs(array).max()) if array.size else 0.0
        if peak > 1.0:
            raise AudioInputError(
                f"{name}: float samples must be in [-1, 1], got a peak of {peak:g} "
                "(int16 values as floats? divide by 32768)"
            )
        block = array.astype(np.float32)
    else:
        raise AudioInputError(
            f"{name}: samples must be int16, or float in [-1, 1], got {array.dtype}"
        )
    return block[:, np.newaxis] if block.ndim == 1 else block


class ArraySource:
    """A whole recording held in memory. The array is cut into blocks as a file of the same
    samples is read (:data:`~device.sources.BLOCK_SECONDS`), so even resampled it converts to
    exactly the frames the file would."""

    def __init__(self, samples: object, *, rate: int, name: str = "", pad_s: float = 0.0) -> None:
        """``name``: what events call this input (their ``file``); ``pad_s``: silence heard
        before and after (see :data:`device.sources.REPLAY_PAD_S`)."""
        self.name = name
        self.rate = _check_rate(rate, name or "array")
        self.pad_s = pad_s
        self._block = as_float_block(samples, name or "array")
        if len(self._block) == 0:
            raise AudioInputError(f"{name or 'array'}: contains no audio (0 samples)")

    def _blocks(self) -> Blocks:
        size = self.rate * BLOCK_SECONDS
        position = 0

        def read() -> npt.NDArray[np.float32]:
            nonlocal position
            block = self._block[position : position + size]
            position += len(block)
            return block

        return sized_blocks(read, size)

    def chunks(self) -> Iterator[Pcm]:
        """16 kHz mono int16 chunks."""
        return to_device_pcm(self._blocks(), self.rate)

    def frames(self) -> Iterator[Frame]:
        """The array as 80 ms frames (with its padding)."""
        return padded_frames(self.chunks(), self.name, self.pad_s)


class ChunkSource:
    """A stream: an iterable of chunks of any length (arrays, or raw s16le bytes), read once,
    as they come. A bad chunk is an AudioInputError naming its position in the stream."""

    def __init__(
        self, chunks: Iterable[Chunk], *, rate: int, name: str = "", pad_s: float = 0.0
    ) -> None:
        self.name = name
        self.rate = _check_rate(rate, name or "stream")
        self.pad_s = pad_s
        self._chunks = chunks

    def _blocks(self) -> Blocks:
        where = self.name or "stream"
        channels = None
        samples = 0
        for number, chunk in enumerate(self._chunks):
            block = as_float_block(chunk, f"{where}: chunk {number}")
            if channels is not None and block.shape[1] != channels:
                raise AudioInputError(
                    f"{where}: chunk {number}: {block.shape[1]} channel(s), "
                    f"the chunks before had {channels}"
                )
            channels = block.shape[1]
            samples += len(block)
            yield block, False
        if channels is None or samples == 0:
            raise AudioInputError(f"{where}: the stream held no audio (0 samples)")
        yield np.zeros((0, channels), dtype=np.float32), True

    def chunks(self) -> Iterator[Pcm]:
        """16 kHz mono int16 chunks, converted as they arrive."""
        return to_device_pcm(self._blocks(), self.rate)

    def frames(self) -> Iterator[Frame]:
        """The stream as 80 ms frames (with its padding)."""
        return padded_frames(self.chunks(), self.name, self.pad_s)
