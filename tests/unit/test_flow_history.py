"""A queue's traffic over the last hours: rates from enough calls, patience by hour of day."""

from __future__ import annotations

import itertools
import json
import math
from datetime import UTC, datetime

import pytest

from callpulse.core import drain
from callpulse.core.erlang_a import NEVER, ErlangA, drain_forecast
from callpulse.core.flow_history import DAY_WEIGHT, ENOUGH, EVERY, SPAN, FlowHistory, Reading
from callpulse.core.patience import PRIOR_CALLERS


def utc(text: str) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp()


def reading(at: float, arrivals: int = 0, **kw: float) -> Reading:
    fields: dict[str, float] = {
        "span": 900.0,
        "completed": 0,
        "handle_seconds": 0.0,
        "reneged": 0,
        "exposure_seconds": 0.0,
    }
    fields.update(kw)
    return Reading(
        at=at,
        span=fields["span"],
        arrivals=arrivals,
        completed=int(fields["completed"]),
        handle_seconds=fields["handle_seconds"],
        reneged=int(fields["reneged"]),
        exposure_seconds=fields["exposure_seconds"],
    )


def test_readings_are_kept_one_per_window_for_the_span() -> None:
    history = FlowHistory()
    t0 = utc("2026-11-22T08:00")
    for i in range(0, 40 * 900, 60):  # an evaluation a minute for 10 hours
        history.add(reading(t0 + i, arrivals=1))
    kept = history._newest(math.inf)
    assert len(kept) == SPAN // EVERY + 1
    assert all(a.at - b.at == EVERY for a, b in itertools.pairwise(kept))


def test_a_reading_is_due_only_when_add_would_keep_it() -> None:
    history = FlowHistory()
    t0 = utc("2026-11-22T08:00")
    assert history.due(t0)  # nothing kept yet
    history.add(reading(t0, arrivals=1))
    for at, kept in ((t0 + 60, False), (t0 + EVERY - 1, False), (t0 + EVERY, True)):
        assert history.due(at) is kept
        before = len(history._newest(math.inf))
        history.add(reading(at, arrivals=1))
        assert len(history._newest(math.inf)) == before + kept


def test_a_busy_queue_reads_its_live_window_alone() -> None:
    history = FlowHistory()
    t0 = utc("2026-11-22T08:00")
    history.add(reading(t0, arrivals=900))  # 1 a second an hour ago
    live = reading(t0 + 3600, arrivals=ENOUGH + 40)
    found = history.arrivals(live)
    assert (found.value, found.count, found.span) == (live.arrivals / 900, ENOUGH + 40, 900)


def test_a_small_queue_adds_older_windows_until_it_has_enough_calls() -> None:
    history = FlowHistory()
    t0 = utc("2026-11-22T08:00")
    for k in range(8):  # 12 arrivals per 15 minutes for two hours
        history.add(reading(t0 + k * EVERY, arrivals=12))
    found = history.arrivals(reading(t0 + 8 * EVERY, arrivals=60), enough=50)
    # The live window alone holds enough, and the readings before it came at another rate.
    assert (found.count, found.span) == (60, 900)
    found = history.arrivals(reading(t0 + 8 * EVERY, arrivals=15), enough=50)
    # 15 live, then 12 at a time from the newest: 15 + 3 x 12 = 51 >= 50, and the older
    # readings came at the same rate, so they count too: all two hours.
    assert (found.count, found.span) == (15 + 8 * 12, 8100)
    assert found.value == pytest.approx((15 + 8 * 12) / 8100)


def test_older_readings_count_while_the_rate_holds_steady() -> None:
    history = FlowHistory()
    t0 = utc("2026-11-22T08:00")
    for k in range(8):  # a busy first hour (40 per 15 minutes), a quiet second one (12)
        history.add(reading(t0 + k * EVERY, arrivals=40 if k < 4 else 12))
    live = reading(t0 + 8 * EVERY, arrivals=15)
    found = history.arrivals(live)
    # The quiet hour and the live window; the busy hour is other traffic.
    assert (found.count, found.span) == (15 + 4 * 12, 4500)
    # A live window that overlaps a reading does not count that reading twice.
    overlapping = reading(t0 + 7 * EVERY + 300, arrivals=15)
    assert history.arrivals(overlapping).count == 15 + 3 * 12
    # Every reading wholly after a moment counts, steady or not: 15 + 4 x 12 + 40.
    assert history.arrivals(live, enough=10, since=t0 + 2 * EVERY).count == 103


def test_a_window_shorter_than_the_spacing_leaves_gaps_the_rate_does_not_see() -> None:
    history = FlowHistory()
    t0 = utc("2026-11-22T08:00")
    for k in range(4):  # 5-minute windows read every 15 minutes: 10 arrivals per 300 s
        history.add(reading(t0 + k * EVERY, arrivals=10, span=300.0))
    found = history.arrivals(reading(t0 + 4 * EVERY, arrivals=10, span=300.0), enough=30)
    assert found.value == pytest.approx(10 / 300)


def test_handle_time_from_the_calls_before_a_moment() -> None:
    history = FlowHistory()
    t0 = utc("2026-11-22T08:00")
    history.add(reading(t0, completed=30, handle_seconds=30 * 200.0))
    history.add(reading(t0 + EVERY, completed=30, handle_seconds=30 * 400.0))
    history.add(reading(t0 + 2 * EVERY, completed=10, handle_seconds=10 * 900.0))
    assert history.handle_time(t0 - 1) is None
    # Before the third reading: its 30 calls and 30 of the one before, 60 >= 50.
    found = history.handle_time(t0 + 2 * EVERY - 1)
    assert found is not None
    assert (found.value, found.count) == (300.0, 60)
    found = history.handle_time(t0 + 2 * EVERY)
    assert found is not None
    assert (found.value, found.count) == ((9000 + 12000 + 6000) / 70, 70)


def test_patience_at_an_hour_comes_from_the_last_days_at_that_hour() -> None:
    history = FlowHistory()
    # Yesterday at 14:00-15:00, 40 give-ups over 4 hours of waiting; at 09:00, nobody gave up.
    for k in range(4):
        history.add(reading(utc("2026-11-21T14:00") + k * EVERY, reneged=10, exposure_seconds=3600))
    for k in range(4):
        history.add(reading(utc("2026-11-22T09:00") + k * EVERY, exposure_seconds=3600))
    estimate, said = history.patience(600.0, utc("2026-11-22T14:30"))
    # One day old: half weight on both sums, so the rate is what it was, with less evidence.
    reneged, exposure = 40 * DAY_WEIGHT, 14400 * DAY_WEIGHT
    prior = PRIOR_CALLERS  # give-ups' worth, each after the configured 600 s
    assert estimate.rate == pytest.approx((prior + reneged) / (prior * 600 + exposure))
    assert said == "20 give-ups in 120 min of waiting at 14:00 UTC over the last days"
    # No history at 11:00: every hour kept (09:00-10:00 today, nobody gave up; 14:00 yesterday
    # at half weight), then the prior.
    estimate, said = history.patience(600.0, utc("2026-11-22T11:00"))
    assert said == "20 give-ups in 360 min of waiting over every hour of the last days"
    assert estimate.rate == pytest.approx((PRIOR_CALLERS + 20) / (PRIOR_CALLERS * 600 + 21600))
    estimate, said = FlowHistory().patience(600.0, utc("2026-11-22T11:00"))
    assert estimate.mean_patience == 600
    assert said == "configured 600s (0 give-ups in 0 min of waiting is too little)"


def test_patience_with_nobody_waiting_lately_comes_from_the_days_busy_hours() -> None:
    history = FlowHistory()
    # Yesterday's busy hour, 10:00-11:00: 30 give-ups over 90 minutes of waiting. Today,
    # four quiet hours before a 03:00 window: nobody waited at all.
    for k in range(4):
        history.add(reading(utc("2026-11-21T10:00") + k * EVERY, reneged=7, exposure_seconds=1350))
    history.add(reading(utc("2026-11-21T10:00") + 4 * EVERY, reneged=2, exposure_seconds=0))
    for k in range(16):
        history.add(reading(utc("2026-11-22T00:00") + k * EVERY))
    estimate, said = history.patience(600.0, utc("2026-11-22T03:00"))
    reneged, exposure = 30 * DAY_WEIGHT, 5400 * DAY_WEIGHT
    assert estimate.rate == pytest.approx(
        (PRIOR_CALLERS + reneged) / (PRIOR_CALLERS * 600 + exposure)
    )
    assert said == "15 give-ups in 45 min of waiting over every hour of the last days"
    # Two days older, the same hours count a quarter as much: the rate, not the evidence, holds.
    later, _ = history.patience(600.0, utc("2026-11-24T03:00"))
    assert later.rate == pytest.approx(
        (PRIOR_CALLERS + reneged / 4) / (PRIOR_CALLERS * 600 + exposure / 4)
    )
    assert later.high - later.low > estimate.high - estimate.low


def test_window_outlook_counts_the_staff_coming_back_and_never_reads_inf_for_it() -> None:
    # Nobody serves now, 20 agents are back in 60 s: a drain, not "never". By then 33 wait;
    # the 20 take one each at once, and their first calls count half a call each: 13 + 10.
    found = drain.window_outlook(30, 2, 0, 20, 60.0, 0.05, 300.0, 0.0)
    assert found is not None
    late = drain_forecast(ErlangA(20, 0.05, 300.0, 0.0), 23, 2, drain.HORIZON)
    assert (found.p10, found.p50, found.p90) == pytest.approx(
        (60 + late.p10, 60 + late.p50, 60 + late.p90), rel=1e-6
    )
    # With no end to the window, nobody serving never drains it; no handle time: unknown.
    assert drain.window_outlook(30, 2, 0, 20, math.inf, 0.05, 300.0, 0.0) == NEVER
    assert drain.window_outlook(30, 2, 5, 20, 60.0, 0.05, None, 0.0) is None
    assert drain.window_outlook(2, 2, 0, 20, 60.0, 0.05, None, 0.0) is not None


def test_window_outlook_reads_a_drain_before_the_return_from_staffing_as_it_is() -> None:
    # 20 serving with 5 waiting drain long before the other 10 come back an hour from now.
    found = drain.window_outlook(5, 2, 20, 30, 3600.0, 0.01, 300.0, 0.0)
    assert found == drain_forecast(ErlangA(20, 0.01, 300.0, 0.0), 5, 2, 3600.0)


def test_rates_from_few_calls_widen_the_range_and_may_leave_it_open() -> None:
    # 12 agents, AHT 300 s, 10/300 calls/s: 10 waiting, nobody returning.
    chain = drain.window_outlook(10, 2, 12, 12, 0.0, 10 / 300, 300.0, 0.0)
    assert chain is not None
    known = drain.widened(chain, 10, 2, 12, 12, 0.0, (10 / 300, 10**6), (300.0, 10**6), 0.0)
    assert (known.p10, known.p50, known.p90) == pytest.approx(
        (chain.p10, chain.p50, chain.p90), rel=1e-2
    )
    # From 20 calls each (22 %): arrivals 22 % higher would outrun capacity, so the queue
    # might not drain at all; it might also drain sooner than the chain's P10.
    few = drain.widened(chain, 10, 2, 12, 12, 0.0, (10 / 300, 20), (300.0, 20), 0.0)
    assert few.p50 == chain.p50
    assert few.p10 < chain.p10
    assert few.p90 == math.inf
    # One call each: the deviation is capped at half the rate (not a handle time of 0).
    one = drain.widened(chain, 10, 2, 12, 12, 0.0, (10 / 300, 1), (300.0, 1), 0.0)
    assert one.p10 == 0.0
    assert one.p90 == math.inf
    returning = drain.window_outlook(10, 2, 4, 12, 60.0, 10 / 300, 300.0, 0.0)
    assert returning is not None
    assert drain.widened(returning, 10, 2, 4, 12, 60.0, (0.01, 0), (300.0, 0), 0.0).p10 >= 0


def test_a_history_read_back_from_its_export_answers_the_same() -> None:
    history = FlowHistory()
    t0 = utc("2026-11-21T14:00")
    for k in range(6):
        history.add(reading(t0 + k * EVERY, arrivals=30 + k, reneged=k, exposure_seconds=600.0))
    live = reading(t0 + 6 * EVERY, arrivals=33)
    back = FlowHistory.restore(json.loads(json.dumps(history.export())))
    assert back.arrivals(live) == history.arrivals(live)
    assert back.patience(600.0, t0 + 86400) == history.patience(600.0, t0 + 86400)
    assert back.export() == history.export()
    # Read back after a long stop, the readings are not the last hours' any more; the hours
    # of the day still are what the last days said.
    back.forget_before(t0 + 5 * EVERY)
    assert [r[0] for r in back.export()["readings"]] == [t0 + 5 * EVERY]
    assert back.patience(600.0, t0 + 86400) == history.patience(600.0, t0 + 86400)


@pytest.mark.parametrize(
    ("data", "says"),
    [
        ([], "an object"),
        ({"readings": [], "hours": [0.0] * 71}, "72 numbers"),
        ({"readings": [], "hours": [0.0] * 71 + [-1.0]}, "72 numbers"),
        ({"readings": [], "hours": [0.0] * 71 + [True]}, "72 numbers"),
        ({"readings": [[1.0] * 6], "hours": [0.0] * 72}, "7 numbers"),
        ({"readings": [[1.0] * 6 + [math.inf]], "hours": [0.0] * 72}, "7 numbers"),
        ({"readings": [[2.0] * 7, [1.0] * 7], "hours": [0.0] * 72}, "oldest first"),
        ({"readings": [[float(k)] * 7 for k in range(100)], "hours": [0.0] * 72}, "at most"),
    ],
)
def test_a_history_that_is_not_one_is_refused(data: object, says: str) -> None:
    with pytest.raises(ValueError, match=says):
        FlowHistory.restore(data)


def test_readings_come_back_as_they_were_added() -> None:
    history = FlowHistory()
    t0 = utc("2026-11-22T08:00")
    added = [
        Reading(t0 + i * EVERY, 900.0, 10 + i, 7, 1234.5, i, 61.25)
        for i in range(int(SPAN // EVERY) + 3)
    ]
    for r in added:
        history.add(r)
    kept = history.readings()
    assert kept == added[-len(kept) :]  # the span's newest, oldest first
    assert len(kept) == SPAN // EVERY + 1
    assert all(type(r.arrivals) is int and type(r.reneged) is int for r in kept)
