"""Confidence intervals for the two rates a wake-word benchmark prints.

* **False-reject rate** (``k`` misses of ``n`` positives): the Wilson score interval, the usual
  choice for a binomial proportion with few trials (it never leaves [0, 1], and 0 of 5 gives
  [0, 43 %] at 95 %, not the Wald interval's [0, 0]). Closed form, with ``z`` the normal
  quantile at ``1 - (1 - confidence) / 2``::

      centre = (p + z^2 / 2n) / (1 + z^2 / n)
      half   = z / (1 + z^2 / n) * sqrt(p (1 - p) / n + z^2 / 4n^2)

  (scipy's ``binomtest(k, n).proportion_ci(method="wilson")``, without continuity correction).

* **False accepts per hour** (``k`` events in ``h`` hours): the exact (Garwood) Poisson
  interval, divided by ``h``::

      low  = chi2.ppf(alpha / 2, 2k) / 2        (0 when k = 0)
      high = chi2.ppf(1 - alpha / 2, 2k + 2) / 2

  computed as the equivalent gamma quantiles (``scipy.special.gammaincinv``).

Both intervals are two-sided at ``confidence``. "The upper bound" everywhere in keepmum is the
upper end of that two-sided interval, which is a one-sided bound at ``(1 + confidence) / 2``: at
95 %, 0 false accepts in ``h`` hours gives 3.69 / h, a little more cautious than the one-sided
"rule of three" (3.00 / h). A bound never claims more than the data show.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from statistics import NormalDist

from keepmum.errors import ConfigError

__all__ = [
    "DEFAULT_CONFIDENCE",
    "Interval",
    "check_confidence",
    "garwood_interval",
    "hours_to_show",
    "poisson_rate_interval",
    "wilson_interval",
]

DEFAULT_CONFIDENCE = 0.95
"""Two-sided confidence level of every interval unless a caller says otherwise."""


@dataclass(frozen=True)
class Interval:
    """A two-sided confidence interval; both ends NaN when there is nothing to estimate from."""

    low: float
    high: float


_NAN = Interval(math.nan, math.nan)


def check_confidence(confidence: float) -> float:
    """``confidence`` if it is a level strictly between 0 and 1, else :class:`ConfigError`."""
    if not 0.0 < confidence < 1.0:  # NaN fails too
        raise ConfigError(f"confidence must be between 0 and 1 (e.g. 0.95), got {confidence!r}")
    return confidence


def wilson_interval(successes: int, trials: int, confidence: float) -> Interval:
    """Wilson score interval of a binomial proportion ``successes / trials`` (NaN for 0 trials)."""
    check_confidence(confidence)
    if not 0 <= successes <= trials:
        raise ConfigError(f"a proportion needs 0 <= successes <= trials, got {successes}/{trials}")
    if trials == 0:
        return _NAN
    z = NormalDist().inv_cdf(1.0 - (1.0 - confidence) / 2.0)
    p = successes / trials
    denominator = 1.0 + z * z / trials
    centre = (p + z * z / (2 * trials)) / denominator
    half = z / denominator * math.sqrt(p * (1.0 - p) / trials + z * z / (4.0 * trials * trials))
    # The ends are exactly 0 and 1 at p = 0 and p = 1; rounding must not push them past.
    low = 0.0 if successes == 0 else max(0.0, centre - half)
    high = 1.0 if successes == trials else min(1.0, centre + half)
    return Interval(low, high)


def garwood_interval(events: int, confidence: float) -> Interval:
    """Exact (Garwood) interval of a Poisson mean from ``events`` observed events."""
    from scipy.special import gammaincinv

    check_confidence(confidence)
    if events < 0:
        raise ConfigError(f"an event count must be 0 or more, got {events}")
    alpha = 1.0 - confidence
    low = 0.0 if events == 0 else float(gammaincinv(events, alpha / 2.0))
    return Interval(low, float(gammaincinv(events + 1, 1.0 - alpha / 2.0)))


def poisson_rate_interval(events: int, exposure: float, confidence: float) -> Interval:
    """Garwood interval of a rate: ``events`` in ``exposure`` units (e.g. hours); NaN for none."""
    if not exposure > 0:
        check_confidence(confidence)
        return _NAN
    counts = garwood_interval(events, confidence)
    return Interval(counts.low / exposure, counts.high / exposure)


def hours_to_show(target_per_hour: float, confidence: float) -> float:
    """Hours of audio with 0 events whose upper bound reaches ``target_per_hour``: less audio
    cannot show the target even when nothing fires (infinite for a target of 0)."""
    if not target_per_hour > 0:
        return math.inf
    return garwood_interval(0, confidence).high / target_per_hour
