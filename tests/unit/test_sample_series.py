"""A queue's baseline samples in one array: what goes in comes back, unknown handle times
and settled flags included, the old ones dropped, a period's read with both ends."""

from __future__ import annotations

from callpulse.core.maintenance_baselines import SampleSeries
from callpulse.core.maintenance_state import Sample


def series_of(*samples: Sample) -> SampleSeries:
    series = SampleSeries()
    for sample in samples:
        series.append(sample)
    return series


A = Sample(60.0, 3, 2, 0.25, None, False)
B = Sample(120.0, 0, 5, 1.5, 212.5, True)
C = Sample(180.0, 40_000, 0, 0.0, 0.0, True)


def test_samples_come_back_as_they_went_in() -> None:
    series = series_of(A, B, C)
    assert len(series) == 3
    assert series.rows() == [A, B, C]
    assert series.rows()[0].aht is None
    assert series.rows()[1].settled is True


def test_a_period_is_read_with_both_ends() -> None:
    series = series_of(A, B, C)
    assert series.rows(120.0, 180.0) == [B, C]
    assert series.rows(61.0, 179.0) == [B]
    assert series.rows(181.0) == []


def test_samples_before_a_time_are_dropped() -> None:
    series = series_of(A, B, C)
    series.drop_before(120.0)
    assert series.rows() == [B, C]
    series.drop_before(1000.0)
    assert len(series) == 0
    assert not series
    series.append(A)
    assert series.rows() == [A]


def test_two_series_of_the_same_samples_are_equal_unknown_handle_times_too() -> None:
    assert series_of(A, B) == series_of(A, B)
    assert series_of(A, B) != series_of(A)
    assert series_of(A) != [A]


def test_a_sample_a_minute_and_at_once_after_the_clock_went_back() -> None:
    from callpulse.core.maintenance_baselines import SAMPLE_EVERY, Baselines

    baselines = Baselines(1800.0)
    assert baselines.sample_due(1000.0)
    baselines.sample(1000.0, [], [])
    assert not baselines.sample_due(1000.0 + SAMPLE_EVERY - 1)
    assert baselines.sample_due(1000.0 + SAMPLE_EVERY)
    assert baselines.sample_due(400.0)  # a replay started over
