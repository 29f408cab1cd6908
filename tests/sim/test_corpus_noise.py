"""Noise, mixing and trimming shared by the corpora: measured, not assumed."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from device.audio import SAMPLE_RATE
from keepmum.errors import AudioInputError, ConfigError
from sim.research import corpus
from sim.research.corpus import (
    NoiseStream,
    audio_files,
    mix_at_snr,
    noise_gain,
    snr_db,
    to_pcm,
    trim_silence,
    write_wav,
)


def test_public_surface_is_declared() -> None:
    for name in corpus.__all__:
        assert hasattr(corpus, name), name


@pytest.mark.parametrize("kind", ["white", "pink"])
def test_noise_is_the_same_however_it_is_cut_into_blocks(kind: str) -> None:
    whole = NoiseStream(kind, [7, 1]).take(5000)
    stream = NoiseStream(kind, [7, 1])
    pieces = np.concatenate([stream.take(n) for n in (1, 1279, 2000, 1720)])
    assert np.array_equal(whole, pieces)
    assert not np.array_equal(whole, NoiseStream(kind, [8, 1]).take(5000))


def _octave_db(x: np.ndarray, low_hz: float) -> float:
    spectrum = np.abs(np.fft.rfft(x)) ** 2
    freqs = np.fft.rfftfreq(len(x), 1 / SAMPLE_RATE)
    band = (freqs >= low_hz) & (freqs < 2 * low_hz)
    return float(10 * np.log10(spectrum[band].sum()))


@pytest.mark.parametrize(("kind", "db_per_octave"), [("white", 3.0), ("pink", 0.0)])
def test_noise_has_unit_rms_and_its_colour(kind: str, db_per_octave: float) -> None:
    x = NoiseStream(kind, 3).take(SAMPLE_RATE * 20)
    assert np.sqrt(np.mean(x**2)) == pytest.approx(1.0, rel=0.05)
    # Power per octave: white noise gains 3 dB an octave, pink (1/f) stays flat, from 125 Hz to
    # 4 kHz (five octaves).
    rise = (_octave_db(x, 2000.0) - _octave_db(x, 125.0)) / 4
    assert rise == pytest.approx(db_per_octave, abs=0.5)


def test_unknown_noise_kind_is_refused() -> None:
    with pytest.raises(ConfigError, match="brown"):
        NoiseStream("brown", 0)


@settings(max_examples=40, deadline=None)
@given(
    target=st.floats(-5.0, 40.0),
    seed=st.integers(0, 2**16),
    kind=st.sampled_from(["white", "pink"]),
)
def test_mixing_hits_the_snr_within_half_a_decibel(target: float, seed: int, kind: str) -> None:
    rng = np.random.default_rng(seed)
    # "Speech": a modulated tone burst between silences, at a plausible level.
    t = np.arange(SAMPLE_RATE) / SAMPLE_RATE
    burst = 1500 * np.sin(2 * np.pi * rng.uniform(150, 400) * t) * (1 + np.sin(2 * np.pi * 3 * t))
    clean = np.concatenate((np.zeros(8000), burst, np.zeros(4000)))
    region = slice(8000, 8000 + SAMPLE_RATE)
    noise = NoiseStream(kind, seed).take(len(clean))
    mixed, gain = mix_at_snr(clean, noise, target, region)
    assert gain > 0
    pcm = to_pcm(mixed)
    # Measured back as a listener would: the file minus the clean signal, over the speech.
    measured = snr_db(clean[region], pcm[region] - clean[region])
    assert measured == pytest.approx(target, abs=0.5)


def test_gain_edges() -> None:
    assert noise_gain(1.0, 1.0, math.inf) == 0.0
    assert noise_gain(1.0, 0.0, 10.0) == 0.0
    assert noise_gain(100.0, 1.0, 0.0) == pytest.approx(10.0)
    assert noise_gain(100.0, 1.0, 20.0) == pytest.approx(1.0)
    assert snr_db([1.0, -1.0], [0.0, 0.0]) == math.inf
    with pytest.raises(ConfigError, match="same length"):
        mix_at_snr([1.0, 2.0], [1.0], 10.0, slice(0, 2))


def test_to_pcm_rounds_and_clips() -> None:
    assert to_pcm([0.4, 0.6, -0.6, 40000.0, -40000.0]).tolist() == [0, 1, -1, 32767, -32768]


def test_trim_silence_finds_the_sound_to_ten_milliseconds() -> None:
    burst = np.full(3200, 2000.0)
    x = np.concatenate((np.zeros(1600), burst, np.zeros(800)))
    assert trim_silence(x) == slice(1600, 4800)
    # A quiet tail more than 40 dB below the loudest frame is silence; a louder one is not.
    faint = np.concatenate((burst, np.full(480, 15.0)))
    assert trim_silence(faint) == slice(0, 3200)
    audible = np.concatenate((burst, np.full(480, 200.0)))
    assert trim_silence(audible) == slice(0, 3680)
    assert trim_silence(np.zeros(5000)) == slice(0, 0)
    assert trim_silence(np.zeros(0)) == slice(0, 0)


def test_audio_files_are_found_sorted_and_errors_name_the_folder(tmp_path: Path) -> None:
    import soundfile

    (tmp_path / "b").mkdir()
    write_wav(tmp_path / "1.wav", np.zeros(160, dtype=np.int16))
    soundfile.write(str(tmp_path / "b" / "2.flac"), np.zeros(160), SAMPLE_RATE)
    (tmp_path / "notes.txt").write_text("not audio")
    assert [p.relative_to(tmp_path).as_posix() for p in audio_files(tmp_path, "--x")] == [
        "1.wav",
        "b/2.flac",
    ]
    with pytest.raises(AudioInputError, match=r"--x .*missing: no such folder"):
        audio_files(tmp_path / "missing", "--x")
    with pytest.raises(AudioInputError, match="not a folder"):
        audio_files(tmp_path / "1.wav", "--x")
    (tmp_path / "empty").mkdir()
    with pytest.raises(AudioInputError, match="no audio files"):
        audio_files(tmp_path / "empty", "--x")


def test_linked_folders_are_read_and_no_folder_twice(tmp_path: Path) -> None:
    # A corpus put together from links (ln -s ~/recordings/kitchen negatives/) is read through
    # them; Path.rglob alone skipped them silently, and the sweep ran on fewer files.
    recordings, corpus_dir = tmp_path / "recordings", tmp_path / "corpus"
    (recordings / "kitchen").mkdir(parents=True)
    corpus_dir.mkdir()
    write_wav(recordings / "kitchen" / "1.wav", np.zeros(160, dtype=np.int16))
    write_wav(corpus_dir / "0.wav", np.zeros(160, dtype=np.int16))
    (corpus_dir / "kitchen").symlink_to(recordings / "kitchen")
    (corpus_dir / "kitchen_again").symlink_to(recordings / "kitchen")  # one place, two links
    (recordings / "kitchen" / "loop").symlink_to(recordings)  # a link to a parent
    (corpus_dir / "gone").symlink_to(tmp_path / "deleted")  # a dangling link is no folder
    found = [p.relative_to(corpus_dir).as_posix() for p in audio_files(corpus_dir, "--x")]
    assert found == ["0.wav", "kitchen/1.wav"]


def test_an_output_folder_that_cannot_be_made_is_named(tmp_path: Path) -> None:
    from sim.research.corpus import writable_folder

    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    with pytest.raises(ConfigError, match=r"--out .*a-file/sub: cannot create the folder"):
        writable_folder(blocker / "sub", "--out")
    writable_folder(tmp_path / "new" / "deep", "--out")
    assert (tmp_path / "new" / "deep").is_dir()
