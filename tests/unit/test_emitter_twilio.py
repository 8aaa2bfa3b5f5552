"""A shipped scenario written as TaskRouter events and read back: the Twilio emitter and
adapter are each other's inverse for everything TaskRouter carries."""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from typing import Any

import pytest

from callpulse.adapters.twilio import TwilioOptions, TwilioTaskRouter
from callpulse.simulation import scenario
from callpulse.simulation.emitters.twilio import TwilioEmitter, task_sid
from callpulse.simulation.model import ContactCenter

from .adapters import translated

START = 1_764_000_000.0
CALL_ENDS = ("call.queued", "call.answered", "call.abandoned", "call.callback_requested")


def played(name: str = "normal-day", minutes: int = 30) -> list[dict[str, Any]]:
    """The scenario's v1 events as the contact center made them: the simulator delivers
    some late and some twice, a transport's doing, not TaskRouter's (which logs each event
    once, in order), so duplicates go and the order is the order of making (the id's
    sequence number)."""
    center = ContactCenter(scenario.load(name), START)
    seen: dict[str, dict[str, Any]] = {}
    for t in range(60, minutes * 60 + 1, 60):
        for record in center.records(START + t):
            assert record.value is not None
            event = json.loads(record.value)
            seen.setdefault(event["event_id"], event)
    return sorted(seen.values(), key=lambda e: int(e["event_id"].rsplit("-", 1)[1]))


def round_trip(events: list[dict[str, Any]], site: str) -> list[dict[str, Any]]:
    emitter = TwilioEmitter()
    adapter = TwilioTaskRouter(TwilioOptions(site=site))
    out: list[dict[str, Any]] = []
    for event in events:
        if event["site"] == site and event["type"] in emitter.carries:
            for record in emitter.emit(event):
                out.extend(translated(adapter, record))
    assert set(adapter.ignored) == {"task.created", "reservation.created"}
    return out


def call_counts(events: list[dict[str, Any]]) -> Counter[tuple[str, str]]:
    return Counter((e["queue"], e["type"]) for e in events if e["type"] in CALL_ENDS)


def agent_states(events: list[dict[str, Any]]) -> dict[str, list[str]]:
    """Each agent's states in order, without those that lasted no time (a state followed by
    another at the same instant) or repeated the one before."""
    timed: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for e in events:
        if e["type"] == "agent.state":
            timed[e["agent_id"]].append((e["occurred_at"], e["state"]))
    states: dict[str, list[str]] = {}
    for agent, changes in timed.items():
        lasting = [
            s
            for i, (at, s) in enumerate(changes)
            if i + 1 == len(changes) or changes[i + 1][0] != at
        ]
        states[agent] = [s for i, s in enumerate(lasting) if i == 0 or lasting[i - 1] != s]
    return states


@pytest.mark.parametrize(
    ("name", "site", "minutes"),
    [
        ("normal-day", "lon1", 30),
        ("normal-day", "nyc1", 30),
        ("normal-day", "lon1", 60),  # breaks begin: not_ready
        ("agent-shortage", "nyc1", 60),  # abandons, a callback request, agents offline
    ],
)
def test_a_scenario_survives_taskrouter(name: str, site: str, minutes: int) -> None:
    events = played(name, minutes)
    back = round_trip(events, site)
    sent = [e for e in events if e["site"] == site]
    # Every call is offered, answered, abandoned or sent to a callback exactly as played.
    assert call_counts(back) == call_counts(sent)
    assert sum(call_counts(back).values()) > 200
    # Completed calls keep their handle time (a call is its task, named by the TaskSid);
    # TaskRouter has no hold, which stays in the talk.
    handle = {
        task_sid(site, e["call_id"]): e["talk_seconds"] + e["hold_seconds"] + e["acw_seconds"]
        for e in sent
        if e["type"] == "call.completed"
    }
    done = [e for e in back if e["type"] == "call.completed"]
    assert len(done) == len(handle) > 0
    for e in done:
        assert e["hold_seconds"] == 0.0
        assert e["talk_seconds"] + e["acw_seconds"] == pytest.approx(handle[e["call_id"]], abs=0.01)
    # Agents go through the same states. What TaskRouter cannot carry: the queues a worker
    # serves (learned from its first accepted task, so [] before it), and a state change
    # that waited for a call to end (the simulator reports it once the call completes;
    # TaskRouter shows the worker's activity first, at the same instant).
    assert agent_states(back) == agent_states(sent)
    queues = {e["agent_id"]: e["queues"] for e in sent if e["type"] == "agent.state"}
    for e in back:
        if e["type"] == "agent.state" and e["queues"]:
            assert e["queues"] == queues[e["agent_id"]]
