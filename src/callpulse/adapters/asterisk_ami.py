"""Asterisk Manager Interface (AMI) events to events v1: call setups per trunk leg, media
quality per trunk leg, and IVR sessions with their outcome. One AMI event per record, raw or
JSON (:mod:`.ami_records`); how each number is read: :mod:`.ami_fields`. The mapping and
its sources: docs/adapters-asterisk-ami.md.

- **Setups.** A ``DialEnd`` whose dialled channel (``DestChannel``) is on a trunk is the
  outcome of the PBX's call on it: a ``call.setup`` with its ``DialStatus``'s code. A trunk
  channel no Dial created (``Newchannel``, then no ``DialBegin`` names it: an inbound call,
  or an Originate) is set up when it comes up (``Newstate`` Up: 200), or fails when it hangs
  up before (``Hangup``'s Q.850 ``Cause`` by RFC 3398). Trunks are named as for CDRs
  (:func:`.asterisk_cdr.trunk_of`).
- **Media.** ``RTPAUDIOQOS`` (a ``VarSet`` of it, or a ``ChanVariable`` of the ``Hangup``
  when ``manager.conf`` lists it in ``channelvars``) and ``RTCPSent`` on a trunk channel:
  a ``media.quality`` of what Asterisk received on the leg.
- **Trunk state and channels.** A trunk channel counts as a channel in use from its
  ``Newchannel`` to its ``Hangup`` (a ``trunk.status`` with ``channels_in_use`` at each
  change, as :mod:`.trunk_channels` counts). Qualify results (``PeerStatus``,
  ``ContactStatus`` of a peer listed in ``trunks``: :mod:`.ami_trunk_state`) are a
  ``trunk.status`` with ``state`` up or down only: the channels' count stands as they last
  said it; with ``trunks`` empty they give none. No event says a trunk's capacity:
  ``channels_total`` is left to ``kpi.trunk_channels``.
- **IVR.** A session starts at the first ``Newexten`` of a channel into a context of
  ``ivr_contexts`` (none by default: nothing is guessed) and ends ``transferred`` when the
  channel joins a queue (``QueueCallerJoin``) or dials (``DialBegin``), ``contained`` when it
  hangs up after the IVR ran ``Hangup()``, else ``hangup``. A dialled channel (an agent's
  phone running a queue's macro in the IVR context) and the ``h`` extension (run after a
  hangup) start nothing. Input errors are not reported: ``Read()`` writes ``READSTATUS``
  ``TIMEOUT`` also when the caller keyed fewer digits than it waited for.

Per-channel state is bounded (:data:`MAX_CHANNELS`, oldest first) and ids are kept as digests.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from callpulse.adapters import ami_fields as fields
from callpulse.adapters.ami_records import FORMAT, AmiEvent, read
from callpulse.adapters.ami_trunk_state import TrunkReachability
from callpulse.adapters.asterisk_cdr import trunk_of
from callpulse.adapters.base import V1, Writer
from callpulse.adapters.bounds import Ignored, checked_name, digest
from callpulse.adapters.trunk_channels import TrunkChannels

MAX_CHANNELS = 10_000  # channels followed for an inbound setup or an IVR session
QOS = "RTPAUDIOQOS"
UP = "6"  # AST_STATE_UP (include/asterisk/channelstate.h)
AFTER_HANGUP = "h"  # the extension Asterisk runs once a channel has hung up
NOT_TRUNK = "not_trunk"  # a setup or media event on a channel that is on no trunk
NO_OUTCOME = "DialEnd:no_outcome"  # a DialStatus that says nothing of the far end
NO_MEASURE = "media:no_measure"  # a quality report with nothing usable in it
NO_STATE = "qualify:no_state"  # a PeerStatus or ContactStatus that changes no trunk's state
# A qualify result while the option trunks is empty: only a listed peer's gives a state.
TRUNKS_NOT_LISTED = "qualify:trunks_not_listed"
# The AMI events a call raises that v1 has no use for (manager_channels.c, app_queue.c...).
IGNORED_KINDS = frozenset({
    "VarSet", "Newexten", "Newstate", "Newchannel", "NewCallerid", "NewConnectedLine",
    "NewAccountCode", "DeviceStateChange", "ExtensionStatus",
    "QueueMemberStatus", "QueueCallerLeave", "QueueCallerAbandon", "AgentCalled",
    "AgentConnect", "AgentComplete", "AgentRingNoAnswer", "AgentDump", "BridgeCreate",
    "BridgeEnter", "BridgeLeave", "BridgeDestroy", "BridgeMerge", "DialState", "DialBegin",
    "DTMFBegin", "DTMFEnd", "HangupRequest", "SoftHangupRequest", "MusicOnHoldStart",
    "MusicOnHoldStop", "RTCPReceived", "Cdr", "CEL", "Hold", "Unhold", "LocalBridge",
    "Registry", "FullyBooted", "SuccessfulAuth", "ChallengeSent", "Newexten:h", "Hangup",
    "QueueCallerJoin",
    NOT_TRUNK, NO_OUTCOME, NO_MEASURE, NO_STATE, TRUNKS_NOT_LISTED,
})  # fmt: skip


@dataclass(frozen=True, slots=True)
class AsteriskAmiOptions:
    """How to read one site's AMI events.

    ``trunks``: the peers that are trunks, as for ``asterisk-cdr`` (empty: every peer not
    named by digits alone), and the only peers whose qualify results give a trunk state
    (empty: none do). ``ivr_contexts``: the dialplan contexts that are IVR
    applications, each reported under its own name (empty: no IVR sessions)."""

    site: str
    trunks: list[str] = field(default_factory=list)
    ivr_contexts: list[str] = field(default_factory=list)


@dataclass(slots=True)
class _Channel:
    """What is followed of one channel until it hangs up."""

    trunk: str | None = None  # set while an inbound (not dialled) trunk leg awaits its outcome
    application: str | None = None  # the IVR context of its open session
    started: float = 0.0
    session: str | None = None
    call: str | None = None
    ivr_hung_up: bool = False  # the IVR ran Hangup(): the caller was served to the end
    ended: bool = False  # its session is over: no second one on the same channel


class AsteriskAmi:
    """An Adapter for AMI events, one event per record."""

    format = FORMAT

    def __init__(self, options: AsteriskAmiOptions) -> None:
        self.options = options
        self.ignored = Ignored(IGNORED_KINDS)
        self._trunks = frozenset(options.trunks)
        self._ivr = frozenset(options.ivr_contexts)
        self._channels: dict[bytes, _Channel] = {}
        self.channels = TrunkChannels()
        self._reachability = TrunkReachability(self._trunks)

    def translate(self, record: bytes) -> list[V1]:
        """The events-v1 bodies one AMI event stands for (none for a kind v1 has no use for,
        counted in ``ignored``). Raises AdapterError for a record it cannot read."""
        event = read(record)
        name = event.name
        out = Writer(record, self.options.site, event.when())
        handler = _HANDLERS.get(name)
        if handler is None or not handler(self, event, out):
            self.ignored.add(name)
        return out.events

    def flush(self, now: float) -> list[V1]:
        """A ``trunk.status`` for each trunk whose count fell as channels open for longer
        than a call lasts expired (their hangup was lost)."""
        out = Writer(
            f"{FORMAT}|expired|{self.options.site}|{now!r}".encode(), self.options.site, now
        )
        self.channels.expire(now, out)
        return out.events

    def fill(self) -> Mapping[str, float]:
        """How full the tables are: channels followed, trunk channels counted, endpoints."""
        return {
            "channels": len(self._channels) / MAX_CHANNELS,
            "trunk_channels": self.channels.fill(),
            "endpoints": self._reachability.fill(),
        }

    def _trunk(self, event: AmiEvent, prefix: str = "") -> str | None:
        channel = event.get(f"{prefix}Channel")
        return None if channel is None else trunk_of(FORMAT, channel, self._trunks, "Channel")

    def _channel(self, event: AmiEvent, prefix: str = "") -> _Channel:
        key = digest(event.channel_id(prefix))
        found = self._channels.get(key)
        if found is None:
            if len(self._channels) >= MAX_CHANNELS:  # the oldest goes: its hangup may never come
                del self._channels[next(iter(self._channels))]
            found = self._channels[key] = _Channel()
        return found

    def _known(self, event: AmiEvent, prefix: str = "") -> _Channel | None:
        return self._channels.get(digest(event.channel_id(prefix)))

    # Setups ---------------------------------------------------------------------------

    def _newchannel(self, event: AmiEvent, out: Writer) -> bool:
        trunk = self._trunk(event)
        if trunk is None:
            return False
        self._channel(event).trunk = trunk
        self.channels.open(event.channel_id(), trunk, out.when, out)
        return True

    def _dial_begin(self, event: AmiEvent, out: Writer) -> bool:
        if event.get("DestUniqueid") is not None:
            dialled = self._channel(event, "Dest")
            dialled.trunk = None  # dialled: its DialEnd says how it went
            dialled.ended = True  # and it is no caller: no IVR session of its own
        if event.get("Uniqueid") is not None:
            self._end_session(event, out, "transferred")
        return False

    def _dial_end(self, event: AmiEvent, out: Writer) -> bool:
        status = event.get("DialStatus") or ""
        trunk = self._trunk(event, "Dest")
        if trunk is None:
            self.ignored.add(NOT_TRUNK)
            return True
        code = fields.dial_code(status)
        if code is None:
            self.ignored.add(NO_OUTCOME)
            return True
        out.add("call.setup", trunk_id=trunk, call_id=event.channel_id("Dest"), sip_code=code)
        return True

    def _newstate(self, event: AmiEvent, out: Writer) -> bool:
        channel = self._known(event)
        if channel is None or channel.trunk is None or event.get("ChannelState") != UP:
            return False
        out.add("call.setup", trunk_id=channel.trunk, call_id=event.channel_id(), sip_code=200)
        channel.trunk = None
        return True

    def _hangup(self, event: AmiEvent, out: Writer) -> bool:
        channel = self._known(event)
        found = False
        if channel is not None and channel.trunk is not None:
            code = fields.cause_code(event.get("Cause") or "")
            out.add("call.setup", trunk_id=channel.trunk, call_id=event.channel_id(), sip_code=code)
            found = True
        qos = event.chanvars.get(QOS)
        if qos:
            found = self._qos(event, out, qos) or found
        if channel is not None:
            found = self._end_session(event, out, None) or found
            self._channels.pop(digest(event.channel_id()), None)
        if event.get("Uniqueid") is not None:
            found = self.channels.close(event.channel_id(), out) or found
        return found

    # Trunk state ----------------------------------------------------------------------

    def _peer_status(self, event: AmiEvent, out: Writer) -> bool:
        if not self._reachability.listed:
            self.ignored.add(TRUNKS_NOT_LISTED)
            return True
        return self._state(self._reachability.peer(event), out)

    def _contact_status(self, event: AmiEvent, out: Writer) -> bool:
        if not self._reachability.listed:
            self.ignored.add(TRUNKS_NOT_LISTED)
            return True
        return self._state(self._reachability.contact(event), out)

    def _state(self, found: tuple[str, str | None] | None, out: Writer) -> bool:
        if found is None:
            self.ignored.add(NOT_TRUNK)
            return True
        trunk, state = found
        if state is None:
            self.ignored.add(NO_STATE)
            return True
        out.add("trunk.status", trunk_id=trunk, state=state)
        return True

    # Media ----------------------------------------------------------------------------

    def _var_set(self, event: AmiEvent, out: Writer) -> bool:
        variable, value = event.get("Variable"), event.get("Value") or ""
        if variable == QOS:
            return self._qos(event, out, value)
        return False

    def _qos(self, event: AmiEvent, out: Writer, value: str) -> bool:
        trunk = self._trunk(event)
        if trunk is None:
            self.ignored.add(NOT_TRUNK)
            return True
        leg = event.channel_id()
        # Keyed by the leg and its figures: the same report read again (a VarSet and the
        # Hangup's ChanVariable) is one report, kept once by the ingest.
        with out.revealed(f"{FORMAT}|qos|{out.site}|{leg}|{value}", out.when):
            self._media(event, out, trunk, fields.qos(value))
        return True

    def _rtcp_sent(self, event: AmiEvent, out: Writer) -> bool:
        trunk = self._trunk(event)
        if trunk is None:
            self.ignored.add(NOT_TRUNK)
            return True
        self._media(event, out, trunk, fields.rtcp_sent(event) or fields.Media())
        return True

    def _media(self, event: AmiEvent, out: Writer, trunk: str, media: fields.Media) -> None:
        if not media.measured:
            self.ignored.add(NO_MEASURE)
            return
        measures: dict[str, Any] = {"trunk_id": trunk, "call_id": event.channel_id()}
        for name in ("packet_loss_ratio", "jitter_ms", "rtt_ms"):
            if getattr(media, name) is not None:
                measures[name] = getattr(media, name)
        if media.score is not None:
            measures |= {"score": media.score, "score_kind": "asterisk_mes"}
        out.add("media.quality", **measures)

    # IVR ------------------------------------------------------------------------------

    def _newexten(self, event: AmiEvent, out: Writer) -> bool:
        context = event.get("Context")
        if context not in self._ivr:
            return False
        if event.get("Exten") == AFTER_HANGUP:
            self.ignored.add("Newexten:h")
            return True
        channel = self._channel(event)
        if channel.application is not None:  # the IVR goes on: only its Hangup() is news
            channel.ivr_hung_up = (event.get("Application") or "").lower() == "hangup"
            return channel.ivr_hung_up
        if channel.ended:
            return False
        session = event.channel_id()
        call = checked_name(FORMAT, event.get("Linkedid") or session, "Linkedid")
        channel.application, channel.started = checked_name(FORMAT, context, "Context"), out.when
        channel.session, channel.call = session, call
        out.add("ivr.session_started", session_id=session, application=context, call_id=call)
        return True

    def _queue_join(self, event: AmiEvent, out: Writer) -> bool:
        return self._end_session(event, out, "transferred")

    def _end_session(self, event: AmiEvent, out: Writer, outcome: str | None) -> bool:
        """End the channel's open IVR session, ``outcome`` or (None, at its hangup)
        contained or hangup; whether there was one."""
        channel = self._known(event)
        if channel is None or channel.application is None:
            return False
        if outcome is None:
            outcome = "contained" if channel.ivr_hung_up else "hangup"
        out.add(
            "ivr.session_ended", session_id=channel.session, application=channel.application,
            outcome=outcome, duration_seconds=max(0.0, out.when - channel.started),
        )  # fmt: skip
        channel.application, channel.ended = None, True
        return True


_HANDLERS = {
    "Newchannel": AsteriskAmi._newchannel,
    "DialBegin": AsteriskAmi._dial_begin,
    "DialEnd": AsteriskAmi._dial_end,
    "Newstate": AsteriskAmi._newstate,
    "Hangup": AsteriskAmi._hangup,
    "VarSet": AsteriskAmi._var_set,
    "RTCPSent": AsteriskAmi._rtcp_sent,
    "Newexten": AsteriskAmi._newexten,
    "QueueCallerJoin": AsteriskAmi._queue_join,
    "PeerStatus": AsteriskAmi._peer_status,
    "ContactStatus": AsteriskAmi._contact_status,
}
