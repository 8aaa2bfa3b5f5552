"""Amazon Connect streams to events v1.

Amazon Connect publishes three streams; one Kafka topic may carry any mix of them (each
reaches Kafka through the Kinesis source connector, one JSON document per record), and the
adapter tells them apart by shape. A record may also hold several documents
(:mod:`callpulse.adapters.connect_documents`); each is read on its own, and one that cannot
be read rejects only itself (PartlyReadError).

- agent events (Kinesis agent event stream, read here): ``AgentARN``, ``EventType``
  (``LOGIN`` / ``LOGOUT`` / ``STATE_CHANGE`` / ``HEART_BEAT``) and a
  ``CurrentAgentSnapshot`` holding the agent's status (``AgentStatus.Name``, ``.Type``:
  ``ROUTABLE`` / ``CUSTOM`` / ``OFFLINE``), routing profile
  (``Configuration.RoutingProfile.InboundQueues``) and ``Contacts`` with their ``State``.
  Each snapshot is complete, so the agent's state is derived from the latest one alone: a
  ``CONNECTED`` / ``CONNECTED_ONHOLD`` contact is ``on_call``, an ``ENDED`` one ``acw``
  until it leaves the list;
- contact events (EventBridge) and contact records (Kinesis contact record stream), which
  give the calls: :mod:`callpulse.adapters.connect_contacts`.

Every key and enumerated value is read case-insensitively
(:mod:`callpulse.adapters.connect_fields`), and agents and queues are named by the
configured maps, else by the names the streams carry
(:mod:`callpulse.adapters.connect_names`).

Sources: Amazon Connect Administrator Guide, "Agent event streams data model", "Sample
agent event stream", "Determine how long an agent spends doing ACW", "About contact states",
"Amazon Connect contact events" (data model and samples) and "Contact records data model";
Connect API Reference, "AgentContactReference" (contact states).
"""

from __future__ import annotations

import json
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from callpulse.adapters.base import V1, AdapterError, Unreadable, batch_read, v1
from callpulse.adapters.bounds import Budget, Ignored, shown
from callpulse.adapters.connect_contacts import ContactStreams
from callpulse.adapters.connect_documents import documents
from callpulse.adapters.connect_fields import (
    FORMAT,
    as_object,
    as_text,
    as_time,
    get,
    id_of,
    is_agent_queue,
)
from callpulse.adapters.connect_names import ConnectNames
from callpulse.adapters.connect_voice import IGNORED_KINDS as VOICE_IGNORED

MAX_AGENTS = 10_000  # like every tracker, bounded: the oldest agent is forgotten past it
MAX_CONTACTS = 100_000  # contact records remembered for de-duplication, oldest forgotten
MAX_QUEUES_PER_AGENT = 256
MAX_MEMBERSHIPS = 100_000  # (agent, queue) pairs over all agents: each keeps a queue name
MAX_NAMES = 10_000  # names learned per kind (agents, queues), the oldest forgotten past it
_FAILURES_SHOWN = 3  # documents a batch's rejection names; it says how many in all

# What is counted in ``ignored`` by name: the contact event types of the data model v1 has
# no use for (QUEUED and CONNECTED_TO_AGENT too, of a contact never in a queue), the
# channels other than voice, Contact Lens's EventBridge events, and this adapter's own
# kinds; any other kind (an unknown event type, another EventBridge event) as _other.
IGNORED_KINDS = frozenset(
    {
        "AMD_DISABLED", "INITIATED", "CONNECTED_TO_SYSTEM", "CONTACT_DATA_UPDATED", "QUEUED",
        "CONNECTED_TO_AGENT", "COMPLETED", "DISCONNECTED", "CHAT", "TASK", "EMAIL",
        "Contact Lens Post Call Rules Matched", "Contact Lens Realtime Rules Matched",
        "AGENT_QUEUE", "CONTACT_RECORD_DUPLICATE", "CONTACT_RECORD_NOT_QUEUED",
    }
) | VOICE_IGNORED  # fmt: skip

# Contact states (agent event stream), strongest first. A contact being offered (ringing,
# or a callback being presented) holds the agent as a call does: v1 has no ringing state.
_ON_CALL = {"CONNECTED", "CONNECTED_ONHOLD", "CONNECTING", "INCOMING", "PENDING"}
_ACW = {"ENDED"}
# A missed, rejected or failed contact leaves the agent unroutable until they clear it.
_NOT_READY = {"MISSED", "REJECTED", "ERROR"}
_STATUS_TYPES = {"ROUTABLE": "available", "CUSTOM": "not_ready", "OFFLINE": "offline"}
_AGENT_EVENTS = {"LOGIN", "LOGOUT", "STATE_CHANGE", "HEART_BEAT"}
_CONTACT_EVENT = "amazon connect contact event"


@dataclass(frozen=True, slots=True)
class AmazonConnectOptions:
    """How to read one Amazon Connect instance's streams.

    ``agent_names``: agent ARN (or its last segment, the agent id) -> the agent's name;
    empty, the agents' ``Username``. ``queue_names``: queue ARN (or its last segment, the
    queue id) -> the queue's name; empty, the queues' ``Name``.
    ``activity_states``: an agent status ``Name`` -> the v1 state it means, where its
    ``Type`` is not enough (a custom status "Outbound calls" that is work, say).
    ``ivr_application``: the application the contact flows' IVR sessions are counted under;
    empty, none are (:mod:`.connect_voice` says why)."""

    site: str
    agent_names: dict[str, str] = field(default_factory=dict)
    queue_names: dict[str, str] = field(default_factory=dict)
    activity_states: dict[str, str] = field(default_factory=dict)
    ivr_application: str = ""


class AmazonConnect:
    """An Adapter for Amazon Connect agent events, contact events and contact records."""

    format = FORMAT

    def __init__(self, options: AmazonConnectOptions) -> None:
        self.options = options
        self.ignored = Ignored(IGNORED_KINDS)
        self.agents_dropped = 0
        # By agent id: the agent's state and queues as last reported.
        self._agents: OrderedDict[str, tuple[str, tuple[str, ...]]] = OrderedDict()
        self._names = ConnectNames(options.agent_names, options.queue_names, MAX_NAMES)
        self._memberships = Budget(MAX_MEMBERSHIPS)
        self._contacts = ContactStreams(
            options.site, self._names, self.ignored, MAX_CONTACTS, options.ivr_application
        )

    def translate(self, record: bytes) -> list[V1]:
        """The events-v1 bodies one Amazon Connect record stands for (none for a kind v1
        has no use for, counted in ``ignored``). A record may hold several documents (see
        :mod:`~callpulse.adapters.connect_documents`): each is read on its own, and one that
        cannot be read raises PartlyReadError with what the others gave. Raises AdapterError
        for a record of which nothing could be read."""
        found = documents(record)
        if len(found) == 1:
            only = found[0][1]
            if isinstance(only, Unreadable):
                raise AdapterError(FORMAT, only.detail)
            return self._document(record, only)
        events: list[V1] = []
        failed: list[str] = []
        for where, doc in found:
            if isinstance(doc, Unreadable):
                failed.append(f"{where}: {doc.detail}")
                continue
            try:
                key = json.dumps(doc, sort_keys=True, separators=(",", ":")).encode()
                events += self._document(key, doc)
            except AdapterError as exc:
                failed.append(f"{where}: {exc.detail}")
            except (ValueError, ArithmeticError, TypeError, KeyError, IndexError) as exc:
                failed.append(f"{where}: {type(exc).__name__}: {exc}")
        return batch_read(FORMAT, events, failed, len(found), "documents", _FAILURES_SHOWN)

    def _document(self, record: bytes, doc: dict[str, Any]) -> list[V1]:
        """What one document stands for; ``record`` is what its events' ids are made of."""
        if get(doc, "detail") is not None and get(doc, "detail-type") is not None:
            kind = as_text(get(doc, "detail-type"), "detail-type")
            if kind.lower() != _CONTACT_EVENT:
                self.ignored.add(kind)  # another EventBridge event on the same bus
                return []
            detail = as_object(get(doc, "detail"), "detail")
            return self._contacts.event(record, detail, get(doc, "time"))
        if get(doc, "AgentARN") is not None or get(doc, "CurrentAgentSnapshot") is not None:
            return self._agent_event(record, doc)
        if get(doc, "ContactId") is not None and get(doc, "EventType") is not None:
            return self._contacts.event(record, doc, None)
        if get(doc, "ContactId") is not None:
            return self._contacts.record(doc)
        raise AdapterError(
            FORMAT,
            "expected an agent event (AgentARN, EventType), a contact event (an EventBridge "
            "envelope, or eventType and contactId) or a contact record (ContactId, "
            f"LastUpdateTimestamp); keys: {', '.join(shown(k) for k in sorted(doc)[:8])}",
        )

    def flush(self, now: float) -> list[V1]:
        """Nothing is ever assumed: ACW's end is in the agent event stream."""
        return []

    def fill(self) -> Mapping[str, float]:
        """How full each cap is: agents, their queues, contact records and contacts
        remembered."""
        return {
            "agents": len(self._agents) / MAX_AGENTS,
            "memberships": self._memberships.fill(),
            **self._contacts.fill(),
            **self._names.fill(),
        }

    # --- agent events ------------------------------------------------------------------

    def _agent_event(self, record: bytes, doc: dict[str, Any]) -> list[V1]:
        kind = as_text(get(doc, "EventType"), "EventType").upper()
        if kind not in _AGENT_EVENTS:
            self.ignored.add(kind)
            return []
        arn = as_text(get(doc, "AgentARN"), "AgentARN")
        when = as_time(get(doc, "EventTimestamp"), "EventTimestamp")
        raw = get(doc, "CurrentAgentSnapshot")
        snapshot = None  # a LOGOUT may come without one; every other kind has it
        if raw is not None or kind != "LOGOUT":
            snapshot = as_object(raw, "CurrentAgentSnapshot")
        config = get(snapshot, "Configuration") if snapshot is not None else None
        username = get(config, "Username") if isinstance(config, dict) else None
        agent = id_of(arn, "AgentARN")
        name = self._names.agent(arn, "AgentARN", username)
        previous = self._agents.get(agent)
        if snapshot is None:
            queues = previous[1] if previous is not None else ()
        else:
            queues = self._profile_queues(snapshot)
        state = "offline" if kind == "LOGOUT" or snapshot is None else self._state(snapshot)
        # As many queues as the memberships' cap has room for, counting the agent's own.
        room = self._memberships.limit - self._memberships.used
        queues = queues[: room + (len(previous[1]) if previous is not None else 0)]
        if previous == (state, queues):
            return []  # a heartbeat, or a change v1 does not see (a hierarchy group...)
        self._remember_agent(agent, (state, queues))
        return [v1(record, 0, "agent.state", when, self.options.site,
                   agent_id=name, state=state, queues=list(queues))]  # fmt: skip

    def _state(self, snapshot: dict[str, Any]) -> str:
        contacts = get(snapshot, "Contacts") or []
        if not isinstance(contacts, list):
            raise AdapterError(FORMAT, "CurrentAgentSnapshot.Contacts must be a list")
        states = {
            as_text(get(as_object(c, "Contacts[]"), "State"), "Contacts[].State").upper()
            for c in contacts
        }
        # Contacts decide before the status: an agent who picked Break mid-call is on the
        # call until it ends (Connect holds the status as NextAgentStatus meanwhile).
        if states & _ON_CALL:
            return "on_call"
        if states & _ACW:
            return "acw"
        if states & _NOT_READY:
            return "not_ready"
        status = as_object(get(snapshot, "AgentStatus"), "CurrentAgentSnapshot.AgentStatus")
        name = as_text(get(status, "Name"), "AgentStatus.Name")
        mapped = self.options.activity_states.get(name)
        if mapped is not None:
            return mapped
        state = _STATUS_TYPES.get(str(get(status, "Type")).upper())
        if state is not None:
            return state
        # The older samples carry no Type: the two system statuses by name, and every other
        # status is a custom one (Break, Training...).
        return {"available": "available", "offline": "offline"}.get(name.lower(), "not_ready")

    def _profile_queues(self, snapshot: dict[str, Any]) -> tuple[str, ...]:
        config = get(snapshot, "Configuration")
        profile = get(as_object(config, "Configuration"), "RoutingProfile") if config else None
        if profile is None:
            return ()
        inbound = get(as_object(profile, "RoutingProfile"), "InboundQueues") or []
        if not isinstance(inbound, list):
            raise AdapterError(FORMAT, "RoutingProfile.InboundQueues must be a list")
        names: set[str] = set()
        for queue in inbound:
            what = "InboundQueues[].ARN"
            entry = as_object(queue, "InboundQueues[]")
            arn = as_text(get(entry, "ARN"), what)
            # Every agent has a queue of its own (".../queue/agent/<id>", Name null): it is
            # how a call is transferred to that agent, not a queue callers wait in.
            if not is_agent_queue(arn) and len(names) < MAX_QUEUES_PER_AGENT:
                names.add(self._names.queue(arn, what, get(entry, "Name")))
        return tuple(sorted(names))

    def _remember_agent(self, agent: str, state: tuple[str, tuple[str, ...]]) -> None:
        previous = self._agents.get(agent)
        if previous is not None:
            self._memberships.give(len(previous[1]))
        elif len(self._agents) >= MAX_AGENTS:
            _, forgotten = self._agents.popitem(last=False)
            self._memberships.give(len(forgotten[1]))
            self.agents_dropped += 1
        self._memberships.take(len(state[1]))  # the caller kept them within its room
        self._agents[agent] = state
