"""The pure state machine: every transition and timeout, counted in frames."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import replace

import pytest
from hypothesis import given
from hypothesis import strategies as st

from device.states import (
    LATE_WAIT_FRAMES,
    Action,
    FrameFacts,
    Mode,
    SpeakerSettings,
    SpeakerState,
    decide,
    kept_seconds,
    room_level_db,
    room_margin,
    step,
    wake_again,
)

S = SpeakerSettings()  # preroll 13 frames, silence 9, max 100, timeout 63, min speech 2, tail 5
SPEECH = FrameFacts(speech=True, confirmed=True)
"""A frame the VAD called speech and the second stage confirmed."""
NOISE = FrameFacts(speech=True)
"""A frame the VAD called speech that the second stage did not confirm."""
QUIET = FrameFacts()
WAKE = FrameFacts(wake=True, preroll_available=25)


def run(facts: list[FrameFacts], settings: SpeakerSettings = S) -> list[Action]:
    state = SpeakerState()
    actions = []
    for f in facts:
        state, action = step(state, f, settings)
        actions.append(action)
    return actions


def test_derived_frame_counts() -> None:
    assert (S.preroll_frames, S.silence_frames, S.max_frames) == (13, 9, 100)
    assert (S.timeout_frames, S.min_speech_frames, S.ring_frames) == (63, 2, 25)
    assert S.wake_tail_frames == 5  # 400 ms, not 6 from 400 / 80 = 5.000000000000001
    # Every count is rounded before it is cut to whole frames: 560 / 80 is 7.000000000000001 and
    # 2.32 / 0.08 is 28.999999999999996 in floating point.
    odd = SpeakerSettings(
        preroll_ms=560,
        silence_ms=560,
        speech_timeout_ms=1120,
        min_speech_ms=560,
        speech_window_ms=560,
        max_utterance_s=2.32,
        ring_s=2.24,
    )
    assert (odd.preroll_frames, odd.silence_frames, odd.timeout_frames) == (7, 7, 14)
    assert (odd.min_speech_frames, odd.max_frames, odd.ring_frames) == (7, 29, 28)


def test_listening_ignores_speech_without_wake() -> None:
    assert run([FrameFacts(speech=True)] * 50) == [Action.NONE] * 50


def test_wake_starts_with_the_preroll_the_ring_holds() -> None:
    state, action = step(SpeakerState(), FrameFacts(wake=True, preroll_available=5), S)
    assert action is Action.START and state.mode is Mode.AWAKE and state.frames == 5
    state, _ = step(SpeakerState(), FrameFacts(wake=True, preroll_available=25), S)
    assert state.frames == S.preroll_frames


def test_request_then_trailing_silence_keeps() -> None:
    facts = [FrameFacts(wake=True, preroll_available=25)]
    facts += [SPEECH] * 10 + [FrameFacts(speech=False)] * 9
    actions = run(facts)
    assert actions[0] is Action.START
    assert actions[-1] is Action.KEEP_SILENCE
    assert set(actions[1:-1]) == {Action.APPEND}


def test_one_frame_short_of_the_silence_does_not_end() -> None:
    # Speech resumes (two confirmed frames: a run) before silence_frames have passed.
    facts = [FrameFacts(wake=True, preroll_available=25)]
    facts += [QUIET] + [SPEECH] * 4 + [QUIET] * 7 + [SPEECH] * 2 + [QUIET] * 8
    assert Action.KEEP_SILENCE not in run(facts)


def test_an_utterance_does_not_end_while_a_run_may_still_complete() -> None:
    # A request said after a pause starts exactly when the silence runs out: its first confirmed
    # frame (no run yet) puts the end off, a second within speech_window_ms makes a run, and the
    # request joins the utterance, also when Silero misses the frame between.
    request = [WAKE, QUIET] + [SPEECH] * 6 + [QUIET] * (S.silence_frames - 1)
    for onset in ([SPEECH, SPEECH], [SPEECH, NOISE, SPEECH]):
        joined = run(request + onset + [SPEECH] * 3 + [QUIET] * S.silence_frames)
        assert joined.count(Action.KEEP_SILENCE) == 1
        assert joined.index(Action.KEEP_SILENCE) == len(joined) - 1
    # A lone confirmed frame there puts the end off until it has left speech_window_ms.
    lone = run(request + [SPEECH] + [QUIET] * 5)
    assert lone.index(Action.KEEP_SILENCE) == len(request) + S.speech_window_frames


def test_a_lone_confirmed_frame_does_not_hold_a_request_open() -> None:
    # A burst of background talk after the request: confirmed, but one frame is no run of
    # min_speech_ms within speech_window_ms, so the silence still ends the utterance on time.
    facts = [WAKE, QUIET] + [SPEECH] * 4 + [QUIET] * 5 + [SPEECH] + [QUIET] * 10
    actions = run(facts)
    last_run = 1 + 1 + 4 - 1  # index in facts
    assert actions.index(Action.KEEP_SILENCE) == last_run + S.silence_frames


def test_no_speech_after_wake_is_discarded_at_the_timeout() -> None:
    actions = run([FrameFacts(wake=True, preroll_available=25)] + [FrameFacts()] * 80)
    assert actions.index(Action.DISCARD_NO_SPEECH) == S.timeout_frames


@pytest.mark.parametrize("pause", [25, 31, 37, 47])
def test_a_request_after_a_pause_of_2_to_4_s_is_kept_without_the_pause(pause: int) -> None:
    # The wake, then 2 s (25 frames) to 3.8 s of quiet, a request of 6 frames, then silence.
    flags = [False] * 30 + [False] * pause + [True] * 6 + [False] * 30
    d = decide(flags, flags, 29, S)
    assert d.kept and d.reason == "silence"
    # Kept: the pre-roll, the 3 frames before the request, the request, silence_ms after it.
    assert d.kept_s == pytest.approx((S.preroll_frames + 3 + 6 + S.silence_frames) * 0.08)
    assert d.gap_ms == (pause - 3) * 80


def test_a_longer_pause_costs_no_kept_audio() -> None:
    def kept(pause: int) -> float:
        flags = [False] * 30 + [False] * pause + [True] * 6 + [False] * 30
        return decide(flags, flags, 29, S).kept_s

    assert kept(4) == kept(12) == kept(37)


def test_a_request_right_after_the_wake_word_has_no_gap() -> None:
    flags = [False] * 30 + [True] * 6 + [False] * 30
    d = decide(flags, flags, 29, replace(S, wake_tail_ms=0))
    assert d.kept and d.gap_ms == 0
    assert d.kept_s == pytest.approx((S.preroll_frames + 6 + S.silence_frames) * 0.08)


def test_the_wait_for_a_request_counts_from_the_wake_words_end() -> None:
    # The wake word's tail runs 4 frames past the detection; the wait starts after it.
    tail = [SPEECH] * 4
    quiet = [QUIET] * (S.timeout_frames - 2)  # the request starts on the last frame of the wait
    assert Action.KEEP_SILENCE in run([WAKE, *tail, *quiet, *[SPEECH] * 3, *[QUIET] * 80])
    waited = run([WAKE, *tail, *[QUIET] * 80])
    assert waited.index(Action.DISCARD_WAKE_TAIL) == 4 + S.timeout_frames


def test_the_longest_utterance_does_not_count_the_pause() -> None:
    # A request after a 3 s pause that goes on and on: max length counts kept frames only.
    flags = [False] * 30 + [False] * 37 + [True] * 200
    d = decide(flags, flags, 29, S)
    assert d.reason == "max_length"
    assert d.kept_s == pytest.approx(S.max_frames * 0.08)
    assert d.gap_ms == 34 * 80


def test_each_discard_says_what_happened() -> None:
    quiet = [False] * 100
    tail = [False] * 30 + [True] * 13 + [False] * 57  # the word 30-39, its tail 40-42
    talk = [True] * 100
    room = [-30.0] * 100
    # Nothing said before the wait ran out; only the wake word's tail; sound the second stage
    # did not confirm; talk no louder than the room's before the wake word.
    assert decide(quiet, quiet, 39, S).reason == "no_speech"
    assert decide(tail, tail, 39, S).reason == "wake_tail"
    assert decide(talk, quiet, 39, S).reason == "noise"
    assert decide(talk, talk, 39, S, levels=room).reason == "room_talk"
    assert decide(talk, talk, 39, S, levels=room[:45] + [-24.0] * 55).kept


def test_a_speech_blip_shorter_than_min_speech_is_noise() -> None:
    # Two confirmed frames further apart than speech_window_ms (240 ms, 3 frames) are blips.
    facts = [WAKE, QUIET, SPEECH, QUIET, QUIET, SPEECH, QUIET] + [QUIET] * 80
    assert Action.DISCARD_NOISE in run(facts)
    assert Action.KEEP_SILENCE not in run(facts)


def test_min_speech_counts_within_the_speech_window() -> None:
    # 2 confirmed frames of 3 start a request: Silero misses single frames inside words at 5 dB.
    facts = [WAKE, QUIET, SPEECH, NOISE, SPEECH] + [QUIET] * 80
    assert Action.KEEP_SILENCE in run(facts)
    consecutive = SpeakerSettings(speech_window_ms=160)
    assert Action.DISCARD_NOISE in run(facts, consecutive)
    assert Action.KEEP_SILENCE not in run(facts, consecutive)


def test_the_wake_words_own_tail_is_not_a_request() -> None:
    # Confirmed speech straight after the detection, up to wake_tail_ms, then nothing.
    for tail in range(1, S.wake_tail_frames + 1):
        actions = run([WAKE] + [SPEECH] * tail + [QUIET] * 80)
        assert Action.DISCARD_WAKE_TAIL in actions, tail
        assert Action.KEEP_SILENCE not in actions


def test_speech_running_on_past_the_tail_is_a_request_said_without_a_pause() -> None:
    tail = S.wake_tail_frames
    actions = run([WAKE] + [SPEECH] * (tail + S.min_speech_frames) + [QUIET] * 80)
    assert Action.KEEP_SILENCE in actions
    actions = run([WAKE] + [SPEECH] * (tail + S.min_speech_frames - 1) + [QUIET] * 80)
    assert Action.KEEP_SILENCE not in actions


def test_unconfirmed_vad_speech_is_noise_and_never_a_request() -> None:
    actions = run([WAKE] + [NOISE] * 80)
    assert Action.DISCARD_NOISE in actions
    assert actions.index(Action.DISCARD_NOISE) == S.timeout_frames


def test_an_utterance_ends_silence_ms_after_the_last_confirmed_speech_in_noise() -> None:
    # Steady noise that the VAD keeps calling speech must not hold the utterance open to the
    # maximum length: it ends silence_frames after the last confirmed frame.
    facts = [WAKE, QUIET] + [SPEECH] * 6 + [NOISE] * 80
    actions = run(facts)
    assert Action.KEEP_MAX_LENGTH not in actions
    last_speech = 1 + 1 + 6 - 1  # index in facts
    assert actions.index(Action.KEEP_SILENCE) == last_speech + S.silence_frames


def test_decide_reports_reason_and_request_speech() -> None:
    quiet, speech = [False] * 40, [False] * 40
    assert decide(quiet, quiet, 10, S).reason == "no_speech"
    # The wake word is speech up to the detection (frames 6-10), its tail 3 more frames.
    tail = [False] * 6 + [True] * 8 + [False] * 26
    assert decide(tail, tail, 10, S).reason == "wake_tail"
    noisy = [True] * 40
    assert decide(noisy, quiet, 10, S).reason == "noise"
    speech = [True] * 11 + [False] + [True] * 6 + [False] * 22
    kept = decide(speech, speech, 10, S)
    assert kept.kept and kept.reason == "silence" and kept.request_speech_ms == 480
    assert kept.end_frame == 17 + S.silence_frames


def test_endless_speech_ends_at_max_length() -> None:
    actions = run([FrameFacts(wake=True, preroll_available=25)] + [SPEECH] * 200)
    end = actions.index(Action.KEEP_MAX_LENGTH)
    assert S.preroll_frames + end == S.max_frames


def test_mute_drops_frames_and_discards_an_utterance_in_progress() -> None:
    state, _ = step(SpeakerState(), FrameFacts(wake=True, preroll_available=25), S)
    state, action = step(state, FrameFacts(mute=True, speech=True), S)
    assert action is Action.DISCARD_MUTED and state.mode is Mode.MUTED
    state, action = step(state, FrameFacts(wake=True, speech=True), S)
    assert action is Action.DROP and state.mode is Mode.MUTED
    state, action = step(state, FrameFacts(mute=False, wake=True, preroll_available=1), S)
    assert state.mode is Mode.AWAKE and action is Action.START


def test_mute_while_listening_drops() -> None:
    state, action = step(SpeakerState(), FrameFacts(mute=True), S)
    assert (state.mode, action) == (Mode.MUTED, Action.DROP)


def test_kept_seconds_matches_a_hand_count() -> None:
    flags = [False] * 16 + [True] * 2 + [False] * 2 + [True] * 10 + [False] * 20
    # The wake word 16-17, wake at 18: 13 pre-roll frames, speech 20..29, silence 30..38 ends it.
    assert kept_seconds(flags, 18, S) == (13 + 38 - 18) * 0.08
    assert kept_seconds([False] * 60, 18, S) == 0.0
    assert kept_seconds([True] * 300, 18, S) == S.max_frames * 0.08


def test_kept_seconds_counts_an_utterance_cut_by_the_end_of_input() -> None:
    flags = [False] * 6 + [True] * 6
    assert kept_seconds(flags, 4, S) == (5 + 7) * 0.08


def test_decide_ends_a_request_on_its_talker_not_on_quieter_talk_after_it() -> None:
    # A request (frames 12-17, -20 dBFS), then background talk the second stage confirms
    # (20-40): 25 dB under the request it does not hold the utterance open, 15 dB under it does
    # (request_range_db, 20 dB). Unknown levels (NaN, as without a second stage): no rule.
    # The wake word is frame 8 (frames 9-11 are a pause: no tail).
    speech = [False] * 8 + [True] + [False] * 3 + [True] * 6 + [False] * 2 + [True] * 21
    speech += [False] * 19
    request_end = 17 + S.silence_frames
    talk_end = 40 + S.silence_frames
    for talk_db, end in ((-45.0, request_end), (-35.0, talk_end), (math.nan, talk_end)):
        levels = [-60.0] * 8 + [-20.0] + [-60.0] * 3 + [-20.0] * 6 + [-60.0] * 2 + [talk_db] * 21
        levels += [-60.0] * 19
        decision = decide(speech, speech, 10, S, levels=levels)
        assert (decision.end_frame, decision.reason) == (end, "silence"), talk_db
    # Before the request starts, no frame is too quiet: a soft start (-45) then a loud word.
    soft_start = [-60.0] * 8 + [-20.0] + [-60.0] * 3 + [-45.0] * 2 + [-15.0] * 4 + [-60.0] * 42
    assert decide(
        speech[:18] + [False] * 42, speech[:18] + [False] * 42, 10, S, levels=soft_start
    ).kept
    assert decide(speech, speech, 10, S, levels=soft_start).request_speech_ms == 6 * 80


@given(
    st.lists(
        st.tuples(st.booleans(), st.booleans(), st.floats(-80.0, 0.0)), min_size=1, max_size=200
    ),
    st.integers(0, 199),
)
def test_the_talkers_level_only_ever_ends_a_kept_request_sooner(
    frames: list[tuple[bool, bool, float]], wake: int
) -> None:
    # request_range_db applies only once a request has started, so it never changes whether a
    # wake is kept; it can only drop frames from holding the utterance open.
    speech = [a or b for a, b, _ in frames]
    confirmed = [a and b for a, b, _ in frames]
    levels = [level for _, _, level in frames]
    wake = min(wake, len(frames) - 1)
    no_room = replace(S, room_margin_db=0, late_room_margin_db=0)
    plain = decide(speech, confirmed, wake, no_room)
    talker = decide(speech, confirmed, wake, no_room, levels=levels)
    assert talker.kept == plain.kept
    assert talker.end_frame <= plain.end_frame
    assert talker.kept_s <= plain.kept_s + 1e-9
    assert talker.request_speech_ms <= plain.request_speech_ms
    off = decide(speech, confirmed, wake, replace(no_room, request_range_db=0), levels=levels)
    assert off == plain
    # room_margin_db only ever discards: a wake kept with it is kept without it.
    room = decide(speech, confirmed, wake, S, levels=levels)
    assert not room.kept or talker.kept
    # Nor does late_room_margin_db keep what room_margin_db alone would not.
    early = decide(speech, confirmed, wake, replace(S, late_room_margin_db=0), levels=levels)
    assert not room.kept or early.kept


def test_the_rooms_level_is_the_median_of_what_was_heard_before_the_wake_word() -> None:
    # Frames 2.96-1.2 s before the detection (37 to 16 frames before it); digital silence is
    # no room, and fewer than 5 frames with sound are no measure.
    levels = [-120.0] * 10 + [-40.0, -30.0, -35.0, -20.0, -33.0] + [-10.0] * 20
    assert room_level_db(levels, 10 + 5 + 15) == -33.0
    assert math.isnan(room_level_db(levels, 10 + 4 + 15))  # 4 frames with sound
    assert math.isnan(room_level_db(levels, 3))
    assert room_level_db([-30.0] * 100, 99) == -30.0
    # Only the span counts: the wake word in the last 1.2 s, and what is older than 2.96 s, not.
    old = [-5.0] * 10 + [-30.0] * 22 + [-5.0] * 15
    assert room_level_db(old, 46) == -30.0


def test_in_a_talking_room_a_request_must_stand_over_the_room_to_start() -> None:
    # Talk at -30 dBFS all along (confirmed on 2 of 3 frames); the wake at frame 40. Talk going
    # on after it at the room's level starts nothing (room_talk); 5 dB louder it is a request. Once
    # started, the request goes on through frames at the room's level.
    speech = [True] * 100
    talk = [index % 3 != 0 for index in range(100)]
    room = [-30.0] * 100
    assert decide(speech, talk, 40, S, levels=room).reason == "room_talk"
    assert decide(speech, talk, 40, replace(S, room_margin_db=0), levels=room).kept
    assert decide(speech, talk, 40, S).kept  # no levels: no rule
    # Frames 41-45 are the wake word's tail; the request starts on 46-47, 5 dB over the room,
    # and goes on at the room's level to 59.
    louder = room[:46] + [-25.0] * 2 + room[48:60] + [-60.0] * 40
    said = [True] * 60 + [False] * 40
    decision = decide(said, said, 40, S, levels=louder)
    assert decision.kept and decision.end_frame == 59 + S.silence_frames
    assert decision.request_speech_ms == (59 - 45) * 80
    assert decide(said, said, 40, S, levels=room).reason == "room_talk"  # not 5 dB louder


def test_after_the_first_1_5_s_of_the_wait_a_request_must_stand_further_over_the_room() -> None:
    # The room talks at -30 dBFS before the wake (frame 40; frame 41 unconfirmed: no tail, the
    # wait starts at once). A burst of 4 confirmed frames 6 dB over the room starts a request
    # 0.8 s into the wait (room_margin_db, 4 dB) but not 1.6 s into it (late_room_margin_db,
    # 8 dB): there it is the room's talk. 10 dB over the room it is a request either way.
    speech = [True] * 130
    room = [-30.0] * 130

    def burst(first: int, db: float, settings: SpeakerSettings = S) -> str:
        levels = room[:first] + [db] * 4 + [-60.0] * (126 - first)
        confirmed = [first <= index < first + 4 for index in range(130)]
        decision = decide(speech, confirmed, 40, settings, levels=levels)
        return "kept" if decision.kept else decision.reason

    assert burst(51, -24.0) == "kept"  # waited 10 frames
    assert burst(61, -24.0) == "room_talk"  # waited 20 frames
    assert burst(61, -20.0) == "kept"
    assert burst(61, -24.0, replace(S, late_room_margin_db=0)) == "kept"
    # The larger margin applies: a late margin under room_margin_db changes nothing.
    assert burst(61, -27.0, replace(S, late_room_margin_db=2)) == "room_talk"
    assert burst(51, -27.0, replace(S, room_margin_db=0, late_room_margin_db=8)) == "kept"


def test_a_kept_decision_says_where_the_wake_word_ends_and_which_pause_was_not_kept() -> None:
    # Talk up to the wake (40), its tail 41-43, a pause, the request 60-69. The utterance's
    # frame 0 is file frame 28 (13 frames of pre-roll); the wake word ends after 13 + 3 frames;
    # the pause runs from there to 3 frames (REQUEST_LEAD_FRAMES) before the request's first
    # frame (file 60, utterance 32): 13 frames, not kept.
    speech = [30 <= index < 44 or 60 <= index < 70 for index in range(130)]
    decision = decide(speech, speech, 40, S)
    assert decision.kept and decision.head_frames == 16
    assert decision.gaps == ((16, 13),) and decision.gap_ms == 13 * 80
    assert decision.kept_s == pytest.approx((78 - 28 + 1 - 13) * 0.08)
    nothing = decide([30 <= index < 44 for index in range(130)], speech, 40, S)
    assert not nothing.kept and (nothing.head_frames, nothing.gaps) == (0, ())


def test_the_late_margin_applies_from_the_19th_frame_waited_after_the_wake_words_end() -> None:
    head = SpeakerState(Mode.AWAKE, frames=15, head_frames=15)
    assert room_margin(head, S) == S.room_margin_db == 4.0
    assert room_margin(replace(head, frames=15 + LATE_WAIT_FRAMES - 1), S) == 4.0
    assert room_margin(replace(head, frames=15 + LATE_WAIT_FRAMES), S) == 8.0
    assert LATE_WAIT_FRAMES == 19  # 1.52 s: the wait before issue 25 made it 5 s
    # The wait counts from the wake word's end: a long tail moves the late margin on with it.
    tail = SpeakerState(Mode.AWAKE, frames=40, head_frames=20)
    assert room_margin(tail, S) == 8.0
    assert room_margin(replace(tail, head_frames=22), S) == 4.0
    off = replace(S, late_room_margin_db=0, room_margin_db=0)
    assert room_margin(replace(head, frames=100), off) == 0.0


@given(st.lists(st.booleans(), min_size=1, max_size=300), st.integers(0, 299))
def test_kept_seconds_is_bounded(flags: list[bool], wake: int) -> None:
    wake = min(wake, len(flags) - 1)
    kept = kept_seconds(flags, wake, S)
    assert 0.0 <= kept <= S.max_frames * 0.08 + 1e-9
    if not any(flags[wake + 1 :]):
        assert kept == 0.0


@given(
    st.lists(st.tuples(st.booleans(), st.booleans()), min_size=1, max_size=200),
    st.integers(0, 199),
)
def test_a_kept_utterance_never_ends_before_its_last_confirmed_run(
    frames: list[tuple[bool, bool]], wake: int
) -> None:
    speech = [a or b for a, b in frames]
    confirmed = [a and b for a, b in frames]
    wake = min(wake, len(frames) - 1)
    d = decide(speech, confirmed, wake, S)
    if d.reason == "silence":
        # Ends silence_frames after the last confirmed frame that completes a run
        # (min_speech_frames confirmed within speech_window_frames) before the end, and
        # short_request_listen_frames later while the request is short; never while a confirmed
        # frame within speech_window_frames may still complete a run, which puts the end off.
        # What is kept ends silence_frames after that last run: the frames it listened to past
        # that are dropped.
        window = confirmed[wake + 1 : d.end_frame + 1]
        width, need = S.speech_window_frames, S.min_speech_frames
        runs = [
            c and sum(window[max(0, i - width + 1) : i + 1]) >= need for i, c in enumerate(window)
        ]
        last = wake + 1 + max(i for i, r in enumerate(runs) if r)
        short = d.request_speech_ms < S.short_request_ms
        kept_silence = S.silence_frames
        latest = last + kept_silence + (S.short_request_listen_frames if short else 0)

        def pending(index: int) -> bool:
            return any(confirmed[index - width + 1 : index + 1])

        tail = 0  # the wake word's tail: confirmed frames right after the wake
        while tail < S.wake_tail_frames and wake + 1 + tail < len(confirmed):
            if not confirmed[wake + 1 + tail]:
                break
            tail += 1

        def short_then(index: int) -> bool:
            # Still a short request on that frame: a lone confirmed frame later may make it long
            # (it counts as request speech), and only then does silence_ms alone end it.
            return sum(confirmed[wake + 1 + tail : index + 1]) < S.short_request_frames

        assert not pending(d.end_frame)
        assert d.end_frame >= latest
        assert all(pending(index) or short_then(index) for index in range(latest, d.end_frame))
        assert not any(runs[len(runs) - S.silence_frames :])
        assert d.kept_end_frame == min(d.end_frame, last + kept_silence)
        preroll = min(S.preroll_frames, wake + 1)
        kept_frames = d.kept_end_frame - wake + preroll
        assert d.kept_s == pytest.approx(kept_frames * 0.08 - d.gap_ms / 1000)
    if not d.kept:
        assert d.kept_s == 0.0 and d.request_speech_ms < 1000


@given(st.lists(st.tuples(st.booleans(), st.booleans()), max_size=400))
def test_machine_never_exceeds_max_length_and_always_returns_to_listening(
    frames: list[tuple[bool, bool]],
) -> None:
    state = SpeakerState()
    for wake, speech in frames:
        facts = FrameFacts(wake=wake, speech=speech, confirmed=speech, preroll_available=25)
        state, action = step(state, facts, S)
        assert state.frames <= S.buffer_frames  # the pauses held in RAM, never more
        if action in (Action.KEEP_SILENCE, Action.KEEP_MAX_LENGTH, Action.DISCARD_NO_SPEECH):
            assert state.mode is Mode.LISTENING


# A wake at 10 with nothing heard before it (the model fired on the room); the wake word is
# 14-17 (320 ms), a pause of 8 frames (640 ms: the talker waits for the device), the request 26-33.
QUIET_WAKE = 10
WAKE_WORD = range(14, 18)
REQUEST = range(26, 34)


def said(*spans: range, frames: int = 80) -> list[bool]:
    return [any(index in span for span in spans) for index in range(frames)]


def test_a_short_request_waits_longer_before_it_ends() -> None:
    # "vis" (3 confirmed frames) a frame after the wake word ended: a short request, so it ends
    # as long as a request is waited for (speech_timeout_ms) after silence_ms, and keeps only
    # silence_ms; a request said 12 frames or 4 s later still joins it, and the pause before it
    # is not kept.
    assert S.short_request_frames == 5
    assert S.short_request_listen_frames == S.timeout_frames == 63
    vis = said(range(20, 28), range(32, 35), frames=160)
    decision = decide(vis, vis, 30, S)
    assert (decision.reason, decision.end_frame) == ("silence", 34 + S.silence_frames + 63)
    assert decision.kept_end_frame == 34 + S.silence_frames
    assert decision.kept_s == pytest.approx((34 + S.silence_frames - 30 + 13) * 0.08)
    for start in (46, 83):
        joined = said(range(20, 28), range(32, 35), range(start, start + 8), frames=160)
        d = decide(joined, joined, 30, S)
        assert d.end_frame == d.kept_end_frame == start + 7 + S.silence_frames
        pause = start - 3 - (34 + 1 + S.silence_frames)
        assert d.gap_ms == max(0, pause) * 80
    # A request of short_request_ms or more ends after silence_ms alone.
    word = said(range(20, 28), range(32, 37))
    assert decide(word, word, 30, S).end_frame == 36 + S.silence_frames


def test_by_default_a_short_request_after_a_softly_said_wake_word_is_kept() -> None:
    # The wake word 4-10 is speech to the VAD but under the noise margin (said softly, from across
    # a noisy room). "Stop" (14-18, 400 ms) is said louder.
    speech = said(range(4, 11), range(14, 19))
    over_margin = said(range(14, 19))
    confirmed = over_margin
    kept = decide(speech, confirmed, QUIET_WAKE, S)
    assert (kept.reason, kept.request_speech_ms) == ("silence", 400)


# The wake word heard again while awake (speaker.wake_again_gap_ms): a model fired on the room at
# 10; the wake word is said at 14-21 and its own model scores over its threshold at 21-22; the
# request follows at 33-40, 12 frames after the wake word (0.96 s).
ROOM_WAKE = 10
SAID_WAKE_WORD = range(14, 22)
LATE_REQUEST = range(33, 41)


WA = replace(S, wake_again_gap_ms=480)
"""The wake word heard again while awake (``wake_again_gap_ms``, off by default since 2026-12:
a short request listens as long as for a request anyway)."""


def test_the_wake_word_heard_again_is_a_rise_after_a_gap() -> None:
    assert S.wake_again_gap_frames == 0 and WA.wake_again_gap_frames == 6
    over = said(range(10, 12), range(21, 23))
    # 10 is the first wake's own rise: the speaker asks only while awake, from frame 11 on.
    assert [i for i in range(len(over)) if wake_again(over, i, WA)] == [10, 21]
    # Its own score held after a wake, dipping under its threshold for less than the gap: no.
    assert not wake_again(said(range(10, 12), range(17, 19)), 17, WA)
    # Over the threshold on the frame's history only from the input's start: no gap heard.
    assert not wake_again(said(range(3, 4)), 3, WA)
    assert not wake_again(over, 21, S)


def test_after_the_wake_word_is_heard_again_the_end_waits_for_the_request() -> None:
    speech = said(SAID_WAKE_WORD, LATE_REQUEST, frames=160)
    over = said(range(10, 12), range(21, 23), frames=160)
    wait = WA.short_request_listen_frames
    # The wake word is taken for a request of 8 frames (not short): it would end silence_ms
    # after it, at 30, and the request said at 33 would be lost.
    alone = decide(speech, speech, ROOM_WAKE, S)
    assert (alone.reason, alone.end_frame) == ("silence", 21 + S.silence_frames)
    # Heard again at 21, the end waits as after a short request, and the request joins.
    again = decide(speech, speech, ROOM_WAKE, WA, over_flags=over)
    assert (again.reason, again.end_frame) == ("silence", 40 + S.silence_frames + wait)
    # What is kept ends silence_ms after the request's last speech, as for any long request.
    assert again.kept_end_frame == 40 + S.silence_frames
    # With nothing after the wake word the wait is heard, not kept.
    only = said(SAID_WAKE_WORD, frames=160)
    waited = decide(only, only, ROOM_WAKE, WA, over_flags=over)
    assert waited.end_frame == 21 + S.silence_frames + wait
    assert waited.kept_end_frame == 21 + S.silence_frames
    assert waited.kept_s == decide(only, only, ROOM_WAKE, S).kept_s


@given(
    st.lists(st.tuples(st.booleans(), st.booleans(), st.booleans()), min_size=1, max_size=150),
    st.integers(0, 149),
)
def test_hearing_the_wake_word_again_only_ever_waits_longer(
    frames: list[tuple[bool, bool, bool]], wake: int
) -> None:
    speech = [a or b for a, b, _ in frames]
    confirmed = [a and b for a, b, _ in frames]
    over = [c for _, _, c in frames]
    wake = min(wake, len(frames) - 1)
    off = decide(speech, confirmed, wake, WA)
    on = decide(speech, confirmed, wake, WA, over_flags=over)
    assert on.end_frame >= off.end_frame
    assert on.kept == off.kept  # it changes only when a started request ends
    if on.reason == off.reason == "silence" and on.request_speech_ms == off.request_speech_ms:
        # The same request: the wait is not kept.
        assert on.kept_s == off.kept_s


def test_a_request_after_a_short_one_and_a_pause_keeps_neither_pause() -> None:
    # The wake; 1 s later a syllable ("vis", 2 frames: a short request); 1.6 s later the request.
    flags = [False] * 30 + [False] * 12 + [True] * 2 + [False] * 20 + [True] * 6 + [False] * 60
    d = decide(flags, flags, 29, S)
    assert d.kept and d.reason == "silence"
    # Kept: the pre-roll, 3 frames before the syllable, the syllable and what a short request
    # keeps after it (silence_ms), 3 frames before the request, the request, silence_ms.
    short = S.silence_frames
    kept = S.preroll_frames + 3 + 2 + short + 3 + 6 + S.silence_frames
    assert d.kept_s == pytest.approx(kept * 0.08)
    assert d.gap_ms == ((12 - 3) + (20 - short - 3)) * 80


@pytest.mark.parametrize(
    ("after_wake", "ending"),
    [
        ([SPEECH] * 10 + [FrameFacts(speech=False)] * 9, Action.KEEP_SILENCE),
        ([FrameFacts()] * 80, Action.DISCARD_NO_SPEECH),
        ([SPEECH] * 200, Action.KEEP_MAX_LENGTH),
    ],
)
def test_every_ending_returns_to_a_fresh_listening_state(
    after_wake: list[FrameFacts], ending: Action
) -> None:
    state = SpeakerState()
    for facts in [FrameFacts(wake=True, preroll_available=25), *after_wake]:
        state, action = step(state, facts, S)
        if action is ending:
            break
    assert action is ending
    # room_db is NaN when fresh (no room measured); Python 3.13's dataclass __eq__ compares
    # fields with == (3.11's compared tuples, where NaN is NaN), so compare it on its own.
    assert math.isnan(state.room_db) and state.mode is Mode.LISTENING
    assert dataclasses.replace(state, room_db=0.0) == dataclasses.replace(
        SpeakerState(), room_db=0.0
    )


# Boundary tests of the request decision's step, one rule each (issue 30: each kills mutants
# that survived the tests above).


def test_the_preroll_is_at_least_one_frame() -> None:
    # The wake's own frame is always kept, even when the ring holds nothing before it.
    for available in (0, 1):
        state, action = step(SpeakerState(), FrameFacts(wake=True, preroll_available=available), S)
        assert action is Action.START
        assert (state.frames, state.head_frames) == (1, 1)


def test_the_ram_buffer_ends_a_request_on_the_frame_that_fills_it() -> None:
    # A started request whose pauses (not kept, so under max_frames) fill the RAM buffer: the
    # frame that fills it ends the utterance, the one before does not.
    assert S.buffer_frames == 232
    state = SpeakerState(
        Mode.AWAKE,
        frames=S.buffer_frames - 2,
        head_frames=S.preroll_frames,
        started=True,
        request_frames=20,
        gaps=((S.preroll_frames, S.buffer_frames - 60),),
    )
    state, action = step(state, SPEECH, S)
    assert (state.frames, action) == (S.buffer_frames - 1, Action.APPEND)
    _, action = step(state, SPEECH, S)
    assert action is Action.KEEP_MAX_LENGTH
