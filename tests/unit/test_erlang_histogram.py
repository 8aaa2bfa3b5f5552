"""Erlang C against published values, drain ETA, and windowed percentiles."""

from __future__ import annotations

import math
import random

import pytest

from callpulse.core import erlang
from callpulse.core.histogram import LinearBins, LogBins, RollingHistogram


def test_erlang_c_published_example() -> None:
    # A = 10 Erlangs, N = 14 agents, AHT 180 s, T = 20 s (Erlang C tables: P(wait) = 0.1741).
    assert erlang.probability_of_waiting(10, 14) == pytest.approx(0.1741, abs=5e-4)
    assert round(erlang.service_level(10, 14, 180, 20), 3) == 0.888  # type: ignore[arg-type]
    assert round(erlang.average_speed_of_answer(10, 14, 180), 3) == 7.836  # type: ignore[arg-type]


def test_erlang_c_does_not_apply_without_spare_agents() -> None:
    assert erlang.probability_of_waiting(10, 10) is None
    assert erlang.service_level(12, 10, 180, 20) is None
    assert erlang.average_speed_of_answer(10, 9, 180) is None
    assert erlang.probability_of_waiting(0, 3) == 0.0


def test_agents_required_is_the_smallest_that_meets_the_target() -> None:
    # 13 agents give 0.796, 14 give 0.888: 14 is the answer for an 80/20 target.
    assert erlang.agents_required(10, 180, 20, 0.8) == 14
    assert erlang.agents_required(10, 180, 20, 0.7) == 13
    assert erlang.agents_required(10, 0, 20, 0.8) is None


def test_erlang_c_stays_finite_for_large_centers() -> None:
    level = erlang.service_level(900, 950, 240, 20)
    assert level is not None
    assert 0 < level < 1


def test_log_bins_error_bound() -> None:
    bins = LogBins(0.001, growth=1.04)
    bound = math.sqrt(1.04) - 1
    for value in (0.0013, 0.25, 1.0, 17.3, 4999.0):
        reported = bins.value(bins.bin(value))
        assert abs(reported - value) / value <= bound + 1e-12
    assert bins.value(bins.bin(0.0)) == 0.0


def test_linear_bins() -> None:
    bins = LinearBins(0.05)
    assert abs(bins.value(bins.bin(4.37)) - 4.37) <= 0.025


def test_windowed_percentiles_match_the_exact_ones_within_the_bound() -> None:
    rng = random.Random(3)
    bins = LogBins(0.001)
    hist = RollingHistogram(spans=(12, 60), start=100)
    values = [rng.lognormvariate(0, 1) for _ in range(5000)]
    for v in values:
        hist.add(100, bins.bin(v))
    values.sort()
    for q in (0.5, 0.95, 0.05):
        exact = values[math.ceil(q * len(values)) - 1]
        got = bins.value(hist.quantile(0, q))  # type: ignore[arg-type]
        assert abs(got - exact) / exact <= math.sqrt(1.04) - 1 + 1e-9


def test_histogram_windows_expire_and_free_memory() -> None:
    hist = RollingHistogram(spans=(12, 60), start=100)
    hist.add(100, 5)
    hist.add(97, 7)
    hist.advance(108)
    assert hist.count(0) == 2
    hist.advance(113)  # buckets 97 and 100 are now more than 12 back
    assert hist.count(0) == 0
    assert hist.count(1) == 2
    assert hist.quantile(1, 0.5) == 5
    hist.advance(200)
    assert hist.count(1) == 0
    assert hist.quantile(1, 0.5) is None
    assert all(slot is None for slot in hist._ring)
