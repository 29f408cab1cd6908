"""Arrays and streams convert as files do: the same samples give the same 16 kHz frames, bit for
bit, whatever rate, channel count or chunking carried them."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from device.arrays import ArraySource, ChunkSource
from device.sources import BLOCK_SECONDS, FileSource
from keepmum.errors import AudioInputError


def _pcm(source: FileSource | ArraySource | ChunkSource) -> np.ndarray:
    return np.concatenate(list(source.chunks()))


def _samples(rate: int, seconds: float, channels: int) -> np.ndarray:
    rng = np.random.default_rng(7)
    return rng.integers(-12000, 12000, (int(rate * seconds), channels), dtype=np.int16)


@pytest.mark.parametrize(
    ("rate", "seconds", "channels"),
    [(16000, 1.3, 1), (44100, 2.7, 2), (48000, BLOCK_SECONDS * 2, 1), (8000, 0.5, 3)],
)
def test_an_array_converts_exactly_as_its_file(
    tmp_path: Path, rate: int, seconds: float, channels: int
) -> None:
    samples = _samples(rate, seconds, channels)
    wav = tmp_path / "clip.wav"
    sf.write(wav, samples, rate, subtype="PCM_16")
    from_file = _pcm(FileSource(wav))
    assert np.array_equal(_pcm(ArraySource(samples, rate=rate)), from_file)
    as_float = samples.astype(np.float64) / 32768.0
    assert np.array_equal(_pcm(ArraySource(as_float, rate=rate)), from_file)


def test_a_stream_at_16k_is_the_file_bit_for_bit(tmp_path: Path) -> None:
    samples = _samples(16000, 2.1, 1)[:, 0]
    wav = tmp_path / "clip.wav"
    sf.write(wav, samples, 16000, subtype="PCM_16")
    pieces = [samples[i : i + 333] for i in range(0, len(samples), 333)]
    assert np.array_equal(_pcm(ChunkSource(iter(pieces), rate=16000)), _pcm(FileSource(wav)))
    raw = [p.astype("<i2").tobytes() for p in pieces]
    assert np.array_equal(_pcm(ChunkSource(raw, rate=16000)), samples)


def test_a_resampled_stream_keeps_every_sample() -> None:
    samples = _samples(48000, 1.0, 1)
    pieces = [samples[i : i + 4800] for i in range(0, len(samples), 4800)]
    assert len(_pcm(ChunkSource(pieces, rate=48000))) == 16000


def test_frames_carry_the_name_and_the_padding() -> None:
    source = ArraySource(np.ones(1280, dtype=np.int16), rate=16000, name="mine", pad_s=1.0)
    frames = list(source.frames())
    assert {f.source for f in frames} == {"mine"}
    assert frames[0].t == -1.0 and len(frames) == 26  # 1 s + 80 ms + 1 s = 26 x 80 ms
    assert sum(int(f.samples.sum()) for f in frames) == 1280


def test_a_stream_is_checked_chunk_by_chunk() -> None:
    bad = [np.zeros(100, np.int16), np.array([0.5, 1.5])]
    with pytest.raises(AudioInputError, match=r"kitchen: chunk 1: float samples must be in"):
        _pcm(ChunkSource(bad, rate=16000, name="kitchen"))
