"""The request confirmer with the real Silero model: noise floor, speech versus noise, and the
device's per-frame answers equal to ``keepmum far``'s batched ones."""

from __future__ import annotations

import hashlib
import importlib.util
from pathlib import Path

import numpy as np
import pytest

from device.audio import FRAME_SAMPLES
from device.sources import read_audio
from keepmum.errors import ConfigError
from sim.research.corpus import NoiseStream
from tests.wakeword.frames import frames_of, webrtc_flags
from wakeword.confirm import (
    ConfirmedFlags,
    NoiseFloor,
    RequestConfirmer,
    confirmed_flags,
    confirms,
    frame_level_db,
)
from wakeword.silero import SILERO_SHA256, SileroVad, silero_model_path
from wakeword.vad import VadSettings

FIXTURES = Path(__file__).resolve().parents[2] / "sim" / "data"


@pytest.fixture(scope="module")
def silero() -> SileroVad:
    return SileroVad()


def noise(kind: str, seconds: float, dbfs: float, seed: int = 1) -> np.ndarray:
    x = NoiseStream(kind, seed).take(int(seconds * 16000)) * 32768 * 10 ** (dbfs / 20)
    return np.clip(np.rint(x), -32768, 32767).astype(np.int16)


def test_keepmums_silero_model_is_silero_vads_v6_file() -> None:
    path = silero_model_path()
    assert hashlib.sha256(path.read_bytes()).hexdigest() == SILERO_SHA256
    # Not openWakeWord's v4 (which keepmum ran before): the same name, other bytes.
    spec = importlib.util.find_spec("openwakeword")
    if spec is not None and spec.origin is not None:
        theirs = Path(spec.origin).parent / "resources" / "models" / "silero_vad.onnx"
        assert theirs.read_bytes() != path.read_bytes()


def test_frame_level_and_noise_floor() -> None:
    assert frame_level_db(np.zeros(FRAME_SAMPLES, np.int16)) == -120.0
    tone = (1000 * np.sin(np.arange(FRAME_SAMPLES) / 5)).astype(np.int16)
    assert frame_level_db(tone) == pytest.approx(20 * np.log10(1000 / np.sqrt(2) / 32768), abs=0.1)
    floor = NoiseFloor(window_s=0.8)  # 10 frames
    for level in [-40.0] * 10:
        floor.push(level)
    assert floor.floor_db == pytest.approx(-40.0)
    floor.push(-120.0)  # digital silence is not the room
    assert floor.floor_db == pytest.approx(-40.0)
    for level in [-20.0] * 3:  # a short loud burst hardly moves a 20th percentile
        floor.push(level)
    assert floor.floor_db == pytest.approx(-40.0)
    for level in [-30.0] * 10:  # the room got louder: the floor follows within the window
        floor.push(level)
    assert floor.floor_db == pytest.approx(-30.0)


def test_settings_are_validated() -> None:
    # At construction: an invalid VadSettings cannot exist.
    for bad in (
        {"silero_threshold": 1.5},
        {"silero_threshold": float("nan")},
        {"noise_margin_db": -1},
        {"noise_window_s": 0.0},
        {"loud_margin_db": 41.0},
        {"loud_silero_threshold": -0.1},
        {"loud_silero_threshold": float("nan")},
    ):
        with pytest.raises(ConfigError, match="vad\\."):
            VadSettings(**bad)


def test_a_frame_clearly_over_the_floor_needs_less_of_silero() -> None:
    s = VadSettings()  # 6 dB and Silero 0.6; 7 dB and Silero 0.15
    assert not confirms(0.99, 5.9, s)  # too quiet, whatever Silero says
    assert confirms(0.6, 6.0, s) and not confirms(0.59, 6.9, s)
    assert confirms(0.15, 7.0, s) and not confirms(0.14, 20.0, s)
    # The lower of the two thresholds applies above loud_margin_db.
    assert confirms(0.3, 8.0, VadSettings(silero_threshold=0.3, loud_silero_threshold=0.6))
    # noise_margin_db still gates when it is the larger margin.
    assert not confirms(0.99, 39.0, VadSettings(noise_margin_db=40.0))
    assert confirms(0.15, 40.0, VadSettings(noise_margin_db=40.0))


def test_silero_hears_speech_and_not_steady_noise(silero: SileroVad) -> None:
    speech = read_audio(FIXTURES / "talk_cat.wav")
    probability = silero.frame_probabilities(speech)
    assert (probability >= 0.5).mean() > 0.4  # the clip is mostly speech
    for kind in ("pink", "white"):
        quiet = silero.frame_probabilities(noise(kind, 4.0, -40.0))
        assert (quiet >= 0.5).mean() < 0.05, kind


def test_noise_at_room_levels_is_never_confirmed(silero: SileroVad) -> None:
    settings = VadSettings()
    for kind in ("pink", "white"):
        for dbfs in (-50.0, -40.0, -30.0):
            samples = noise(kind, 5.0, dbfs, seed=int(-dbfs))
            frames = frames_of(samples)
            speech = webrtc_flags(frames, settings)
            assert not confirmed_flags(frames, speech, settings, silero).any(), (kind, dbfs)


def test_speech_over_noise_is_confirmed(silero: SileroVad) -> None:
    settings = VadSettings()
    speech = read_audio(FIXTURES / "alexa_time.wav").astype(np.float64)
    bed = noise("pink", len(speech) / 16000 + 3.0, -40.0).astype(np.float64)
    bed[48000:] += speech  # 3 s of room first, so the floor is the room's
    mix = np.clip(bed, -32768, 32767).astype(np.int16)
    frames = frames_of(mix)
    flags = webrtc_flags(frames, settings)
    confirmed = confirmed_flags(frames, flags, settings, silero)
    assert not confirmed[:36].any()  # the room alone
    assert confirmed[38:].sum() >= 10  # "Alexa, what time is it?"


def test_the_device_and_far_confirm_the_same_frames(silero: SileroVad) -> None:
    """RequestConfirmer (one frame at a time, as the speaker asks it) and ConfirmedFlags
    (batched, in blocks, as keepmum far runs it) agree frame by frame."""
    settings = VadSettings()
    speech = read_audio(FIXTURES / "household.wav")[: 16000 * 20]
    frames = frames_of(speech)
    flags = webrtc_flags(frames, settings)
    device = RequestConfirmer(settings, silero)
    one_by_one, over_margin, levels = [], [], []
    for index, frame in enumerate(frames):
        device.hear(frame)
        over_margin.append(device.over_margin)
        levels.append(device.level_db)
        window = frames[max(0, index - silero.context_frames) : index + 1].reshape(-1)
        one_by_one.append(bool(flags[index]) and device.confirm(window))
    stream = ConfirmedFlags(settings, silero)
    blocks = [stream.push(frames[i : i + 37], flags[i : i + 37]) for i in range(0, len(frames), 37)]
    assert np.array_equal(np.array(one_by_one), np.concatenate([b.confirmed for b in blocks]))
    # The wake-gap rule's frames over the noise margin agree too, and the levels exactly (the
    # request_range_db rule compares them).
    assert np.array_equal(np.array(over_margin), np.concatenate([b.loud for b in blocks]))
    assert np.array_equal(np.array(levels), np.concatenate([b.levels for b in blocks]))
    assert np.ptp(levels) > 20  # speech and pauses, not one level
    assert 0 < sum(one_by_one) < len(frames)
    assert 0 < sum(over_margin) < len(frames)
    assert device.runs < len(frames)  # Silero ran only on loud VAD frames


def test_the_noise_floor_is_numpys_percentile_of_the_window() -> None:
    from collections import deque

    rng = np.random.default_rng(8)
    floor = NoiseFloor(window_s=3.0)  # 38 frames
    window: deque[float] = deque(maxlen=38)
    for level in rng.normal(-40.0, 6.0, 300):
        window.append(float(level))
        assert floor.push(float(level)) == pytest.approx(np.percentile(list(window), 20.0))
