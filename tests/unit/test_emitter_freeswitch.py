"""A shipped scenario written as FreeSWITCH callcenter::info events and read back: the adapter
must give the simulator's calls and agent states again, except what the format cannot carry."""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from datetime import datetime
from typing import Any

import pytest

from callpulse.adapters.freeswitch import FreeSwitchCallcenter, FreeSwitchOptions
from callpulse.protocols import Emitter
from callpulse.simulation import scenario as scenarios
from callpulse.simulation.emitters.freeswitch import FreeSwitchCallcenterEmitter
from callpulse.simulation.model import ContactCenter

from .adapters import translated

START = 1_800_000_000.0
MINUTES = 30


def simulated(name: str) -> list[dict[str, Any]]:
    """Thirty simulated minutes of scenario ``name`` in the order the simulator made them. It
    delivers a few events late and a few twice, as a real producer might; the emitter is
    given events in time order, as a platform would write them: once each, by creation."""
    center = ContactCenter(scenarios.load(name), START)
    seen: dict[str, dict[str, Any]] = {}
    for step in range(1, (MINUTES * 60 + 120) // 10 + 1):  # 2 more minutes: the late ones
        for record in center.records(START + step * 10):
            assert record.value is not None
            event = json.loads(record.value)
            seen.setdefault(event["event_id"], event)
    ordered = sorted(seen.values(), key=lambda e: int(e["event_id"].rsplit("-", 1)[1]))
    end = START + MINUTES * 60
    return [e for e in ordered if datetime.fromisoformat(e["occurred_at"]).timestamp() <= end]


def collapse(states: list[str]) -> list[str]:
    """ACW as available (its length is not carried: wrap-up is a setting, not an event), and
    a state repeated (a change of queues only) once."""
    out: list[str] = []
    for state in states:
        state = "available" if state == "acw" else state
        if not out or out[-1] != state:
            out.append(state)
    return out


# normal-day answers every call; agent-shortage logs agents off and has abandons; flash-crowd
# has abandons and a callback request.
@pytest.mark.parametrize("name", ["normal-day", "agent-shortage", "flash-crowd"])
def test_a_scenario_round_trips_through_freeswitch_events(name: str) -> None:
    events = simulated(name)
    expected: Counter[tuple[str, str, str]] = Counter()
    got: Counter[tuple[str, str, str]] = Counter()
    sim_states: dict[tuple[str, str], list[str]] = defaultdict(list)
    sim_queues: dict[tuple[str, str], list[str]] = {}
    fs_states: dict[tuple[str, str], list[str]] = defaultdict(list)
    fs_queues: dict[tuple[str, str], list[str]] = {}
    emitters: dict[str, FreeSwitchCallcenterEmitter] = {}
    adapters: dict[str, FreeSwitchCallcenter] = {}
    for event in events:
        site = event["site"]
        emitter = emitters.setdefault(site, FreeSwitchCallcenterEmitter(f"fs1.{site}"))
        adapter = adapters.setdefault(site, FreeSwitchCallcenter(FreeSwitchOptions(site=site)))
        kind = event["type"]
        if kind not in emitter.carries:
            continue  # IVR, trunks, snapshots... stay events v1 on a topic of their own
        kind = emitter.merges.get(kind, kind)  # a callback request: a key press, an abandon
        if kind in {"call.queued", "call.answered", "call.abandoned"}:
            expected[(site, event["queue"], kind)] += 1
        if kind == "agent.state":
            sim_states[(site, event["agent_id"])].append(event["state"])
            sim_queues[(site, event["agent_id"])] = event["queues"]
        for record in emitter.emit(event):
            for body in translated(adapter, record):  # valid v1, or it raises
                if body["type"] in {"call.queued", "call.answered", "call.abandoned"}:
                    got[(site, body["queue"], body["type"])] += 1
                if body["type"] == "agent.state":
                    fs_states[(site, body["agent_id"])].append(body["state"])
                    fs_queues[(site, body["agent_id"])] = body["queues"]

    assert sum(expected.values()) > 400  # a real half hour: both sites, four queues
    assert {q for _, q, _ in expected} == {"billing", "sales"}
    assert got == expected
    assert fs_states.keys() == sim_states.keys()
    for agent, states in sim_states.items():
        assert collapse(fs_states[agent]) == collapse(states), agent
    # An agent's queues are learnt from its calls (tiers have no event): an agent that took
    # one has the simulator's queues; one that took none has none yet.
    answered = {(e["site"], e["agent_id"]) for e in events if e["type"] == "call.answered"}
    assert len(answered) > 50
    for agent, queues in fs_queues.items():
        assert queues == (sim_queues[agent] if agent in answered else []), agent
    for adapter in adapters.values():
        assert set(adapter.ignored) == {"members-count", "member-queue-end:Terminated"}


def test_waits_come_back_to_the_millisecond_so_short_abandons_stay_short() -> None:
    """The CC-*-Time headers are whole seconds; the waits are read from the events' microsecond
    Event-Date-Timestamp, so each is the simulator's to its millisecond occurred_at: a 4.8 s
    abandon is not a 5 s one (past the short-abandon threshold) on the way back."""
    emitter = FreeSwitchCallcenterEmitter()
    waits: dict[str, float] = {}
    adapters: dict[str, FreeSwitchCallcenter] = {}
    for event in simulated("flash-crowd"):
        if event["type"] not in emitter.carries or event["site"] != "lon1":
            continue
        if event["type"] in {"call.answered", "call.abandoned", "call.callback_requested"}:
            waits[event["call_id"]] = event["wait_seconds"]
        adapter = adapters.setdefault("lon1", FreeSwitchCallcenter(FreeSwitchOptions("lon1")))
        for record in emitter.emit(event):
            for body in translated(adapter, record):
                if body["type"] in {"call.answered", "call.abandoned"}:
                    assert body["wait_seconds"] == pytest.approx(
                        waits[body["call_id"]], abs=0.0015
                    ), body
    assert sum(w % 1 > 0 for w in waits.values()) > 50  # waits are not whole seconds


def test_the_emitter_is_an_emitter() -> None:
    emitter: Emitter = FreeSwitchCallcenterEmitter()
    assert emitter.merges == {"call.callback_requested": "call.abandoned"}
