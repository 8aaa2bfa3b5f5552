"""Erlang A's building blocks: the patience estimate and the drain-time distribution."""

from __future__ import annotations

import math
import random

import pytest

from callpulse.core import gamma
from callpulse.core.backlog import drain_time
from callpulse.core.erlang_a import (
    DrainForecast,
    ErlangA,
    chain_forecast,
    drain_forecast,
    moment_forecast,
)
from callpulse.core.patience import PRIOR_CALLERS, estimate_patience
from tests.unit.queue_paths import simulated_drains


def test_gamma_matches_closed_forms() -> None:
    assert gamma.quantile(0.5, 1.0, 1.0) == pytest.approx(math.log(2), rel=1e-9)
    assert gamma.cdf(1.0, 2.0, 1.0) == pytest.approx(1 - 2 / math.e, rel=1e-12)
    assert gamma.cdf(30.0, 20.0, 1.0) == pytest.approx(0.97812653, rel=1e-7)
    assert gamma.quantile(0.1, 3.0, 2.0) < gamma.quantile(0.9, 3.0, 2.0)


def test_gamma_quantiles_stay_exact_enough_for_large_shapes() -> None:
    # Past LARGE_SHAPE the Wilson-Hilferty transform; its neighbour below is exact.
    assert gamma.quantile(0.9, 100.0, 1.0) == pytest.approx(
        gamma.quantile(0.9, 100.0001, 1.0), rel=1e-4
    )
    # A normal's P90 for a million give-ups: mean + 1.2816 deviations.
    assert gamma.quantile(0.9, 1e6, 1.0) == pytest.approx(1e6 + 1.2816 * 1e3, rel=1e-6)


def test_nobody_giving_up_makes_patience_effectively_infinite() -> None:
    # 500 callers, each waited a minute on average, none gave up.
    estimate = estimate_patience(0, 500 * 60.0, prior_patience=600.0)
    assert estimate.rate < 1e-4
    assert estimate.mean_patience > 100 * 60  # far above any wait seen
    assert estimate.low < estimate.rate < estimate.high


def test_the_prior_leads_only_while_evidence_is_thin() -> None:
    assert estimate_patience(0, 0.0, prior_patience=600.0).mean_patience == pytest.approx(600)
    # Half a caller's worth of prior against 40 give-ups over 40 * 120 s: the data wins.
    estimate = estimate_patience(40, 40 * 120.0, prior_patience=600.0)
    assert estimate.mean_patience == pytest.approx(
        (PRIOR_CALLERS * 600 + 4800) / (PRIOR_CALLERS + 40)
    )
    assert 120 < estimate.mean_patience < 130


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


def quantiles(forecast: DrainForecast) -> tuple[float, float, float]:
    return forecast.p10, forecast.p50, forecast.p90


def test_without_abandonment_the_mean_drain_is_the_closed_form() -> None:
    queue = ErlangA(agents=40, arrivals=40 / 300 / 2, aht=300.0, abandon_rate=0.0)
    closed_form = 100 / (40 / 300 - queue.arrivals)  # w / (N mu - lambda): 1,500 s
    for forecast in (chain_forecast(queue, 100, 0), moment_forecast(queue, 100, 0)):
        assert forecast.mean == pytest.approx(closed_form, rel=1e-9)
        assert forecast.p50 == pytest.approx(closed_form, rel=0.03)
        assert forecast.p10 < forecast.p50 < forecast.p90


def test_the_issues_hand_computed_drain_is_the_chains_mean() -> None:
    # 10 agents back, AHT 300 s, one call a minute, 18 waiting: 18 / (10/300 - 1/60) = 1,080 s.
    queue = ErlangA(agents=10, arrivals=1 / 60, aht=300.0, abandon_rate=0.0)
    forecast = drain_forecast(queue, 18, 0)
    assert forecast.mean == pytest.approx(1080.0, rel=1e-6)  # the ceiling leaves out 1e-7
    assert forecast.p10 < forecast.p50 < 1080.0 < forecast.p90


@pytest.mark.parametrize(
    ("queue", "waiting"),
    [
        # Five agents, impatient callers: where the fluid model is worst.
        (ErlangA(agents=5, arrivals=0.01, aht=300.0, abandon_rate=1 / 300), 20),
        # Ten agents, one call a minute, nobody giving up (the issue's hand-computed case).
        (ErlangA(agents=10, arrivals=1 / 60, aht=300.0, abandon_rate=0.0), 18),
    ],
)
def test_the_chain_matches_simulation_where_the_fluid_model_does_not(
    queue: ErlangA, waiting: int
) -> None:
    simulated = simulated_drains(queue, waiting, 2, paths=2000, seed=22)
    forecast = chain_forecast(queue, waiting, 2)
    for model, truth in zip(quantiles(forecast), simulated, strict=True):
        assert model == pytest.approx(truth, rel=0.05)
    patience = 1 / queue.abandon_rate if queue.abandon_rate else math.inf
    fluid = drain_time(waiting, 2, queue.agents / queue.aht, queue.arrivals, patience)
    assert abs(fluid / simulated[1] - 1) > 0.08
    assert abs(forecast.p50 / simulated[1] - 1) < 0.03


def test_the_moment_fit_follows_the_chain_for_a_large_center() -> None:
    queue = ErlangA(agents=80, arrivals=0.2, aht=300.0, abandon_rate=1 / 300)
    chain = chain_forecast(queue, 100, 2)
    fit = moment_forecast(queue, 100, 2)
    for model, exact in zip(quantiles(fit), quantiles(chain), strict=True):
        assert model == pytest.approx(exact, rel=0.01)


def test_a_passage_of_few_levels_keeps_to_the_chain() -> None:
    # Three levels near the critical load: a passage too skewed for a Gamma shape >= 1, where
    # the chain is dear (a long tail) but the fit would put the median ten times late.
    queue = ErlangA(agents=200, arrivals=0.66, aht=300.0, abandon_rate=0.0)
    chain = chain_forecast(queue, 5, 2)
    assert moment_forecast(queue, 5, 2).p50 > 2 * chain.p50
    assert drain_forecast(queue, 5, 2) == chain


def test_the_forecast_takes_the_chain_only_where_it_is_cheap() -> None:
    small = ErlangA(agents=5, arrivals=0.01, aht=300.0, abandon_rate=1 / 300)
    large = ErlangA(agents=200, arrivals=0.6, aht=300.0, abandon_rate=1 / 600)
    assert drain_forecast(small, 8, 2) == chain_forecast(small, 8, 2)
    assert drain_forecast(large, 200, 2) == moment_forecast(large, 200, 2)


def test_a_queue_that_cannot_drain_reads_infinite() -> None:
    growing = ErlangA(agents=5, arrivals=0.02, aht=300.0, abandon_rate=0.0)
    nobody = ErlangA(agents=0, arrivals=0.01, aht=300.0, abandon_rate=0.0)
    for forecast in (drain_forecast(growing, 20, 2), drain_forecast(nobody, 20, 2)):
        assert quantiles(forecast) == (math.inf, math.inf, math.inf)
        assert forecast.mean == math.inf
    # Callers giving up empty a queue nobody serves, only slowly.
    abandoning = drain_forecast(ErlangA(0, 0.0, 300.0, 1 / 60), 20, 2)
    assert 0 < abandoning.p50 < math.inf


def test_a_drained_queue_needs_no_time() -> None:
    queue = ErlangA(agents=5, arrivals=0.01, aht=300.0, abandon_rate=0.0)
    assert drain_forecast(queue, 2, 2) == DrainForecast(0.0, 0.0, 0.0, 0.0)


def test_rates_out_of_range_are_refused() -> None:
    with pytest.raises(ValueError, match="handle time"):
        ErlangA(agents=5, arrivals=0.01, aht=0.0, abandon_rate=0.0)
