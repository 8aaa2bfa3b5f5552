"""Amazon Connect streams to events v1.

Amazon Connect publishes three streams; one Kafka topic may carry any mix of them (each
reaches Kafka through the Kinesis source connector, one JSON document per record), and the
adapter tells them apart by shape. A record may also hold them as people store them
(:func:`_documents`): pretty-printed, concatenated as Firehose writes S3 objects, in a JSON
array, or base64 in a Lambda Kinesis event or a Firehose delivery; each document is read on
its own, and one that cannot be read rejects only itself (PartlyReadError).

- agent events (Kinesis agent event stream): ``AgentARN``, ``EventType`` (``LOGIN`` /
  ``LOGOUT`` / ``STATE_CHANGE`` / ``HEART_BEAT``) and a ``CurrentAgentSnapshot`` holding the
  agent's status (``AgentStatus.Name``, ``.Type``: ``ROUTABLE`` / ``CUSTOM`` / ``OFFLINE``),
  routing profile (``Configuration.RoutingProfile.InboundQueues``) and ``Contacts`` with
  their ``State``. Each snapshot is complete, so the agent's state is derived from the
  latest one alone: a ``CONNECTED`` / ``CONNECTED_ONHOLD`` contact is ``on_call``, an
  ``ENDED`` one ``acw`` until it leaves the list;
- contact events (EventBridge, "Amazon Connect Contact Event"; the envelope with ``detail``,
  or the bare detail when a rule's input transformer strips it): ``QUEUED``,
  ``CONNECTED_TO_AGENT`` and ``DISCONNECTED`` give a call's wait. They are unordered and
  best effort;
- contact records (Kinesis contact record stream): written when the agent clears the
  contact after ACW, delivered at least once; they give talk, hold and ACW.

The contact-event samples in AWS's own pages disagree on key case (``agentInfo`` /
``AgentInfo``, ``agentArn`` / ``AgentArn``, ``VOICE`` / ``Voice``) and the data model writes
``EventType`` where the samples write ``eventType``: every key and enumerated value is read
case-insensitively.

Identity is the ARN's last segment (the agent's or queue's id), stable across the three
streams, which name things differently (contact events give only ARNs); what events v1 are
told is a name. With ``agent_names`` / ``queue_names``, it is the map's. Without a map, it is
the name the streams carry (:class:`_Names`): a queue's ``Name`` (contact records, agent
events' routing profiles), an agent's ``Username`` (its agent events, contact records),
learned once per id and kept; until one is seen, the id. A contact keeps the name
its first event was written with (a bit of its ``said``), so a call queued under a queue's id
before the queue's name was seen is answered under the same id.

A call's events get ids made from the contact, not the record: ``call.queued``,
``call.answered``, ``call.abandoned`` and ``call.completed`` of one contact have the same
``event_id`` whichever stream (or copy) yielded them, and each is written once (the adapter
remembers what it wrote per contact and queue, bounded), so a contact record restating what
the contact events said adds nothing, and makes good a contact event EventBridge never
delivered.
For the same reason ``call.answered`` and ``call.abandoned`` are preceded by their
``call.queued``: a ``QUEUED`` that arrives after the answer then changes nothing, where
otherwise it would leave the caller waiting forever.

Sources: Amazon Connect Administrator Guide, "Agent event streams data model", "Sample
agent event stream", "Determine how long an agent spends doing ACW", "About contact states",
"Amazon Connect contact events" (data model and samples) and "Contact records data model";
Connect API Reference, "AgentContactReference" (contact states).
"""

from __future__ import annotations

import base64
import json
import math
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from callpulse.adapters.base import LAST_INSTANT, V1, AdapterError, PartlyReadError, parse_json, v1
from callpulse.adapters.bounds import Budget, Ignored, checked_name, digest, shown
from callpulse.core.documents import split
from callpulse.core.ingest import MAX_DEPTH, too_deep

FORMAT = "amazon-connect"
MAX_AGENTS = 10_000  # like every tracker, bounded: the oldest agent is forgotten past it
MAX_CONTACTS = 100_000  # contact records remembered for de-duplication, oldest forgotten
MAX_QUEUES_PER_AGENT = 256
MAX_MEMBERSHIPS = 100_000  # (agent, queue) pairs over all agents: each keeps a queue name
MAX_NAMES = 10_000  # names learned per kind (agents, queues), the oldest forgotten past it
MAX_DOCUMENTS = 10_000  # in one record (a Firehose object, a Kinesis batch)
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
)  # fmt: skip

# Contact states (agent event stream), strongest first. A contact being offered (ringing,
# or a callback being presented) holds the agent as a call does: v1 has no ringing state.
_ON_CALL = {"CONNECTED", "CONNECTED_ONHOLD", "CONNECTING", "INCOMING", "PENDING"}
_ACW = {"ENDED"}
# A missed, rejected or failed contact leaves the agent unroutable until they clear it.
_NOT_READY = {"MISSED", "REJECTED", "ERROR"}
_STATUS_TYPES = {"ROUTABLE": "available", "CUSTOM": "not_ready", "OFFLINE": "offline"}
_AGENT_EVENTS = {"LOGIN", "LOGOUT", "STATE_CHANGE", "HEART_BEAT"}
_CONTACT_EVENT = "amazon connect contact event"
# The event index within a contact's ids (see the module docstring).
_QUEUED, _ANSWERED, _ABANDONED, _COMPLETED, _TRANSFERRED = range(5)
_BY_ID = 1 << 5  # in ``said``: the contact's events name its queue by id


@dataclass(frozen=True, slots=True)
class AmazonConnectOptions:
    """How to read one Amazon Connect instance's streams.

    ``agent_names``: agent ARN (or its last segment, the agent id) -> the agent's name;
    empty, the agents' ``Username``. ``queue_names``: queue ARN (or its last segment, the
    queue id) -> the queue's name; empty, the queues' ``Name``.
    ``activity_states``: an agent status ``Name`` -> the v1 state it means, where its
    ``Type`` is not enough (a custom status "Outbound calls" that is work, say)."""

    site: str
    agent_names: dict[str, str] = field(default_factory=dict)
    queue_names: dict[str, str] = field(default_factory=dict)
    activity_states: dict[str, str] = field(default_factory=dict)


class AmazonConnect:
    """An Adapter for Amazon Connect agent events, contact events and contact records."""

    format = FORMAT

    def __init__(self, options: AmazonConnectOptions) -> None:
        self.options = options
        self.ignored = Ignored(IGNORED_KINDS)
        self.agents_dropped = 0
        # By agent id: the agent's state and queues as last reported.
        self._agents: OrderedDict[str, tuple[str, tuple[str, ...]]] = OrderedDict()
        self._agent_labels = _Names(not options.agent_names)
        self._queue_labels = _Names(not options.queue_names)
        self._memberships = Budget(MAX_MEMBERSHIPS)
        # The digest of a ContactId -> its record's LastUpdateTimestamp.
        self._records: OrderedDict[bytes, float] = OrderedDict()
        # Per contact and queue (by digest), the events already written, a bit each: a
        # restatement writes only what is missing, however long after (a long call's record
        # comes after the monitor has forgotten the ids it would have de-duplicated on).
        self._said: OrderedDict[bytes, int] = OrderedDict()

    def translate(self, record: bytes) -> list[V1]:
        """The events-v1 bodies one Amazon Connect record stands for (none for a kind v1
        has no use for, counted in ``ignored``). A record may hold several documents (see
        :func:`_documents`): each is read on its own, and one that cannot be read raises
        PartlyReadError with what the others gave. Raises AdapterError for a record of which
        nothing could be read."""
        documents = _documents(record)
        if len(documents) == 1:
            only = documents[0][1]
            if isinstance(only, AdapterError):
                raise only
            return self._document(record, only)
        events: list[V1] = []
        failed: list[str] = []
        for where, doc in documents:
            try:
                if isinstance(doc, AdapterError):
                    raise doc
                key = json.dumps(doc, sort_keys=True, separators=(",", ":")).encode()
                events += self._document(key, doc)
            except AdapterError as exc:
                failed.append(f"{where}: {exc.detail}")
            except (ValueError, ArithmeticError, TypeError, KeyError, IndexError) as exc:
                failed.append(f"{where}: {type(exc).__name__}: {exc}")
        if not failed:
            return events
        detail = f"{len(failed)} of {len(documents)} documents not read: " + "; ".join(
            failed[:_FAILURES_SHOWN]
        )
        if len(failed) == len(documents):
            raise AdapterError(FORMAT, detail)
        raise PartlyReadError(FORMAT, detail, events)

    def _document(self, record: bytes, doc: dict[str, Any]) -> list[V1]:
        """What one document stands for; ``record`` is what its events' ids are made of."""
        if _get(doc, "detail") is not None and _get(doc, "detail-type") is not None:
            kind = _text(_get(doc, "detail-type"), "detail-type")
            if kind.lower() != _CONTACT_EVENT:
                self.ignored.add(kind)  # another EventBridge event on the same bus
                return []
            detail = _object(_get(doc, "detail"), "detail")
            return self._contact_event(record, detail, _get(doc, "time"))
        if _get(doc, "AgentARN") is not None or _get(doc, "CurrentAgentSnapshot") is not None:
            return self._agent_event(record, doc)
        if _get(doc, "ContactId") is not None and _get(doc, "EventType") is not None:
            return self._contact_event(record, doc, None)
        if _get(doc, "ContactId") is not None:
            return self._contact_record(doc)
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
            "contact_records": len(self._records) / MAX_CONTACTS,
            "contacts": len(self._said) / MAX_CONTACTS,
            "agent_names": self._agent_labels.fill(),
            "queue_names": self._queue_labels.fill(),
        }

    # --- agent events ------------------------------------------------------------------

    def _agent_event(self, record: bytes, doc: dict[str, Any]) -> list[V1]:
        kind = _text(_get(doc, "EventType"), "EventType").upper()
        if kind not in _AGENT_EVENTS:
            self.ignored.add(kind)
            return []
        arn = _text(_get(doc, "AgentARN"), "AgentARN")
        when = _time(_get(doc, "EventTimestamp"), "EventTimestamp")
        raw = _get(doc, "CurrentAgentSnapshot")
        snapshot = None  # a LOGOUT may come without one; every other kind has it
        if raw is not None or kind != "LOGOUT":
            snapshot = _object(raw, "CurrentAgentSnapshot")
        config = _get(snapshot, "Configuration") if snapshot is not None else None
        username = _get(config, "Username") if isinstance(config, dict) else None
        agent = _id_of(arn, "AgentARN")
        name = self._agent_name(arn, "AgentARN", username)
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
        contacts = _get(snapshot, "Contacts") or []
        if not isinstance(contacts, list):
            raise AdapterError(FORMAT, "CurrentAgentSnapshot.Contacts must be a list")
        states = {
            _text(_get(_object(c, "Contacts[]"), "State"), "Contacts[].State").upper()
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
        status = _object(_get(snapshot, "AgentStatus"), "CurrentAgentSnapshot.AgentStatus")
        name = _text(_get(status, "Name"), "AgentStatus.Name")
        mapped = self.options.activity_states.get(name)
        if mapped is not None:
            return mapped
        state = _STATUS_TYPES.get(str(_get(status, "Type")).upper())
        if state is not None:
            return state
        # The older samples carry no Type: the two system statuses by name, and every other
        # status is a custom one (Break, Training...).
        return {"available": "available", "offline": "offline"}.get(name.lower(), "not_ready")

    def _profile_queues(self, snapshot: dict[str, Any]) -> tuple[str, ...]:
        config = _get(snapshot, "Configuration")
        profile = _get(_object(config, "Configuration"), "RoutingProfile") if config else None
        if profile is None:
            return ()
        inbound = _get(_object(profile, "RoutingProfile"), "InboundQueues") or []
        if not isinstance(inbound, list):
            raise AdapterError(FORMAT, "RoutingProfile.InboundQueues must be a list")
        names: set[str] = set()
        for queue in inbound:
            what = "InboundQueues[].ARN"
            entry = _object(queue, "InboundQueues[]")
            arn = _text(_get(entry, "ARN"), what)
            # Every agent has a queue of its own (".../queue/agent/<id>", Name null): it is
            # how a call is transferred to that agent, not a queue callers wait in.
            if not _is_agent_queue(arn) and len(names) < MAX_QUEUES_PER_AGENT:
                names.add(self._queue_name(arn, what, _get(entry, "Name")))
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

    # --- contact events ----------------------------------------------------------------

    def _contact_event(self, record: bytes, detail: dict[str, Any], sent: Any) -> list[V1]:
        kind = _text(_get(detail, "eventType"), "eventType").upper()
        if kind not in {"QUEUED", "CONNECTED_TO_AGENT", "DISCONNECTED"}:
            # INITIATED, CONNECTED_TO_SYSTEM, CONTACT_DATA_UPDATED, COMPLETED (whose ACW the
            # contact record also has), AMD_DISABLED, and types yet to come.
            self.ignored.add(kind)
            return []
        contact = _id(_get(detail, "contactId"), "contactId")
        channel = _get(detail, "channel")
        if channel is not None and _text(channel, "channel").upper() != "VOICE":
            self.ignored.add(_text(channel, "channel").upper())  # chats, tasks, emails
            return []
        queue_info = _get(detail, "queueInfo")
        queue_info = _object(queue_info, "queueInfo") if queue_info is not None else {}
        arn = _get(queue_info, "queueArn")
        enqueued = _get(queue_info, "enqueueTimestamp")
        if arn is None or enqueued is None:
            # Never in a queue: an outbound call, or a caller who left the flow after a Set
            # working queue block (queueInfo without enqueueTimestamp) but before queueing.
            self.ignored.add(kind)
            return []
        queue_arn = _text(arn, "queueInfo.queueArn")
        queue_type = _get(queue_info, "queueType")
        if _is_agent_queue(queue_arn) or str(queue_type).upper() == "AGENT":
            self.ignored.add("AGENT_QUEUE")  # a transfer to one agent: not a queue's wait
            return []
        out = self._contact(contact, queue_arn, "queueInfo.queueArn", None)
        start = _time(enqueued, "queueInfo.enqueueTimestamp")
        out.queued(start)
        if kind == "QUEUED":
            return out.written()
        agent_info = _get(detail, "agentInfo")
        agent_info = _object(agent_info, "agentInfo") if agent_info is not None else {}
        connected = _get(agent_info, "connectedToAgentTimestamp")
        if kind == "CONNECTED_TO_AGENT":
            at = _time(connected if connected is not None else sent, "connectedToAgentTimestamp")
            what = "agentInfo.agentArn"
            agent = self._agent_name(_text(_get(agent_info, "agentArn"), what), what)
            out.answered(at, agent, at - start)
            return out.written()
        if connected is not None:
            self.ignored.add(kind)  # the end of an answered call: its record says the rest
            return []
        ended = _get(detail, "disconnectTimestamp")
        at = _time(ended if ended is not None else sent, "disconnectTimestamp")
        out.abandoned(at, at - start)
        return out.written()

    # --- contact records ---------------------------------------------------------------

    def _contact_record(self, doc: dict[str, Any]) -> list[V1]:
        contact = _id(_get(doc, "ContactId"), "ContactId")
        updated = _time(_get(doc, "LastUpdateTimestamp"), "LastUpdateTimestamp")
        key = digest(contact)
        seen = self._records.get(key)
        if seen is not None and seen >= updated:
            self.ignored.add("CONTACT_RECORD_DUPLICATE")  # delivered at least once
            return []
        events = self._record_events(doc, contact)
        # Only a record read whole is remembered: a corrected copy of a rejected one is new.
        if seen is None and len(self._records) >= MAX_CONTACTS:
            self._records.popitem(last=False)
        self._records[key] = updated
        self._records.move_to_end(key)
        return events

    def _record_events(self, doc: dict[str, Any], contact: str) -> list[V1]:
        channel = _get(doc, "Channel")
        if channel is not None and _text(channel, "Channel").upper() != "VOICE":
            self.ignored.add(_text(channel, "Channel").upper())
            return []
        raw_queue = _get(doc, "Queue")
        queue = _object(raw_queue, "Queue") if raw_queue is not None else {}
        arn = _get(queue, "ARN")
        method = _get(doc, "InitiationMethod")
        if arn is None or str(method).upper() == "OUTBOUND":
            # An outbound call (the agent's outbound queue is no wait), or a contact that
            # never reached a queue (the flow handled it).
            self.ignored.add("CONTACT_RECORD_NOT_QUEUED")
            return []
        queue_arn = _text(arn, "Queue.ARN")
        if _is_agent_queue(queue_arn):
            self.ignored.add("AGENT_QUEUE")
            return []
        out = self._contact(contact, queue_arn, "Queue.ARN", _get(queue, "Name"))
        enqueued = _get(queue, "EnqueueTimestamp")
        start = _time(enqueued, "Queue.EnqueueTimestamp") if enqueued is not None else None
        if start is not None:
            out.queued(start)
        raw_agent = _get(doc, "Agent")
        if raw_agent is None:
            if start is None:
                self.ignored.add("CONTACT_RECORD_NOT_QUEUED")
                return []
            left = (
                _get(queue, "DequeueTimestamp")
                or _get(doc, "DisconnectTimestamp")
                or _get(doc, "LastUpdateTimestamp")
            )
            at = _time(left, "Queue.DequeueTimestamp")
            if _get(doc, "NextContactId") is not None:
                # Sent on unanswered (a transfer to another queue makes a new contact and
                # names it here): the wait ends, neither answered nor abandoned.
                out.transferred(at)
            else:
                out.abandoned(at, at - start)
            return out.written()
        agent_doc = _object(raw_agent, "Agent")
        agent = self._agent_name(_text(_get(agent_doc, "ARN"), "Agent.ARN"), "Agent.ARN",
                                 _get(agent_doc, "Username"))  # fmt: skip
        connected = _get(agent_doc, "ConnectedToAgentTimestamp")
        if start is not None and connected is not None:
            at = _time(connected, "Agent.ConnectedToAgentTimestamp")
            out.answered(at, agent, at - start)
        ended = (
            _get(agent_doc, "AfterContactWorkEndTimestamp")
            or _get(doc, "DisconnectTimestamp")
            or _get(doc, "LastUpdateTimestamp")
        )
        out.completed(
            _time(ended, "Agent.AfterContactWorkEndTimestamp"),
            agent,
            talk=_seconds(_get(agent_doc, "AgentInteractionDuration"), "AgentInteractionDuration"),
            hold=_seconds(_get(agent_doc, "CustomerHoldDuration"), "CustomerHoldDuration"),
            acw=_seconds(_get(agent_doc, "AfterContactWorkDuration"), "AfterContactWorkDuration"),
        )
        return out.written()

    def _contact(self, contact: str, queue_arn: str, what: str, name: Any) -> _Contact:
        """A contact's events in one queue, knowing which of them were already written, and
        named as its first event named the queue."""
        queue = self._queue_name(queue_arn, what, name)
        ident = _id_of(queue_arn, what)
        said = self._said.get(digest(contact, queue_arn), 0)
        by_id = bool(said & _BY_ID) or (not said and queue == ident and not self._mapped(queue_arn))
        return _Contact(self._said, contact, queue_arn, ident if by_id else queue,
                        self.options.site, _BY_ID if by_id else 0)  # fmt: skip

    # --- names -------------------------------------------------------------------------

    def _agent_name(self, arn: str, what: str, name: Any = None) -> str:
        return _named(arn, self.options.agent_names, self._agent_labels, name, what)

    def _queue_name(self, arn: str, what: str, name: Any = None) -> str:
        return _named(arn, self.options.queue_names, self._queue_labels, name, what)

    def _mapped(self, queue_arn: str) -> bool:
        names = self.options.queue_names
        return queue_arn in names or _id_of(queue_arn, "queue ARN") in names


class _Contact:
    """The events of one contact in one queue, with ids made from the contact (see the
    module docstring), each written once: ``said`` (by the digest of the contact and queue)
    has a bit set for each already written."""

    def __init__(
        self,
        said: OrderedDict[bytes, int],
        contact: str,
        queue_arn: str,
        queue: str,
        site: str,
        flags: int,
    ) -> None:
        self.key = f"amazon-connect|{contact}|{queue_arn}".encode()
        self.ids = {"call_id": contact, "queue": queue}
        self.site = site
        self._table, self._digest = said, digest(contact, queue_arn)
        self._said = said.get(self._digest, 0) | flags
        self._pending = 0
        self.events: list[V1] = []

    def _add(self, index: int, event_type: str, when: float, **fields: Any) -> None:
        bit = 1 << index
        if not (self._said | self._pending) & bit:
            self._pending |= bit
            self.events.append(v1(self.key, index, event_type, when, self.site,
                                  **self.ids, **fields))  # fmt: skip

    def written(self) -> list[V1]:
        """The events to return: only now are they marked written (and the contact
        remembered), so a record ignored or rejected after a call's events were built leaves
        them to the next record."""
        if self._pending:
            table = self._table
            if self._digest not in table and len(table) >= MAX_CONTACTS:
                table.popitem(last=False)
            self._said = table[self._digest] = self._said | self._pending
            self._pending = 0
        return self.events

    def queued(self, when: float) -> None:
        self._add(_QUEUED, "call.queued", when)

    def answered(self, when: float, agent: str, wait: float) -> None:
        self._add(_ANSWERED, "call.answered", when, agent_id=agent, wait_seconds=max(0.0, wait))

    def abandoned(self, when: float, wait: float) -> None:
        self._add(_ABANDONED, "call.abandoned", when, wait_seconds=max(0.0, wait))

    def transferred(self, when: float) -> None:
        self._add(_TRANSFERRED, "call.transferred", when)

    def completed(self, when: float, agent: str, talk: float, hold: float, acw: float) -> None:
        self._add(_COMPLETED, "call.completed", when, agent_id=agent, talk_seconds=talk,
                  hold_seconds=hold, acw_seconds=acw)  # fmt: skip


def _get(obj: dict[str, Any], name: str) -> Any:
    """``obj[name]`` whatever the key's case: AWS's samples write both ``agentInfo`` and
    ``AgentInfo``."""
    if name in obj:
        return obj[name]
    lower = name.lower()
    for key, value in obj.items():
        if key.lower() == lower:
            return value
    return None


def _object(value: Any, what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise AdapterError(FORMAT, f"{what} must be an object, got {shown(value)}")
    return value


def _text(value: Any, what: str) -> str:
    if not isinstance(value, str) or not value:
        raise AdapterError(FORMAT, f"{what} must be a non-empty string, got {shown(value)}")
    if not value.isascii():
        try:
            value.encode()
        except UnicodeEncodeError:  # a lone surrogate (JSON's "\ud800"): no text at all
            raise AdapterError(FORMAT, f"{what} is not text: {shown(value)}") from None
    return value


def _id(value: Any, what: str) -> str:
    """A contact's id, which events v1 carry as the call's."""
    return checked_name(FORMAT, _text(value, what), what)


def _time(value: Any, what: str) -> float:
    """An ISO 8601 instant (``2019-08-13T20:58:44.031Z``, or without the fraction as the
    contact records write it) as epoch seconds; one without an offset is UTC."""
    text = _text(value, what)
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise AdapterError(FORMAT, f"{what} is not an ISO 8601 time: {shown(text)}") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    try:
        seconds = moment.timestamp()
    except (OverflowError, ValueError):  # an offset that takes the year past 1..9999
        seconds = -1.0
    if not 0 <= seconds <= LAST_INSTANT:
        raise AdapterError(FORMAT, f"{what} is out of range (1970 to 9999): {shown(text)}")
    return seconds


def _seconds(value: Any, what: str) -> float:
    """A duration in (whole) seconds; absent or null is 0 (no hold, no ACW)."""
    if value is None:
        return 0.0
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise AdapterError(FORMAT, f"{what} must be a number of seconds, got {shown(value)}")
    if not math.isfinite(value) or value < 0:
        raise AdapterError(FORMAT, f"{what} must be a finite number >= 0, got {value!r}")
    return float(value)


def _id_of(arn: str, what: str) -> str:
    """An ARN's last segment: the one id every stream can derive, checked as a name (the
    ARN itself is not kept)."""
    last = arn.rstrip("/").rsplit("/", 1)[-1]
    return checked_name(FORMAT, last or arn, f"{what}'s id")


def _named(arn: str, names: dict[str, str], learned: _Names, name: Any, what: str) -> str:
    """The configured name for an ARN (or its id), else the name the streams gave the id
    (``name``, if this record carries one), else the id."""
    last = arn.rstrip("/").rsplit("/", 1)[-1]
    configured = names.get(arn) or names.get(last)
    if configured:
        return configured
    ident = _id_of(arn, what)
    return learned.name(ident, name)


class _Names:
    """The names the streams give ids (a queue's ``Name``, an agent's ``Username``), when
    no map is configured: the first name seen for an id is kept (so a series does not move
    under a rename), a name another id already has is not taken (two queues stay two), and
    a name the decoder would refuse is not used. Bounded: past :data:`MAX_NAMES` ids the
    oldest is forgotten."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self._by_id: OrderedDict[bytes, str] = OrderedDict()  # by the id's digest
        self._taken: dict[str, bytes] = {}  # name -> the digest of its id

    def name(self, ident: str, seen: Any) -> str:
        """``ident``'s name (learning ``seen``, a name a record gives it), else ``ident``."""
        if not self.enabled:
            return ident
        key = digest(ident)
        known = self._by_id.get(key)
        if known is not None:
            return known
        if not isinstance(seen, str) or not seen.strip() or seen.strip() in self._taken:
            return ident
        try:
            label = checked_name(FORMAT, seen.strip(), "name")
        except AdapterError:
            return ident  # a name is for people; the id still says which queue it is
        if len(self._by_id) >= MAX_NAMES:
            _, forgotten = self._by_id.popitem(last=False)
            del self._taken[forgotten]
        self._by_id[key], self._taken[label] = label, key
        return label

    def fill(self) -> float:
        """How full it is, 0 to 1."""
        return len(self._by_id) / MAX_NAMES


def _is_agent_queue(arn: str) -> bool:
    return "/queue/agent/" in arn


def _documents(record: bytes) -> list[tuple[str, dict[str, Any] | AdapterError]]:
    """The documents ``record`` holds, each with where it is (for a message) or the error
    that keeps it from being read: one JSON document, pretty-printed or not; several,
    concatenated (a Firehose S3 object) or in a JSON array; or a Lambda Kinesis event
    (``Records[].kinesis.data``) or a Firehose transformation or HTTP endpoint delivery
    (``records[].data``), whose base64 ``data`` holds the documents. Every document is read
    by :func:`parse_json`, which refuses one nested deeper than the decoder reads."""
    if too_deep(record):  # before the scan: documents side by side nest no deeper
        raise AdapterError(
            FORMAT, f"expected one JSON document: nested deeper than {MAX_DEPTH} levels"
        )
    pieces = [value for _, value in split(record, len(record), MAX_DOCUMENTS)]
    if not pieces:
        raise AdapterError(FORMAT, "expected a JSON document; the record is blank")
    found: list[tuple[str, dict[str, Any] | AdapterError]] = []
    for number, piece in enumerate(pieces, 1):
        where = f"document {number}" if len(pieces) > 1 else "the record"
        try:
            value = parse_json(FORMAT, piece, "one JSON document")
        except AdapterError as exc:
            found.append((where, exc))
            continue
        if isinstance(value, list):
            found += [(f"{where}[{i}]", _object_or_error(v)) for i, v in enumerate(value)]
            continue
        items = _envelope(value)
        if items is None:
            found.append((where, _object_or_error(value)))
            continue
        for i, item in enumerate(items):
            found += _unwrapped(f"{where}, record {i}", item)
        if len(found) > MAX_DOCUMENTS:
            break
    if len(found) > MAX_DOCUMENTS:
        raise AdapterError(FORMAT, f"more than {MAX_DOCUMENTS:,} documents in one record")
    return found


def _envelope(value: Any) -> list[Any] | None:
    """The records of a Lambda Kinesis event or a Firehose delivery, None for anything
    else: ``Records`` (Kinesis) or ``records`` (Firehose), a list, and no key of Connect's
    own documents beside it."""
    if not isinstance(value, dict) or "ContactId" in value or "AgentARN" in value:
        return None
    for key in ("Records", "records"):
        items = value.get(key)
        if isinstance(items, list):
            return items
    return None


def _unwrapped(where: str, item: Any) -> list[tuple[str, dict[str, Any] | AdapterError]]:
    """The documents one envelope record's base64 ``data`` holds (one, usually)."""
    inner = item.get("kinesis", item) if isinstance(item, dict) else None
    data = inner.get("data") if isinstance(inner, dict) else None
    if not isinstance(data, str):
        return [(where, AdapterError(FORMAT, "expected kinesis.data or data, base64 text"))]
    try:
        raw = base64.b64decode(data, validate=True)
    except ValueError:
        return [(where, AdapterError(FORMAT, f"data is not base64: {shown(data)}"))]
    out: list[tuple[str, dict[str, Any] | AdapterError]] = []
    pieces = split(raw, len(raw), MAX_DOCUMENTS)
    for number, (_, piece) in enumerate(pieces, 1):
        label = f"{where}, document {number}" if len(pieces) > 1 else where
        try:
            out.append((label, _object_or_error(parse_json(FORMAT, piece, "one JSON document"))))
        except AdapterError as exc:
            out.append((label, exc))
    return out or [(where, AdapterError(FORMAT, "data is empty"))]


def _object_or_error(value: Any) -> dict[str, Any] | AdapterError:
    if isinstance(value, dict):
        return value
    return AdapterError(FORMAT, f"expected a JSON object, got {type(value).__name__}")
