"""The speaker with fake judges: which audio it keeps, drops and zeroes."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from device.audio import FRAME_SAMPLES, Frame
from device.events import SCHEMA_VERSION, Discarded, Listening, MuteChanged, UtteranceEnd, Wake
from device.speaker import Speaker, WakeHit
from device.states import Mode, SpeakerSettings, decide


class ScriptedWake:
    """Fires on the given frame indices; records whether the gate was open."""

    def __init__(self, fire_at: set[int], heard_at: frozenset[int] = frozenset()) -> None:
        """Fires on ``fire_at``; scores over its threshold there and on ``heard_at`` too."""
        self.fire_at = fire_at
        self.heard_at = heard_at
        self.last_over = False
        self.gates: list[bool] = []
        self.resets = 0

    @property
    def last_scores(self) -> Mapping[str, float]:
        return {"fake": 0.0}

    @property
    def over_threshold(self) -> bool:
        return self.last_over

    def listen(self, frame: Frame, gate_open: bool) -> WakeHit | None:
        self.gates.append(gate_open)
        self.last_over = gate_open and frame.index in self.fire_at | self.heard_at
        return WakeHit("fake", 0.9) if gate_open and frame.index in self.fire_at else None

    def reset(self) -> None:
        self.resets += 1


class ScriptedVad:
    """Speech on the given frame indices (read back from the sample values, see ``frames``)."""

    def __init__(self, speech: set[int]) -> None:
        self.speech = speech

    def is_speech(self, frame: np.ndarray) -> bool:
        return int(frame[0]) - 1 in self.speech

    def reset(self) -> None:
        pass


def frames(n: int) -> list[Frame]:
    """Frame i is filled with the value i+1, so kept audio says which frames it came from."""
    return [Frame(np.full(FRAME_SAMPLES, i + 1, dtype=np.int16), i, "test") for i in range(n)]


def run(speaker: Speaker, n: int) -> list[object]:
    events: list[object] = []
    for frame in frames(n):
        events.extend(speaker.process(frame))
    events.extend(speaker.finish(n * 0.08, "test"))
    return events


def test_kept_utterance_is_preroll_plus_request_in_order() -> None:
    # The wake word (26-29), the wake at 30, the request 32-39.
    said = set(range(26, 30)) | set(range(32, 40))
    speaker = Speaker(ScriptedWake({30}), ScriptedVad(said), clock=lambda: 1000.0)
    events = run(speaker, 80)
    wake = next(e for e in events if isinstance(e, Wake))
    end = next(e for e in events if isinstance(e, UtteranceEnd))
    assert wake.t == 31 * 0.08
    values = end.utterance.samples.reshape(-1, FRAME_SAMPLES)[:, 0]
    # 13 frames of pre-roll ending with the wake frame (value 31), then 32.. until 9 silent frames.
    assert list(values) == list(range(31 - 12, 31 + 1 + 8 + 9 + 1))
    assert end.reason == "silence"
    assert end.utterance.model == "fake" and end.utterance.started_at < 1000.0
    # The request's audio starts after the pre-roll, which holds the wake word (ends at 31).
    assert end.utterance.request_offset == 13 * FRAME_SAMPLES
    assert end.utterance.request_samples[0] == 32


def test_a_request_after_a_pause_is_kept_without_the_pause() -> None:
    # The wake word (26-29), the wake at 30, a 2.5 s pause (31-61), the request 62-69.
    said = set(range(26, 30)) | set(range(62, 70))
    speaker = Speaker(ScriptedWake({30}), ScriptedVad(said))
    events = run(speaker, 120)
    end = next(e for e in events if isinstance(e, UtteranceEnd))
    values = list(end.utterance.samples.reshape(-1, FRAME_SAMPLES)[:, 0])
    # The pre-roll up to the wake frame (value 31), then from 3 frames before the request (59:
    # value 60) to 9 silent frames after it: the pause 31-58 is not in it.
    assert values == list(range(19, 32)) + list(range(60, 80))
    assert end.utterance.gap_ms == end.to_json()["gap_ms"] == 28 * 80
    # Without the pause, the request's audio follows the wake word at once.
    request = end.utterance.request_samples.reshape(-1, FRAME_SAMPLES)[:, 0]
    assert list(request) == list(range(60, 80))
    assert end.duration_s == len(values) * 0.08
    assert not speaker._buffer._data.any()  # the pause is zeroed with the buffer, never copied


def test_the_wake_words_tail_is_not_the_request() -> None:
    # The wake word runs on past the wake at 30 for 3 frames (31-33: its tail), then a pause
    # (34-49) and the request (50-57).
    said = set(range(26, 34)) | set(range(50, 58))
    speaker = Speaker(ScriptedWake({30}), ScriptedVad(said))
    end = next(e for e in run(speaker, 100) if isinstance(e, UtteranceEnd))
    # The pre-roll (13 frames, to value 31) and the tail (values 32-34) come before the request.
    assert end.utterance.request_offset == 16 * FRAME_SAMPLES
    head = end.utterance.samples[: end.utterance.request_offset].reshape(-1, FRAME_SAMPLES)
    assert list(head[:, 0]) == list(range(19, 35))
    # Then the request from 3 frames before it (value 48) on; the pause (35-47) is not kept.
    request = end.utterance.request_samples.reshape(-1, FRAME_SAMPLES)[:, 0]
    assert list(request) == list(range(48, 68))


def test_the_device_says_it_listens_and_for_how_long() -> None:
    settings = SpeakerSettings(speech_timeout_ms=3000)
    speaker = Speaker(ScriptedWake({30}), ScriptedVad(set()), settings)
    events = run(speaker, 40)
    listening = next(e for e in events if isinstance(e, Listening))
    assert listening.to_json() == {
        "event": "listening",
        "v": SCHEMA_VERSION,
        "t": 31 * 0.08,
        "file": "test",
        "model": "fake",
        "listen_s": 3.0,
    }


def test_false_wake_is_discarded_and_its_audio_never_reaches_the_next_utterance() -> None:
    # A wake on the room (20), discarded after the 4 s wait (frame 70), then a wake word (86-89),
    # its wake (90) and a request (92-99).
    speaker = Speaker(ScriptedWake({20, 90}), ScriptedVad(set(range(86, 90)) | set(range(92, 100))))
    events = run(speaker, 130)
    kinds = [type(e).__name__ for e in events]
    assert kinds == ["Wake", "Listening", "Discarded", "Wake", "Listening", "UtteranceEnd"]
    discarded = events[2]
    assert isinstance(discarded, Discarded) and discarded.reason == "no_speech"
    end = events[5]
    assert isinstance(end, UtteranceEnd)
    values = set(end.utterance.samples.reshape(-1, FRAME_SAMPLES)[:, 0])
    assert max(v for v in values) > 90 and min(values) > 70  # nothing from the first wake


def test_preroll_is_short_right_after_an_utterance() -> None:
    said = set(range(16, 20)) | set(range(22, 28)) | set(range(40, 44)) | set(range(46, 52))
    speaker = Speaker(ScriptedWake({20, 44}), ScriptedVad(said))
    events = [e for e in run(speaker, 90) if isinstance(e, UtteranceEnd)]
    assert len(events) == 2
    second = events[1].utterance.samples.reshape(-1, FRAME_SAMPLES)[:, 0]
    # The first request ended on frame 36 (9 frames after its last speech): the ring restarted
    # empty then, so nothing heard up to frame 36 (value 37) is in the second.
    assert second[0] == 38


def test_a_short_request_keeps_silence_ms_but_not_the_silence_it_listened_to_after_it() -> None:
    # The wake word (16-19), the wake (20), a short request (22-25: 4 frames), then nothing.
    said = set(range(16, 20)) | set(range(22, 26))
    speaker = Speaker(ScriptedWake({20}), ScriptedVad(said))
    settings = speaker.settings
    kept_silence = settings.silence_frames
    waited = kept_silence + settings.short_request_listen_frames
    assert (kept_silence, waited) == (9, 9 + 63)  # it listens as long as for a request
    end = next(e for e in run(speaker, 120) if isinstance(e, UtteranceEnd))
    assert end.t == (25 + waited + 1) * 0.08  # it listened until frame 97 for more speech
    values = end.utterance.samples.reshape(-1, FRAME_SAMPLES)[:, 0]
    # Kept: 13 frames of pre-roll (8-20), then up to frame 34 (value 35); frames 35 to 97 were
    # heard and dropped.
    assert list(values) == list(range(9, 25 + kept_silence + 2))
    assert end.duration_s == len(values) * 0.08
    assert not speaker._buffer._data.any()  # the frames it listened to are zeroed, not kept


def test_end_of_input_keeps_a_started_request_and_drops_a_false_wake() -> None:
    kept = run(Speaker(ScriptedWake({10}), ScriptedVad(set(range(11, 20)))), 20)
    assert isinstance(kept[-1], UtteranceEnd) and kept[-1].reason == "end_of_input"
    dropped = run(Speaker(ScriptedWake({10}), ScriptedVad(set())), 15)
    assert isinstance(dropped[-1], Discarded) and dropped[-1].reason == "no_speech"


def test_mute_drops_frames_unseen_and_is_counted() -> None:
    wake = ScriptedWake({5, 15})
    speaker = Speaker(wake, ScriptedVad(set(range(16, 31))))  # the wake tail, then a request
    events: list[object] = []
    for frame in frames(45):
        if frame.index == 3:
            speaker.request_mute(True)
        if frame.index == 13:
            speaker.request_mute(False)
        events.extend(speaker.process(frame))
    assert speaker.muted_frames == 10
    assert len(wake.gates) == 35  # the wake listener never saw a muted frame
    kinds = [type(e).__name__ for e in events]
    assert kinds[:2] == ["MuteChanged", "MuteChanged"]
    assert isinstance(events[0], MuteChanged) and events[0].muted
    assert "Wake" in kinds and speaker.mode is Mode.LISTENING


def test_vad_gate_closes_without_recent_speech() -> None:
    wake = ScriptedWake(set())
    speaker = Speaker(wake, ScriptedVad({10}), vad_gate_s=0.4)
    run(speaker, 30)
    open_frames = [i for i, g in enumerate(wake.gates) if g]
    assert open_frames == list(range(10, 16))  # speech at 10, open for 5 more frames (0.4 s)
    assert speaker.gated_frames == 30 - 6


def test_reset_zeroes_state_between_inputs() -> None:
    wake = ScriptedWake({10})
    speaker = Speaker(wake, ScriptedVad(set()))
    for frame in frames(12):
        speaker.process(frame)
    assert speaker.mode is Mode.AWAKE
    speaker.reset()
    assert speaker.mode is Mode.LISTENING and wake.resets == 1


def test_settings_out_of_range_are_refused() -> None:
    import pytest

    from keepmum.errors import ConfigError

    with pytest.raises(ConfigError, match="preroll_ms"):
        Speaker(
            ScriptedWake(set()), ScriptedVad(set()), SpeakerSettings(preroll_ms=3000, ring_s=2.0)
        )


class ScriptedConfirmer:
    """Confirms the given frame indices (read back from the window's last sample); records every
    frame it heard and every frame it was asked about."""

    def __init__(
        self,
        confirm: set[int],
        levels: dict[int, float] | None = None,
    ) -> None:
        self.confirm_at = confirm
        self.levels = levels or {}
        """Frame levels (dBFS) other than the defaults: -20 for a confirmed frame, -40 for the
        room (any other)."""
        self.heard: list[int] = []
        self.asked: list[int] = []
        self.windows: list[np.ndarray] = []

    @property
    def window_samples(self) -> int:
        return 4 * FRAME_SAMPLES

    @property
    def floor_db(self) -> float:
        return -60.0

    @property
    def level_db(self) -> float:
        index = self.heard[-1]
        return self.levels.get(index, -20.0 if index in self.confirm_at else -40.0)

    def hear(self, frame: np.ndarray) -> None:
        self.heard.append(int(frame[0]) - 1)

    def confirm(self, window: np.ndarray) -> bool:
        index = int(window[-1]) - 1
        self.asked.append(index)
        self.windows.append(window.copy())
        return index in self.confirm_at

    def reset(self) -> None:
        self.heard.clear()


def test_the_confirmer_is_asked_only_while_awake_and_only_about_vad_speech() -> None:
    vad_speech = set(range(5, 15)) | set(range(26, 30)) | set(range(32, 40)) | set(range(70, 75))
    confirmer = ScriptedConfirmer(set(range(33, 38)))
    speaker = Speaker(ScriptedWake({30}), ScriptedVad(vad_speech), confirm=confirmer)
    events = run(speaker, 90)
    assert confirmer.heard == list(range(90))  # the noise floor hears every frame
    assert confirmer.asked == list(range(32, 40))  # awake and VAD speech only
    # The window ends with the frame (32, value 33) and holds the 3 frames before it, taken
    # from the utterance (pre-roll and appended frames).
    first = confirmer.windows[0].reshape(-1, FRAME_SAMPLES)[:, 0]
    assert [int(v) for v in first] == [30, 31, 32, 33]
    end = next(e for e in events if isinstance(e, UtteranceEnd))
    assert end.request_speech_ms == 5 * 80
    # Ends silence_ms after the last confirmed frame (37), although the VAD heard 38 and 39.
    assert end.t == (37 + 1 + speaker.settings.silence_frames) * 0.08


def test_talk_far_under_the_request_does_not_hold_it_open() -> None:
    """Background talk after a request (confirmed: speech over the room to Silero) but 25 dB
    under the request's loudest frame ends silence_ms after the request, not after the talk;
    as loud as the request, or with the rule off, the same frames hold it open."""
    vad_speech = set(range(30, 60))
    # Frame 31 is unconfirmed, so the wake word has no tail: the request is 32-37.
    confirmed = set(range(32, 38)) | set(range(40, 58))
    ends = {}
    for label, level, range_db in (
        ("quiet talk", -45.0, 20.0),
        ("the talker", -22.0, 20.0),
        ("rule off", -45.0, 0.0),
    ):
        speaker = Speaker(
            ScriptedWake({30}),
            ScriptedVad(vad_speech),
            SpeakerSettings(request_range_db=range_db),
            confirm=ScriptedConfirmer(confirmed, levels=dict.fromkeys(range(40, 58), level)),
        )
        end = next(e for e in run(speaker, 90) if isinstance(e, UtteranceEnd))
        ends[label] = (end.t, end.request_speech_ms)
    silence = SpeakerSettings().silence_frames
    assert ends["quiet talk"] == ((37 + 1 + silence) * 0.08, 6 * 80)
    assert ends["the talker"] == ends["rule off"] == ((57 + 1 + silence) * 0.08, (6 + 18) * 80)


def test_a_request_must_stand_over_the_room_as_it_was_before_the_wake() -> None:
    """People talking at -30 dBFS from the start, a wake at 40 (frame 41 unconfirmed: no tail),
    talk confirmed after it. At the room's level it starts no request (the speaker measured the
    room in the frames before the wake); 6 dB louder it does; with the rule off, either does.
    The speaker's levels are the frames' own, as decide() reads them."""
    vad_speech = set(range(90))
    confirmed = set(range(42, 52))
    outcomes = {}
    for label, after_db, margin_db in (
        ("room talk", -30.0, 4.0),
        ("a request", -24.0, 4.0),
        ("rule off", -30.0, 0.0),
    ):
        levels = {i: -30.0 for i in range(90)} | dict.fromkeys(range(42, 52), after_db)
        confirmer = ScriptedConfirmer(confirmed, levels=levels)
        speaker = Speaker(
            ScriptedWake({40}),
            ScriptedVad(vad_speech),
            SpeakerSettings(room_margin_db=margin_db),
            confirm=confirmer,
        )
        ends = [e for e in run(speaker, 90) if isinstance(e, (UtteranceEnd, Discarded))]
        outcomes[label] = type(ends[0]).__name__, getattr(ends[0], "reason", None)
        flags = [i in confirmed for i in range(90)]
        decision = decide(
            [True] * 90, flags, 40, speaker.settings, levels=[levels[i] for i in range(90)]
        )
        assert decision.kept == isinstance(ends[0], UtteranceEnd), label
    assert outcomes["room talk"] == ("Discarded", "room_talk")
    assert outcomes["a request"][0] == outcomes["rule off"][0] == "UtteranceEnd"


def test_a_burst_of_the_rooms_talk_late_in_the_wait_starts_no_request() -> None:
    """The room talks at -30 dBFS; a wake at 40 (no tail); 6 confirmed frames 6 dB over the room.
    Heard 0.8 s into the wait they are a request; 1.6 s into it (past ``LATE_WAIT_FRAMES``)
    they must stand ``late_room_margin_db`` (8 dB) over the room, and are the room's talk; with
    that rule off they are a request again. The speaker decides as decide() does."""
    vad_speech = set(range(130))
    outcomes = {}
    for label, first, late_db in (("early", 51, 8.0), ("late", 61, 8.0), ("rule off", 61, 0.0)):
        burst = set(range(first, first + 6))  # not a short request: it ends on silence
        levels = {i: -30.0 for i in range(130)} | dict.fromkeys(burst, -24.0)
        speaker = Speaker(
            ScriptedWake({40}),
            ScriptedVad(vad_speech),
            SpeakerSettings(late_room_margin_db=late_db),
            confirm=ScriptedConfirmer(burst, levels=levels),
        )
        ends = [e for e in run(speaker, 130) if isinstance(e, (UtteranceEnd, Discarded))]
        outcomes[label] = getattr(ends[0], "reason", "kept")
        flags = [i in burst for i in range(130)]
        decision = decide(
            [True] * 130, flags, 40, speaker.settings, levels=[levels[i] for i in range(130)]
        )
        assert decision.kept == isinstance(ends[0], UtteranceEnd), label
    assert outcomes == {"early": "silence", "late": "room_talk", "rule off": "silence"}


def test_discard_reasons_say_why_and_the_buffer_is_zeroed() -> None:
    cases = {
        "no_speech": (set(), set()),
        # The wake word is speech up to its detection on frame 10, then its tail (11-13).
        "wake_tail": (set(range(5, 14)), set(range(11, 14))),
        "noise": (set(range(11, 30)), set()),
    }
    for reason, (vad_speech, confirmed) in cases.items():
        speaker = Speaker(
            ScriptedWake({10}), ScriptedVad(vad_speech), confirm=ScriptedConfirmer(confirmed)
        )
        events = run(speaker, 40)
        discarded = [e for e in events if isinstance(e, Discarded)]
        if reason.startswith("kept"):
            assert not discarded and any(isinstance(e, UtteranceEnd) for e in events), reason
            continue
        assert [d.reason for d in discarded] == [reason]
        assert discarded[0].request_speech_ms == 0
        assert not any(isinstance(e, UtteranceEnd) for e in events)
        assert speaker._buffer.n_samples == 0  # nothing of it held in RAM
        assert not speaker._buffer._data.any()


def test_a_wake_with_nothing_said_before_it_keeps_the_request_after_the_wake_word() -> None:
    """The model fires on the room (frame 30, nothing heard before it); the wake word follows
    (34-37) and, after a pause, the request (53-60). The wake word is taken for a short request,
    after which the device listens on as long as for a request: the request is kept too, with
    the wake word counted as request speech (the quiet-wake rule that told them apart was
    removed on 2026-12-08: it changed nothing on the held-out sets)."""
    said = set(range(34, 38)) | set(range(53, 61))
    speaker = Speaker(ScriptedWake({30}), ScriptedVad(said))
    end = next(e for e in run(speaker, 90) if isinstance(e, UtteranceEnd))
    assert (round(end.t / 0.08) - 1, end.request_speech_ms) == (60 + 9, (4 + 8) * 80)


def test_the_wake_word_heard_again_while_awake_makes_the_end_wait_for_the_request() -> None:
    """A model fires on the room (10); the wake word is said (14-21) and scores over its
    threshold at 21 and 22 without firing (the refractory period); the request follows 12 frames
    later (33-40). Heard again, the end waits and the request is kept; with
    wake_again_gap_ms 0 the utterance ends at 30, before the request."""
    said = set(range(14, 22)) | set(range(33, 41))
    ends = {}
    for gap_ms in (480, 0):
        wake = ScriptedWake({10}, heard_at=frozenset({21, 22}))
        speaker = Speaker(wake, ScriptedVad(said), SpeakerSettings(wake_again_gap_ms=gap_ms))
        end = next(e for e in run(speaker, 130) if isinstance(e, UtteranceEnd))
        values = end.utterance.samples.reshape(-1, FRAME_SAMPLES)[:, 0]
        ends[gap_ms] = (round(end.t / 0.08) - 1, int(values[-1]) - 1, end.request_speech_ms)
    # Ended on 112 (9 + 63 frames after the request), kept up to 49 (9 after it).
    assert ends[480] == (40 + 72, 40 + 9, 16 * 80)
    assert ends[0] == (21 + 9, 21 + 9, 8 * 80)


def test_the_buffer_hands_on_what_is_kept_without_the_pauses_and_zeroes_all() -> None:
    from device.ring import FrameBuffer

    buffer = FrameBuffer(10)
    for i in range(10):
        buffer.extend(np.full(FRAME_SAMPLES, i + 1, dtype=np.int16))
    pauses = [
        slice(2 * FRAME_SAMPLES, 4 * FRAME_SAMPLES),
        slice(6 * FRAME_SAMPLES, 7 * FRAME_SAMPLES),
    ]
    kept = buffer.take(9 * FRAME_SAMPLES, pauses)
    assert list(kept.reshape(-1, FRAME_SAMPLES)[:, 0]) == [1, 2, 5, 6, 8, 9]
    assert buffer.n_samples == 0 and not buffer._data.any()
