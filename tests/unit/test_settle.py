"""Settling the state once a bucket: every series' windows moved to the grid's head in the
daemon, a few queues a step, so that a render child forked from it reads them and writes
nothing (what it would write is memory the kernel copies for it), with the same readings
either way."""

from __future__ import annotations

from callpulse.core.monitor import Monitor, MonitorConfig
from callpulse.core.readings import collect
from callpulse.core.steps import finish

from .conftest import NOW
from .events import event


def filled() -> Monitor:
    m = Monitor(MonitorConfig(), now=NOW - 30)
    for i in range(4):
        m.apply(event("call.queued", NOW - 30, call_id=f"c{i}", queue="billing"))
        m.apply(event("call.queued", NOW - 25, call_id=f"d{i}", queue="sales", site="nyc1"))
    m.apply(event("call.answered", NOW - 20, call_id="c0", queue="billing", agent_id="a1",
                  wait_seconds=10))  # fmt: skip
    m.apply(event("trunk.status", NOW - 20, trunk_id="t1", state="up", channels_in_use=3,
                  channels_total=10))  # fmt: skip
    m.apply(event("ivr.session_started", NOW - 30, session_id="s1", application="main"))
    m.apply(event("ivr.session_ended", NOW - 20, session_id="s1", application="main",
                  outcome="contained", duration_seconds=10.0))  # fmt: skip
    return m


def windows_as_stored(m: Monitor) -> list[list[list[int]]]:
    """Each queue's window sums as its counters hold them, unread (reading moves them)."""
    return [q.counters.windows() for q in m.queues._queues.values()]


def test_settling_moves_the_windows_reading_would_move_and_changes_no_reading() -> None:
    settled, unsettled = filled(), filled()
    later = NOW + 2 * min(MonitorConfig().windows)  # the shortest window has left them
    for m in (settled, unsettled):
        m.tick(later)
    before = windows_as_stored(settled)
    finish(settled.settle())
    after = windows_as_stored(settled)
    assert len(after) == 2
    assert before != after  # the events' buckets left a window on the way to the head
    assert all(sum(w[0]) == 0 for w in after)
    assert all(sum(w[-1]) > 0 for w in after)
    finish(settled.settle())  # at the same head: nothing more to move
    assert windows_as_stored(settled) == after
    assert collect(settled, lines=True) == collect(unsettled, lines=True)
    assert windows_as_stored(settled) == windows_as_stored(unsettled)  # read: moved too


def test_settling_goes_a_few_queues_a_step() -> None:
    m = filled()
    m.tick(NOW + 2 * min(MonitorConfig().windows))
    before = windows_as_stored(m)
    steps = m.settle(at_a_time=1)
    next(steps)  # the first queue moved, the other not yet
    first = windows_as_stored(m)
    assert first[0] != before[0]
    assert first[1] == before[1]
    assert len(list(steps)) == 1
    assert windows_as_stored(m)[1] != before[1]
    assert list(m.settle(at_a_time=1)) == []  # settled at this head: no step at all
