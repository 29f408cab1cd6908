"""The speaker's state machine: one Enum, one pure transition function.

``step(state, facts, settings)`` takes what one 80 ms frame told us (was a wake word detected, was
there speech) and returns the next state and what to do with the audio. It does no I/O and holds
no audio: :class:`device.speaker.Speaker` owns the buffers and acts on the returned
:class:`Action`. Time is counted in frames, so the same machine runs on a live microphone, a
replayed file, or a test's list of booleans, and a research tool can ask how much audio a wake
would have kept (:func:`kept_seconds`) without running any model.

::

    LISTENING --wake--> AWAKE --trailing silence / max length--> LISTENING   (KEEP)
                          |----no request within speech_timeout--> LISTENING   (DISCARD)
    any --mute--> MUTED --unmute--> LISTENING       (muting while AWAKE discards the utterance)

The request decision (device/README.md has the rule and its measurements): while AWAKE, a frame
is ``speech`` when the VAD (webrtcvad) says so and ``confirmed`` when the second stage (Silero
over the room's noise floor) agrees. Confirmed frames right after the detection are the wake
word's own tail (at most ``wake_tail_ms``); after the tail, ``min_speech_ms`` of confirmed
speech within ``speech_window_ms``, starting within ``speech_timeout_ms`` of the wake and, until
it has started, ``room_margin_db`` louder than the room was before the wake word
(:func:`room_level_db`: the room's talk carrying on is no request), make a request, which ends
``silence_ms`` after the last confirmed frame that completes such a run, or ``silence_ms +
speech_timeout_ms`` while it has less than ``short_request_ms`` of confirmed speech or after the
wake word was heard again while awake (``wake_again_gap_ms``) (a lone confirmed frame does not
hold it open; once the request has started, neither does a frame more than ``request_range_db``
under its loudest: talk in the room, not the talker), and not while the talker's confirmed
speech within ``speech_window_ms`` may still complete a run (it may begin a request said after a
pause). What is kept ends ``silence_ms`` after the last run: the frames the device only listened
to are dropped (:func:`ending_kept_frames`). Speech the second stage does not confirm is noise.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import numpy.typing as npt

from device.audio import FRAME_SECONDS, SILENT_DB
from keepmum.errors import ConfigError
from keepmum.settings import check_settings, setting

__all__ = [
    "DISCARD_REASONS",
    "Action",
    "Decision",
    "FrameFacts",
    "KeptSpan",
    "Mode",
    "SpeakerSettings",
    "SpeakerState",
    "decide",
    "discard_action",
    "discard_reason",
    "end_of_input_kept_frames",
    "ending_kept_frames",
    "kept_seconds",
    "request_speech_ms",
    "room_level_db",
    "step",
    "wake_again",
]


def _in_frames(seconds: float) -> float:
    """``seconds`` in frames, rounded to 6 places: 0.4 / 0.08 is 5.000000000000001 in floating
    point and 2.32 / 0.08 is 28.999999999999996, and they must be 5 and 29."""
    return round(seconds / FRAME_SECONDS, 6)


def _ms_to_frames(ms: float) -> int:
    """Whole frames covering ``ms`` milliseconds."""
    return math.ceil(_in_frames(ms / 1000))


def _frames_to_ms(frames: int) -> int:
    """``frames`` in whole milliseconds."""
    return round(frames * FRAME_SECONDS * 1000)


def _pause_frames(gaps: tuple[tuple[int, int], ...]) -> int:
    """Frames in the pauses ``gaps`` ((first frame, frames) each)."""
    return sum(length for _, length in gaps)


@dataclass(frozen=True)
class SpeakerSettings:
    """When an utterance starts, ends, or is thrown away."""

    preroll_ms: int = setting(
        1000,
        unit="ms",
        low=0,
        high=5000,
        option="--preroll-ms",
        help="Audio kept from before the wake (ms).",
    )
    """Audio kept from before the wake detection, so the wake word is in the utterance (ms)."""
    silence_ms: int = setting(
        700,
        unit="ms",
        low=80,
        high=10_000,
        option="--silence-ms",
        help="Trailing silence that ends an utterance (ms).",
    )
    """Trailing non-speech that ends an utterance (milliseconds)."""
    max_utterance_s: float = setting(
        8.0,
        unit="s",
        low=1,
        high=120,
        option="--max-utterance-s",
        help="Longest utterance (s).",
    )
    """Longest utterance, pre-roll included (seconds)."""
    speech_timeout_ms: int = setting(
        5000,
        unit="ms",
        low=80,
        high=30_000,
        option="--speech-timeout-ms",
        help=(
            "How long to listen for a request after the wake word's end; none by then: "
            "discard (ms)."
        ),
    )
    """How long the device listens for a request after the wake word has ended (its tail, or the
    detection when it had ended before): no request started by then, and the wake is dropped
    (milliseconds). People pause after a wake word (for the light, the chime, to think); the
    wait is held in RAM only, and the pause before a request is not kept (``gap_ms``), so a
    longer wait costs latency on a false wake, not kept audio."""
    min_speech_ms: int = setting(
        160,
        unit="ms",
        low=0,
        high=5000,
        option="--min-speech-ms",
        help="Confirmed speech after the wake word that makes a request (ms).",
    )
    """Confirmed speech after the wake word's tail, within ``speech_window_ms``, that makes a
    request; shorter blips are clicks or noise (milliseconds)."""
    speech_window_ms: int = setting(
        240,
        unit="ms",
        low=0,
        high=5000,
        option="--speech-window-ms",
        help="Span in which --min-speech-ms of confirmed speech starts a request (ms).",
    )
    """The span in which ``min_speech_ms`` of confirmed speech must fall to start a request
    (milliseconds; equal to ``min_speech_ms``: consecutive frames only). At 5 dB SNR Silero
    misses single frames inside words; 2 confirmed frames of 3 keep those requests."""
    wake_tail_ms: int = setting(
        400,
        unit="ms",
        low=0,
        high=2000,
        option="--wake-tail-ms",
        help="Speech right after a wake still taken as the wake word's tail (ms).",
    )
    """Longest confirmed speech right after the detection still taken as the wake word's own
    tail, not a request (milliseconds); speech running on past it is a request said without a
    pause."""
    request_range_db: float = setting(
        20.0,
        unit="dB",
        low=0,
        high=120,
        option="--request-range-db",
        help=(
            "Once a request started, speech this far under its loudest frame is not its talker "
            "and holds nothing open (dB, 0: off)."
        ),
    )
    """Once a request has started, a confirmed frame more than this many dB under the request's
    loudest confirmed frame is not its talker (background talk the room carries on with): it
    neither counts as request speech nor holds the utterance open (dB; 0: off)."""
    room_margin_db: float = setting(
        4.0,
        unit="dB",
        low=0,
        high=40,
        option="--room-margin-db",
        help=(
            "Before a request started, speech must stand this far over the room's level before "
            "the wake word (dB, 0: off)."
        ),
    )
    """Before a request has started, a confirmed frame counts towards it only when it stands
    this many dB over the room as it was before the wake word (:func:`room_level_db`, the median
    level of the frames 2.96-1.2 s before the detection): in a room where people were already
    talking, their talk carrying on after a false wake is speech to Silero and stands over the
    noise floor, but no louder than before; a request, said to the device, is. Only the start
    is judged: once started, a request goes on as before (dB; 0: off). With 4 dB, false wakes in
    babble at -30 dBFS were discarded 93.6 % instead of 90.0 % over six builds of the real-audio
    sets, for one request lost in babble at 5 dB SNR (device/README.md)."""
    late_room_margin_db: float = setting(
        8.0,
        unit="dB",
        low=0,
        high=40,
        option="--late-room-margin-db",
        help=(
            "After 1.5 s of waiting for a request, speech must stand this far over the room's "
            "level before the wake word to start one (dB, 0: off)."
        ),
    )
    """``room_margin_db`` for a request that starts after ``LATE_WAIT_FRAMES`` (1.52 s) of the
    wait: the longer the device waits in a talking room, the more often a burst of the room's
    talk comes along that stands a few dB over the room's median. A person who pauses and then
    speaks to the device speaks well over the room (12 dB or more at its loudest in the
    development sets), while the bursts that false wakes in babble kept after the long wait
    peaked 4.5-8.1 dB over it; 7, 8 and 9 dB measured alike. The larger of the two margins
    applies (dB; 0: off; docs/decisions/2026-12-08-babble-and-the-voice.md)."""
    short_request_ms: int = setting(
        400,
        unit="ms",
        low=0,
        high=5000,
        option="--short-request-ms",
        help="A request with less confirmed speech than this is short, and waits longer (ms).",
    )
    """A request with less confirmed speech than this so far is *short*: a lone word, or the last
    syllable of a wake word the model fired inside ("hey jar- ... vis"), more often than a
    whole request, so it waits as long as a request is waited for after the wake word
    (``speech_timeout_ms``) past ``silence_ms`` before it ends, and keeps no more than
    ``silence_ms`` of that silence (milliseconds)."""
    wake_again_gap_ms: int = setting(
        0,
        unit="ms",
        low=0,
        high=5000,
        option="--wake-again-gap-ms",
        help=(
            "While awake, a wake-word score rising over its threshold after this long under it is"
            " the wake word again: the end waits as after a short request (ms, 0: off)."
        ),
    )
    """While awake, a wake-word model's score rising over its threshold after this long with no
    model over its threshold is the wake word said again: the first wake may have been a model
    firing on the room just before it, and the request may still be to come, so the end waits as
    long as after a short request (``speech_timeout_ms`` past ``silence_ms``), and
    keeps no more (milliseconds; 0: off). Long enough that a model's score still high after its
    own wake (for up to 0.7 s) is not taken for a second one."""
    ring_s: float = setting(
        2.0,
        unit="s",
        low=0.5,
        high=10,
        help="Length of the RAM-only pre-roll ring while listening (s); at least the pre-roll.",
    )
    """Length of the RAM-only pre-roll ring while listening (seconds); at least the pre-roll."""

    def __post_init__(self) -> None:
        """Raise :class:`ConfigError` naming the first setting out of range: at construction, so an
        invalid one cannot exist."""
        check_settings(self, "speaker")
        if self.speech_window_frames < self.min_speech_frames:
            raise ConfigError(
                f"speaker.speech_window_ms ({self.speech_window_ms}) is shorter than "
                f"speaker.min_speech_ms ({self.min_speech_ms}): no request could start"
            )
        if self.preroll_ms / 1000 > self.ring_s:
            raise ConfigError(
                f"speaker.preroll_ms ({self.preroll_ms}) is longer than speaker.ring_s "
                f"({self.ring_s} s): the ring cannot hold the pre-roll"
            )

    # Derived counts in frames: the machine counts frames, people configure milliseconds.
    @property
    def preroll_frames(self) -> int:
        """Frames of pre-roll, the detection frame included."""
        return max(1, _ms_to_frames(self.preroll_ms))

    @property
    def silence_frames(self) -> int:
        """Trailing non-speech frames that end an utterance."""
        return max(1, _ms_to_frames(self.silence_ms))

    @property
    def short_request_frames(self) -> int:
        """Confirmed request frames under which a request is short."""
        return _ms_to_frames(self.short_request_ms)

    @property
    def short_request_listen_frames(self) -> int:
        """Frames a short request waits past its hold without keeping them: as long as a request
        is waited for after the wake word (a syllable of the wake word taken for a request, "vis",
        is followed by the request after as long a pause; what the device only listened to is
        not kept)."""
        return self.timeout_frames

    @property
    def wake_again_gap_frames(self) -> int:
        """Frames with no model over its threshold before a rise counts as the wake word again."""
        return _ms_to_frames(self.wake_again_gap_ms)

    @property
    def max_frames(self) -> int:
        """Frames in the longest utterance."""
        return max(self.preroll_frames + 1, math.floor(_in_frames(self.max_utterance_s)))

    @property
    def buffer_frames(self) -> int:
        """Frames the RAM utterance buffer holds: the longest kept utterance, and the wait for a
        request before it (the pause is held, then dropped)."""
        before = self.timeout_frames + self.wake_tail_frames + self.short_request_listen_frames
        return self.max_frames + before + 1

    @property
    def timeout_frames(self) -> int:
        """Frames after the wake within which speech must start."""
        return max(1, _ms_to_frames(self.speech_timeout_ms))

    @property
    def min_speech_frames(self) -> int:
        """Speech frames after the wake that make a request."""
        return max(1, _ms_to_frames(self.min_speech_ms))

    @property
    def speech_window_frames(self) -> int:
        """Frames in which ``min_speech_frames`` confirmed frames start a request."""
        return max(1, _ms_to_frames(self.speech_window_ms))

    @property
    def wake_tail_frames(self) -> int:
        """Confirmed frames right after the detection that are the wake word's tail."""
        return _ms_to_frames(self.wake_tail_ms)

    @property
    def ring_frames(self) -> int:
        """Frames the pre-roll ring holds."""
        return max(self.preroll_frames, math.ceil(_in_frames(self.ring_s)))


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
    """Nothing but silence followed the wake word: zero and drop the utterance."""
    DISCARD_WAKE_TAIL = "discard_wake_tail"
    """The only speech after the detection was the wake word's own tail: zero and drop."""
    DISCARD_NOISE = "discard_noise"
    """The VAD heard something after the wake word, but no request (sound the second stage did
    not confirm as speech, or speech too short to be one): zero and drop."""
    DISCARD_ROOM_TALK = "discard_room_talk"
    """Speech followed the wake word, but no louder than the room's talk before it
    (``room_margin_db``): the room talking on, not a request. Zero and drop."""
    DISCARD_MUTED = "discard_muted"
    """Muted while awake: zero and drop the utterance."""
    DROP = "drop"
    """Muted: the frame is dropped unseen."""


DISCARD_REASONS = {
    Action.DISCARD_NO_SPEECH: "no_speech",
    Action.DISCARD_WAKE_TAIL: "wake_tail",
    Action.DISCARD_NOISE: "noise",
    Action.DISCARD_ROOM_TALK: "room_talk",
    Action.DISCARD_MUTED: "muted",
}
"""The ``reason`` a ``discarded`` event gives for each discarding action."""


@dataclass(frozen=True)
class SpeakerState:
    """Everything the machine remembers between frames. Counters are meaningful only when AWAKE."""

    mode: Mode = Mode.LISTENING
    frames: int = 0
    """Frames in the utterance so far, pre-roll included."""
    since_wake: int = 0
    """Frames since the wake detection (read only while the wake word's tail may run)."""
    tail_frames: int = 0
    """Confirmed frames right after the detection (the wake word's tail). The tail is still
    running while ``tail_frames == since_wake``."""
    request_frames: int = 0
    """Confirmed speech frames after the tail."""
    recent: int = 0
    """The talker's confirmed frames after the tail among the last ``speech_window_frames`` (a
    bit per frame, the newest lowest)."""
    noise_frames: int = 0
    """Frames after the tail the VAD called speech but the second stage did not confirm."""
    room_frames: int = 0
    """Confirmed frames after the tail, before a request started, no louder than the room before
    the wake word (``room_margin_db``): the room's talk."""
    started: bool = False
    """A request started (``min_speech_ms`` of confirmed speech within ``speech_window_ms``): the
    utterance will be kept. Part of the AWAKE state's counters, not a side flag: it is reset
    with them."""
    trailing_silence: int = 0
    """Frames since the last confirmed frame that completed ``min_speech_ms`` of confirmed speech
    within ``speech_window_ms``, once the request started."""
    request_peak_db: float = -math.inf
    """The loudest confirmed request frame so far (dBFS): the talker's level, against which
    ``request_range_db`` is measured."""
    room_db: float = math.nan
    """The room's level before the wake word (dBFS, :func:`room_level_db`), against which
    ``room_margin_db`` is measured. NaN: unknown (no rule)."""
    woken_again: bool = False
    """The wake word was heard again while awake (``wake_again_gap_ms``): the end waits as after
    a short request."""
    head_frames: int = 0
    """Frames of the utterance up to the wake word's end: the pre-roll, the detection and the
    wake word's tail. The wait for a request (``speech_timeout_ms``) counts from here."""
    gaps: tuple[tuple[int, int], ...] = ()
    """The pauses not kept, as (first frame, frames): from the wake word's end to the request's
    start (less ``REQUEST_LEAD_FRAMES``), and from what a short request keeps to a request said
    after it while the device listened on (:func:`_pauses`)."""

    @property
    def gap_frames(self) -> int:
        """Frames of the pauses not kept."""
        return _pause_frames(self.gaps)

    @property
    def waited_frames(self) -> int:
        """Frames since the wake word's end (``head_frames``): how long the device has waited
        for a request, which ``speech_timeout_ms`` and ``LATE_WAIT_FRAMES`` are counted in."""
        return self.frames - self.head_frames

    @property
    def request_speech_ms(self) -> int:
        """Confirmed request speech after the wake word so far (milliseconds)."""
        return _frames_to_ms(self.request_frames)


@dataclass(frozen=True)
class FrameFacts:
    """What one frame told us."""

    wake: bool = False
    """A wake word fired on this frame."""
    speech: bool = False
    """The VAD (the cheap first stage) heard speech in this frame."""
    confirmed: bool = False
    """The second stage confirmed the VAD: speech over the room's noise (only asked while
    awake, only on frames the VAD called speech)."""
    mute: bool | None = None
    """A mute request arrived before this frame: True mute, False unmute, None no change."""
    preroll_available: int = 0
    """Frames the ring holds right now, this one included (the pre-roll may be shorter just after
    start or after an utterance)."""
    level_db: float = math.nan
    """The frame's level (RMS, dBFS; ``wakeword.confirm.frame_level_db``). NaN: unknown (no
    second stage), and the ``request_range_db`` rule does not apply."""
    room_db: float = math.nan
    """With ``wake``: the room's level before it (:func:`room_level_db`; NaN: unknown)."""
    wake_again: bool = False
    """While awake: a wake-word model's score rose over its threshold on this frame after
    ``wake_again_gap_ms`` with none over (:func:`wake_again`)."""


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
        state = SpeakerState(Mode.AWAKE, frames=preroll, room_db=facts.room_db, head_frames=preroll)
        return state, Action.START

    # AWAKE: this frame joins the utterance.
    nxt = _count(state, facts, settings)
    if not nxt.started and nxt.waited_frames >= settings.timeout_frames:
        return SpeakerState(Mode.LISTENING), discard_action(nxt)
    # Silence ends nothing while the talker's confirmed speech within speech_window_ms may still
    # complete a run: that may be the start of a request said after a pause (a run is complete
    # only on its second confirmed frame, which Silero may give a frame late).
    ended = (
        nxt.started and nxt.trailing_silence >= _silence_to_end(nxt, settings) and not nxt.recent
    )
    if ended:
        return SpeakerState(Mode.LISTENING), Action.KEEP_SILENCE
    # The longest utterance is counted in kept frames: the pauses before a request and the
    # silence only listened to after it are not kept, and before the request has started
    # nothing is (the wait ends it, not the length). The RAM buffer bounds the pauses too.
    kept = _kept_frames(nxt, settings) - nxt.gap_frames
    full = kept >= settings.max_frames or nxt.frames >= settings.buffer_frames
    if nxt.started and full:
        return SpeakerState(Mode.LISTENING), Action.KEEP_MAX_LENGTH
    return nxt, Action.APPEND


def _count(state: SpeakerState, facts: FrameFacts, settings: SpeakerSettings) -> SpeakerState:
    """The AWAKE counters after one more frame, before any ending."""
    confirmed = facts.confirmed and facts.speech
    nxt = replace(
        state,
        frames=state.frames + 1,
        since_wake=state.since_wake + 1,
        woken_again=state.woken_again or facts.wake_again,
    )
    window = (1 << settings.speech_window_frames) - 1
    if confirmed and _in_tail(state, settings):
        nxt = replace(
            nxt,
            tail_frames=state.tail_frames + 1,
            head_frames=state.head_frames + 1,
            recent=(state.recent << 1) & window,
        )
    elif _talker_speech(state, facts, settings):
        recent = ((state.recent << 1) | 1) & window
        # The same evidence starts a request and keeps it going: min_speech_ms of confirmed
        # speech within speech_window_ms. A lone confirmed frame (a burst of background talk
        # Silero rightly calls speech) counts as request speech but does not hold it open.
        run = recent.bit_count() >= settings.min_speech_frames
        nxt = replace(
            nxt,
            request_frames=state.request_frames + 1,
            recent=recent,
            started=state.started or run,
            gaps=_pauses(state, nxt.frames, recent, settings) if run else state.gaps,
            trailing_silence=0 if run else state.trailing_silence + (1 if state.started else 0),
            # NaN (unknown level) never compares greater: the peak stays as it was.
            request_peak_db=(
                facts.level_db if facts.level_db > state.request_peak_db else state.request_peak_db
            ),
        )
    else:
        room = confirmed and not _in_tail(state, settings) and _under_room(state, facts, settings)
        nxt = replace(
            nxt,
            recent=(state.recent << 1) & window,
            noise_frames=state.noise_frames + (1 if facts.speech and not room else 0),
            room_frames=state.room_frames + (1 if room else 0),
            trailing_silence=state.trailing_silence + (1 if state.started else 0),
        )
    return nxt


REQUEST_LEAD_FRAMES = 3
"""Frames (240 ms) kept before the first confirmed frame of the run that starts a request: its
onset may lie a frame or two before Silero confirms it (a soft first syllable). The pause
before them, back to the wake word's end, is not kept."""


def _pauses(
    state: SpeakerState, frames: int, recent: int, settings: SpeakerSettings
) -> tuple[tuple[int, int], ...]:
    """The pauses not kept, after a run of the talker's speech completed on this frame (the
    utterance's ``frames``-th; ``state`` is before it). A run that starts the request drops the
    pause from the wake word's end; a run after the device listened past what a short request
    keeps (it listens on as long as for a request) drops the pause from there. Each reaches to
    ``REQUEST_LEAD_FRAMES`` before the run's first confirmed frame (the oldest bit of
    ``recent``)."""
    if not state.started:
        start = state.head_frames
    elif state.trailing_silence > settings.silence_frames:
        start = state.frames - state.trailing_silence + settings.silence_frames
    else:
        return state.gaps
    length = frames - recent.bit_length() - REQUEST_LEAD_FRAMES - start
    return (*state.gaps, (start, length)) if length > 0 else state.gaps


def _silence_to_end(state: SpeakerState, settings: SpeakerSettings) -> int:
    """Trailing non-speech frames that end this started request: ``silence_frames``, and while it
    is short, or after the wake word was heard again, ``short_request_listen_frames`` more (of
    which nothing is kept: :func:`_kept_frames`)."""
    if state.request_frames < settings.short_request_frames or state.woken_again:
        return settings.silence_frames + settings.short_request_listen_frames
    return settings.silence_frames


def _in_tail(state: SpeakerState, settings: SpeakerSettings) -> bool:
    """Whether a confirmed frame now would still be the wake word's own tail."""
    return state.tail_frames == state.since_wake and state.tail_frames < settings.wake_tail_frames


def _talker_speech(state: SpeakerState, facts: FrameFacts, settings: SpeakerSettings) -> bool:
    """Whether this awake frame is request speech: confirmed, past the wake word's tail, and not
    more than ``request_range_db`` under the talker."""
    return (
        facts.confirmed
        and facts.speech
        and not _in_tail(state, settings)
        and not _under_talker(state, facts, settings)
        and not _under_room(state, facts, settings)
    )


def _under_talker(state: SpeakerState, facts: FrameFacts, settings: SpeakerSettings) -> bool:
    """Whether a confirmed frame of a started request is more than ``request_range_db`` under the
    request's loudest frame: speech, but not the talker's (babble carrying on after a request
    is speech to Silero and stands over the room's floor, yet well under the voice that spoke to
    the device). Before the request starts every confirmed frame counts: a quiet start is no
    reason to discard."""
    if not state.started or settings.request_range_db <= 0:
        return False
    # NaN (unknown level) compares false: the rule does not apply.
    return facts.level_db < state.request_peak_db - settings.request_range_db


def _under_room(state: SpeakerState, facts: FrameFacts, settings: SpeakerSettings) -> bool:
    """Whether a confirmed frame before the request has started stands less than
    ``room_margin_db`` over the room's level before the wake word (``late_room_margin_db`` once
    the device has waited ``LATE_WAIT_FRAMES``): the room's talk carrying on, not a request. A
    started request is not judged again: its quieter syllables are its own."""
    if state.started:
        return False
    margin = room_margin(state, settings)
    # NaN (unknown room or level) compares false: the rule does not apply.
    return margin > 0 and facts.level_db < state.room_db + margin


LATE_WAIT_FRAMES = 19
"""Frames (1.52 s) of the wait for a request after which ``late_room_margin_db`` applies: the
wait before issue 25 made it 5 s (1.5 s), under which false wakes in babble were kept no more
often than with the margin of the wake's first moments alone."""


def room_margin(state: SpeakerState, settings: SpeakerSettings) -> float:
    """The margin (dB) over the room before the wake word that a confirmed frame needs to count
    towards a request not yet started, on the frame after ``state``: ``room_margin_db``, or
    ``late_room_margin_db`` when larger and the device has waited ``LATE_WAIT_FRAMES`` since the
    wake word's end."""
    late = settings.late_room_margin_db if state.waited_frames >= LATE_WAIT_FRAMES else 0.0
    return max(settings.room_margin_db, late)


ROOM_FROM_FRAMES = 37
"""The room before a wake word starts this many frames (2.96 s) before the detection..."""
ROOM_TO_FRAMES = 15
"""...and ends this many (1.2 s) before it: the wake word (up to about 1.2 s, and the model
fires up to 0.6 s after it) lies mostly after that."""
ROOM_MIN_FRAMES = 5
"""Fewer frames with any sound than this in that span: the room is unknown (just after start,
or digital silence), and ``room_margin_db`` does not apply."""


def room_level_db(levels: Levels, wake_frame: int) -> float:
    """The room's level before the wake word detected at ``wake_frame``: the median level
    (dBFS) of the frames ``ROOM_FROM_FRAMES`` to ``ROOM_TO_FRAMES`` before it that have any
    sound (digital silence is not the room), or NaN when fewer than ``ROOM_MIN_FRAMES`` do. The
    median, not the floor: in a talking room the floor is the pauses between words, and the
    talk stands well over it."""
    start, end = max(0, wake_frame - ROOM_FROM_FRAMES), max(0, wake_frame - ROOM_TO_FRAMES)
    heard = [float(v) for v in levels[start:end] if v > SILENT_DB]
    if len(heard) < ROOM_MIN_FRAMES:
        return math.nan
    return float(np.median(heard))


def wake_again(over_flags: Flags, index: int, settings: SpeakerSettings) -> bool:
    """Whether frame ``index`` is the wake word heard again: some model's score is at or over its
    threshold on it (``over_flags``: one flag per frame, any model) and on none of the
    ``wake_again_gap_ms`` before it."""
    need = settings.wake_again_gap_frames
    if need <= 0 or index < need or not over_flags[index]:
        return False
    return not any(over_flags[before] for before in range(index - need, index))


def discard_action(state: SpeakerState) -> Action:
    """Why an utterance without a request is dropped: the room's talk, sound that was no request,
    only the wake word's tail, or nothing at all before the wait ran out."""
    if state.room_frames and state.room_frames >= state.request_frames:
        return Action.DISCARD_ROOM_TALK
    if state.noise_frames or state.request_frames:
        return Action.DISCARD_NOISE
    if state.tail_frames:
        return Action.DISCARD_WAKE_TAIL
    return Action.DISCARD_NO_SPEECH


def discard_reason(state: SpeakerState) -> str:
    """The ``reason`` of dropping an utterance in this state (see :data:`DISCARD_REASONS`)."""
    return DISCARD_REASONS[discard_action(state)]


@dataclass(frozen=True)
class Decision:
    """What the device would do with one wake, found from per-frame facts."""

    kept_s: float
    """Seconds kept (0 when discarded)."""
    reason: str
    """``silence``, ``max_length`` or ``end_of_input`` when kept; the discard reason otherwise."""
    request_speech_ms: int
    """Confirmed request speech after the wake word (milliseconds)."""
    end_frame: int
    """The frame on which the utterance ended (or the input's last frame)."""
    kept_end_frame: int = -1
    """The last frame kept: ``end_frame``, or earlier where the device waited past
    ``silence_ms`` for a request speech that did not come (-1 when discarded)."""
    head_frames: int = 0
    """Kept: the utterance's frames up to the wake word's end (pre-roll, detection, tail); the
    request is what is kept after them (``scripts/voice_vs_room.py`` reads it)."""
    gaps: tuple[tuple[int, int], ...] = ()
    """Kept: the pauses not kept, as (first frame, frames) counted from the utterance's first
    frame (:class:`KeptSpan`)."""

    @property
    def kept(self) -> bool:
        """Whether the utterance would be kept."""
        return self.kept_s > 0

    @property
    def gap_ms(self) -> int:
        """The pauses between the wake word's end and the request, not kept (milliseconds)."""
        return _frames_to_ms(_pause_frames(self.gaps))


Flags = Sequence[bool] | npt.NDArray[np.bool_]
"""One decision per frame: a list of booleans or a boolean array."""

Levels = Sequence[float] | npt.NDArray[np.floating[Any]]
"""One level per frame (dBFS): a list of floats or a float array."""


def decide(
    speech_flags: Flags,
    confirmed_flags: Flags,
    wake_frame: int,
    settings: SpeakerSettings,
    levels: Levels | None = None,
    over_flags: Flags | None = None,
) -> Decision:
    """What the device does after a wake at ``wake_frame``, given per-frame VAD and second-stage
    decisions of the whole input. ``levels``: each frame's level (dBFS) for the
    ``request_range_db`` rule (None or NaN: unknown, the rule does not apply). ``over_flags``:
    whether any wake-word model scored at or over its threshold on each frame, for
    :func:`wake_again` (None: never). The input's end ends the utterance as the device does
    (kept if the request had started)."""
    preroll = min(settings.preroll_frames, wake_frame + 1)
    room = math.nan if levels is None else room_level_db(levels, wake_frame)
    wake = FrameFacts(wake=True, preroll_available=preroll, room_db=room)
    state, _ = step(SpeakerState(), wake, settings)
    for index in range(wake_frame + 1, len(speech_flags)):
        before = state
        facts = FrameFacts(
            speech=bool(speech_flags[index]),
            confirmed=bool(confirmed_flags[index]),
            level_db=math.nan if levels is None else float(levels[index]),
            wake_again=over_flags is not None and wake_again(over_flags, index, settings),
        )
        state, action = step(state, facts, settings)
        if action in (Action.KEEP_SILENCE, Action.KEEP_MAX_LENGTH):
            reason = "silence" if action is Action.KEEP_SILENCE else "max_length"
            span = ending_kept_frames(before, facts, settings)
            return Decision(
                span.frames * FRAME_SECONDS,
                reason,
                request_speech_ms(before, facts, settings),
                index,
                index - (before.frames + 1 - span.end),
                before.head_frames,
                span.gaps,
            )
        if action in DISCARD_REASONS:
            ms = request_speech_ms(before, facts, settings)
            return Decision(0.0, DISCARD_REASONS[action], ms, index)
    last = len(speech_flags) - 1
    span = end_of_input_kept_frames(state, settings)
    if span.frames:
        kept_end = last - (state.frames - span.end)
        return Decision(
            span.frames * FRAME_SECONDS,
            "end_of_input",
            state.request_speech_ms,
            last,
            kept_end,
            state.head_frames,
            span.gaps,
        )
    reason = DISCARD_REASONS[discard_action(state)]
    return Decision(0.0, reason, state.request_speech_ms, last)


def request_speech_ms(before: SpeakerState, facts: FrameFacts, settings: SpeakerSettings) -> int:
    """Confirmed request speech up to and including the frame that ended an utterance (the state
    after an ending step is reset, so the owner asks with the state before it)."""
    if before.mode is not Mode.AWAKE:
        return 0
    counted = _talker_speech(before, facts, settings)
    return _frames_to_ms(before.request_frames + (1 if counted else 0))


def kept_seconds(speech_flags: Sequence[bool], wake_frame: int, settings: SpeakerSettings) -> float:
    """Seconds of audio the device would keep for a wake at ``wake_frame``, given per-frame
    *confirmed* speech of the whole input (the second stage's decisions): 0 when it would be
    discarded as a false wake.

    Used by the false-wake benchmark to price each false accept in retained audio; what is
    kept depends only on confirmed speech (a confirmed frame is always a VAD frame too).
    """
    return decide(speech_flags, speech_flags, wake_frame, settings).kept_s


@dataclass(frozen=True)
class KeptSpan:
    """Which of an utterance's frames are kept: those up to ``end`` but for the ``gaps`` (first
    frame, frames), the pauses before the request, which are zeroed with the rest of the RAM,
    never copied out."""

    end: int
    """Frames up to the last kept one, the gaps included (0: nothing kept)."""
    gaps: tuple[tuple[int, int], ...] = ()
    head: int = 0
    """Frames up to the wake word's end (the pre-roll, the detection and the wake word's tail):
    the request's audio follows them, the gaps being after them."""

    @property
    def gap(self) -> int:
        """Frames of the pauses not kept."""
        return _pause_frames(self.gaps)

    @property
    def frames(self) -> int:
        """Frames kept."""
        return max(0, self.end - self.gap) if self.end else 0

    @property
    def gap_ms(self) -> int:
        """The pauses not kept (milliseconds)."""
        return _frames_to_ms(self.gap)


def end_of_input_kept_frames(state: SpeakerState, settings: SpeakerSettings) -> KeptSpan:
    """What is kept when the input ends mid-utterance: if the request had started, every frame up
    to ``silence_ms`` after its last speech (:func:`_kept_frames`), less the pause before it."""
    if state.mode is Mode.AWAKE and state.started:
        return KeptSpan(_kept_frames(state, settings), state.gaps, state.head_frames)
    return KeptSpan(0)


def ending_kept_frames(
    before: SpeakerState, facts: FrameFacts, settings: SpeakerSettings
) -> KeptSpan:
    """Frames kept of an utterance that ended on this frame (the state after an ending step is
    reset, so the owner asks with the state before it): the pre-roll and every frame up to
    ``silence_ms`` after the request's last speech, the ending frame included only if it falls
    within that; less the pause before the request."""
    counted = _count(before, facts, settings)
    return KeptSpan(_kept_frames(counted, settings), counted.gaps, counted.head_frames)


def _kept_frames(state: SpeakerState, settings: SpeakerSettings) -> int:
    """The utterance's frames up to ``silence_ms`` after the request's last run. The
    device may have waited longer than that before it ended (a short request listened for a
    request said after a pause; a lone confirmed frame that might have begun a run): when no
    request speech came, the frames it waited for add nothing and are dropped unwritten with the
    rest of the RAM."""
    waited = max(0, state.trailing_silence - settings.silence_frames)
    return state.frames - waited
