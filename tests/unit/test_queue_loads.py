"""On an event-time clock the monitor samples the maintenance baselines from each queue's
load (calls waiting, agents, the flow over the longest window) rather than its whole view:
the values are the view's, so the samples and flow histories are what they were."""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import UTC, datetime

from callpulse.core.maintenance_baselines import Baselines
from callpulse.core.monitor import Monitor, MonitorConfig

from .events import event

START = datetime(2026, 11, 22, 9, 0, tzinfo=UTC).timestamp()


def sampled(load: object) -> tuple[object, ...]:
    """What a baseline sample and the flow history read of a queue (QueueReading)."""
    return tuple(
        getattr(load, name)
        for name in (
            "site",
            "queue",
            "calls_waiting",
            "agents",
            "agents_serving",
            "agents_known",
            "flow",
        )
    )


def busy_monitor(
    seed: int, read: Callable[[Monitor, float], None] = lambda m, at: None
) -> tuple[Monitor, list[float]]:
    """A monitor on event time fed an hour of traffic at three queues of two sites (one no
    agent serves), late events among it; ``read`` at instants along the way, returned."""
    rng = random.Random(seed)
    m = Monitor(MonitorConfig(event_time_clock=True), now=START)
    for site in ("lon1", "par1"):
        for i in range(3):
            queues = ["sales"] if i else ["sales", "billing"]
            m.apply(event("agent.state", START, site, agent_id=f"a{i}", state="available",
                          queues=queues))  # fmt: skip
    instants = []
    waiting: list[tuple[str, str, str, float]] = []
    t = START
    for n in range(1500):
        t += rng.expovariate(1 / 2.4)
        site = rng.choice(("lon1", "par1"))
        queue = rng.choice(("sales", "billing", "nobody"))
        call = f"c{n}"
        m.apply(event("call.queued", t, site, call_id=call, queue=queue))
        waiting.append((site, queue, call, t))
        if rng.random() < 0.6 and waiting:
            site, queue, call, since = waiting.pop(rng.randrange(len(waiting)))
            kind = rng.choice(("call.answered", "call.abandoned"))
            m.apply(event(kind, t, site, call_id=call, queue=queue, wait_seconds=t - since,
                          **({"agent_id": "a0"} if kind == "call.answered" else {})))  # fmt: skip
            if kind == "call.answered":
                m.apply(event("call.completed", t + 1, site, call_id=call, queue=queue,
                              agent_id="a0", talk_seconds=rng.uniform(30, 300),
                              hold_seconds=0.0, acw_seconds=rng.uniform(0, 30)))  # fmt: skip
        if n % 97 == 0:
            m.apply(event("agent.state", t, "lon1", agent_id="a1",
                          state=rng.choice(("on_call", "acw", "available", "not_ready")),
                          queues=["sales"]))  # fmt: skip
        if n % 131 == 0:  # older than every window: counted in totals only
            m.apply(event("call.queued", t - 3600, site, call_id=f"late{n}", queue=queue))
        if n % 50 == 0:
            m.advance(t)
            read(m, t)
            instants.append(t)
    return m, instants


def test_a_queues_load_is_what_its_view_reads() -> None:
    for seed in range(3):
        m, _ = busy_monitor(seed)
        loads = m.queues.loads()  # first: a view must not be what makes a load right
        views = m.queue_views()
        assert len(loads) == len(views) == 6
        assert [sampled(x) for x in loads] == [sampled(v) for v in views]
        assert {x.agents_known for x in loads} == {True, False}  # "nobody" has no agent
        assert any(x.calls_waiting for x in loads)


def test_the_baselines_sampled_from_loads_are_those_sampled_from_views() -> None:
    from_views, from_loads = Baselines(1800.0), Baselines(1800.0)

    def read(m: Monitor, at: float) -> None:
        from_loads.sample(at, m.queues.loads(), ())
        from_views.sample(at, m.queue_views(), ())

    _, instants = busy_monitor(7, read)
    assert len(instants) == 30
    assert from_loads._samples == from_views._samples
    assert from_loads.export_history() == from_views.export_history()
    assert from_loads.recent("lon1", "sales") == from_views.recent("lon1", "sales")


def test_the_event_time_clock_samples_without_reading_the_views() -> None:
    # Every view read is an evaluation's or a scrape's: the clock's samples read loads.
    m, instants = busy_monitor(3)
    sampled_at = m.maintenance.baselines._sampled_at
    assert sampled_at >= instants[-1] - 60  # sampled as the file's time went on
    assert m._views is None


def test_baselines_sampled_in_steps_are_those_sampled_at_once() -> None:
    from callpulse.core import maintenance_baselines

    m, _ = busy_monitor(3)
    views = m.queue_views() * 1000  # 6,000 readings: yields every SAMPLE_STEP of them
    at_once, in_steps = Baselines(1800.0), Baselines(1800.0)
    at_once.sample(m.now, views, ())
    steps = list(in_steps.sample_in_steps(m.now, views, ()))
    assert len(steps) == len(views) // maintenance_baselines.SAMPLE_STEP
    assert at_once._samples == in_steps._samples
    assert at_once.export_history() == in_steps.export_history()


def test_on_the_wall_clock_ticks_leave_the_baselines_to_the_evaluations() -> None:
    # A tick that samples every queue at once held the loop 0.9 s at 50k queues: on the wall
    # clock the evaluation samples, in steps. On event time the clock must (a replay).
    for event_time, sampled in ((False, False), (True, True)):
        m = Monitor(MonitorConfig(event_time_clock=event_time), now=START)
        m.apply(event("call.queued", START, "lon1", call_id="c1", queue="sales"))
        if event_time:
            m.advance(START + 120)
        else:
            m.tick(START + 120)
        assert bool(m.maintenance.baselines._samples) is sampled
