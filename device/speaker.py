"""The speaker: frames in, events out, audio held only in RAM until an utterance is kept.

The state machine's decisions come from :func:`device.states.step` (pure); this class owns the
audio (the pre-roll ring and the utterance buffer) and the two judges it consults on every frame:
a wake-word listener and a voice-activity detector, both passed in, so tests drive it with fakes
and the product with openWakeWord and webrtcvad; and, while awake, a second judge of speech (the
product's: Silero VAD over the room's noise floor) that decides whether a request follows.

Per frame, in order: a pending mute/unmute applies; a muted frame is dropped before anything looks
at it; the VAD judges speech; the confirmer hears the frame (its noise floor: cheap; a frame the
VAD calls speech but under the noise margin is a pause to the wake-gap rule); the wake-word
listener scores the frame (always, so its feature history stays continuous, but with the VAD gate
on, its expensive part runs only while speech was heard recently) and says whether any model is
over its threshold (while awake, a rise after a gap is the wake word heard again); while awake,
a frame the VAD called speech is put to the confirmer (the expensive part, run only then); the
ring takes the frame; the machine steps; the action moves audio.
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from device.audio import FRAME_SAMPLES, FRAME_SECONDS, SAMPLE_RATE, Frame, Pcm
from device.events import Discarded, Event, Listening, MuteChanged, UtteranceEnd, Wake
from device.ring import FrameBuffer, PrerollRing
from device.states import (
    DISCARD_REASONS,
    ROOM_FROM_FRAMES,
    Action,
    FrameFacts,
    KeptSpan,
    Mode,
    SpeakerSettings,
    SpeakerState,
    discard_reason,
    end_of_input_kept_frames,
    ending_kept_frames,
    request_speech_ms,
    room_level_db,
    step,
    wake_again,
)
from device.utterance import Utterance

__all__ = ["Speaker", "SpeechConfirmer", "VoiceActivity", "WakeHit", "WakeListener"]


@dataclass(frozen=True)
class WakeHit:
    """A wake word fired on a frame."""

    model: str
    score: float


class WakeListener(Protocol):
    """Scores each frame and says when a wake word fired (thresholds, trigger level and
    refractory period are its business)."""

    @property
    def last_scores(self) -> Mapping[str, float]:
        """Scores of the last frame, per model (for the live view)."""
        ...

    @property
    def over_threshold(self) -> bool:
        """Whether any model scored at or over its threshold on the last frame (whether or not
        it fired: the refractory period and the trigger level do not apply)."""
        ...

    def listen(self, frame: Frame, gate_open: bool) -> WakeHit | None:
        """Score one frame. With ``gate_open`` False it may skip its expensive part and must not
        fire."""
        ...

    def reset(self) -> None:
        """Forget all history (a new input starts)."""
        ...


class VoiceActivity(Protocol):
    """Judges whether a frame holds speech."""

    def is_speech(self, frame: Pcm) -> bool:
        """Whether this 80 ms frame holds speech."""
        ...

    def reset(self) -> None:
        """Forget any carried-over state."""
        ...


class SpeechConfirmer(Protocol):
    """The second judge: is a frame the VAD called speech really someone speaking to the device?
    Asked only while awake."""

    @property
    def window_samples(self) -> int:
        """Audio :meth:`confirm` wants: the frame and the frames before it."""
        ...

    @property
    def floor_db(self) -> float:
        """The room's noise floor now (dBFS), for the live view."""
        ...

    @property
    def level_db(self) -> float:
        """The last heard frame's level (RMS, dBFS): a request's talker is measured by it."""
        ...

    def hear(self, frame: Pcm) -> None:
        """Every processed frame (listening too): cheap bookkeeping such as the noise floor."""
        ...

    def confirm(self, window: Pcm) -> bool:
        """Whether the frame that ends ``window`` is speech (the expensive part)."""
        ...

    def reset(self) -> None:
        """Forget any carried-over state (a new input)."""
        ...


@dataclass
class _Pending:
    """The wake that started the utterance being collected."""

    model: str
    score: float
    start_t: float


class Speaker:
    """The device's listening loop for one input at a time."""

    def __init__(
        self,
        wake: WakeListener,
        vad: VoiceActivity,
        settings: SpeakerSettings | None = None,
        *,
        vad_gate_s: float | None = None,
        confirm: SpeechConfirmer | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        """``vad_gate_s``: run the wake-word model's expensive part only while speech was heard in
        the last this-many seconds (None: always). ``confirm``: the second judge of speech while
        awake (``sim.assemble`` passes Silero over the noise floor; None: the VAD's word is
        final). ``clock`` gives wall-clock Unix time for the start of kept utterances."""
        self.settings = settings or SpeakerSettings()
        self._wake = wake
        self._vad = vad
        self._confirm = confirm
        self._gate_frames = None if vad_gate_s is None else round(vad_gate_s / FRAME_SECONDS)
        self._clock = clock
        self._ring = PrerollRing(self.settings.ring_frames)
        self._buffer = FrameBuffer(self.settings.buffer_frames)
        self._state = SpeakerState()
        self._pending: _Pending | None = None
        self._mute_request: bool | None = None
        self._last_speech_index: int | None = None
        self._recent_over: deque[bool] = deque(maxlen=self.settings.wake_again_gap_frames + 1)
        """Whether a wake-word model scored over its threshold, on the last frames: is the wake
        word heard again while awake?"""
        self._recent_levels: deque[float] = deque(maxlen=ROOM_FROM_FRAMES + 1)
        """The last frames' levels (dBFS; numbers, no audio): how loud was the room before a
        wake word?"""
        self.last_speech = False
        self.last_confirmed = False
        self.muted_frames = 0
        self.gated_frames = 0

    @property
    def mode(self) -> Mode:
        """Listening, awake or muted."""
        return self._state.mode

    @property
    def last_scores(self) -> Mapping[str, float]:
        """The wake-word scores of the last processed frame."""
        return self._wake.last_scores

    @property
    def request_speech_ms(self) -> int:
        """Confirmed request speech of the utterance being collected (0 when not awake)."""
        return self._state.request_speech_ms if self._state.mode is Mode.AWAKE else 0

    @property
    def request_started(self) -> bool:
        """Whether the utterance being collected has a request (it will be kept)."""
        return self._state.mode is Mode.AWAKE and self._state.started

    @property
    def listen_left_s(self) -> float:
        """While awake and no request has started: how much longer the device waits for one
        (seconds; the wait starts at the wake word's end). 0 otherwise."""
        state = self._state
        if state.mode is not Mode.AWAKE or state.started:
            return 0.0
        return max(0, self.settings.timeout_frames - state.waited_frames) * FRAME_SECONDS

    @property
    def noise_floor_db(self) -> float | None:
        """The confirmer's noise floor (dBFS), None without a confirmer."""
        return None if self._confirm is None else self._confirm.floor_db

    def request_mute(self, muted: bool) -> None:
        """Mute or unmute before the next frame (safe from another thread: one assignment)."""
        self._mute_request = muted

    def reset(self) -> None:
        """Start a new input: zero all audio, forget history; a mute stays as it was."""
        muted = self._state.mode is Mode.MUTED
        self._ring.clear()
        self._buffer.clear()
        self._pending = None
        self._state = SpeakerState(Mode.MUTED) if muted else SpeakerState()
        self._last_speech_index = None
        self._recent_over.clear()
        self._recent_levels.clear()
        self._wake.reset()
        self._vad.reset()
        if self._confirm is not None:
            self._confirm.reset()

    def process(self, frame: Frame) -> list[Event]:
        """Hear one frame; return what happened."""
        mute, self._mute_request = self._mute_request, None
        if mute is not None and (mute == (self._state.mode is Mode.MUTED)):
            mute = None  # no change
        events: list[Event] = []
        if mute is not None:
            events.append(MuteChanged(frame.t, mute, frame.source))

        if mute is True or (self._state.mode is Mode.MUTED and mute is None):
            self._state, action = step(self._state, FrameFacts(mute=mute), self.settings)
            self.muted_frames += 1
            self._ring.clear()
            self._recent_over.clear()
            self._recent_levels.clear()
            if action is Action.DISCARD_MUTED:
                events.append(self._discard(frame, "muted"))
            return events

        speech = self._vad.is_speech(frame.samples)
        self.last_speech = speech
        if speech:
            self._last_speech_index = frame.index
        if self._confirm is not None:
            self._confirm.hear(frame.samples)
        level_db = math.nan if self._confirm is None else self._confirm.level_db
        self._recent_levels.append(level_db)
        hit = self._wake.listen(frame, self._gate_open(frame.index))
        self._recent_over.append(self._wake.over_threshold)
        listening = self._state.mode is not Mode.AWAKE
        if listening:
            self._ring.push(frame.samples)
        confirmed = False
        if self._confirm is not None:
            if speech and not listening:
                confirmed = self._confirm.confirm(self._window(frame.samples))
        elif not listening:
            confirmed = speech
        self.last_confirmed = confirmed
        facts = FrameFacts(
            wake=hit is not None and listening,
            speech=speech,
            confirmed=confirmed,
            mute=mute,
            preroll_available=self._ring.count,
            room_db=self._room_db() if hit is not None and listening else math.nan,
            level_db=level_db,
            wake_again=not listening and self._wake_again(),
        )
        before = self._state
        self._state, action = step(self._state, facts, self.settings)
        events.extend(self._act(action, frame, hit, before, facts))
        return events

    def _room_db(self) -> float:
        """The room's level before this frame's wake (asked only on a wake; NaN without a
        second stage, whose levels are NaN)."""
        return room_level_db(list(self._recent_levels), len(self._recent_levels) - 1)

    def _wake_again(self) -> bool:
        """Whether a model's score rose over its threshold on this frame after a gap (asked only
        while awake; a short history, just after the input began, is no gap)."""
        return wake_again(self._recent_over, len(self._recent_over) - 1, self.settings)

    def _window(self, samples: Pcm) -> Pcm:
        """The frames before this one in the utterance, then this one: what the confirmer reads
        (held only as long as the utterance is)."""
        assert self._confirm is not None
        before = self._confirm.window_samples - len(samples)
        return np.concatenate((self._buffer.latest(before), samples))

    def finish(self, end_t: float, source: str = "") -> list[Event]:
        """The input ended: an utterance in progress is kept if its request had started."""
        events: list[Event] = []
        if self._state.mode is Mode.AWAKE and self._pending is not None:
            ms = self._state.request_speech_ms
            kept = end_of_input_kept_frames(self._state, self.settings)
            if kept.frames:
                events.append(self._keep(end_t, source, "end_of_input", ms, kept))
            else:
                reason = discard_reason(self._state)
                events.append(self._discard_at(end_t, source, reason, ms))
        self._ring.clear()
        self._buffer.clear()
        self._pending = None
        if self._state.mode is Mode.AWAKE:
            self._state = SpeakerState()
        return events

    def _gate_open(self, index: int) -> bool:
        if self._gate_frames is None:
            return True
        recent = (
            self._last_speech_index is not None
            and index - self._last_speech_index <= self._gate_frames
        )
        if not recent:
            self.gated_frames += 1
        return recent

    def _act(
        self,
        action: Action,
        frame: Frame,
        hit: WakeHit | None,
        before: SpeakerState,
        facts: FrameFacts,
    ) -> list[Event]:
        if action is Action.NONE:
            return []
        if action is Action.START:
            assert hit is not None  # START only follows a wake
            preroll = self._state.frames
            self._buffer.extend(self._ring.latest(preroll))
            self._ring.clear()
            self._pending = _Pending(hit.model, hit.score, frame.end_t - preroll * FRAME_SECONDS)
            listen_s = self.settings.speech_timeout_ms / 1000
            return [
                Wake(frame.end_t, hit.model, hit.score, frame.source),
                Listening(frame.end_t, listen_s, hit.model, frame.source),
            ]
        if action is Action.APPEND:
            self._buffer.extend(frame.samples)
            return []
        if action in (Action.KEEP_SILENCE, Action.KEEP_MAX_LENGTH):
            self._buffer.extend(frame.samples)
            reason = "silence" if action is Action.KEEP_SILENCE else "max_length"
            ms = request_speech_ms(before, facts, self.settings)
            kept = ending_kept_frames(before, facts, self.settings)
            return [self._keep(frame.end_t, frame.source, reason, ms, kept)]
        if action in DISCARD_REASONS:
            self._buffer.extend(frame.samples)
            ms = request_speech_ms(before, facts, self.settings)
            return [self._discard_at(frame.end_t, frame.source, DISCARD_REASONS[action], ms)]
        raise AssertionError(f"unexpected action {action} after {before}")

    def _keep(
        self, end_t: float, source: str, reason: str, speech_ms: int, kept: KeptSpan
    ) -> UtteranceEnd:
        """Hand on the utterance's frames up to ``kept.end`` without the pauses before the request
        (``kept.gaps``); the rest (those pauses, and the silence the device waited past
        ``silence_ms``) is zeroed with the buffer, never copied out."""
        assert self._pending is not None
        skips = [slice(s * FRAME_SAMPLES, (s + n) * FRAME_SAMPLES) for s, n in kept.gaps]
        samples = self._buffer.take(kept.end * FRAME_SAMPLES, skips)
        duration_s = len(samples) / SAMPLE_RATE
        utterance = Utterance(
            samples=samples,
            start_t=self._pending.start_t,
            started_at=self._clock() - duration_s,
            model=self._pending.model,
            score=self._pending.score,
            end_reason=reason,
            source=source,
            gap_ms=kept.gap_ms,
            request_offset=min(kept.head, kept.end) * FRAME_SAMPLES,
        )
        self._pending = None
        return UtteranceEnd(end_t, duration_s, reason, utterance, source, speech_ms)

    def _discard(self, frame: Frame, reason: str) -> Discarded:
        return self._discard_at(frame.end_t, frame.source, reason, 0)

    def _discard_at(self, t: float, source: str, reason: str, speech_ms: int) -> Discarded:
        duration_s = self._buffer.n_samples / SAMPLE_RATE
        self._buffer.clear()
        model = self._pending.model if self._pending else ""
        self._pending = None
        return Discarded(t, reason, duration_s, model, source, speech_ms)
