"""Erlang A's building blocks: the patience estimate and the drain-time distribution."""

from __future__ import annotations

import math
import random

import pytest

from callpulse.core import gamma
from callpulse.core.patience import estimate_patience


def test_gamma_matches_closed_forms() -> None:
    assert gamma.quantile(0.5, 1.0, 1.0) == pytest.approx(math.log(2), rel=1e-9)
    assert gamma.cdf(1.0, 2.0, 1.0) == pytest.approx(1 - 2 / math.e, rel=1e-12)
    assert gamma.cdf(30.0, 20.0, 1.0) == pytest.approx(0.97812653, rel=1e-7)
    assert gamma.quantile(0.1, 3.0, 2.0) < gamma.quantile(0.9, 3.0, 2.0)


def test_nobody_giving_up_makes_patience_effectively_infinite() -> None:
    # 500 callers, each waited a minute on average, none gave up.
    estimate = estimate_patience(0, 500 * 60.0, prior_patience=600.0)
    assert estimate.rate < 1e-4
    assert estimate.mean_patience > 100 * 60  # far above any wait seen
    assert estimate.low < estimate.rate < estimate.high


def test_the_prior_leads_only_while_evidence_is_thin() -> None:
    assert estimate_patience(0, 0.0, prior_patience=600.0).mean_patience == pytest.approx(600)
    # Two callers' worth of prior against 40 give-ups over 40 * 120 s: the data wins.
    estimate = estimate_patience(40, 40 * 120.0, prior_patience=600.0)
    assert estimate.mean_patience == pytest.approx(6000 / 42)


def censored_callers(
    theta: float, answer_rate: float, callers: int, seed: int
) -> tuple[int, float]:
    """(give-ups, exposure) for callers with Exp(theta) patience, answered at ``answer_rate``."""
    chance = random.Random(seed)
    reneged = 0
    exposure = 0.0
    for _ in range(callers):
        patience = chance.expovariate(theta)
        answered = chance.expovariate(answer_rate)
        reneged += patience < answered
        exposure += min(patience, answered)
    return reneged, exposure


def test_a_known_patience_is_recovered_from_two_hundred_callers() -> None:
    theta = 1 / 120
    reneged, exposure = censored_callers(theta, 1 / 400, 200, seed=22)
    estimate = estimate_patience(reneged, exposure, prior_patience=600.0)
    assert estimate.rate == pytest.approx(theta, rel=0.10)
    assert estimate.low < theta < estimate.high
