"""What an Amazon Connect contact record (and its QUEUED contact event) says about the IVR,
the telephony and the media.

Connect runs its own IVR (contact flows), carrier side and softphones, and names none of
them in a contact record: there is no flow name, no trunk and no RTP statistics. What a
record does carry, per the Administrator Guide's "Contact records data model":

- the IVR session, when the adapter is given the application to count the flows under
  (``ivr_application``): every ``INBOUND`` voice contact that reached Connect
  (``ConnectedToSystemTimestamp``) ran a flow from ``InitiationTimestamp``. Unless given,
  none is counted: most instances' flows route every caller to an agent, so containment
  would sit near 0 all day and the shipped IvrContainmentCollapse page for nothing; only
  where the flows are meant to serve callers is their containment worth watching. Its outcome:
  ``transferred`` when it reached a queue (``Queue``, the caller opted out to an agent) or
  was transferred out of the flow (``TransferredToEndpoint``, or ``NextContactId``: a
  transfer makes a new contact whose ``InitiationMethod`` is ``TRANSFER`` /
  ``QUEUE_TRANSFER``); ``contained`` when it ended in the flow (``DisconnectReason``
  ``CUSTOMER_DISCONNECT`` or ``CONTACT_FLOW_DISCONNECT``); ``error`` when the telephony
  failed (``TELECOM_PROBLEM``). Any other ending (no ``DisconnectReason``, as older records
  have, or ``OTHER`` / ``API`` / ``EXPIRED``...) says nothing of the flow: the session is
  not counted (``ignored``: ``IVR_OUTCOME_UNKNOWN``), rather than guessed. A caller the
  flow queued is told sooner by the contact events: Connect writes the record only when the
  contact ends, for a queued caller after the talk and after-contact work, so a window of
  sessions would see the contained callers at once and the transferred ones many minutes
  late. The ``QUEUED`` contact event ends the session ``transferred`` at
  ``queueInfo.enqueueTimestamp`` (started at ``initiationTimestamp``), and the record, or a
  second event, then gives it no more; a contact whose ``QUEUED`` never came keeps its
  session from the record (same ids either way);
- the call's setup on the carrier side, one per ``INBOUND`` voice contact, on the one trunk
  a Connect instance has as far as its records say, :data:`TRUNK`: 503 for a
  ``TELECOM_PROBLEM``, 200 for a contact connected to the system;
- the media: ``QualityMetrics.Agent.Audio.QualityScore`` and
  ``QualityMetrics.Customer.Audio.QualityScore`` (1 to 5; Connect's own estimate, not an
  E-model MOS), each as a ``media.quality`` ``score`` of kind ``connect_quality``.

A contact of another channel, or one Connect did not receive from a caller (``OUTBOUND``,
``CALLBACK``, ``API``, a transfer's new contact...), gives none of these: its caller, when
it has one, was counted on the contact that came in.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from typing import Any

from callpulse.adapters.base import V1, AdapterError, v1
from callpulse.adapters.bounds import Ignored, digest
from callpulse.adapters.connect_fields import as_time, get

TRUNK = "connect-telephony"  # the carrier side of an instance: its records name no trunk
# DisconnectReason values (Contact records data model) that end a flow by itself.
_CONTAINED = {"CUSTOMER_DISCONNECT", "CONTACT_FLOW_DISCONNECT"}
_TELECOM = {"TELECOM_PROBLEM"}  # the one the data model gives to the telephony
_LEGS = ("Agent", "Customer")
# Event indexes within a contact's ids, after the call's own (connect_contacts uses 0-4).
_SETUP, _STARTED, _ENDED, _MEDIA = 8, 9, 10, 11

# Kinds this module counts in ``ignored``.
IGNORED_KINDS = frozenset(
    {
        "IVR_OUTCOME_UNKNOWN",
        "QUALITY_SCORE_INVALID",
        "NO_INITIATION_TIMESTAMP",
        "QUEUED_START_UNREADABLE",
    }
)


class ContactVoice:
    """Reads the IVR session, setup and media of contact records for ``site``; each contact
    gives them once (at most ``limit`` contacts remembered, the oldest forgotten), so a
    record updated after delivery (new attributes, a new ``LastUpdateTimestamp``) does not
    count its caller twice."""

    def __init__(self, site: str, ignored: Ignored, limit: int, application: str) -> None:
        self._site = site
        # None: no IVR sessions (a record names no flow).
        self._application = application or None
        self._ignored = ignored
        self._limit = limit
        self._done: OrderedDict[bytes, None] = OrderedDict()
        # Contacts whose session a QUEUED contact event gave, until their record is read:
        # the record must not give it again.
        self._queued: OrderedDict[bytes, None] = OrderedDict()

    def fill(self) -> dict[str, float]:
        """How full the memory of contacts is: records read, sessions given when queued."""
        return {
            "voice_contacts": len(self._done) / self._limit,
            "queued_sessions": len(self._queued) / self._limit,
        }

    def queued(self, detail: dict[str, Any], contact: str, enqueued: float) -> list[V1]:
        """The IVR session of a contact the flow handed to a queue, from its ``QUEUED``
        contact event (``detail``): started at ``initiationTimestamp``, ended
        ``transferred`` at ``enqueued``, as its record will say, but now rather than
        after the talk and after-contact work. None if the contact's record or an earlier
        event gave it, if no application is counted, if the contact did not come in
        (``initiationMethod`` other than ``INBOUND``), or if the event does not say when it
        began, or says it unreadably (its record, which always says it, then gives the
        session: a session field must not cost the queue its event).
        Nothing is remembered: :meth:`handed_over` is called once the whole event was read."""
        key = digest(contact)
        if self._application is None or key in self._done or key in self._queued:
            return []
        if str(get(detail, "initiationMethod")).upper() != "INBOUND":
            return []
        field = "initiationTimestamp"
        initiated = get(detail, field)
        if initiated is None:
            field = "connectedToSystemTimestamp"
            initiated = get(detail, field)
        if initiated is None:
            return []
        try:
            started = as_time(initiated, field)
        except AdapterError:
            self._ignored.add("QUEUED_START_UNREADABLE")
            return []
        # Clocks that disagree: a start after the queueing (a far-future one included)
        # is the queueing, so the session lasts nothing rather than ending in the future.
        started = min(started, enqueued)
        return self._pair(self._key(contact), contact, started, enqueued, "transferred")

    def handed_over(self, contact: str) -> None:
        """Remember that a contact event gave ``contact``'s session."""
        _remember(self._queued, digest(contact), self._limit)

    def events(self, doc: dict[str, Any], contact: str) -> list[V1]:
        """The IVR, setup and media events of one voice contact record, none if its contact
        gave them already. Nothing is remembered: :meth:`done` is called once the whole
        record was read, so a record rejected for another field is read again whole."""
        if digest(contact) in self._done:
            return []
        if str(get(doc, "InitiationMethod")).upper() != "INBOUND":
            return []
        key = self._key(contact)
        initiated = get(doc, "InitiationTimestamp") or get(doc, "ConnectedToSystemTimestamp")
        if initiated is None:
            # The data model always has it: a record without says nothing of when the call
            # came in, and its caller is not counted rather than placed at a guessed time.
            self._ignored.add("NO_INITIATION_TIMESTAMP")
            return []
        started = as_time(initiated, "InitiationTimestamp")
        reason = str(get(doc, "DisconnectReason") or "").upper()
        connected = get(doc, "ConnectedToSystemTimestamp") is not None
        out: list[V1] = []
        if reason in _TELECOM or connected:
            code = 503 if reason in _TELECOM else 200
            out.append(self._event(key, _SETUP, "call.setup", started, trunk_id=TRUNK,
                                   call_id=contact, sip_code=code))  # fmt: skip
        if connected and self._application and digest(contact) not in self._queued:
            out += self._session(doc, key, contact, started, reason)
        out += self._media(doc, key, contact)
        return out

    def done(self, contact: str) -> None:
        """Remember that ``contact`` gave its events."""
        key = digest(contact)
        _remember(self._done, key, self._limit)
        self._queued.pop(key, None)  # the record is read: _done stands for it now

    def _session(
        self, doc: dict[str, Any], key: bytes, contact: str, started: float, reason: str
    ) -> list[V1]:
        queue = get(doc, "Queue")
        enqueued = get(queue, "EnqueueTimestamp") if isinstance(queue, dict) else None
        # The end of the flow, and the field it is read from (for the error, if it is bad).
        end: tuple[Any, str] | None = None
        if enqueued is not None:  # a Queue without EnqueueTimestamp: set, never reached
            outcome, end = "transferred", (enqueued, "Queue.EnqueueTimestamp")
        elif get(doc, "TransferredToEndpoint") is not None or get(doc, "NextContactId"):
            outcome = "transferred"
            completed = get(doc, "TransferCompletedTimestamp")
            if completed is not None:
                end = (completed, "TransferCompletedTimestamp")
        elif reason in _CONTAINED:
            outcome = "contained"
        elif reason in _TELECOM:
            outcome = "error"
        else:
            self._ignored.add("IVR_OUTCOME_UNKNOWN")
            return []
        if end is None:
            end = _disconnected(doc)
        return self._pair(key, contact, started, as_time(*end), outcome)

    def _pair(self, key: bytes, contact: str, started: float, end: float, outcome: str) -> list[V1]:
        """A session's start and end: the same ids whichever of a contact's event and
        record gives it."""
        ended = max(started, end)
        ids = {"session_id": contact, "application": self._application}
        return [
            self._event(key, _STARTED, "ivr.session_started", started, **ids, call_id=contact),
            self._event(key, _ENDED, "ivr.session_ended", ended, **ids, outcome=outcome,
                        duration_seconds=ended - started),
        ]  # fmt: skip

    def _media(self, doc: dict[str, Any], key: bytes, contact: str) -> list[V1]:
        metrics = get(doc, "QualityMetrics")
        if not isinstance(metrics, dict):
            return []
        when = as_time(*_disconnected(doc))
        out = []
        for index, leg in enumerate(_LEGS):
            part = get(metrics, leg)
            audio = get(part, "Audio") if isinstance(part, dict) else None
            if not isinstance(audio, dict) or get(audio, "QualityScore") is None:
                continue  # no leg, or no score on it (the field is optional)
            score = get(audio, "QualityScore")
            if (
                isinstance(score, bool)
                or not isinstance(score, int | float)
                or not math.isfinite(score)
                or not 1 <= score <= 5
            ):
                # One leg's nonsense (0, 7, "x") loses that leg only, counted; the call's
                # other facts stand.
                self._ignored.add("QUALITY_SCORE_INVALID")
                continue
            # The customer's leg is the carrier side; the agent's is a softphone, no trunk's.
            trunk = TRUNK if leg == "Customer" else None
            out.append(self._event(key, _MEDIA + index, "media.quality", when, trunk_id=trunk,
                                   call_id=contact, score=float(score),
                                   score_kind="connect_quality"))  # fmt: skip
        return out

    def _event(self, key: bytes, index: int, kind: str, when: float, **fields: Any) -> V1:
        return v1(key, index, kind, when, self._site, **fields)

    @staticmethod
    def _key(contact: str) -> bytes:
        """What a contact's voice events' ids are made of."""
        return f"amazon-connect|{contact}|voice".encode()


def _remember(table: OrderedDict[bytes, None], key: bytes, limit: int) -> None:
    """Add ``key`` to ``table``, forgetting the oldest past ``limit``."""
    if key not in table and len(table) >= limit:
        table.popitem(last=False)
    table[key] = None


def _disconnected(doc: dict[str, Any]) -> tuple[Any, str]:
    """When the contact ended, and the field that says so: ``DisconnectTimestamp``, else
    (a record without one) ``LastUpdateTimestamp``."""
    if get(doc, "DisconnectTimestamp") is not None:
        return get(doc, "DisconnectTimestamp"), "DisconnectTimestamp"
    return get(doc, "LastUpdateTimestamp"), "LastUpdateTimestamp"
