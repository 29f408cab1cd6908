"""The speaker's state machine: one Enum, one pure transition function.

``step(state, facts, settings)`` takes what one 80 ms frame told us (was a wake word detected, was
there speech) and returns the next state and what to do with the audio. It does no I/O and holds
no audio: :class:`device.speaker.Speaker` owns the buffers and acts on the returned
:class:`Action`. Time is counted in frames, so the same machine runs on a live microphone, a
replayed file, or a test's list of booleans, and a research tool can ask how much audio a wake
would have kept (:func:`kept_seconds`) without running any model.

::

    LISTENING --wake--> AWAKE --trailing silence / max length--> LISTENING   (KEEP)
                          |----no speech within speech_timeout---> LISTENING   (DISCARD)
    any --mute--> MUTED --unmute--> LISTENING       (muting while AWAKE discards the utterance)
"""

from __future__ import annotations

import enum
import math
from collections.abc import Sequence
from dataclasses import dataclass, replace

from device.audio import FRAME_SECONDS
from device.errors import ConfigError

__all__ = [
    "Action",
    "FrameFacts",
    "Mode",
    "SpeakerSettings",
    "SpeakerState",
    "end_of_input_kept_frames",
    "kept_seconds",
    "step",
]


@dataclass(frozen=True)
class SpeakerSettings:
    """When an utterance starts, ends, or is thrown away."""

    preroll_ms: int = 1000
    """Audio kept from before the wake detection, so the wake word is in the utterance (ms)."""
    silence_ms: int = 700
    """Trailing non-speech that ends an utterance (milliseconds)."""
    max_utterance_s: float = 8.0
    """Longest utterance, pre-roll included (seconds)."""
    speech_timeout_ms: int = 1500
    """If no speech starts this long after the wake, it was a likely false wake (milliseconds)."""
    min_speech_ms: int = 240
    """Speech after the wake needed to count as a request; shorter blips are the wake word's tail
    or a click (milliseconds)."""
    ring_s: float = 2.0
    """Length of the RAM-only pre-roll ring while listening (seconds); at least the pre-roll."""

    def validate(self) -> None:
        """Raise :class:`ConfigError` naming the first setting out of range."""
        checks = [
            (0 <= self.preroll_ms <= 5000, "speaker.preroll_ms", "0..5000", self.preroll_ms),
            (80 <= self.silence_ms <= 10_000, "speaker.silence_ms", "80..10000", self.silence_ms),
            (
                1.0 <= self.max_utterance_s <= 120.0,
                "speaker.max_utterance_s",
                "1..120",
                self.max_utterance_s,
            ),
            (
                80 <= self.speech_timeout_ms <= 30_000,
                "speaker.speech_timeout_ms",
                "80..30000",
                self.speech_timeout_ms,
            ),
            (
                0 <= self.min_speech_ms <= 5000,
                "speaker.min_speech_ms",
                "0..5000",
                self.min_speech_ms,
            ),
            (0.5 <= self.ring_s <= 10.0, "speaker.ring_s", "0.5..10", self.ring_s),
        ]
        for ok, name, allowed, value in checks:
            if not ok:
                raise ConfigError(f"{name} must be in {allowed}, got {value!r}")
        if self.preroll_ms / 1000 > self.ring_s:
            raise ConfigError(
                f"speaker.preroll_ms ({self.preroll_ms}) is longer than speaker.ring_s "
                f"({self.ring_s} s): the ring cannot hold the pre-roll"
            )

    # Derived counts in frames: the machine counts frames, people configure milliseconds.
    @property
    def preroll_frames(self) -> int:
        """Frames of pre-roll, the detection frame included."""
        return max(1, math.ceil(self.preroll_ms / 1000 / FRAME_SECONDS))

    @property
    def silence_frames(self) -> int:
        """Trailing non-speech frames that end an utterance."""
        return max(1, math.ceil(self.silence_ms / 1000 / FRAME_SECONDS))

    @property
    def max_frames(self) -> int:
        """Frames in the longest utterance."""
        return max(self.preroll_frames + 1, math.floor(self.max_utterance_s / FRAME_SECONDS))

    @property
    def timeout_frames(self) -> int:
        """Frames after the wake within which speech must start."""
        return max(1, math.ceil(self.speech_timeout_ms / 1000 / FRAME_SECONDS))

    @property
    def min_speech_frames(self) -> int:
        """Speech frames after the wake that make a request."""
        return max(1, math.ceil(self.min_speech_ms / 1000 / FRAME_SECONDS))

    @property
    def ring_frames(self) -> int:
        """Frames the pre-roll ring holds."""
        return max(self.preroll_frames, math.ceil(self.ring_s / FRAME_SECONDS))


class Mode(enum.Enum):
    """What the speaker is doing with what it hears."""

    LISTENING = "listening"
    """Only the RAM ring holds audio; the wake-word model runs."""
    AWAKE = "awake"
    """A wake word fired; the utterance is being collected in RAM."""
    MUTED = "muted"
    """Frames are dropped before any processing."""


class Action(enum.Enum):
    """What the owner of the audio must do after a step."""

    NONE = "none"
    START = "start"
    """Start an utterance from the ring's last ``preroll_frames`` frames."""
    APPEND = "append"
    """Append this frame to the utterance."""
    KEEP_SILENCE = "keep_silence"
    """Append this frame; the utterance ended on trailing silence: hand it on."""
    KEEP_MAX_LENGTH = "keep_max_length"
    """Append this frame; the utterance reached its maximum length: hand it on."""
    DISCARD_NO_SPEECH = "discard_no_speech"
    """No request followed the wake word: zero and drop the utterance."""
    DISCARD_MUTED = "discard_muted"
    """Muted while awake: zero and drop the utterance."""
    DROP = "drop"
    """Muted: the frame is dropped unseen."""


@dataclass(frozen=True)
class SpeakerState:
    """Everything the machine remembers between frames. Counters are meaningful only when AWAKE."""

    mode: Mode = Mode.LISTENING
    frames: int = 0
    """Frames in the utterance so far, pre-roll included."""
    since_wake: int = 0
    """Frames since the wake detection."""
    speech_frames: int = 0
    """Speech frames since the wake detection."""
    trailing_silence: int = 0
    """Consecutive non-speech frames since the last speech frame, once the request started."""


@dataclass(frozen=True)
class FrameFacts:
    """What one frame told us."""

    wake: bool = False
    """A wake word fired on this frame."""
    speech: bool = False
    """The VAD heard speech in this frame."""
    mute: bool | None = None
    """A mute request arrived before this frame: True mute, False unmute, None no change."""
    preroll_available: int = 0
    """Frames the ring holds right now, this one included (the pre-roll may be shorter just after
    start or after an utterance)."""


def step(
    state: SpeakerState, facts: FrameFacts, settings: SpeakerSettings
) -> tuple[SpeakerState, Action]:
    """The next state and the action for one frame. Pure."""
    if facts.mute is True and state.mode is not Mode.MUTED:
        action = Action.DISCARD_MUTED if state.mode is Mode.AWAKE else Action.DROP
        return SpeakerState(Mode.MUTED), action
    if state.mode is Mode.MUTED:
        if facts.mute is False:
            state = SpeakerState(Mode.LISTENING)
        else:
            return state, Action.DROP

    if state.mode is Mode.LISTENING:
        if not facts.wake:
            return state, Action.NONE
        preroll = max(1, min(settings.preroll_frames, facts.preroll_available))
        return SpeakerState(Mode.AWAKE, frames=preroll), Action.START

    # AWAKE: this frame joins the utterance.
    frames = state.frames + 1
    since_wake = state.since_wake + 1
    speech_frames = state.speech_frames + (1 if facts.speech else 0)
    started = speech_frames >= settings.min_speech_frames
    trailing = 0 if facts.speech or not started else state.trailing_silence + 1
    nxt = replace(
        state,
        frames=frames,
        since_wake=since_wake,
        speech_frames=speech_frames,
        trailing_silence=trailing,
    )
    if not started and since_wake >= settings.timeout_frames:
        return SpeakerState(Mode.LISTENING), Action.DISCARD_NO_SPEECH
    if started and trailing >= settings.silence_frames:
        return SpeakerState(Mode.LISTENING), Action.KEEP_SILENCE
    if frames >= settings.max_frames:
        return SpeakerState(Mode.LISTENING), Action.KEEP_MAX_LENGTH
    return nxt, Action.APPEND


def kept_seconds(speech_flags: Sequence[bool], wake_frame: int, settings: SpeakerSettings) -> float:
    """Seconds of audio the device would keep for a wake at ``wake_frame``, given per-frame VAD
    decisions of the whole input: 0 when it would be discarded as a false wake.

    Used by the false-wake benchmark to price each false accept in retained audio. The input's end
    ends the utterance as the device does (kept if the request had started).
    """
    preroll = min(settings.preroll_frames, wake_frame + 1)
    state, _ = step(SpeakerState(), FrameFacts(wake=True, preroll_available=preroll), settings)
    for index in range(wake_frame + 1, len(speech_flags)):
        before = state
        state, action = step(state, FrameFacts(speech=bool(speech_flags[index])), settings)
        if action in (Action.KEEP_SILENCE, Action.KEEP_MAX_LENGTH):
            return (before.frames + 1) * FRAME_SECONDS  # the ending frame is part of it
        if action is Action.DISCARD_NO_SPEECH:
            return 0.0
    return end_of_input_kept_frames(state, settings) * FRAME_SECONDS


def end_of_input_kept_frames(state: SpeakerState, settings: SpeakerSettings) -> int:
    """Frames kept when the input ends mid-utterance: all of them if the request had started."""
    if state.mode is Mode.AWAKE and state.speech_frames >= settings.min_speech_frames:
        return state.frames
    return 0
