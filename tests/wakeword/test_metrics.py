"""Detection metrics against hand-computed cases, and properties that must hold for any scores.

Frames are 80 ms: frame i covers [0.08 i, 0.08 (i + 1)) seconds. The trigger is the device's own
(wakeword.trigger.activations): score >= threshold for trigger_frames frames, then activations at
least refractory_frames apart.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from device.audio import FRAME_SECONDS
from keepmum.errors import ConfigError
from wakeword import metrics
from wakeword.metrics import (
    DEFAULT_THRESHOLDS,
    DetPoint,
    KeywordSpan,
    choose_operating_point,
    classify_stream_activations,
    summarize_file,
    sweep_clips,
    sweep_stream,
)
from wakeword.trigger import activations

HOUR = 3600.0


def test_public_surface_is_declared() -> None:
    for name in metrics.__all__:
        assert hasattr(metrics, name), name


# --- clip mode -------------------------------------------------------------------------------


POSITIVES = [[0.1, 0.6, 0.2], [0.3, 0.4]]
NEGATIVE = [0.9, 0.9, 0.1, 0.95]  # 4 frames = 0.32 s


def test_clip_sweep_hand_computed() -> None:
    points = sweep_clips(POSITIVES, [NEGATIVE], [0.5, 0.95, 0.96], refractory_frames=2)
    at_05, at_095, at_096 = points
    hours = 4 * FRAME_SECONDS / HOUR

    # 0.5: the first positive fires (0.6), the second never reaches it.
    assert (at_05.positives, at_05.false_rejects, at_05.frr) == (2, 1, 0.5)
    # Negative: ready at 0, 1, 3; frame 1 is inside the 2-frame refractory period of frame 0.
    assert at_05.false_accepts == 2
    assert at_05.negative_hours == pytest.approx(hours)
    assert at_05.fa_per_hour == pytest.approx(2 / hours)
    # A score exactly equal to the threshold counts (>=).
    assert (at_095.false_rejects, at_095.frr, at_095.false_accepts) == (2, 1.0, 1)
    assert at_096.false_accepts == 0
    assert at_096.fa_per_hour == 0.0
    # No speech flags, no cost: NaN, never a made-up zero.
    assert math.isnan(at_05.kept_s) and math.isnan(at_05.kept_s_per_hour)


def test_points_come_back_in_the_order_of_the_thresholds() -> None:
    thresholds = [0.9, 0.1, 0.5]
    points = sweep_clips(POSITIVES, [NEGATIVE], thresholds)
    assert [p.threshold for p in points] == thresholds


@pytest.mark.parametrize(
    ("trigger_frames", "refractory_frames", "expected"),
    [
        (1, 0, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]),
        (1, 1, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]),
        (1, 3, [0, 3, 6, 9]),
        (1, 10, [0]),
        (2, 3, [1, 4, 7]),
        (10, 0, [9]),
        (11, 0, []),
    ],
)
def test_refractory_and_trigger_edges(
    trigger_frames: int, refractory_frames: int, expected: list[int]
) -> None:
    always = [1.0] * 10
    (point,) = sweep_clips(
        [],
        [always],
        [0.5],
        trigger_frames=trigger_frames,
        refractory_frames=refractory_frames,
    )
    assert point.false_accepts == len(expected)
    summary = summarize_file(
        always, 0.5, trigger_frames=trigger_frames, refractory_frames=refractory_frames
    )
    assert list(summary.activation_frames) == expected


def test_trigger_frames_reject_a_single_frame_spike() -> None:
    spike = [0.0, 0.99, 0.0, 0.0]
    held = [0.0, 0.99, 0.99, 0.0]
    (point,) = sweep_clips([spike, held], [], [0.5], trigger_frames=2)
    assert (point.false_rejects, point.frr) == (1, 0.5)


def test_refractory_counts_across_a_gap_from_the_last_activation() -> None:
    # Ready at 0, 2 and 5; refractory 3: 2 is suppressed (2 - 0 < 3), 5 fires (5 - 0 >= 3).
    scores = [0.8, 0.0, 0.8, 0.0, 0.0, 0.8]
    (point,) = sweep_clips([], [scores], [0.5], refractory_frames=3)
    assert point.false_accepts == 2


def test_kept_seconds_are_charged_per_false_accept_with_that_files_flags() -> None:
    negatives = [[0.9, 0.0, 0.0, 0.9, 0.0], [0.0, 0.9, 0.0]]
    flags = [[True, True, False, True, True], [False, False, True]]
    calls: list[tuple[list[bool], int]] = []

    def kept(speech_flags: np.ndarray, wake_frame: int) -> float:
        # "keep the speech frames after the wake": a cost the test can count by hand.
        calls.append((speech_flags.tolist(), wake_frame))
        return float(speech_flags[wake_frame + 1 :].sum()) * FRAME_SECONDS

    (point,) = sweep_clips(
        [], negatives, [0.5], negative_speech_flags=flags, kept_seconds=kept, negative_seconds=HOUR
    )
    assert point.false_accepts == 3
    assert sorted(calls) == sorted([(flags[0], 0), (flags[0], 3), (flags[1], 1)])
    # wake 0 in file 0 keeps frames 1, 3, 4; wake 3 keeps frame 4; wake 1 in file 1 keeps frame 2.
    assert point.kept_s == pytest.approx(5 * FRAME_SECONDS)
    assert point.kept_s_per_hour == pytest.approx(5 * FRAME_SECONDS)
    assert point.fa_per_hour == pytest.approx(3.0)


def test_negative_seconds_override_the_frame_count() -> None:
    (point,) = sweep_clips([], [NEGATIVE], [0.5], refractory_frames=2, negative_seconds=2 * HOUR)
    assert point.negative_hours == 2.0
    assert point.fa_per_hour == 1.0


def test_empty_inputs_give_nan_rates_not_errors() -> None:
    (point,) = sweep_clips([], [], [0.5])
    assert (point.positives, point.false_rejects, point.false_accepts) == (0, 0, 0)
    assert math.isnan(point.frr)
    assert point.negative_hours == 0.0
    assert math.isnan(point.fa_per_hour)
    assert sweep_clips(POSITIVES, [NEGATIVE], []) == []
    # A file with no frames is a positive that never fires and a negative of no length.
    (point,) = sweep_clips([[]], [[]], [0.5])
    assert (point.false_rejects, point.false_accepts, point.negative_hours) == (1, 0, 0.0)


def test_float32_scores_are_compared_as_the_trigger_compares_them() -> None:
    # float32(0.7) is 0.699999988...; numpy compares a float32 array with 0.7 in float32, so it
    # equals the threshold there. The sweep must agree with the trigger, whatever it decides.
    scores = np.array([0.0, 0.7, 0.0], dtype=np.float32)
    (point,) = sweep_clips([scores], [scores], [0.7])
    fired = activations(scores, 0.7, 1, 0)
    assert point.false_accepts == len(fired)
    assert point.false_rejects == (0 if fired else 1)


def test_the_activation_rule_is_injectable() -> None:
    def every_frame(
        scores: np.ndarray, threshold: float, trigger: int, refractory: int
    ) -> list[int]:
        return list(range(len(scores)))

    (point,) = sweep_clips([], [[0.6, 0.6, 0.6]], [0.5], activations=every_frame)
    assert point.false_accepts == 3


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"trigger_frames": 0}, "trigger_frames"),
        ({"refractory_frames": -1}, "refractory_frames"),
        ({"negative_seconds": -1.0}, "negative_seconds"),
        ({"negative_speech_flags": [[True]]}, "speech flag"),
        ({"negative_speech_flags": []}, "one array per negative"),
    ],
)
def test_bad_settings_name_the_setting(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        sweep_clips([], [NEGATIVE], [0.5], **kwargs)  # type: ignore[arg-type]


def test_bad_scores_and_thresholds_are_refused() -> None:
    with pytest.raises(ConfigError, match="1-D"):
        sweep_clips([[[0.1, 0.2]]], [], [0.5])
    with pytest.raises(ConfigError, match="finite"):
        sweep_clips([], [], [math.nan])


score_lists = st.lists(st.floats(0.0, 1.0, width=32), max_size=40)


@settings(max_examples=60, deadline=None)
@given(
    positives=st.lists(score_lists, max_size=5),
    negatives=st.lists(score_lists, max_size=5),
    thresholds=st.lists(st.sampled_from(DEFAULT_THRESHOLDS), min_size=1, max_size=8),
    trigger_frames=st.integers(1, 4),
    refractory_frames=st.integers(0, 6),
    as_float32=st.booleans(),
)
def test_sweep_counts_exactly_what_the_trigger_fires(
    positives: list[list[float]],
    negatives: list[list[float]],
    thresholds: list[float],
    trigger_frames: int,
    refractory_frames: int,
    as_float32: bool,
) -> None:
    dtype = np.float32 if as_float32 else np.float64
    pos = [np.array(p, dtype=dtype) for p in positives]
    neg = [np.array(n, dtype=dtype) for n in negatives]
    points = sweep_clips(
        pos, neg, thresholds, trigger_frames=trigger_frames, refractory_frames=refractory_frames
    )
    for threshold, point in zip(thresholds, points, strict=True):
        fired = [activations(n, threshold, trigger_frames, refractory_frames) for n in neg]
        assert point.false_accepts == sum(len(f) for f in fired)
        missed = sum(not activations(p, threshold, trigger_frames, refractory_frames) for p in pos)
        assert point.false_rejects == missed
        assert 0 <= point.false_rejects <= point.positives == len(pos)


@settings(max_examples=60, deadline=None)
@given(
    positives=st.lists(score_lists, min_size=1, max_size=5),
    negatives=st.lists(score_lists, min_size=1, max_size=5),
    trigger_frames=st.integers(1, 4),
)
def test_frr_never_falls_and_fa_never_rises_as_the_threshold_rises(
    positives: list[list[float]], negatives: list[list[float]], trigger_frames: int
) -> None:
    # Without a refractory period every ready frame fires, so both are monotone; FRR is monotone
    # with any refractory period (a positive is detected iff some frame is ready).
    points = sweep_clips(positives, negatives, DEFAULT_THRESHOLDS, trigger_frames=trigger_frames)
    frrs = [p.frr for p in points]
    fas = [p.false_accepts for p in points]
    assert frrs == sorted(frrs)
    assert fas == sorted(fas, reverse=True)


# --- stream mode -----------------------------------------------------------------------------


def test_stream_classification_hand_computed() -> None:
    spans = [KeywordSpan(5.0, 5.6), KeywordSpan(1.0, 1.5)]  # given out of order on purpose
    # frame 11 = [0.88, 0.96): ends before 1.0 -> false accept
    # frame 12 = [0.96, 1.04): overlaps the start of span (1.0, 1.5) -> hit
    # frame 20 = [1.60, 1.68): inside 1.5 + 0.5, but that span is already hit -> false accept
    # frame 76 = [6.08, 6.16): starts before 5.6 + 0.5 = 6.1 -> hit of (5.0, 5.6)
    # frame 77 = [6.16, 6.24): after every window -> false accept
    hit, false_accepts = classify_stream_activations([77, 12, 20, 11, 76], spans, 0.5)
    assert hit == [True, True]
    assert false_accepts == [11, 20, 77]


def test_stream_window_edges() -> None:
    # span ends at 1.5; with tolerance 0.5 a frame starting exactly at 2.0 still counts (closed).
    assert 25 * FRAME_SECONDS == 2.0
    assert classify_stream_activations([25], [KeywordSpan(1.0, 1.5)], 0.5) == ([True], [])
    assert classify_stream_activations([26], [KeywordSpan(1.0, 1.5)], 0.5) == ([False], [26])
    # A frame that ends exactly where the span starts does not overlap it (half-open frame).
    assert classify_stream_activations([24], [KeywordSpan(2.0, 2.5)], 0.0) == ([False], [24])
    assert classify_stream_activations([25], [KeywordSpan(2.0, 2.5)], 0.0) == ([True], [])


def test_close_spans_each_take_one_activation() -> None:
    # Windows overlap ((1.0, 1.7] and (1.5, 2.3]); the first activation goes to the earlier span,
    # the second to the later one, a third is a false accept.
    spans = [KeywordSpan(1.0, 1.2), KeywordSpan(1.5, 1.8)]
    hit, false_accepts = classify_stream_activations([20, 21, 22], spans, 0.5)
    assert hit == [True, True]
    assert false_accepts == [22]


def test_stream_sweep_hand_computed() -> None:
    scores = np.zeros(100)
    scores[12] = 0.9  # inside span 1
    scores[40] = 0.6  # between spans: a false accept at 0.5 only
    scores[70] = 0.95  # inside span 2 (5.6 .. 6.0)
    flags = np.zeros(100, dtype=bool)
    flags[41:46] = True  # 5 speech frames after the false accept
    spans = [KeywordSpan(0.9, 1.3), KeywordSpan(5.5, 6.0), KeywordSpan(7.0, 7.4)]

    def kept(speech: np.ndarray, frame: int) -> float:
        return float(speech[frame:].sum()) * FRAME_SECONDS

    at_05, at_09, at_099 = sweep_stream(
        scores, spans, [0.5, 0.9, 0.99], speech_flags=flags, kept_seconds=kept
    )
    hours = 100 * FRAME_SECONDS / HOUR
    assert (at_05.positives, at_05.false_rejects, at_05.false_accepts) == (3, 1, 1)
    assert at_05.frr == pytest.approx(1 / 3)
    assert at_05.negative_hours == pytest.approx(hours)
    assert at_05.fa_per_hour == pytest.approx(1 / hours)
    assert at_05.kept_s == pytest.approx(5 * FRAME_SECONDS)
    assert (at_09.false_rejects, at_09.false_accepts, at_09.kept_s) == (1, 0, 0.0)
    assert (at_099.false_rejects, at_099.frr, at_099.false_accepts) == (3, 1.0, 0)


def test_stream_refractory_turns_a_held_score_into_one_wake() -> None:
    scores = np.zeros(60)
    scores[12:20] = 0.9  # 8 frames above threshold on one keyword
    spans = [KeywordSpan(0.9, 1.3)]
    (free,) = sweep_stream(scores, spans, [0.5], refractory_frames=0)
    (held,) = sweep_stream(scores, spans, [0.5], refractory_frames=25)
    assert (free.false_rejects, free.false_accepts) == (0, 7)
    assert (held.false_rejects, held.false_accepts) == (0, 0)


def test_stream_inputs_are_checked() -> None:
    with pytest.raises(ConfigError, match="ends before it starts"):
        sweep_stream([0.1], [KeywordSpan(2.0, 1.0)], [0.5])
    with pytest.raises(ConfigError, match="speech flag"):
        sweep_stream([0.1, 0.2], [], [0.5], speech_flags=[True])
    with pytest.raises(ConfigError, match="tolerance_s"):
        sweep_stream([0.1], [], [0.5], tolerance_s=-0.1)
    (empty,) = sweep_stream([], [], [0.5])
    assert math.isnan(empty.frr) and math.isnan(empty.fa_per_hour)


@settings(max_examples=80, deadline=None)
@given(
    frames=st.lists(st.integers(0, 200), max_size=30, unique=True),
    starts=st.lists(st.floats(0.0, 15.0), max_size=8),
    length_s=st.floats(0.0, 2.0),
    tolerance_s=st.floats(0.0, 1.0),
)
def test_every_activation_is_a_hit_or_a_false_accept(
    frames: list[int], starts: list[float], length_s: float, tolerance_s: float
) -> None:
    spans = [KeywordSpan(s, s + length_s) for s in starts]
    hit, false_accepts = classify_stream_activations(frames, spans, tolerance_s)
    assert sum(hit) + len(false_accepts) == len(frames)
    assert set(false_accepts) <= set(frames)
    for frame in false_accepts:
        # A false accept overlaps no span, or only spans that were hit.
        start, end = frame * FRAME_SECONDS, (frame + 1) * FRAME_SECONDS
        for span, was_hit in zip(spans, hit, strict=True):
            if end > span.start_s and start <= span.end_s + tolerance_s:
                assert was_hit


# --- operating point and per-file summary ----------------------------------------------------


def _p(threshold: float, frr: float, fa_per_hour: float) -> DetPoint:
    rejects = 0 if math.isnan(frr) else round(frr * 20)
    return DetPoint(threshold, 20, rejects, frr, 0, 1.0, fa_per_hour, math.nan, math.nan)


def test_operating_point_is_the_lowest_frr_within_the_target() -> None:
    points = [_p(0.3, 0.0, 2.0), _p(0.5, 0.05, 0.4), _p(0.6, 0.05, 0.2), _p(0.8, 0.2, 0.0)]
    chosen = choose_operating_point(points)
    assert chosen is not None
    assert chosen.point.threshold == 0.6  # ties on FRR broken by fewer false accepts
    assert chosen.meets_target and chosen.target_fa_per_hour == 0.5
    # Exactly at the target counts as meeting it.
    exact = choose_operating_point([_p(0.4, 0.01, 0.5), _p(0.9, 0.3, 0.0)])
    assert exact is not None and exact.point.threshold == 0.4 and exact.meets_target


def test_operating_point_falls_back_to_the_fewest_false_accepts() -> None:
    points = [_p(0.3, 0.0, 3.0), _p(0.5, 0.1, 1.0), _p(0.7, 0.2, 1.0)]
    chosen = choose_operating_point(points, max_fa_per_hour=0.1)
    assert chosen is not None
    assert chosen.point.threshold == 0.5 and not chosen.meets_target
    assert choose_operating_point([]) is None


def test_operating_point_ranks_nan_last() -> None:
    chosen = choose_operating_point([_p(0.5, math.nan, 0.1), _p(0.6, 0.2, 0.1)])
    assert chosen is not None and chosen.point.threshold == 0.6


def test_file_summary() -> None:
    summary = summarize_file([0.1, 0.7, 0.9, 0.9, 0.2, 0.6], 0.5, refractory_frames=4)
    assert summary.frames == 6
    assert summary.duration_s == pytest.approx(0.48)
    assert summary.max_score == 0.9 and summary.max_score_frame == 2
    assert summary.max_score_t_s == pytest.approx(0.16)
    assert summary.activation_frames == (1, 5)
    assert summary.activation_times_s == pytest.approx((0.16, 0.48))  # frame ends, as replay
    padded = summarize_file([0.1, 0.7, 0.9, 0.9, 0.2, 0.6], 0.5, refractory_frames=4, t0_s=-1.0)
    assert padded.activation_times_s == pytest.approx((-0.84, -0.52))
    assert padded.max_score_t_s == pytest.approx(-0.84)
    empty = summarize_file([], 0.5)
    assert (empty.frames, empty.max_score_frame, empty.activation_frames) == (0, -1, ())
    assert math.isnan(empty.max_score) and math.isnan(empty.max_score_t_s)


def test_det_point_as_dict_keeps_field_order() -> None:
    point = _p(0.5, 0.1, 0.2)
    assert list(point.as_dict()) == [
        "threshold",
        "positives",
        "false_rejects",
        "frr",
        "false_accepts",
        "negative_hours",
        "fa_per_hour",
        "kept_s",
        "kept_s_per_hour",
        # Added by issue 13, after every earlier field: the intervals (tests/wakeword/test_stats).
        "confidence",
        "frr_low",
        "frr_high",
        "fa_per_hour_low",
        "fa_per_hour_high",
    ]


def test_default_thresholds_are_sorted_and_inside_the_score_range() -> None:
    assert list(DEFAULT_THRESHOLDS) == sorted(set(DEFAULT_THRESHOLDS))
    assert DEFAULT_THRESHOLDS[0] > 0.0 and DEFAULT_THRESHOLDS[-1] < 1.0
    assert 0.5 in DEFAULT_THRESHOLDS


def test_device_kept_seconds_charges_what_the_speaker_keeps() -> None:
    from device.states import SpeakerSettings, kept_seconds

    speaker = SpeakerSettings()
    cost = metrics.device_kept_seconds(speaker)
    # A false wake followed by 2 s of speech then silence: the device keeps an utterance.
    talking = np.array([False] * 5 + [True] * 25 + [False] * 40)
    # A false wake followed by silence only: discarded, nothing kept.
    quiet = np.zeros(70, dtype=bool)
    assert cost(talking, 4) == kept_seconds(list(talking), 4, speaker) > 0.0
    assert cost(quiet, 4) == 0.0
    scores = np.zeros(70)
    scores[4] = 0.9
    (point,) = sweep_clips(
        [], [scores, scores], [0.5], negative_speech_flags=[talking, quiet], kept_seconds=cost
    )
    assert point.false_accepts == 2
    assert point.kept_s == pytest.approx(cost(talking, 4))


def test_device_kept_seconds_reads_the_rows_as_the_speaker_does() -> None:
    """With the device's per-frame facts (2-D rows), a false accept is priced with the
    speaker's own rule: the VAD's speech, the confirmed speech and the levels."""
    from device.states import SpeakerSettings, decide

    speaker = SpeakerSettings()
    cost = metrics.device_kept_seconds(speaker)
    frames, wake = 60, 10
    # Loud speech up to the wake (the wake word itself: no pause before the detection), which
    # the second stage did not confirm; then 4 confirmed frames (320 ms, within the 400 ms tail)
    # and quiet: only the wake word's tail followed.
    speech = np.zeros(frames, dtype=bool)
    speech[: wake + 5] = True
    confirmed = np.zeros(frames, dtype=bool)
    confirmed[wake + 1 : wake + 5] = True
    gap_speech = speech.copy()
    facts = np.stack((speech, confirmed, gap_speech, np.full(frames, -30.0)))
    assert metrics.DECISION_ROWS == ("speech", "confirmed", "gap_speech", "level_db")
    device = decide(list(speech), list(confirmed), wake, speaker)
    assert device.kept_s == 0.0 and device.reason == "wake_tail"
    assert cost(facts, wake) == 0.0
    tail_only = facts
    # A request after the tail (a frame's pause, then 6 confirmed frames) is charged what the
    # device keeps of it, the rows' levels included.
    confirmed[wake + 6 : wake + 12] = True
    speech[wake + 6 : wake + 12] = True
    facts = np.stack((speech, confirmed, speech, np.full(frames, -30.0)))
    kept = decide(list(speech), list(confirmed), wake, speaker, levels=facts[3])
    assert kept.kept_s > 0.0 and cost(facts, wake) == kept.kept_s
    scores = np.zeros(frames)
    scores[wake] = 0.9
    (point,) = sweep_clips(
        [], [scores], [0.5], negative_speech_flags=[tail_only], kept_seconds=cost
    )
    assert point.false_accepts == 1 and point.kept_s == 0.0
    with pytest.raises(ConfigError, match="speech flag"):
        sweep_clips([], [scores], [0.5], negative_speech_flags=[facts[:3]], kept_seconds=cost)


def test_device_kept_seconds_reads_the_levels_as_the_speaker_does() -> None:
    """A false accept on talk followed by quieter talk is priced with the speaker's
    request_range_db rule: the quieter talk (25 dB under) holds nothing open; unknown levels
    (NaN) price it as before the rule."""
    from device.states import SpeakerSettings, decide

    speaker = SpeakerSettings()
    cost = metrics.device_kept_seconds(speaker)
    frames, wake = 80, 10
    speech = np.zeros(frames, dtype=bool)
    speech[8] = speech[12:18] = speech[20:40] = True  # the wake word at 8, a pause, the request
    levels = np.full(frames, -60.0)
    levels[8] = levels[12:18] = -20.0
    levels[20:40] = -45.0
    facts = np.stack((speech, speech, speech, levels))
    device = decide(speech, speech, wake, speaker, levels=levels)
    assert cost(facts, wake) == device.kept_s == (17 + 1 + speaker.silence_frames) * 0.08
    unknown = facts.copy()
    unknown[3] = np.nan
    assert cost(unknown, wake) == (39 + 1 + speaker.silence_frames) * 0.08
