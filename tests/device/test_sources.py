"""Audio in: every format, width, rate and channel count becomes 16 kHz mono int16 frames."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import soxr

from device.audio import FRAME_SAMPLES
from device.sources import FileSource, RawPcmSource, frames_from_chunks, read_audio
from keepmum.errors import AudioInputError


def tone(seconds: float = 1.0, rate: int = 16000) -> np.ndarray:
    """A 440 Hz tone at half scale: well inside every format's range and below Nyquist."""
    t = np.arange(int(seconds * rate)) / rate
    return (0.5 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)


def as_int16(x: np.ndarray) -> np.ndarray:
    return np.clip(np.rint(x * 32768), -32768, 32767).astype(np.int16)


def test_16k_mono_pcm16_passes_through_bit_for_bit(tmp_path: Path) -> None:
    samples = np.random.default_rng(0).integers(-32768, 32767, 20000).astype(np.int16)
    path = tmp_path / "a.wav"
    sf.write(path, samples, 16000, subtype="PCM_16")
    assert np.array_equal(read_audio(path), samples)


@pytest.mark.parametrize(
    ("suffix", "subtype"),
    [
        ("wav", "PCM_U8"),
        ("wav", "PCM_16"),
        ("wav", "PCM_24"),
        ("wav", "PCM_32"),
        ("wav", "FLOAT"),
        ("wav", "DOUBLE"),
        ("flac", "PCM_16"),
        ("flac", "PCM_24"),
        ("ogg", "VORBIS"),
    ],
)
@pytest.mark.parametrize(("rate", "channels"), [(16000, 1), (48000, 2), (8000, 1), (44100, 6)])
def test_every_format_rate_and_channel_count_converts(
    tmp_path: Path, suffix: str, subtype: str, rate: int, channels: int
) -> None:
    if suffix == "flac" and rate > 655350:
        pytest.skip("flac limit")
    signal = tone(1.0, rate)
    data = np.stack([signal] * channels, axis=1)
    path = tmp_path / f"x.{suffix}"
    sf.write(path, data, rate, subtype=subtype)
    out = read_audio(path)
    assert out.dtype == np.int16
    assert abs(len(out) - 16000) <= 2
    expected = as_int16(tone(1.0, 16000))
    # Compare away from the edges, where resampling filters ramp in; tolerance covers 8-bit
    # quantisation and lossy Vorbis.
    middle = slice(800, 15000)
    if subtype == "VORBIS":  # lossy: the waveform survives, the exact samples do not
        assert np.corrcoef(out[middle], expected[middle])[0, 1] > 0.99
        return
    error = np.abs(out[middle].astype(int) - expected[middle].astype(int))
    bound = 1500 if subtype == "PCM_U8" else 40
    assert np.percentile(error, 99) <= bound


def test_frames_are_1280_samples_and_the_last_is_zero_padded(tmp_path: Path) -> None:
    samples = np.arange(3000, dtype=np.int16) + 1
    path = tmp_path / "a.wav"
    sf.write(path, samples, 16000, subtype="PCM_16")
    frames = list(FileSource(path).frames())
    assert [f.index for f in frames] == [0, 1, 2]
    assert all(len(f.samples) == FRAME_SAMPLES for f in frames)
    assert np.array_equal(np.concatenate([f.samples for f in frames])[:3000], samples)
    assert not frames[-1].samples[3000 - 2 * FRAME_SAMPLES :].any()


def test_replay_padding_puts_a_second_of_silence_around_the_file(tmp_path: Path) -> None:
    samples = np.full(16000, 1000, dtype=np.int16)
    path = tmp_path / "a.wav"
    sf.write(path, samples, 16000, subtype="PCM_16")
    frames = list(FileSource(path, pad_s=1.0).frames())
    audio = np.concatenate([f.samples for f in frames])
    assert audio[:16000].max() == 0 and audio[16000:32000].min() == 1000
    assert audio[32000:].max() == 0
    assert frames[0].t == -1.0
    assert frames[13].t == pytest.approx(13 * 0.08 - 1.0)


def test_long_files_are_decoded_in_blocks() -> None:
    chunks = [np.ones(n, dtype=np.int16) for n in (1, 1279, 5000, 7)]
    frames = list(frames_from_chunks(chunks, "x"))
    assert len(frames) == -(-6287 // 1280)


def test_raw_stdin_s16le(tmp_path: Path) -> None:
    samples = np.arange(-2000, 2000, dtype=np.int16)
    source = RawPcmSource(io.BytesIO(samples.astype("<i2").tobytes()))
    assert np.array_equal(np.concatenate(list(source.chunks())), samples)


@pytest.mark.parametrize(
    ("data", "message"),
    [(b"", "empty"), (b"\x01\x02\x03", "odd byte count")],
)
def test_bad_raw_input(data: bytes, message: str) -> None:
    with pytest.raises(AudioInputError, match=message):
        list(RawPcmSource(io.BytesIO(data)).frames())


def test_bad_files_name_themselves(tmp_path: Path) -> None:
    not_audio = tmp_path / "notes.wav"
    not_audio.write_text("this is not audio")
    empty = tmp_path / "empty.wav"
    empty.write_bytes(b"")
    silent = tmp_path / "zero.wav"
    sf.write(silent, np.zeros(0, dtype=np.int16), 16000, subtype="PCM_16")
    for path, message in [
        (tmp_path / "missing.wav", "no such file"),
        (not_audio, "not a readable audio file"),
        (empty, "not a readable audio file"),
        (silent, "no audio"),
        (tmp_path, "is a folder"),
    ]:
        with pytest.raises(AudioInputError, match=message) as caught:
            FileSource(path)
        assert str(path) in str(caught.value)
    with pytest.raises(AudioInputError, match=r"^'': an empty file name; expected the path"):
        FileSource("")  # not "is a folder", as Path("") (the current folder) would say


def test_truncated_wav_is_read_up_to_the_cut_or_named(tmp_path: Path) -> None:
    path = tmp_path / "cut.wav"
    sf.write(path, as_int16(tone(2.0)), 16000, subtype="PCM_16")
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2 + 1])  # cut mid-sample, header still says 2 s
    try:
        audio = read_audio(path)
    except AudioInputError as exc:
        assert str(path) in str(exc)
    else:
        assert 0 < len(audio) <= 16000 + 1


def test_resampling_48k_stereo_matches_16k_mono_closely(tmp_path: Path) -> None:
    mono = as_int16(tone(1.0, 16000))
    stereo48 = soxr.resample(np.stack([mono, mono], 1).astype(np.float32) / 32768, 16000, 48000)
    path = tmp_path / "s.flac"
    sf.write(path, stereo48, 48000, subtype="PCM_24")
    out = read_audio(path)
    assert np.abs(out[400:-400].astype(int) - mono[400 : len(out) - 400].astype(int)).max() < 60
