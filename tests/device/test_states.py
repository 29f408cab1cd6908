"""The pure state machine: every transition and timeout, counted in frames."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from device.states import (
    Action,
    FrameFacts,
    Mode,
    SpeakerSettings,
    SpeakerState,
    kept_seconds,
    step,
)

S = SpeakerSettings()  # preroll 13 frames, silence 9, max 100, timeout 19, min speech 3


def run(facts: list[FrameFacts], settings: SpeakerSettings = S) -> list[Action]:
    state = SpeakerState()
    actions = []
    for f in facts:
        state, action = step(state, f, settings)
        actions.append(action)
    return actions


def test_derived_frame_counts() -> None:
    assert (S.preroll_frames, S.silence_frames, S.max_frames) == (13, 9, 100)
    assert (S.timeout_frames, S.min_speech_frames, S.ring_frames) == (19, 3, 25)


def test_listening_ignores_speech_without_wake() -> None:
    assert run([FrameFacts(speech=True)] * 50) == [Action.NONE] * 50


def test_wake_starts_with_the_preroll_the_ring_holds() -> None:
    state, action = step(SpeakerState(), FrameFacts(wake=True, preroll_available=5), S)
    assert action is Action.START and state.mode is Mode.AWAKE and state.frames == 5
    state, _ = step(SpeakerState(), FrameFacts(wake=True, preroll_available=25), S)
    assert state.frames == S.preroll_frames


def test_request_then_trailing_silence_keeps() -> None:
    facts = [FrameFacts(wake=True, preroll_available=25)]
    facts += [FrameFacts(speech=True)] * 10 + [FrameFacts(speech=False)] * 9
    actions = run(facts)
    assert actions[0] is Action.START
    assert actions[-1] is Action.KEEP_SILENCE
    assert set(actions[1:-1]) == {Action.APPEND}


def test_one_frame_short_of_the_silence_does_not_end() -> None:
    facts = [FrameFacts(wake=True, preroll_available=25)]
    facts += (
        [FrameFacts(speech=True)] * 4 + [FrameFacts(speech=False)] * 8 + [FrameFacts(speech=True)]
    )
    assert Action.KEEP_SILENCE not in run(facts)


def test_no_speech_after_wake_is_discarded_at_the_timeout() -> None:
    actions = run([FrameFacts(wake=True, preroll_available=25)] + [FrameFacts()] * 30)
    assert actions.index(Action.DISCARD_NO_SPEECH) == S.timeout_frames


def test_a_speech_blip_shorter_than_min_speech_is_still_a_false_wake() -> None:
    facts = [
        FrameFacts(wake=True, preroll_available=25),
        FrameFacts(speech=True),
        FrameFacts(speech=True),
    ]
    facts += [FrameFacts()] * 30
    assert Action.DISCARD_NO_SPEECH in run(facts)


def test_endless_speech_ends_at_max_length() -> None:
    actions = run([FrameFacts(wake=True, preroll_available=25)] + [FrameFacts(speech=True)] * 200)
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
    flags = [False] * 20 + [True] * 10 + [False] * 20
    # Wake at 18: 13 pre-roll frames, speech 20..29, silence 30..38 ends it at 38.
    assert kept_seconds(flags, 18, S) == (13 + 38 - 18) * 0.08
    assert kept_seconds([False] * 60, 18, S) == 0.0
    assert kept_seconds([True] * 300, 18, S) == S.max_frames * 0.08


def test_kept_seconds_counts_an_utterance_cut_by_the_end_of_input() -> None:
    flags = [False] * 5 + [True] * 6
    assert kept_seconds(flags, 4, S) == (5 + 6) * 0.08


@given(st.lists(st.booleans(), min_size=1, max_size=300), st.integers(0, 299))
def test_kept_seconds_is_bounded(flags: list[bool], wake: int) -> None:
    wake = min(wake, len(flags) - 1)
    kept = kept_seconds(flags, wake, S)
    assert 0.0 <= kept <= S.max_frames * 0.08 + 1e-9
    if not any(flags[wake + 1 :]):
        assert kept == 0.0


@given(st.lists(st.tuples(st.booleans(), st.booleans()), max_size=400))
def test_machine_never_exceeds_max_length_and_always_returns_to_listening(
    frames: list[tuple[bool, bool]],
) -> None:
    state = SpeakerState()
    for wake, speech in frames:
        state, action = step(state, FrameFacts(wake=wake, speech=speech, preroll_available=25), S)
        assert state.frames <= S.max_frames
        if action in (Action.KEEP_SILENCE, Action.KEEP_MAX_LENGTH, Action.DISCARD_NO_SPEECH):
            assert state.mode is Mode.LISTENING
