"""The simulator: deterministic, valid, and faithful to its scenario's parameters."""

from __future__ import annotations

import itertools
import statistics
from collections import Counter
from datetime import UTC

import pytest

from callpulse.core.ingest import decode
from callpulse.simulation import scenario as scenarios
from callpulse.simulation.model import ContactCenter
from callpulse.simulation.model_parts import encode
from callpulse.simulation.scenario import Scenario

START = 1_800_000_000.0


def play(scenario: Scenario, hours: float = 1.0) -> list[bytes]:
    center = ContactCenter(scenario, start=START)
    out: list[bytes] = []
    for step in range(1, int(hours * 360) + 1):
        out.extend(encode(e) for e in center.advance(START + step * 10))
    return out


def test_same_seed_same_bytes_and_another_seed_differs() -> None:
    s = scenarios.load("normal-day")
    assert play(s, 0.5) == play(s, 0.5)
    assert play(s, 0.5) != play(s.model_copy(update={"seed": 99}), 0.5)


def test_every_event_is_valid_and_every_type_appears() -> None:
    events = [decode(v, 1 << 16) for v in play(scenarios.load("maintenance-backlog"), 1.25)]
    kinds = {e.type for e in events}
    assert kinds >= {
        "call.setup",
        "ivr.session_started",
        "ivr.session_ended",
        "call.queued",
        "call.answered",
        "call.completed",
        "agent.state",
        "queue.snapshot",
        "media.quality",
        "component.health",
        "trunk.status",
        "ivr.ports",
        "maintenance.started",
        "maintenance.ended",
    }


def test_rates_match_the_scenario_over_a_long_run() -> None:
    """Four simulated hours of one queue with no IVR and plenty of agents."""
    s = Scenario.model_validate(
        {
            "name": "stats",
            "seed": 5,
            "late_share": 0,
            "duplicate_share": 0,
            "sites": [
                {
                    "name": "s1",
                    "queues": [
                        {
                            "name": "q",
                            "calls_per_hour": 600,
                            "agents": 60,
                            "talk": "180s",
                            "acw": "30s",
                            "hold_share": 0,
                            "patience": "2m",
                            "callback_share": 0,
                        }
                    ],
                }
            ],
        }
    )
    hours = 4
    events = [decode(v, 1 << 16) for v in play(s, hours)]
    counts = Counter(e.type for e in events)
    expected = 600 * hours
    # Poisson arrivals: the count's standard deviation is sqrt(2400) = 49; allow 4 of them.
    assert abs(counts["call.queued"] - expected) < 4 * expected**0.5
    handle = [e.talk_seconds + e.acw_seconds for e in events if e.type == "call.completed"]
    # Log-normal talk (median 180 s, sigma 0.6) has mean 180 e^0.18 = 215.5 s; acw (30 s,
    # sigma 0.4) 32.5 s. The mean of ~2,400 calls is within 3 %.
    assert statistics.fmean(handle) == pytest.approx(215.5 + 32.5, rel=0.03)
    # With 60 agents for ~10 Erlangs nobody waits long enough to give up.
    assert counts["call.abandoned"] < 0.01 * counts["call.queued"]


def test_abandonment_follows_patience_when_understaffed() -> None:
    s = Scenario.model_validate(
        {
            "name": "short",
            "seed": 6,
            "late_share": 0,
            "duplicate_share": 0,
            "sites": [
                {
                    "name": "s1",
                    "queues": [
                        {
                            "name": "q",
                            "calls_per_hour": 600,
                            "agents": 5,
                            "patience": "1m",
                            "callback_share": 0.25,
                        }
                    ],
                }
            ],
        }
    )
    events = [decode(v, 1 << 16) for v in play(s, 2)]
    counts = Counter(e.type for e in events)
    gave_up = counts["call.abandoned"] + counts["call.callback_requested"]
    # 10 calls/min against ~1.2 answered/min: most callers give up, a quarter of them
    # asking for a callback.
    assert gave_up > 0.7 * counts["call.queued"]
    assert counts["call.callback_requested"] / gave_up == pytest.approx(0.25, abs=0.05)
    waits = [e.wait_seconds for e in events if e.type == "call.abandoned"]
    # Patience is exponential (mean 60 s); the few answered first are the most patient, so
    # those who give up waited a little less than the mean, never absurdly long.
    assert 30 < statistics.fmean(waits) < 60


def test_some_events_arrive_late_or_twice() -> None:
    events = [decode(v, 1 << 16) for v in play(scenarios.load("normal-day"), 1.0)]
    ids = Counter(e.event_id for e in events)
    assert 0 < sum(n > 1 for n in ids.values()) < 0.01 * len(ids)
    times = [e.occurred_at for e in events]
    assert sum(b < a for a, b in itertools.pairwise(times)) > 0  # out of order


def test_calls_route_around_a_trunk_that_is_down() -> None:
    s = Scenario.model_validate(
        {
            "name": "two-trunks",
            "seed": 8,
            "late_share": 0,
            "duplicate_share": 0,
            "sites": [
                {
                    "name": "s1",
                    "trunks": [{"id": "t1", "channels": 60}, {"id": "t2", "channels": 60}],
                    "queues": [{"name": "q", "calls_per_hour": 600, "agents": 40}],
                }
            ],
            "incidents": [
                {"at": "10m", "duration": "30m", "kind": "trunk_down", "site": "s1", "trunk": "t1"}
            ],
        }
    )
    events = [decode(v, 1 << 16) for v in play(s, 1.0)]
    during = [
        e
        for e in events
        if e.type == "call.setup" and START + 660 <= e.occurred_at.timestamp() < START + 2340
    ]
    assert during
    assert {e.trunk_id for e in during} == {"t2"}
    assert {e.sip_code for e in during} == {200}


def test_agents_take_breaks_and_follow_office_hour_shifts() -> None:
    s = Scenario.model_validate(
        {
            "name": "office",
            "seed": 9,
            "late_share": 0,
            "duplicate_share": 0,
            "diurnal": "office",
            "start": "2026-11-23T06:00:00",
            "breaks": {"every": "1h", "length": "10m"},
            "sites": [
                {"name": "s1", "queues": [{"name": "q", "calls_per_hour": 300, "agents": 20}]}
            ],
        }
    )
    center = ContactCenter(s, start=s.start.replace(tzinfo=UTC).timestamp())
    events = [
        decode(encode(e), 1 << 16)
        for e in center.advance(s.start.replace(tzinfo=UTC).timestamp() + 6 * 3600)
    ]
    states = Counter(e.state for e in events if e.type == "agent.state")
    assert states["not_ready"] > 20  # breaks, every agent about hourly
    # At 06:00 the office profile needs 20 % of the staff; by 10:00 all of them.
    offline_at_6 = {
        e.agent_id
        for e in events
        if e.type == "agent.state" and e.state == "offline" and e.occurred_at.hour == 6
    }
    assert len(offline_at_6) == 20 - 4
    arrivals = Counter(e.occurred_at.hour for e in events if e.type == "call.queued")
    assert arrivals[10] > 3 * arrivals[6]
