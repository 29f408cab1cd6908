"""Voice activity on 80 ms frames with webrtcvad.

webrtcvad judges 10, 20 or 30 ms of 16-bit PCM at a time. An 80 ms frame is cut into such
sub-frames (30 ms sub-frames do not divide 80 ms, so the remainder carries over to the next frame,
keeping the sub-frame grid continuous across frames) and the frame counts as speech when at least
``speech_ratio`` of its sub-frames are speech.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from device.audio import SAMPLE_RATE, Pcm
from keepmum.settings import check_settings, setting

__all__ = ["VadSettings", "WebRtcVad"]


@dataclass(frozen=True)
class VadSettings:
    """How voice activity is judged."""

    aggressiveness: int = setting(
        2,
        unit="mode",
        choices=(0, 1, 2, 3),
        option="--vad-aggressiveness",
        help="webrtcvad mode 0-3.",
    )
    """webrtcvad mode, 0 (least eager to call noise non-speech) to 3 (most)."""
    subframe_ms: int = setting(
        30, unit="ms", choices=(10, 20, 30), help="Length of the pieces webrtcvad judges (ms)."
    )
    """Length of the pieces webrtcvad judges (milliseconds): 10, 20 or 30."""
    speech_ratio: float = setting(
        0.5,
        unit="share",
        low=0.0,
        high=1.0,
        low_open=True,
        help="Share of an 80 ms frame's sub-frames that must be speech for the frame to be speech.",
    )
    """Share of an 80 ms frame's sub-frames that must be speech for the frame to be speech."""
    silero_threshold: float = setting(
        0.6,
        unit="probability",
        low=0.0,
        high=1.0,
        option="--silero-threshold",
        help="Silero VAD probability (0-1) that confirms speech while awake.",
    )
    """Silero VAD (v6) probability (0-1) a frame needs to confirm webrtcvad while awake
    (``wakeword/confirm.py``); 0 confirms every loud-enough frame webrtcvad calls speech."""
    noise_margin_db: float = setting(
        6.0,
        unit="dB",
        low=0.0,
        high=40.0,
        option="--noise-margin-db",
        help="A request must be this far above the room's noise floor; a quieter frame is a "
        "pause (dB).",
    )
    """How far above the room's noise floor a frame must be to count as a request (dB); a quieter
    frame is a pause to the wake-gap rule, whatever webrtcvad says."""
    loud_margin_db: float = setting(
        7.0,
        unit="dB",
        low=0.0,
        high=40.0,
        option="--loud-margin-db",
        help="A frame this far above the noise floor needs only --loud-silero-threshold (dB).",
    )
    """A frame at least this far above the noise floor (dB) needs only
    ``loud_silero_threshold``: at 5 dB SNR Silero gives some plainly loud speech under 0.5."""
    loud_silero_threshold: float = setting(
        0.15,
        unit="probability",
        low=0.0,
        high=1.0,
        option="--loud-silero-threshold",
        help="Silero VAD probability (0-1) that confirms a frame --loud-margin-db over the floor.",
    )
    """Silero VAD probability (0-1) that confirms a frame ``loud_margin_db`` over the floor (the
    lower of this and ``silero_threshold`` applies)."""
    noise_window_s: float = setting(
        3.0,
        unit="s",
        low=0.08,
        high=60.0,
        help="Audio the noise floor is measured over: its 20th-percentile frame level (s).",
    )
    """Audio the noise floor is measured over: its 20th-percentile frame level (seconds)."""

    def __post_init__(self) -> None:
        """Raise :class:`ConfigError` naming the first setting out of range: at construction, so an
        invalid one cannot exist."""
        check_settings(self, "vad")


class WebRtcVad:
    """Frame-level speech decisions; keeps the sub-frame remainder between calls."""

    def __init__(self, settings: VadSettings | None = None) -> None:
        import webrtcvad

        self.settings = settings or VadSettings()
        self._vad = webrtcvad.Vad(self.settings.aggressiveness)
        self._subframe = SAMPLE_RATE * self.settings.subframe_ms // 1000
        self._carry = np.zeros(0, dtype=np.int16)

    def reset(self) -> None:
        """A new input starts: forget the carried-over remainder and webrtcvad's adaptive noise
        estimate (otherwise the same file could be judged differently after another one)."""
        import webrtcvad

        self._vad = webrtcvad.Vad(self.settings.aggressiveness)
        self._carry = np.zeros(0, dtype=np.int16)

    def is_speech(self, frame: Pcm) -> bool:
        """Whether this 80 ms frame holds speech."""
        samples = np.concatenate((self._carry, frame)) if len(self._carry) else frame
        usable = len(samples) - len(samples) % self._subframe
        self._carry = samples[usable:].copy()
        pieces = usable // self._subframe
        if pieces == 0:
            return False
        raw = samples[:usable].astype("<i2", copy=False).tobytes()
        step = self._subframe * 2
        voiced = sum(
            self._vad.is_speech(raw[i * step : (i + 1) * step], SAMPLE_RATE) for i in range(pieces)
        )
        return voiced >= self.settings.speech_ratio * pieces
