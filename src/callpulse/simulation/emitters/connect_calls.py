"""A simulated caller's contact, as Amazon Connect would record it: the state the
``amazon-connect`` emitter (and the reference it is compared with) keeps between the
caller's arrival and the contact's end, when Connect writes the contact record.

The simulator says when a caller's setup was answered or refused (``call.setup``), what
the IVR did with them (``ivr.session_started`` / ``ivr.session_ended``), when they queued,
were answered, gave up or finished (the ACD events) and the media of their call
(``media.quality``, at its hang-up). Connect writes all of that into one contact record,
once the contact has ended:

- a setup refused with 503 (the trunk down) is a contact that ends at once with
  ``DisconnectReason`` ``TELECOM_PROBLEM``, never connected to the system; any other
  refusal (486, every trunk channel busy: Connect's concurrent-call quota) leaves no
  contact at all;
- an IVR session that ends in the flow ends the contact: ``contained`` with
  ``CONTACT_FLOW_DISCONNECT`` (the flow's Disconnect block), the caller's ``hangup`` with
  ``CUSTOMER_DISCONNECT``; ``transferred`` goes on to the queue (whose ``QUEUED`` contact
  event ends the session, as the adapter reads it), and the contact ends when the caller
  gives up or the agent's after-contact work does;
- the media becomes ``QualityMetrics.Customer.Audio`` (:func:`quality_score`).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

MAX_CALLS = 100_000  # contacts between arrival and end, oldest forgotten past it
TELECOM_PROBLEM = "TELECOM_PROBLEM"
# How an IVR session that ended in the flow ends its contact.
_FLOW_ENDS = {
    "contained": "CONTACT_FLOW_DISCONNECT",
    "hangup": "CUSTOMER_DISCONNECT",
    "error": "OTHER",  # a failure the flow handled: the data model has no reason for it
}
_GIVING_UP = frozenset({"call.abandoned", "call.callback_requested"})
_CALL_EVENTS = _GIVING_UP | {"call.queued", "call.answered", "call.completed"}


@dataclass(slots=True)
class Contact:
    """One caller's contact, as far as the simulator has told it."""

    contact_id: str
    site: str
    initiated: float | None = None  # the setup, else the first thing the caller did
    connected: bool = True  # connected to the system (not a refused setup)
    queue: str | None = None
    enqueued: float | None = None
    answered: float | None = None  # connected to the agent
    media: Mapping[str, Any] | None = None
    ended: float | None = None  # disconnected (the hang-up, before any ACW)
    reason: str | None = None  # DisconnectReason
    completed: Mapping[str, Any] | None = None  # the call.completed that ended it
    application: str | None = None  # its IVR session's, as the scenario names the site's IVR
    told: bool = False  # its QUEUED contact event gave its IVR session (not the record)


class Contacts:
    """Contacts by call id, and which IVR session is whose call (both bounded)."""

    def __init__(self) -> None:
        self._calls: OrderedDict[str, Contact] = OrderedDict()
        self._sessions: OrderedDict[str, str] = OrderedDict()  # IVR session -> its call

    def see(self, event: Mapping[str, Any]) -> Contact | None:
        """Note ``event`` on its caller's contact; the contact if ``event`` ended it (so
        that Connect writes its record now). Events out of order or of a forgotten call
        are ignored rather than guessed at."""
        kind, site = event["type"], event["site"]
        when = seconds(event["occurred_at"])
        if kind == "call.setup":
            call_id, code = event.get("call_id"), int(event["sip_code"])
            if call_id is None:
                return None
            if 200 <= code < 300:
                self._get(call_id, site).initiated = when
                return None
            if code != 503:
                return None
            return Contact(call_id, site, when, False, ended=when, reason=TELECOM_PROBLEM)
        if kind == "ivr.session_started":
            call_id = event.get("call_id")
            if call_id is not None:
                contact = self._get(call_id, site)
                self._started(contact, when)
                contact.application = event["application"]
                self._remember(event["session_id"], call_id)
            return None
        if kind == "ivr.session_ended":
            call_id = self._sessions.pop(event["session_id"], None)
            reason = _FLOW_ENDS.get(event["outcome"])
            if call_id is None or reason is None:
                return None  # transferred: the caller goes on to the queue
            return self._end(call_id, when, reason)
        if kind == "media.quality":
            call = self._calls.get(event.get("call_id") or "")
            if call is not None:
                call.media = event
            return None
        if kind not in _CALL_EVENTS:
            return None
        call = self._get(event["call_id"], site)
        call.queue = event["queue"]
        if kind == "call.queued":
            call.enqueued = when
        elif kind == "call.answered":
            call.enqueued, call.answered = when - event["wait_seconds"], when
        elif kind in _GIVING_UP:
            call.enqueued = when - event["wait_seconds"]
            return self._end(call.contact_id, when, "CUSTOMER_DISCONNECT")
        elif kind == "call.completed":
            hangup = when - event["acw_seconds"]
            if call.answered is None:
                call.answered = hangup - event["talk_seconds"] - event["hold_seconds"]
            call.completed = event
            return self._end(call.contact_id, hangup, "CUSTOMER_DISCONNECT")
        self._started(call, call.enqueued if call.enqueued is not None else when)
        return None

    def get(self, call_id: str) -> Contact | None:
        """The contact of ``call_id``, while it lasts."""
        return self._calls.get(call_id)

    def _get(self, call_id: str, site: str) -> Contact:
        call = self._calls.get(call_id)
        if call is None:
            if len(self._calls) >= MAX_CALLS:
                self._calls.popitem(last=False)
            call = self._calls[call_id] = Contact(call_id, site)
        return call

    def _remember(self, session: str, call_id: str) -> None:
        if len(self._sessions) >= MAX_CALLS:
            self._sessions.popitem(last=False)
        self._sessions[session] = call_id

    @staticmethod
    def _started(call: Contact, when: float) -> None:
        # A site without trunks has no setup: the contact began with its first event.
        if call.initiated is None:
            call.initiated = when

    def _end(self, call_id: str, when: float, reason: str) -> Contact | None:
        call = self._calls.pop(call_id, None)
        if call is None:
            return None
        self._started(call, when)
        call.ended, call.reason = when, reason
        return call


def quality_score(media: Mapping[str, Any]) -> tuple[float, list[str]]:
    """The 1-5 ``QualityScore`` and ``PotentialQualityIssues`` Connect would write for the
    simulator's measures of a call (packet loss, jitter, round trip).

    Connect publishes neither its formula nor its thresholds, so this is the simulator's
    own stand-in, chosen to move as Connect's score is documented to (down with loss,
    jitter and delay) and deliberately not the E-model: 5 less 40 per unit of loss
    ratio, 0.02 per ms of jitter over 10 ms and 0.004 per ms of round trip over 150 ms,
    clamped to 1-5, two decimals. The simulator's ``mos`` is not used: a Connect record
    has no MOS, and its score is never read as one (``score_kind`` ``connect_quality``)."""
    loss = float(media.get("packet_loss_ratio") or 0.0)
    jitter = float(media.get("jitter_ms") or 0.0)
    rtt = float(media.get("rtt_ms") or 0.0)
    penalty = 40 * loss + 0.02 * max(0.0, jitter - 10) + 0.004 * max(0.0, rtt - 150)
    issues = [
        name
        for name, bad in (
            ("HighPacketLoss", loss > 0.01),
            ("HighRoundTripTime", rtt > 300),
            ("HighJitterBuffer", jitter > 30),
        )
        if bad
    ]
    return round(min(5.0, max(1.0, 5.0 - penalty)), 2), issues


def seconds(occurred_at: str) -> float:
    """An events-v1 time as epoch seconds."""
    return datetime.fromisoformat(occurred_at).timestamp()


def whole(when: float) -> float:
    """``when`` as a contact record holds it: to the second."""
    return float(round(when))
