"""Confidence intervals against scipy.stats on known counts, and on every DetPoint a sweep makes."""

from __future__ import annotations

import math
from collections.abc import Callable

import pytest
from scipy import stats as sps

from keepmum.errors import ConfigError
from wakeword import stats
from wakeword.metrics import DetPoint, choose_operating_point, sweep_clips
from wakeword.stats import (
    garwood_interval,
    hours_to_show,
    poisson_rate_interval,
    wilson_interval,
)

COUNTS = [(0, 1), (0, 5), (1, 5), (5, 5), (3, 20), (18, 329), (0, 329), (329, 329), (50, 100)]
LEVELS = [0.8, 0.9, 0.95, 0.99]


def test_public_surface_is_declared() -> None:
    for name in stats.__all__:
        assert hasattr(stats, name), name


@pytest.mark.parametrize("confidence", LEVELS)
@pytest.mark.parametrize(("k", "n"), COUNTS)
def test_wilson_matches_scipy_binomtest(k: int, n: int, confidence: float) -> None:
    expected = sps.binomtest(k, n).proportion_ci(confidence_level=confidence, method="wilson")
    got = wilson_interval(k, n, confidence)
    assert got.low == pytest.approx(expected.low, abs=1e-12)
    assert got.high == pytest.approx(expected.high, abs=1e-12)
    assert 0.0 <= got.low <= k / n <= got.high <= 1.0


@pytest.mark.parametrize("confidence", LEVELS)
@pytest.mark.parametrize("events", [0, 1, 2, 5, 17, 100, 1000])
def test_garwood_matches_scipy_chi2(events: int, confidence: float) -> None:
    alpha = 1 - confidence
    low = sps.chi2.ppf(alpha / 2, 2 * events) / 2 if events else 0.0
    high = sps.chi2.ppf(1 - alpha / 2, 2 * events + 2) / 2
    got = garwood_interval(events, confidence)
    assert got.low == pytest.approx(low, rel=1e-9, abs=1e-12)
    assert got.high == pytest.approx(high, rel=1e-9)
    # Exact: the interval's ends are where the Poisson tails equal alpha / 2.
    if events:
        assert sps.poisson.sf(events - 1, got.low) == pytest.approx(alpha / 2, rel=1e-7)
    assert sps.poisson.cdf(events, got.high) == pytest.approx(alpha / 2, rel=1e-7)


def test_published_values() -> None:
    # Garwood's table: 0 events -> [0, 3.689], 1 event -> [0.0253, 5.572] at 95 %.
    zero, one = garwood_interval(0, 0.95), garwood_interval(1, 0.95)
    assert (zero.low, round(zero.high, 3)) == (0.0, 3.689)
    assert (round(one.low, 4), round(one.high, 3)) == (0.0253, 5.572)
    # 0 false accepts in 0.14 h (the case): far above a 0.5 FA/h target.
    assert poisson_rate_interval(0, 0.14, 0.95).high == pytest.approx(3.689 / 0.14, rel=1e-3)
    assert hours_to_show(0.5, 0.95) == pytest.approx(3.689 / 0.5, rel=1e-3)
    assert math.isinf(hours_to_show(0.0, 0.95))


def test_no_denominator_gives_nan_and_bad_input_is_refused() -> None:
    assert all(map(math.isnan, (wilson_interval(0, 0, 0.95).low, wilson_interval(0, 0, 0.95).high)))
    assert math.isnan(poisson_rate_interval(0, 0.0, 0.95).high)
    for confidence in (0.0, 1.0, -0.5, 1.5, math.nan):
        with pytest.raises(ConfigError, match="confidence"):
            wilson_interval(1, 2, confidence)
        with pytest.raises(ConfigError, match="confidence"):
            poisson_rate_interval(1, 0.0, confidence)
    with pytest.raises(ConfigError):
        wilson_interval(3, 2, 0.95)
    with pytest.raises(ConfigError):
        garwood_interval(-1, 0.95)


def test_every_point_of_a_sweep_carries_its_intervals() -> None:
    positives = [[0.9], [0.7], [0.2], [0.55], [0.95]]
    negatives = [[0.1] * 3000 + [0.8] + [0.1] * 3000, [0.6, 0.1, 0.1, 0.99] + [0.1] * 9000]
    points = sweep_clips(positives, negatives, [0.5, 0.65, 0.85, 0.995], refractory_frames=2)
    assert [p.false_accepts for p in points] == [3, 2, 1, 0]  # a real spread of counts
    for confidence in (0.95, 0.9):
        for point in (p.at_confidence(confidence) for p in points):
            frr = sps.binomtest(point.false_rejects, point.positives).proportion_ci(
                confidence_level=confidence, method="wilson"
            )
            assert (point.frr_low, point.frr_high) == pytest.approx((frr.low, frr.high))
            alpha = 1 - confidence
            k, hours = point.false_accepts, point.negative_hours
            low = sps.chi2.ppf(alpha / 2, 2 * k) / 2 / hours if k else 0.0
            high = sps.chi2.ppf(1 - alpha / 2, 2 * k + 2) / 2 / hours
            assert (point.fa_per_hour_low, point.fa_per_hour_high) == pytest.approx((low, high))
            assert point.fa_per_hour_low <= point.fa_per_hour <= point.fa_per_hour_high
            assert point.confidence == confidence
            assert {"frr_low", "frr_high", "fa_per_hour_low", "fa_per_hour_high"} <= set(
                point.as_dict()
            )


def _point(threshold: float, rejects: int, false_accepts: int, hours: float) -> DetPoint:
    return DetPoint(
        threshold, 100, rejects, rejects / 100, false_accepts, hours, false_accepts / hours,
        math.nan, math.nan,
    )  # fmt: skip


def test_conservative_choice_uses_the_upper_bound() -> None:
    # 20 h of negatives: 0 FA -> upper bound 0.18 FA/h; 5 FA -> 0.25 FA/h, bound 0.58 FA/h.
    points = [_point(0.3, 2, 5, 20.0), _point(0.6, 9, 0, 20.0)]
    plain = choose_operating_point(points, 0.5)
    careful = choose_operating_point(points, 0.5, conservative=True)
    assert plain is not None and careful is not None
    assert plain.point.threshold == 0.3 and plain.meets_target
    assert not plain.shown_to_meet_target  # its upper bound is over the target
    assert careful.point.threshold == 0.6 and careful.conservative
    assert careful.shown_to_meet_target and careful.point.fa_per_hour_high < 0.5
    # Too little audio for any point to show the target: the lowest upper bound, not shown.
    short = [_point(0.3, 2, 5, 0.5), _point(0.6, 9, 0, 0.5)]
    fallback = choose_operating_point(short, 0.5, conservative=True)
    assert fallback is not None and fallback.point.threshold == 0.6
    assert not fallback.shown_to_meet_target and fallback.meets_target


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (
            lambda: wilson_interval(1, 2, 1.0),
            "confidence must be between 0 and 1 (e.g. 0.95), got 1.0",
        ),
        (
            lambda: garwood_interval(1, math.nan),
            "confidence must be between 0 and 1 (e.g. 0.95), got nan",
        ),
        (
            lambda: poisson_rate_interval(1, 0.0, 0.0),
            "confidence must be between 0 and 1 (e.g. 0.95), got 0.0",
        ),
        (
            lambda: wilson_interval(3, 2, 0.95),
            "a proportion needs 0 <= successes <= trials, got 3/2",
        ),
        (
            lambda: wilson_interval(-1, 2, 0.95),
            "a proportion needs 0 <= successes <= trials, got -1/2",
        ),
        (
            lambda: wilson_interval(1, 0, 0.95),
            "a proportion needs 0 <= successes <= trials, got 1/0",
        ),
        (
            lambda: wilson_interval(0, -1, 0.95),
            "a proportion needs 0 <= successes <= trials, got 0/-1",
        ),
        (lambda: garwood_interval(-1, 0.95), "an event count must be 0 or more, got -1"),
    ],
)
def test_refused_input_is_named_in_one_line(call: Callable[[], object], message: str) -> None:
    with pytest.raises(ConfigError) as refused:
        call()
    assert str(refused.value) == message


def test_check_confidence_returns_a_good_level_unchanged() -> None:
    assert stats.check_confidence(0.95) == 0.95
    assert stats.check_confidence(1e-9) == 1e-9
    assert stats.DEFAULT_CONFIDENCE == 0.95


def test_the_ends_at_zero_and_all_successes_are_exact() -> None:
    # Rounding must not leave the interval of 0 of n above 0, nor that of n of n below 1.
    # (At 80 %, the closed form gives 0 of 11 a low end of 1.4e-17 and 10 of 10 a high end of
    # 1 + 2.2e-16.)
    for n, confidence in ((1, 0.95), (7, 0.95), (329, 0.95), (10_000, 0.95), (11, 0.8), (10, 0.8)):
        assert wilson_interval(0, n, confidence).low == 0.0
        assert wilson_interval(n, n, confidence).high == 1.0
        inside = wilson_interval(1, n + 1, 0.95)
        assert 0.0 < inside.low < 1 / (n + 1) < inside.high < 1.0
    assert garwood_interval(0, 0.95).low == 0.0


def test_rates_divide_counts_by_the_exposure() -> None:
    counts = garwood_interval(4, 0.9)
    rate = poisson_rate_interval(4, 2.5, 0.9)
    assert (rate.low, rate.high) == (counts.low / 2.5, counts.high / 2.5)
    assert math.isnan(poisson_rate_interval(4, -1.0, 0.9).low)
    assert math.isinf(hours_to_show(-0.5, 0.95))
    assert hours_to_show(2.0, 0.9) == garwood_interval(0, 0.9).high / 2.0
