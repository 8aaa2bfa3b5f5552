"""The shipped normal-day scenario written as Amazon Connect records and read back by the
adapter: the same calls in the same queues, the same agent states.

What the streams cannot carry, and so what differs from the v1 events:

- a queued callback ends the inbound contact in the queue without an agent, as an abandon
  does: each ``call.callback_requested`` comes back as ``call.abandoned``;
- a call answered or abandoned is always queued too: the adapter restates its
  ``call.queued`` (same event id as the ``QUEUED`` contact event's), so a call whose v1
  ``call.queued`` is still in flight (the simulator delivers some events late) is queued on
  the Connect side already;
- agent states are compared by each agent's latest (by event time), the state a monitor
  keeps: the agent event stream sends snapshots, and a repeated state yields nothing.
"""

from __future__ import annotations

import json
from collections import defaultdict
from typing import Any

import pytest

from callpulse.adapters.amazon_connect import AmazonConnect, AmazonConnectOptions
from callpulse.simulation.emitters.amazon_connect import AmazonConnectEmitter
from callpulse.simulation.model import ContactCenter
from callpulse.simulation.scenario import load

from .adapters import translated

START = 1_764_057_600.0  # 2025-11-25T08:00:00Z, office hours
CALLS = ("call.queued", "call.answered", "call.abandoned", "call.callback_requested")


def play(understaffed: bool, minutes: int = 30) -> list[dict[str, Any]]:
    """Half an hour of normal-day; ``understaffed``: with a quarter of its agents, so that
    callers give up (a normal day abandons little, maybe none in half an hour)."""
    scenario = load("normal-day").model_copy(deep=True)
    if understaffed:
        for site in scenario.sites:
            for queue in site.queues:
                queue.agents = max(1, queue.agents // 4)
    center = ContactCenter(scenario, START)
    events = []
    for step in range(1, minutes * 6 + 1):
        events += [json.loads(r.value) for r in center.records(START + step * 10) if r.value]
    return events


def calls(events: list[dict[str, Any]], site: str) -> dict[tuple[str, str], set[str]]:
    """Per (queue, type): the call ids, each event counted once by its id."""
    out: dict[tuple[str, str], set[str]] = defaultdict(set)
    seen: set[str] = set()
    for e in events:
        if e["site"] == site and e["type"] in CALLS and e["event_id"] not in seen:
            seen.add(e["event_id"])
            out[(e["queue"], e["type"])].add(e["call_id"])
    return out


def latest_states(events: list[dict[str, Any]], site: str) -> dict[str, tuple[str, str]]:
    """Each agent's state with the latest event time (ties: the one delivered last)."""
    out: dict[str, tuple[str, str]] = {}
    for e in events:
        if e["site"] == site and e["type"] == "agent.state":
            known = out.get(e["agent_id"])
            if known is None or e["occurred_at"] >= known[0]:
                out[e["agent_id"]] = (e["occurred_at"], e["state"])
    return {agent: state for agent, (_, state) in out.items()}


@pytest.mark.parametrize("understaffed", [False, True])
def test_normal_day_through_connect_records_and_back(understaffed: bool) -> None:
    v1 = play(understaffed)
    emitter = AmazonConnectEmitter()
    assert emitter.format == "amazon-connect"
    for site in ("lon1", "nyc1"):
        adapter = AmazonConnect(AmazonConnectOptions(site=site))
        emitter = AmazonConnectEmitter(f"arn:aws:connect:eu-west-2:111122223333:instance/{site}")
        back: list[dict[str, Any]] = []
        for event in v1:
            if event["site"] != site or event["type"] not in emitter.carries:
                continue
            for record in emitter.emit(event):
                back.extend(translated(adapter, record))  # valid v1, or it raises

        sent, got = calls(v1, site), calls(back, site)
        for queue in ("billing", "sales"):
            answered = sent[(queue, "call.answered")]
            gave_up = sent[(queue, "call.abandoned")] | sent[(queue, "call.callback_requested")]
            assert answered
            assert gave_up or not understaffed
            assert got[(queue, "call.answered")] == answered
            assert got[(queue, "call.abandoned")] == gave_up
            assert got[(queue, "call.queued")] == sent[(queue, "call.queued")] | answered | gave_up
        assert not got.keys() - {(q, t) for q in ("billing", "sales") for t in CALLS[:3]}

        assert latest_states(back, site) == latest_states(v1, site)
        done = [e for e in v1 if e["site"] == site and e["type"] == "call.completed"]
        assert {e["call_id"] for e in back if e["type"] == "call.completed"} == {
            e["call_id"] for e in done
        }
        # Every caller's contact has a record with its setup: one the IVR kept (in no
        # queue) is read for its setup alone, and none lacks its InitiationTimestamp.
        allowed = {"DISCONNECTED", "CONTACT_RECORD_DUPLICATE", "CONTACT_RECORD_NOT_QUEUED"}
        assert set(adapter.ignored) <= allowed
        ended = {e["call_id"] for e in done} | {
            e["call_id"] for e in v1 if e["site"] == site and e["type"] in CALLS[2:]
        }
        setups = {e["call_id"] for e in back if e["type"] == "call.setup"}
        assert ended <= setups
