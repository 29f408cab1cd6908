"""WAV bytes in memory: the exact layout the vault encrypts, and strict parsing."""

from __future__ import annotations

import numpy as np
import pytest

from storage.wav import WAV_HEADER_BYTES, WavError, pcm_to_wav, wav_bytes_len, wav_to_pcm
from tests.storage.vault_fixtures import noise


def test_round_trip_keeps_every_sample() -> None:
    pcm = noise(0.3, seed=3)
    wav = pcm_to_wav(pcm)
    back, info = wav_to_pcm(wav)
    assert np.array_equal(back, pcm)
    assert (info.sample_rate, info.channels, info.sample_width_bytes) == (16000, 1, 2)
    assert info.frames == len(pcm)
    assert info.duration_s == pytest.approx(0.3)


def test_layout_is_the_canonical_44_byte_header() -> None:
    pcm = np.array([1, -2, 3], dtype=np.int16)
    wav = pcm_to_wav(pcm)
    assert len(wav) == wav_bytes_len(3) == WAV_HEADER_BYTES + 6
    # Golden bytes: this header must not change silently (records hold it encrypted).
    assert wav[:44].hex() == (
        "524946462a00000057415645666d74201000000001000100803e0000007d0000020010006461746106000000"
    )
    assert wav[44:] == b"\x01\x00\xfe\xff\x03\x00"


def test_empty_audio_is_a_valid_wav() -> None:
    back, info = wav_to_pcm(pcm_to_wav(np.zeros(0, dtype=np.int16)))
    assert len(back) == 0 and info.frames == 0


@pytest.mark.parametrize("cut", [1, 10, 43, 45])
def test_truncated_wav_is_an_error(cut: int) -> None:
    wav = pcm_to_wav(noise(0.01))
    with pytest.raises(WavError):
        wav_to_pcm(wav[:cut] if cut < 44 else wav[:-cut])


def test_not_a_wav_is_an_error() -> None:
    with pytest.raises(WavError, match="not a WAV"):
        wav_to_pcm(b"hello world, this is not audio at all" * 3)


def test_stereo_samples_are_refused() -> None:
    with pytest.raises(WavError, match="mono"):
        pcm_to_wav(np.zeros((10, 2), dtype=np.int16))
