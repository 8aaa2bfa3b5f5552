"""Amazon Connect's contact events and contact records: a call's wait, answer, abandon,
transfer and completion.

- contact events (EventBridge, "Amazon Connect Contact Event"; the envelope with ``detail``,
  or the bare detail when a rule's input transformer strips it): ``QUEUED``,
  ``CONNECTED_TO_AGENT`` and ``DISCONNECTED`` give a call's wait. They are unordered and
  best effort;
- contact records (Kinesis contact record stream): written when the agent clears the
  contact after ACW, delivered at least once; they give talk, hold and ACW.

A call's events get ids made from the contact, not the record: ``call.queued``,
``call.answered``, ``call.abandoned`` and ``call.completed`` of one contact have the same
``event_id`` whichever stream (or copy) yielded them, and each is written once (what was
written is remembered per contact and queue, bounded), so a contact record restating what
the contact events said adds nothing, and makes good a contact event EventBridge never
delivered. For the same reason ``call.answered`` and ``call.abandoned`` are preceded by
their ``call.queued``: a ``QUEUED`` that arrives after the answer then changes nothing,
where otherwise it would leave the caller waiting forever.

A contact keeps the name its first event gave its queue (a bit of its ``said``), so a call
queued under a queue's id before the queue's name was seen is answered under the same id.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

from callpulse.adapters.base import V1, v1
from callpulse.adapters.bounds import Ignored, digest
from callpulse.adapters.connect_fields import (
    as_object,
    as_seconds,
    as_text,
    as_time,
    contact_id,
    get,
    id_of,
    is_agent_queue,
    optional_object,
)
from callpulse.adapters.connect_names import ConnectNames
from callpulse.adapters.connect_voice import ContactVoice

# The event index within a contact's ids (see the module docstring).
_QUEUED, _ANSWERED, _ABANDONED, _COMPLETED, _TRANSFERRED = range(5)
_BY_ID = 1 << 5  # in ``said``: the contact's events name its queue by id


class ContactStreams:
    """Reads contact events and contact records into call events for ``site``, counting
    what it skips in ``ignored``; at most ``limit`` contacts (and as many contact records)
    are remembered, the oldest forgotten."""

    def __init__(
        self, site: str, names: ConnectNames, ignored: Ignored, limit: int, ivr_application: str
    ) -> None:
        self._site = site
        self._names = names
        self._ignored = ignored
        self._limit = limit
        # The digest of a ContactId -> its record's LastUpdateTimestamp.
        self.records: OrderedDict[bytes, float] = OrderedDict()
        # Per contact and queue (by digest), the events already written, a bit each: a
        # restatement writes only what is missing, however long after (a long call's record
        # comes after the monitor has forgotten the ids it would have de-duplicated on).
        self._said: OrderedDict[bytes, int] = OrderedDict()
        self._voice = ContactVoice(site, ignored, limit, ivr_application)

    def fill(self) -> dict[str, float]:
        """How full each cap is: contact records and contacts remembered."""
        return {
            "contact_records": len(self.records) / self._limit,
            "contacts": len(self._said) / self._limit,
            **self._voice.fill(),
        }

    # --- contact events ----------------------------------------------------------------

    def event(self, record: bytes, detail: dict[str, Any], sent: Any) -> list[V1]:
        """What one contact event (its ``detail``; ``sent``, the envelope's time) stands for;
        ``record`` is what its ids would be made of."""
        kind = as_text(get(detail, "eventType"), "eventType").upper()
        if kind not in {"QUEUED", "CONNECTED_TO_AGENT", "DISCONNECTED"}:
            # INITIATED, CONNECTED_TO_SYSTEM, CONTACT_DATA_UPDATED, COMPLETED (whose ACW the
            # contact record also has), AMD_DISABLED, and types yet to come.
            self._ignored.add(kind)
            return []
        contact = contact_id(get(detail, "contactId"), "contactId")
        if self._not_voice(detail, "channel"):
            return []
        queue_info = optional_object(get(detail, "queueInfo"), "queueInfo")
        arn = get(queue_info, "queueArn")
        enqueued = get(queue_info, "enqueueTimestamp")
        if arn is None or enqueued is None:
            # Never in a queue: an outbound call, or a caller who left the flow after a Set
            # working queue block (queueInfo without enqueueTimestamp) but before queueing.
            self._ignored.add(kind)
            return []
        queue_arn = as_text(arn, "queueInfo.queueArn")
        queue_type = get(queue_info, "queueType")
        if is_agent_queue(queue_arn) or str(queue_type).upper() == "AGENT":
            self._ignored.add("AGENT_QUEUE")  # a transfer to one agent: not a queue's wait
            return []
        out = self._contact(contact, queue_arn, "queueInfo.queueArn", None)
        start = as_time(enqueued, "queueInfo.enqueueTimestamp")
        out.queued(start)
        if kind == "QUEUED":
            # The flow handed the caller over: its IVR session ends now, not when the
            # record comes after the talk and after-contact work (connect_voice).
            session = self._voice.queued(detail, contact, start)
            events = out.written()
            if session:
                self._voice.handed_over(contact)
            return session + events
        agent_info = optional_object(get(detail, "agentInfo"), "agentInfo")
        connected = get(agent_info, "connectedToAgentTimestamp")
        if kind == "CONNECTED_TO_AGENT":
            at = as_time(connected if connected is not None else sent, "connectedToAgentTimestamp")
            what = "agentInfo.agentArn"
            agent = self._names.agent(as_text(get(agent_info, "agentArn"), what), what)
            out.answered(at, agent, at - start)
            return out.written()
        if connected is not None:
            self._ignored.add(kind)  # the end of an answered call: its record says the rest
            return []
        ended = get(detail, "disconnectTimestamp")
        at = as_time(ended if ended is not None else sent, "disconnectTimestamp")
        out.abandoned(at, at - start)
        return out.written()

    # --- contact records ---------------------------------------------------------------

    def record(self, doc: dict[str, Any]) -> list[V1]:
        """What one contact record stands for: nothing for a copy already read."""
        contact = contact_id(get(doc, "ContactId"), "ContactId")
        updated = as_time(get(doc, "LastUpdateTimestamp"), "LastUpdateTimestamp")
        key = digest(contact)
        seen = self.records.get(key)
        if seen is not None and seen >= updated:
            self._ignored.add("CONTACT_RECORD_DUPLICATE")  # delivered at least once
            return []
        events: list[V1] = []
        if not self._not_voice(doc, "Channel"):
            events = self._voice.events(doc, contact) + self._record_events(doc, contact)
            self._voice.done(contact)
        # Only a record read whole is remembered: a corrected copy of a rejected one is new.
        if seen is None and len(self.records) >= self._limit:
            self.records.popitem(last=False)
        self.records[key] = updated
        self.records.move_to_end(key)
        return events

    def _record_events(self, doc: dict[str, Any], contact: str) -> list[V1]:
        queue = optional_object(get(doc, "Queue"), "Queue")
        arn = get(queue, "ARN")
        method = get(doc, "InitiationMethod")
        if arn is None or str(method).upper() == "OUTBOUND":
            # An outbound call (the agent's outbound queue is no wait), or a contact that
            # never reached a queue (the flow handled it).
            self._ignored.add("CONTACT_RECORD_NOT_QUEUED")
            return []
        queue_arn = as_text(arn, "Queue.ARN")
        if is_agent_queue(queue_arn):
            self._ignored.add("AGENT_QUEUE")
            return []
        out = self._contact(contact, queue_arn, "Queue.ARN", get(queue, "Name"))
        enqueued = get(queue, "EnqueueTimestamp")
        start = as_time(enqueued, "Queue.EnqueueTimestamp") if enqueued is not None else None
        if start is not None:
            out.queued(start)
        raw_agent = get(doc, "Agent")
        if raw_agent is None:
            if start is None:
                self._ignored.add("CONTACT_RECORD_NOT_QUEUED")
                return []
            left = (
                get(queue, "DequeueTimestamp")
                or get(doc, "DisconnectTimestamp")
                or get(doc, "LastUpdateTimestamp")
            )
            at = as_time(left, "Queue.DequeueTimestamp")
            if get(doc, "NextContactId") is not None:
                # Sent on unanswered (a transfer to another queue makes a new contact and
                # names it here): the wait ends, neither answered nor abandoned.
                out.transferred(at)
            else:
                out.abandoned(at, at - start)
            return out.written()
        agent_doc = as_object(raw_agent, "Agent")
        agent = self._names.agent(as_text(get(agent_doc, "ARN"), "Agent.ARN"), "Agent.ARN",
                                 get(agent_doc, "Username"))  # fmt: skip
        connected = get(agent_doc, "ConnectedToAgentTimestamp")
        if start is not None and connected is not None:
            at = as_time(connected, "Agent.ConnectedToAgentTimestamp")
            out.answered(at, agent, at - start)
        ended = (
            get(agent_doc, "AfterContactWorkEndTimestamp")
            or get(doc, "DisconnectTimestamp")
            or get(doc, "LastUpdateTimestamp")
        )
        out.completed(
            as_time(ended, "Agent.AfterContactWorkEndTimestamp"),
            agent,
            talk=as_seconds(get(agent_doc, "AgentInteractionDuration"), "AgentInteractionDuration"),
            hold=as_seconds(get(agent_doc, "CustomerHoldDuration"), "CustomerHoldDuration"),
            acw=as_seconds(get(agent_doc, "AfterContactWorkDuration"), "AfterContactWorkDuration"),
        )
        return out.written()

    def _not_voice(self, doc: dict[str, Any], key: str) -> bool:
        """Whether ``doc`` is of a channel other than voice (a chat, a task, an email),
        counted as ignored by its channel."""
        channel = get(doc, key)
        if channel is None or as_text(channel, key).upper() == "VOICE":
            return False
        self._ignored.add(as_text(channel, key).upper())
        return True

    def _contact(self, contact: str, queue_arn: str, what: str, name: Any) -> _Contact:
        """A contact's events in one queue, knowing which of them were already written, and
        named as its first event named the queue."""
        queue = self._names.queue(queue_arn, what, name)
        ident = id_of(queue_arn, what)
        said = self._said.get(digest(contact, queue_arn), 0)
        unnamed = queue == ident and not self._names.mapped(queue_arn)
        by_id = bool(said & _BY_ID) or (not said and unnamed)
        return _Contact(self._said, contact, queue_arn, ident if by_id else queue,
                         self._site, self._limit, _BY_ID if by_id else 0)  # fmt: skip


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
        limit: int,
        flags: int,
    ) -> None:
        self.key = f"amazon-connect|{contact}|{queue_arn}".encode()
        self.ids = {"call_id": contact, "queue": queue}
        self.site, self._limit = site, limit
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
            if self._digest not in table and len(table) >= self._limit:
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
