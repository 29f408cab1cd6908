"""The trigger rule, streamed and vectorised, and its settings."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from keepmum.errors import ConfigError
from wakeword.trigger import (
    Detection,
    WakeSettings,
    WakeTrigger,
    above_threshold,
    activations,
    refractory_frames,
)


def _stream(scores: list[float], wake: WakeSettings) -> list[int]:
    trigger = WakeTrigger(wake)
    fired = []
    for index, score in enumerate(scores):
        detection = trigger.update(index, {"alexa": score})
        if detection is not None:
            assert detection.model == "alexa" and detection.score == score
            fired.append(detection.frame_index)
    return fired


@settings(max_examples=300, deadline=None)
@given(
    scores=st.lists(st.sampled_from([0.0, 0.2, 0.49, 0.5, 0.51, 0.9, 1.0]), max_size=120),
    threshold=st.sampled_from([0.05, 0.5, 0.51, 0.95]),
    trigger_frames=st.integers(1, 4),
    refractory_s=st.sampled_from([0.0, 0.08, 0.16, 0.4, 2.0]),
)
def test_vectorised_activations_agree_with_streaming_trigger(
    scores: list[float], threshold: float, trigger_frames: int, refractory_s: float
) -> None:
    wake = WakeSettings(
        default_threshold=threshold, trigger_frames=trigger_frames, refractory_s=refractory_s
    )
    model_scores = np.array(scores, dtype=np.float32)  # what the models emit
    expected = _stream([float(v) for v in model_scores], wake)  # what the detector hands on
    got = activations(model_scores, threshold, trigger_frames, wake.refractory_frames)
    assert got == expected


def test_float32_scores_compare_as_on_the_device() -> None:
    # float32(0.7) is just below 0.7; under numpy 2 a float32 array would compare in float32
    # and call it >= 0.7, while the device (Python floats) does not.
    score = np.float32(0.7)
    assert float(score) < 0.7
    wake = WakeSettings(default_threshold=0.7)
    assert WakeTrigger(wake).update(0, {"alexa": score}) is None
    assert activations(np.array([score, score]), 0.7, 1, 0) == []
    assert activations(np.array([np.float32(0.75)]), 0.7, 1, 0) == [0]


def test_hand_computed_case() -> None:
    #        0    1    2    3    4    5    6    7    8    9
    scores = [0.1, 0.6, 0.7, 0.2, 0.8, 0.9, 0.9, 0.9, 0.9, 0.9]
    # trigger 2: ready at 2, 5, 6, 7, 8, 9; refractory 3 frames: fires 2, 5, 8.
    assert activations(np.array(scores), 0.5, 2, 3) == [2, 5, 8]
    wake = WakeSettings(trigger_frames=2, refractory_s=0.24)
    assert wake.refractory_frames == 3
    assert _stream(scores, wake) == [2, 5, 8]


def test_highest_score_wins_and_refractory_spans_models() -> None:
    wake = WakeSettings(models=("alexa", "hey_jarvis"), refractory_s=0.16)
    trigger = WakeTrigger(wake)
    hit = trigger.update(0, {"alexa": 0.6, "hey_jarvis": 0.9})
    assert hit == Detection("hey_jarvis", 0.9, 0)
    assert trigger.update(1, {"alexa": 0.99, "hey_jarvis": 0.0}) is None  # refractory, any model
    hit = trigger.update(2, {"alexa": 0.99, "hey_jarvis": 0.0})
    assert hit is not None and hit.model == "alexa" and hit.t == pytest.approx(0.16)


def test_per_name_thresholds() -> None:
    wake = WakeSettings(thresholds=(("alexa", 0.8),), default_threshold=0.3)
    assert wake.threshold_for("alexa") == 0.8
    assert wake.threshold_for("hey_jarvis") == 0.3
    trigger = WakeTrigger(wake)
    assert trigger.update(0, {"alexa": 0.7}) is None
    assert trigger.update(1, {"hey_jarvis": 0.31}) is not None


def test_over_threshold_is_the_last_frame_against_each_threshold_refractory_or_not() -> None:
    wake = WakeSettings(
        models=("alexa", "hey_jarvis"), thresholds=(("alexa", 0.8),), default_threshold=0.3
    )
    trigger = WakeTrigger(wake)
    assert trigger.over_threshold is False
    assert trigger.update(0, {"alexa": 0.9, "hey_jarvis": 0.0}) is not None
    assert trigger.over_threshold
    assert trigger.update(1, {"alexa": 0.7, "hey_jarvis": 0.2}) is None
    assert not trigger.over_threshold  # alexa's own 0.8, not the default 0.3
    assert trigger.update(2, {"alexa": 0.0, "hey_jarvis": 0.31}) is None  # refractory
    assert trigger.over_threshold  # over all the same
    assert trigger.update(3, {"alexa": 0.0, "hey_jarvis": 0.0}) is None
    assert trigger.over_threshold is False  # each frame starts from not over


def test_skipped_frame_breaks_a_run() -> None:
    trigger = WakeTrigger(WakeSettings(trigger_frames=2))
    assert trigger.update(0, {"alexa": 0.9}) is None
    assert trigger.update(5, {"alexa": 0.9}) is None
    assert trigger.update(6, {"alexa": 0.9}) is not None


def test_refractory_frames_round_up() -> None:
    assert refractory_frames(2.0) == 25
    assert refractory_frames(0.1) == 2
    assert refractory_frames(0.0) == 0


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (
            {"default_threshold": 0.0},
            "wakeword.default_threshold must be in (0, 1], got 0.0",
        ),
        (
            {"thresholds": (("alexa", 1.5),)},
            "wake threshold for 'alexa': expected a number in (0, 1], got 1.5",
        ),
        (
            {"thresholds": (("alexa", 0.0),)},
            "wake threshold for 'alexa': expected a number in (0, 1], got 0.0",
        ),
        (
            {"thresholds": (("alexa", "0.5"),)},
            "wake threshold for 'alexa': expected a number in (0, 1], got '0.5'",
        ),
        ({"trigger_frames": 0}, "wakeword.trigger_frames must be >= 1, got 0"),
        ({"trigger_frames": 1.0}, "wakeword.trigger_frames must be a whole number >= 1, got 1.0"),
        ({"refractory_s": -1.0}, "wakeword.refractory_s must be >= 0, got -1.0"),
        ({"refractory_s": "2"}, "wakeword.refractory_s must be >= 0, got '2'"),
        ({"models": ()}, "wakeword.models: expected at least one model, got none"),
    ],
)
def test_bad_settings_name_the_setting(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError) as refused:
        WakeSettings(**kwargs)  # type: ignore[arg-type]
    assert str(refused.value) == message


def test_the_bounds_of_good_settings_are_accepted() -> None:
    edge = WakeSettings(
        default_threshold=1.0, thresholds=(("alexa", 1),), trigger_frames=1, refractory_s=0
    )
    assert (edge.threshold_for("alexa"), edge.threshold_for("other")) == (1, 1.0)
    assert edge.refractory_frames == 0
    assert WakeSettings(default_threshold=1e-9).default_threshold == 1e-9


def test_two_names_tied_over_threshold_the_first_fed_wins() -> None:
    wake = WakeSettings(models=("alexa", "hey_jarvis"), refractory_s=0.0)
    trigger = WakeTrigger(wake)
    assert trigger.update(0, {"alexa": 0.8, "hey_jarvis": 0.8}) == Detection("alexa", 0.8, 0)
    assert trigger.update(1, {"hey_jarvis": 0.8, "alexa": 0.8}) == Detection("hey_jarvis", 0.8, 1)
    # Not a tie: the higher score wins wherever it comes.
    assert trigger.update(2, {"alexa": 0.8, "jarvis": 0.81}) == Detection("jarvis", 0.81, 2)
    assert trigger.update(3, {"alexa": 0.81, "jarvis": 0.8}) == Detection("alexa", 0.81, 3)


def test_a_score_name_not_ready_does_not_win_over_one_that_is() -> None:
    # alexa has its two frames in a row; hey_jarvis scores higher but only on its first frame.
    trigger = WakeTrigger(WakeSettings(models=("alexa", "hey_jarvis"), trigger_frames=2))
    assert trigger.update(0, {"alexa": 0.6, "hey_jarvis": 0.1}) is None
    assert trigger.update(1, {"alexa": 0.6, "hey_jarvis": 0.99}) == Detection("alexa", 0.6, 1)


def test_activations_refuse_anything_but_one_score_per_frame() -> None:
    with pytest.raises(ValueError) as refused:
        activations(np.zeros((2, 3), dtype=np.float32), 0.5, 1, 0)
    assert str(refused.value) == "scores must be one score per frame, got shape (2, 3)"


def test_a_score_exactly_at_the_threshold_is_over_it_in_both() -> None:
    wake = WakeSettings(thresholds=(("alexa", 0.75),))  # 0.75 is exact in float32 and float64
    trigger = WakeTrigger(wake)
    assert trigger.update(0, {"alexa": 0.75}) == Detection("alexa", 0.75, 0)
    assert trigger.over_threshold is True
    assert activations(np.array([0.75], dtype=np.float32), 0.75, 1, 0) == [0]
    assert above_threshold(np.array([0.7499, 0.75, 0.7501]), 0.75).tolist() == [False, True, True]


def test_a_frame_without_scores_is_not_over_the_threshold() -> None:
    trigger = WakeTrigger(WakeSettings())
    assert trigger.update(0, {"alexa": 0.9}) is not None and trigger.over_threshold is True
    assert trigger.update(1, {}) is None
    assert trigger.over_threshold is False
