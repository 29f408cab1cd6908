"""Whole clips cut as the device hears them: 80 ms frames, and webrtcvad's flag for each."""

from __future__ import annotations

import numpy as np

from device.audio import FRAME_SAMPLES
from wakeword.vad import VadSettings, WebRtcVad


def frames_of(samples: np.ndarray) -> np.ndarray:
    """``(n, 1280)`` frames of ``samples``; a last partial frame is dropped."""
    n = len(samples) // FRAME_SAMPLES
    return samples[: n * FRAME_SAMPLES].reshape(n, FRAME_SAMPLES)


def webrtc_flags(frames: np.ndarray, vad: WebRtcVad | VadSettings | None = None) -> np.ndarray:
    """:meth:`WebRtcVad.is_speech` of each frame in turn, as the device asks it: on the given
    detector as it stands (its carried remainder and adaptation), else on a fresh one."""
    judge = vad if isinstance(vad, WebRtcVad) else WebRtcVad(vad)
    return np.fromiter((judge.is_speech(f) for f in frames), dtype=np.bool_, count=len(frames))
