"""The three time policies: where windows end, and what is judged ahead of the clock."""

from __future__ import annotations

from callpulse.core.clock import BOUNDED_EVENT_TIME, EVENT_TIME, WALL_TIME, Clock
from callpulse.core.monitor import Monitor, MonitorConfig, Outcome
from tests.unit.conftest import NOW
from tests.unit.events import event


def built(clock: Clock) -> Monitor:
    return Monitor(MonitorConfig(event_time_clock=clock.event_time), now=NOW)


def test_wall_time_ends_windows_at_now_and_bounds_events_by_it() -> None:
    monitor = built(WALL_TIME)
    WALL_TIME.feed(monitor, NOW + 60)
    assert monitor.now == NOW + 60
    assert monitor.apply(event("call.queued", NOW + 600, call_id="a", queue="q")) is Outcome.FUTURE
    WALL_TIME.evaluate(monitor, NOW + 120)
    assert monitor.now == NOW + 120


def test_event_time_follows_the_events_and_an_evaluation_moves_it_on() -> None:
    monitor = built(EVENT_TIME)
    EVENT_TIME.feed(monitor, NOW)  # the caller's clock does not bound event time
    ahead = event("call.queued", NOW + 3600, call_id="a", queue="q")
    assert monitor.apply(ahead) is Outcome.APPLIED
    assert monitor.now == NOW + 3600
    EVENT_TIME.evaluate(monitor, NOW + 3660)  # a quiet minute after it
    assert monitor.now == NOW + 3660


def test_bounded_event_time_follows_the_events_within_the_wall_clock() -> None:
    monitor = built(BOUNDED_EVENT_TIME)
    BOUNDED_EVENT_TIME.feed(monitor, NOW)
    assert monitor.apply(event("call.queued", NOW - 600, call_id="a", queue="q")) is (
        Outcome.APPLIED
    )
    assert monitor.now == NOW - 600  # where the events are, not the wall clock
    BOUNDED_EVENT_TIME.evaluate(monitor, NOW)
    assert monitor.now == NOW - 600
    assert monitor.apply(event("call.queued", NOW + 600, call_id="b", queue="q")) is (
        Outcome.FUTURE
    )
