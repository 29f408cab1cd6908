"""Audio sources: everything keepmum hears enters through one of these and leaves as frames.

A source converts whatever it is given (WAV/FLAC/OGG at any rate, channel count and sample
format; raw s16le on a pipe) to 16 kHz mono int16 *once*, at the edge, and yields
:class:`~device.audio.Frame` objects of exactly 1280 samples. Files are decoded and resampled in
blocks, so a 60-minute replay holds seconds of audio in memory, not an hour. The last partial frame
is padded with zeros so that no heard audio is dropped.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any, BinaryIO, Protocol

import numpy as np
import numpy.typing as npt

from device.audio import FRAME_SAMPLES, SAMPLE_RATE, Frame, Pcm
from keepmum.errors import AudioInputError

__all__ = [
    "BLOCK_SECONDS",
    "REPLAY_PAD_S",
    "AudioSource",
    "Blocks",
    "FileSource",
    "RawPcmSource",
    "frames_from_chunks",
    "padded_frames",
    "read_audio",
    "sized_blocks",
    "to_device_pcm",
    "with_silence",
]

BLOCK_SECONDS = 4
"""Seconds of input decoded at a time: bounds memory, large enough to amortise soxr calls."""
_FLOAT_SUBTYPES = frozenset({"FLOAT", "DOUBLE"})
"""libsndfile subtypes that can hold NaN and infinity."""

REPLAY_PAD_S = 1.0
"""Silence a replayed file is heard with, before and after (seconds). A real device hears the
room before and after anyone speaks; openWakeWord's own ``predict_clip`` pads clips the same way,
so a replay scores a file exactly as the library's reference loop and ``keepmum far`` do."""


class AudioSource(Protocol):
    """Anything that yields frames: a file, a pipe, a microphone, a test's list."""

    name: str
    """What the events call this input (a file path, ``-``, ``mic``)."""

    def frames(self) -> Iterator[Frame]:
        """Yield consecutive frames from index 0 until the input ends."""
        ...


def _to_int16(block: npt.NDArray[np.float32]) -> Pcm:
    """Float samples in [-1, 1) to int16, rounding and clipping (inputs may overshoot after
    resampling)."""
    scaled = np.rint(block * 32768.0)
    return np.clip(scaled, -32768, 32767).astype(np.int16)


Blocks = Iterable[tuple[npt.NDArray[np.float32], bool]]
"""Float samples (samples x channels) at the input's rate, each with whether it is the last."""


def sized_blocks(read: Callable[[], npt.NDArray[np.float32]], block_frames: int) -> Blocks:
    """Call ``read`` for blocks of up to ``block_frames`` until a short one (maybe empty), which
    is the last: how a file is read, and an array cut, so both convert to the same samples."""
    while True:
        block = read()
        last = len(block) < block_frames
        yield block, last
        if last:
            return


def to_device_pcm(blocks: Blocks, rate: int) -> Iterator[Pcm]:
    """Float blocks at ``rate`` as 16 kHz mono int16: channels averaged, the rate converted with
    soxr (streaming, so block boundaries leave no seams), rounded. The one conversion for files,
    arrays and streams: the same samples give the same frames whatever carried them."""
    resampler = None
    if rate != SAMPLE_RATE:
        import soxr

        resampler = soxr.ResampleStream(rate, SAMPLE_RATE, 1, dtype="float32", quality="HQ")
    for block, last in blocks:
        mono = block.mean(axis=1, dtype=np.float32) if block.shape[1] > 1 else block[:, 0]
        if resampler is not None:
            mono = resampler.resample_chunk(mono, last=last)
        if len(mono):
            yield _to_int16(mono)


def frames_from_chunks(chunks: Iterable[Pcm], name: str, t0: float = 0.0) -> Iterator[Frame]:
    """Re-cut int16 chunks of any length into 1280-sample frames; the last one zero-padded.
    ``t0`` is the time of the first sample relative to the start of the input."""
    pending = np.zeros(FRAME_SAMPLES, dtype=np.int16)
    filled = 0
    index = 0
    for chunk in chunks:
        position = 0
        while position < len(chunk):
            take = min(FRAME_SAMPLES - filled, len(chunk) - position)
            pending[filled : filled + take] = chunk[position : position + take]
            filled += take
            position += take
            if filled == FRAME_SAMPLES:
                yield Frame(pending.copy(), index, name, t0)
                index += 1
                filled = 0
    if filled:
        pending[filled:] = 0
        yield Frame(pending.copy(), index, name, t0)


def with_silence(chunks: Iterable[Pcm], pad_s: float) -> Iterator[Pcm]:
    """The chunks with ``pad_s`` of silence before and after: what a replay hears (see
    :data:`REPLAY_PAD_S`). The one definition, shared by the device and batch scoring."""
    pad = np.zeros(round(pad_s * SAMPLE_RATE), dtype=np.int16)
    if len(pad):
        yield pad
    yield from chunks
    if len(pad):
        yield pad


def padded_frames(chunks: Iterable[Pcm], name: str, pad_s: float) -> Iterator[Frame]:
    """Frames of ``pad_s`` of silence, the chunks, and ``pad_s`` of silence again, timed so that
    t = 0 is the first real sample."""
    t0 = -round(pad_s * SAMPLE_RATE) / SAMPLE_RATE
    return frames_from_chunks(with_silence(chunks, pad_s), name, t0=t0)


class FileSource:
    """An audio file of any format libsndfile reads (WAV, FLAC, OGG ...), rate or channel count.

    Channels are averaged to mono, the rate converted with soxr (streaming, so block boundaries
    leave no seams), and float samples rounded to int16. A 16 kHz mono 16-bit file passes through
    bit for bit.
    """

    def __init__(self, path: Path | str, *, pad_s: float = 0.0) -> None:
        """``pad_s``: silence heard before and after the file (see :data:`REPLAY_PAD_S`)."""
        if not os.fspath(path):  # Path("") is ".", the current folder: say what was given
            raise AudioInputError(
                "'': an empty file name; expected the path of an audio file (or - for stdin)"
            )
        self.path = Path(path)
        # The name goes into events, JSON lines and the vault's index, which need valid text: the
        # undecodable bytes of a non-UTF-8 file name are written as \xNN there.
        self.name = os.fsencode(path).decode("utf-8", "backslashreplace")
        self.pad_s = pad_s
        self._check_readable()

    def _check_readable(self) -> None:
        """Fail early, with the file's name, before any frame is processed."""
        import soundfile

        if not self.path.exists():
            raise AudioInputError(f"{self.name}: no such file")
        if self.path.is_dir():
            raise AudioInputError(f"{self.name}: is a folder, not an audio file")
        try:
            info = soundfile.info(self._sf_path)
        except (soundfile.LibsndfileError, RuntimeError, OSError) as exc:
            raise AudioInputError(f"{self.name}: not a readable audio file ({exc})") from None
        if info.subtype in _FLOAT_SUBTYPES:
            self._check_finite(soundfile)
        if info.frames <= 0:
            raise AudioInputError(f"{self.name}: contains no audio (0 samples)")
        if info.samplerate < 4000:
            raise AudioInputError(
                f"{self.name}: sample rate {info.samplerate} Hz is too low (at least 4000 Hz)"
            )
        self.source_rate = int(info.samplerate)
        self.source_channels = int(info.channels)
        self.duration_s = info.frames / info.samplerate

    @property
    def _sf_path(self) -> bytes:
        # Bytes, because soundfile encodes a str path strictly and so cannot open a file whose
        # name is not valid UTF-8 (Python keeps such names as surrogate escapes).
        return os.fsencode(self.path)

    def _check_finite(self, soundfile: Any) -> None:
        """Refuse a float file holding NaN or infinity: int16 has no such values, and the
        conversion would turn them into arbitrary loud samples."""
        try:
            blocks = soundfile.blocks(self._sf_path, blocksize=SAMPLE_RATE * 8, dtype="float64")
            for block in blocks:
                if not np.isfinite(block).all():
                    raise AudioInputError(
                        f"{self.name}: holds NaN or infinite samples (float audio must be finite)"
                    )
        except (soundfile.LibsndfileError, RuntimeError) as exc:
            raise AudioInputError(f"{self.name}: audio data is corrupt ({exc})") from None

    def chunks(self) -> Iterator[Pcm]:
        """16 kHz mono int16 chunks of about :data:`BLOCK_SECONDS` each."""
        import soundfile

        block_frames = self.source_rate * BLOCK_SECONDS
        produced = 0
        try:
            with soundfile.SoundFile(self._sf_path) as sound:

                def read() -> npt.NDArray[np.float32]:
                    return sound.read(block_frames, dtype="float32", always_2d=True)

                for chunk in to_device_pcm(sized_blocks(read, block_frames), self.source_rate):
                    produced += len(chunk)
                    yield chunk
        except (soundfile.LibsndfileError, RuntimeError) as exc:
            raise AudioInputError(
                f"{self.name}: audio data is corrupt or truncated ({exc})"
            ) from None
        if produced == 0:
            raise AudioInputError(f"{self.name}: contains no audio")

    def frames(self) -> Iterator[Frame]:
        """The file as 80 ms frames (with its padding)."""
        return padded_frames(self.chunks(), self.name, self.pad_s)


class RawPcmSource:
    """Headerless signed 16-bit little-endian 16 kHz mono PCM from a binary stream.

    This is what ``arecord -f S16_LE -r 16000 -c 1 -t raw | keepmum replay -`` sends. A WAV
    file piped in instead (``cat clip.wav | keepmum replay -``) is recognised by its RIFF header
    and read as WAV (16-bit PCM at any rate and channel count, converted as a file is), not
    heard as raw noise; any other WAV sample format is refused with one line.
    """

    def __init__(self, stream: BinaryIO, name: str = "-", *, pad_s: float = 0.0) -> None:
        self._stream = stream
        self.name = name
        self.pad_s = pad_s

    def chunks(self) -> Iterator[Pcm]:
        """Whatever the stream delivers, as int16 arrays; an odd trailing byte is an error."""
        head = _read_up_to(self._stream, 12)
        if head[:4] == b"RIFF" and head[8:12] == b"WAVE":
            yield from _wav_chunks(_Prefixed(head, self._stream), self.name)
        else:
            yield from self._raw_chunks(head)

    def _raw_chunks(self, first: bytes) -> Iterator[Pcm]:
        carry = b""
        total = 0
        pending = first
        while True:
            data = pending or self._stream.read(FRAME_SAMPLES * 2 * 8)
            pending = b""
            if not data:
                break
            data = carry + data
            usable = len(data) - (len(data) % 2)
            carry = data[usable:]
            total += usable
            if usable:
                yield np.frombuffer(data[:usable], dtype="<i2").astype(np.int16)
        if carry:
            raise AudioInputError(
                f"{self.name}: raw input ended in the middle of a sample (odd byte count); "
                "expected s16le 16 kHz mono"
            )
        if total == 0:
            raise AudioInputError(f"{self.name}: raw input is empty; expected s16le 16 kHz mono")

    def frames(self) -> Iterator[Frame]:
        """The stream as 80 ms frames (with its padding)."""
        return padded_frames(self.chunks(), self.name, self.pad_s)


def _read_up_to(stream: BinaryIO, size: int) -> bytes:
    """``size`` bytes of ``stream``, fewer only at its end (a pipe may deliver less per read)."""
    data = b""
    while len(data) < size:
        more = stream.read(size - len(data))
        if not more:
            break
        data += more
    return data


class _Prefixed:
    """A stream with bytes already read put back in front (read-only, not seekable)."""

    def __init__(self, prefix: bytes, stream: BinaryIO) -> None:
        self._prefix = prefix
        self._stream = stream

    def read(self, size: int = -1) -> bytes:
        if size < 0:
            data, self._prefix = self._prefix + self._stream.read(), b""
            return data
        part, self._prefix = self._prefix[:size], self._prefix[size:]
        return part + _read_up_to(self._stream, size - len(part)) if size > len(part) else part


def _wav_chunks(stream: _Prefixed, name: str) -> Iterator[Pcm]:
    """A WAV file arriving on a pipe, as 16 kHz mono int16 chunks (16-bit PCM only: Python's
    ``wave`` reads it without seeking; any other format needs libsndfile and a real file)."""
    import wave

    import soxr

    try:
        # Closed by nothing: it holds no file of its own (the pipe is the caller's).
        reader = wave.open(stream, "rb")  # type: ignore[call-overload]  # noqa: SIM115
        width, channels, rate = reader.getsampwidth(), reader.getnchannels(), reader.getframerate()
    except (wave.Error, EOFError) as exc:
        raise AudioInputError(
            f"{name}: a WAV file (RIFF header) that cannot be read from a pipe ({exc}); "
            "give its path instead"
        ) from None
    if width != 2 or rate < 4000:
        raise AudioInputError(
            f"{name}: a WAV file of {8 * width}-bit samples at {rate} Hz on stdin; a pipe takes "
            "16-bit WAV (at least 4000 Hz) or raw s16le 16 kHz mono: give its path instead"
        )
    resampler = (
        soxr.ResampleStream(rate, SAMPLE_RATE, 1, dtype="float32", quality="HQ")
        if rate != SAMPLE_RATE
        else None
    )
    produced = 0
    while True:
        data = reader.readframes(rate)
        last = not data
        usable = len(data) - len(data) % (2 * channels)
        block = np.frombuffer(data[:usable], dtype="<i2").reshape(-1, channels)
        mono = block.mean(axis=1, dtype=np.float32) / 32768.0
        if resampler is not None:
            mono = resampler.resample_chunk(mono.astype(np.float32), last=last)
        if len(mono):
            produced += len(mono)
            yield _to_int16(mono.astype(np.float32))
        if last:
            break
    if produced == 0:
        raise AudioInputError(f"{name}: the WAV file on stdin contains no audio")


def read_audio(path: Path | str) -> Pcm:
    """A whole file as 16 kHz mono int16 (for batch scoring and corpora; not zero-padded)."""
    chunks = list(FileSource(path).chunks())
    return np.concatenate(chunks) if chunks else np.zeros(0, dtype=np.int16)
