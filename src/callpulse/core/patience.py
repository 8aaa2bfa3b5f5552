"""How patient a queue's callers are, estimated from who gave up and how long everyone waited.

With exponential patience (the Erlang A assumption) each caller gives up at rate ``theta``.
A caller who gave up after waiting ``t`` and one still waiting or answered after ``t`` (their
patience outlasted the wait: a censored observation) both add ``t`` to the exposure; only the
first adds a give-up. The likelihood is ``theta**reneged * exp(-theta * exposure)``, so a
Gamma prior on ``theta`` stays Gamma after the data: the estimate is closed form.

The prior is worth half a caller, not more: with many callers and no give-ups ``theta``
goes to 0 (patience effectively infinite) instead of staying near the configured patience,
and the two give-ups of a quiet hour outweigh it fourfold.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from callpulse.core import gamma

PRIOR_CALLERS = 0.5
"""How many give-ups' worth of evidence the configured patience counts as. Half a caller,
not one: the hour before a window often holds only a handful of give-ups, and at one caller
the prior still made up a third of the estimate from two of them (the forecast then read
long where callers give up quickly; docs/alerts.md has the measured effect)."""


@dataclass(frozen=True)
class PatienceEstimate:
    """The give-up rate ``theta`` per waiting caller per second: posterior mean and P10-P90.

    ``low`` <= ``rate`` <= ``high``; 0 means nobody gives up.
    """

    rate: float
    low: float
    high: float

    @property
    def mean_patience(self) -> float:
        """The callers' mean patience in seconds (``math.inf`` when nobody gives up)."""
        return 1.0 / self.rate if self.rate > 0 else math.inf


def estimate_patience(
    reneged: float,
    exposure_seconds: float,
    prior_patience: float,
    prior_callers: float = PRIOR_CALLERS,
) -> PatienceEstimate:
    """The give-up rate from ``reneged`` callers who gave up over ``exposure_seconds``
    (a weighted count may be fractional: older days count for less).

    ``exposure_seconds`` is the total time every caller waited: those who gave up, those
    answered and those still waiting. ``prior_patience`` (seconds) is the configured mean
    patience, counted as ``prior_callers`` callers who gave up after waiting that long on
    average: Gamma(``prior_callers``, ``prior_callers * prior_patience``) on ``theta``.
    """
    if reneged < 0 or exposure_seconds < 0 or prior_patience <= 0 or prior_callers <= 0:
        raise ValueError("counts, exposure and the prior must be non-negative (prior positive)")
    shape = prior_callers + reneged
    rate = prior_callers * prior_patience + exposure_seconds
    return PatienceEstimate(
        shape / rate, gamma.quantile(0.1, shape, rate), gamma.quantile(0.9, shape, rate)
    )
