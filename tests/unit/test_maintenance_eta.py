"""MaintenanceBacklog's drain ETA at and after a window's end, on a small call center driven
through the monitor with events: the staff coming back, and the arrival rate it assumes."""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable
from datetime import UTC, datetime

import pytest

from callpulse.core.calendar import WindowSpec
from callpulse.core.maintenance_notes import backlog_summary
from callpulse.core.maintenance_policy import BacklogLimits
from callpulse.core.maintenance_state import BacklogState
from callpulse.core.monitor import Monitor, MonitorConfig

from .events import event

START = datetime(2026, 11, 22, 14, 0, tzinfo=UTC).timestamp()  # the window opens
TALK, ACW = 240.0, 60.0  # AHT 300 s, of which ACW 60 s


class Center:
    """One queue, ``agents`` agents, first come first served, no caller ever giving up.

    Agents taken by a window finish their call first; ``gaps(t)`` is the time between two
    arrivals at ``t``. Every ``step`` seconds the monitor is ticked, and every 5 s the
    maintenance tracker samples and judges the queue as an alert evaluation does.
    """

    def __init__(self, agents: int, limits: BacklogLimits, duration: float, taken: int) -> None:
        spec = WindowSpec(
            name="pbx",
            sites=("lon1",),
            start=datetime.fromtimestamp(START, UTC).replace(tzinfo=None),
            duration=duration,
            queues=("billing",),
        )
        self.t = START - 3600
        self.monitor = Monitor(
            MonitorConfig(backlog=limits, maintenance_windows=(spec,)), now=self.t
        )
        self.end = START + duration
        self.taken = {f"a{i}" for i in range(agents - taken, agents)}
        self.free: deque[str] = deque()
        self.out: set[str] = set()
        self.busy: dict[str, float] = {}  # agent -> when its call (with ACW) ends
        self.waiting: deque[tuple[str, float]] = deque()
        self.calls = 0
        self.next_call = self.t
        self.returns: dict[str, float] = {}
        for i in range(agents):
            self._state(f"a{i}", "available")
            self.free.append(f"a{i}")

    def _state(self, agent: str, state: str) -> None:
        self.monitor.apply(
            event("agent.state", self.t, agent_id=agent, state=state, queues=["billing"])
        )

    def _call(self, kind: str, call: str, **fields: object) -> None:
        self.monitor.apply(event(kind, self.t, call_id=call, queue="billing", **fields))

    def run(self, until: float, gaps: Callable[[float], float], judge: Callable[[], None]) -> None:
        m = self.monitor
        while self.t < until:
            self.t += 1.0
            m.tick(self.t)
            self._finish_calls()
            self._come_and_go()
            if self.t >= self.next_call:
                self.calls += 1
                self.waiting.append((f"c{self.calls}", self.t))
                self._call("call.queued", f"c{self.calls}")
                self.next_call += gaps(self.t)
            self._answer()
            if int(self.t) % 5 == 0:
                views = m.queue_views()
                m.maintenance.sample(self.t, views)
                m.maintenance.assess(self.t, views, {})
                judge()

    def _finish_calls(self) -> None:
        for agent, ends in list(self.busy.items()):
            if ends == self.t + ACW:
                self._state(agent, "acw")
            elif ends <= self.t:
                del self.busy[agent]
                self._call(
                    "call.completed",
                    f"done-{agent}-{self.t}",
                    agent_id=agent,
                    talk_seconds=TALK,
                    hold_seconds=0.0,
                    acw_seconds=ACW,
                )
                if START <= self.t < self.end and agent in self.taken:
                    self.out.add(agent)
                    self._state(agent, "offline")
                else:
                    self._state(agent, "available")
                    self.free.append(agent)

    def _come_and_go(self) -> None:
        if START <= self.t < self.end:
            for agent in [a for a in self.free if a in self.taken]:
                self.free.remove(agent)
                self.out.add(agent)
                self._state(agent, "offline")
        for agent in sorted(self.out):
            if self.t >= self.returns.get(agent, self.end):
                self.out.discard(agent)
                self._state(agent, "available")
                self.free.append(agent)

    def _answer(self) -> None:
        while self.free and self.waiting:
            agent = self.free.popleft()
            call, since = self.waiting.popleft()
            self._call("call.answered", call, agent_id=agent, wait_seconds=self.t - since)
            self._state(agent, "on_call")
            self.busy[agent] = self.t + TALK + ACW

    def backlog(self) -> BacklogState:
        [b] = self.monitor.maintenance.backlogs
        return b


def test_the_hand_computed_case_drains_at_the_live_arrival_rate() -> None:
    # 10 agents, AHT 300 s (ACW 60 s); a 30-minute window takes 6 of them. Callers come
    # 1.33 a minute before the window, 2.2 a minute during it (its backlog), 1 a minute
    # after. With 18 waiting 15 minutes after the window all 10 are back and the queue
    # drains at 10/300 - 1/60 = 1/60 per s: 18 x 60 = 1080 s, for the queue's own drain ETA
    # and for MaintenanceBacklog's. That is the drain of patient callers to an empty queue:
    # the limits say so (drained at 0; a patience the evidence of no give-up cannot undo).
    limits = BacklogLimits(drained_calls_waiting=0, max_drain_eta=600)
    center = Center(10, limits, duration=1800, taken=6)

    def gaps(t: float) -> float:
        return 45.0 if t < START else 27.0 if t < center.end else 60.0

    center.run(center.end + 900, gaps, lambda: None)
    assert center.end + 900 <= center.t
    seen = []

    def judge() -> None:
        seen.append((len(center.waiting), center.backlog()))

    while not any(w == 18 for w, _ in seen):
        center.run(center.t + 5, gaps, judge)
        assert center.t < center.end + 3600, "never 18 waiting"
    b = next(b for w, b in seen if w == 18)
    [view] = center.monitor.queue_views()
    assert b.baseline == 0.0
    assert b.arrivals_per_second * 60 == pytest.approx(1.0, rel=0.1)
    assert b.drain_eta == pytest.approx(1080, rel=0.1)
    notes = backlog_summary(b, limits.max_drain_eta)
    assert notes["arrival_rate"] == f"{b.arrivals_per_second * 60:.2f}/min (last 15m)"
    seconds = float(notes["drain_eta"].removesuffix("s"))
    assert seconds == pytest.approx(1080, rel=0.1)
    assert view.drain_eta_seconds == pytest.approx(1080, rel=0.1)


def test_the_eta_never_reads_inf_while_agents_log_back_in() -> None:
    # 20 agents, all taken by a 5-minute window; callers come 2 a minute before it, 3.75
    # during it, so about 18 wait at its end. 8 agents are back at the end instant (10 left
    # waiting), the other 12 log in over the next 2 minutes. Callers then come 3 a minute:
    # 8 agents answer 1.6 a minute, so staffing as it is at the end would never drain; all
    # 20 answer 4 a minute and drain the backlog in a few minutes.
    center = Center(20, BacklogLimits(), duration=300, taken=20)
    center.returns = {f"a{i}": center.end + 10 * (i - 7) for i in range(8, 20)}
    seen: list[tuple[float, int, BacklogState]] = []

    def judge() -> None:
        for b in center.monitor.maintenance.backlogs:
            seen.append((center.t, len(center.waiting), b))

    center.run(
        center.end + 1200,
        lambda t: 30.0 if t < START else 16.0 if t < center.end else 20.0,
        judge,
    )
    [at_end] = [w for t, w, _ in seen if t == center.end]
    assert at_end >= 8  # a backlog to drain
    etas = [b.drain_eta for _, _, b in seen]
    assert all(eta is not None and not math.isinf(eta) for eta in etas)
    assert not any(b.active for _, _, b in seen)  # never active: no page, whatever `for`
    drained = min(t for t, w, _ in seen if t > center.end and w <= 2)
    assert drained - center.end < 600


def test_a_replay_at_full_speed_has_its_baseline_from_the_file() -> None:
    # On the file's own time nothing evaluates between two records: a replay at full speed
    # evaluates on the wall clock, hours of the file apart. The clock samples as it goes.
    spec = WindowSpec(
        name="pbx",
        sites=("lon1",),
        start=datetime.fromtimestamp(START, UTC).replace(tzinfo=None),
        duration=1800,
        queues=("billing",),
    )
    config = MonitorConfig(maintenance_windows=(spec,), event_time_clock=True)
    m = Monitor(config, now=START - 3600)
    m.tick(START + 7200)  # the wall clock, far ahead of the file
    for i in range(4):
        m.apply(
            event(
                "agent.state", START - 3600, agent_id=f"a{i}", state="available", queues=["billing"]
            )
        )
    handled = {"agent_id": "a0", "talk_seconds": 45.0, "hold_seconds": 0.0, "acw_seconds": 0.0}
    steps = (
        ("call.queued", 0, {}),
        ("call.answered", 5, {"agent_id": "a0", "wait_seconds": 5.0}),
        ("call.completed", 50, handled),
    )
    for n in range(60):  # a call a minute for the hour before the window
        for kind, after, fields in steps:
            t = START - 3600 + 60 * n + after
            m.apply(event(kind, t, call_id=f"c{n}", queue="billing", **fields))
    # The first assessment comes 45 minutes into the window, when the samples of the half
    # hour before it have aged out: its baseline was kept as the window opened.
    m.apply(event("call.queued", START + 2700, call_id="later", queue="billing"))
    m.maintenance.assess(m.now, m.queue_views(), {})
    [b] = m.maintenance.backlogs
    assert b.baseline is not None
    [occurrence] = m.maintenance.windows(m.now, grace=1800)
    base = m.maintenance.baselines.baseline(occurrence, "lon1", "billing")
    assert base is not None
    assert base.serving == 4
    assert base.arrivals is not None
    assert base.arrivals * 60 == pytest.approx(1.0, rel=0.1)
