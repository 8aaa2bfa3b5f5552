"""The simulator's trunk legs and trunk states written as Asterisk's manager interface (AMI)
raises them: raw ``Key: Value`` events with ``Timestamp`` (``timestampevents = yes``). The
inverse of ``callpulse.adapters.asterisk_ami`` (docs/adapters-asterisk-ami.md).

The simulator's callers are the carrier's calls into the contact center, each an inbound
channel on the carrier's PJSIP endpoint: ``Channel`` ``PJSIP/<trunk>-<sequence>``.

- An answered setup is a ``Newchannel`` and, at once, a ``Newstate`` Up (6): the channel
  holds a trunk channel from then until its ``Hangup`` (:mod:`.freeswitch_legs` says when
  the leg ends), ``Cause`` 16 (normal clearing).
- A refused setup (503 while the trunk is down, 486 while it is full) is a ``Newchannel``
  hung up before it came up, with the Q.850 cause RFC 3398 maps back to that code (41
  temporary failure for 503, 17 user busy for 486; another code with the first cause the
  table maps to it, else 127 interworking, read back as 500).
- A leg whose call ended with an agent carries what Asterisk received on it in the
  ``Hangup``'s ``ChanVariable: RTPAUDIOQOS=...`` (``manager.conf`` ``channelvars``):
  ``rxcount`` and ``lp`` at 50 packets a second over the talk, so that their ratio is the
  simulated loss, ``txjitter`` the jitter and ``rtt`` the round trip, in seconds with six
  decimals as ``rtp_engine.c`` writes them (``%f``).
- A trunk's state is its contact's qualify result: a ``ContactStatus`` ``Reachable`` when
  the simulator first reports it up or it comes back, ``Unreachable`` when it goes down
  (one contact per trunk; a real res_pjsip also raises the endpoint's ``PeerStatus``, which
  the adapter reads as the same state again). The adapter reads it only for the trunks its
  ``trunks`` lists: the simulator lists each site's (``PlatformFeed``).

- A caller's IVR session runs on the caller's channel (``ivr.session_started`` names the call
  whose ``call.setup`` answered it): a ``Newexten`` into the dialplan context named as the
  scenario's IVR application when it starts (the adapter's ``ivr_contexts`` lists each
  site's application, so it reports the sessions under the same name). It ends as
  Asterisk shows it: ``transferred``, by the ``QueueCallerJoin`` of the queue the caller
  joins (written when the simulator queues the call, which it ``watches``; without
  ``Position`` and ``Count``: the queue's depth is not followed here, and the adapter does
  not read them); ``contained``, by the IVR's ``Hangup()`` (a ``Newexten`` with
  ``Application: Hangup``) and then the channel's ``Hangup``; ``hangup`` by the channel's
  ``Hangup`` alone. An ``error`` ending is one AMI cannot tell from a hang-up (no event
  says the IVR failed): the channel hangs up and the adapter reads ``hangup``. The caller's
  channel hangs up once, at the session's end unless the caller goes on to a queue. A
  caller with no answered trunk leg (a site without trunks) runs its IVR on a channel of
  the PBX's own (``Local/``), which is no trunk; one that goes on to a queue is not hung up
  (its call's end is not followed here). IVR input and backend errors, and IVR ports,
  stay events v1: AMI sees no backend.

What the events cannot carry: the simulator's E-model MOS (Asterisk scores a leg with its
own MES, another series: the value is written without ``rxmes``/``txmes``, as Asterisk
wrote it before MES), the far end's view (``rxjitter``, ``rlp``: what the carrier reported
by RTCP, which the simulator does not model: written 0), post-dial delay (AMI says when the
PBX answered, not when the carrier's INVITE rang), a trunk's capacity (no AMI event has it:
``kpi.trunk_channels``), the media of a leg that ended without an agent (none is measured),
and the hangups of legs still up when the day ends.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from callpulse.adapters.ami_fields import Q850_TO_SIP, cause_code
from callpulse.adapters.ami_records import FORMAT
from callpulse.simulation.emitters.freeswitch_legs import WATCHED, Hangup, Legs, packets, seconds
from callpulse.simulation.emitters.trunk_counts import KeptChannels

CLEARING = 16  # normal call clearing: a leg that ended after its answer
UNMAPPED_CAUSE = 127  # interworking, unspecified: a code RFC 3398 maps no cause to
_PREFERRED = {503: 41, 486: 17}  # the cause Asterisk's PJSIP gives a refusal of that code
_CAUSE_TEXT = {16: "Normal Clearing", 17: "User busy", 41: "Temporary failure"}
UP, RING = 6, 4  # ChannelState (include/asterisk/channelstate.h)
# The context an IVR is told to read when no scenario names one; the runner gives each
# site's adapter the site's own IVR application instead (callpulse.simulation.platform).
IVR_CONTEXT = "ivr-main"
_SESSION_TYPES = frozenset({"ivr.session_started", "ivr.session_ended"})
QUEUED = "call.queued"


@dataclass(frozen=True, slots=True)
class _Session:
    """An open IVR session: its caller's call, channel and Uniqueid, when it started."""

    call: str | None
    channel: str
    uid: str
    started: float
    local: bool  # on a channel of the PBX's own, not a trunk leg


def cause_for(code: int) -> int:
    """The Q.850 cause a refused leg of SIP ``code`` hangs up with (see the module)."""
    if code in _PREFERRED:
        return _PREFERRED[code]
    return min((c for c, sip in Q850_TO_SIP.items() if sip == code), default=UNMAPPED_CAUSE)


class AsteriskAmiEmitter:
    """An Emitter writing one Asterisk's AMI events for its trunk legs and trunk states."""

    format = FORMAT
    carries = frozenset({"call.setup", "media.quality", "trunk.status", *_SESSION_TYPES})
    merges: Mapping[str, str] = MappingProxyType({})
    acw_carried = True  # the queues stay events v1: nothing of theirs is lost
    whole_seconds = False  # Timestamp has microseconds
    # Trunks: any named peer. IVR: the contexts of the IVR applications (per site, its own).
    adapter_options: Mapping[str, Any] = MappingProxyType({"ivr_contexts": [IVR_CONTEXT]})
    watches = WATCHED | {QUEUED}  # a queued caller's channel joins the queue

    def __init__(self, hostname: str = "pbx1") -> None:
        self.hostname = hostname
        self._sequence = 0
        self._legs = Legs()  # what emit writes
        self._channels: dict[str, tuple[str, str]] = {}  # call -> (Channel, Uniqueid)
        self._states: dict[str, str] = {}  # trunk -> its last state written
        self._kept = Legs()  # what as_kept gives back
        self._kept_states: dict[tuple[str, str], str] = {}
        self._counted = KeptChannels()  # channels in use, as the adapter counts them
        self._sessions: dict[str, _Session] = {}  # open IVR sessions, by v1 session id
        self._joining: dict[str, tuple[str, str]] = {}  # call -> its Local channel, to queue
        self._kept_sequence: dict[str, int] = {}  # site -> channels, as emit numbers them
        self._kept_uids: dict[str, str] = {}  # call -> its leg's Uniqueid, while it is up
        self._kept_sessions: dict[str, _Session] = {}
        self._kept_joining: dict[str, tuple[_Session, dict[str, Any]]] = {}  # call -> its end

    def emit(self, event: Mapping[str, Any]) -> list[bytes]:
        """The AMI events ``event`` makes Asterisk raise: a setup's channel at once, an
        answered leg's hangup when the leg ends, a trunk's qualify result when its state
        changes."""
        body = dict(event)
        kind = body["type"]
        if kind == "trunk.status":
            return self._status(body)
        if kind == "call.setup":
            return self._setup(body)
        if kind == QUEUED:
            return self._queue_join(body)
        written = []
        if kind == "ivr.session_started":
            written = self._session_started(body)
        elif kind == "ivr.session_ended":
            written = self._session_ended(body)
        ended = self._legs.ended(body)
        return written if ended is None else [*written, self._hangup(ended)]

    def as_kept(self, event: dict[str, Any]) -> list[dict[str, Any]]:
        """Events v1 as these AMI events keep them: a setup without its post-dial delay, its
        code the one its Q.850 cause reads back as; the trunk's channels in use at each
        channel's start and end; a leg's media as its packet counts give the loss, its
        jitter and round trip to the microsecond, without MOS; a trunk's state only when it
        changes, alone (no count, no total). A setup, a leg's media and an
        IVR session name the channel's ``Uniqueid`` as their call (and session); a session
        ends transferred when its caller joins a queue, ``error`` reads as ``hangup``, and
        its duration is the span between the two events' ``Timestamp``."""
        kind = event["type"]
        if kind == "trunk.status":
            key = (event["site"], event["trunk_id"])
            if self._kept_states.get(key) == event["state"]:
                return []
            self._kept_states[key] = event["state"]
            return [
                {k: v for k, v in event.items() if k not in ("channels_in_use", "channels_total")}
            ]
        if kind == "call.setup":
            uid = self._kept_uid(event)
            setup = {k: v for k, v in event.items() if k != "post_dial_delay_ms"}
            setup["call_id"] = uid
            opened = self._counted.opened(event)
            if 200 <= event["sip_code"] < 300:
                self._kept.answered(event)
                self._kept_uids[event.get("call_id") or event["event_id"]] = uid
                return [opened, setup]
            setup["sip_code"] = cause_code(str(cause_for(event["sip_code"])))
            return [opened, setup, self._counted.closed(event)]
        if kind == QUEUED:
            joining = self._kept_joining.pop(event.get("call_id") or "", None)
            if joining is None:
                return [event]
            session, ending = joining
            return [_session_end(session, ending, "transferred", event["occurred_at"]), event]
        if kind == "ivr.session_started":
            out = [self._kept_start(event)]
        elif kind == "ivr.session_ended":
            out = self._kept_end(event)
        else:
            out = [] if kind == "media.quality" else [event]
        ended = self._kept.ended(event)
        if ended is None:
            return out
        setup = ended.leg.setup
        channel = self._kept_uids.pop(setup.get("call_id") or setup["event_id"], None)
        media = _kept_media(ended) if ended.media is not None else None
        if media is not None:
            out.append(media if channel is None else media | {"call_id": channel})
        closing = setup | {"occurred_at": ended.occurred_at}
        out.append(self._counted.closed(closing))
        return out

    def _kept_uid(self, event: Mapping[str, Any]) -> str:
        """The ``Uniqueid`` :meth:`emit` gives the next channel of ``event``'s site."""
        site = event["site"]
        sequence = self._kept_sequence[site] = self._kept_sequence.get(site, 0) + 1
        return f"{int(seconds(event['occurred_at']))}.{sequence}"

    def _kept_start(self, event: dict[str, Any]) -> dict[str, Any]:
        call = event.get("call_id")
        uid = self._kept_uids.get(call) if call else None
        local = uid is None
        if uid is None:  # the caller's channel is a Local one, numbered as it is made
            uid = self._kept_uid(event)
        at = seconds(event["occurred_at"])
        self._kept_sessions[event["session_id"]] = _Session(call, "", uid, at, local)
        return event | {"session_id": uid, "call_id": uid}

    def _kept_end(self, event: dict[str, Any]) -> list[dict[str, Any]]:
        session = self._kept_sessions.pop(event["session_id"], None)
        if session is None:
            return []
        outcome = event["outcome"]
        if outcome == "transferred":  # ends when the caller joins the queue, if it does
            if session.call is not None:
                self._kept_joining[session.call] = (session, event)
            return []
        outcome = "contained" if outcome == "contained" else "hangup"
        return [_session_end(session, event, outcome, event["occurred_at"])]

    # --- writing -------------------------------------------------------------------------

    def _setup(self, setup: dict[str, Any]) -> list[bytes]:
        at, code = seconds(setup["occurred_at"]), setup["sip_code"]
        self._sequence += 1
        channel = f"PJSIP/{setup['trunk_id']}-{self._sequence:08x}"
        uid = f"{int(at)}.{self._sequence}"
        created = self._event("Newchannel", at, self._channel(channel, uid, RING))
        if 200 <= code < 300:
            self._legs.answered(setup)
            self._channels[setup.get("call_id") or setup["event_id"]] = (channel, uid)
            return [created, self._event("Newstate", at, self._channel(channel, uid, UP))]
        cause = cause_for(code)
        return [created, self._event("Hangup", at, self._channel(channel, uid, RING, cause))]

    def _hangup(self, ended: Hangup) -> bytes:
        setup = ended.leg.setup
        channel, uid = self._channels.pop(setup.get("call_id") or setup["event_id"])
        headers = self._channel(channel, uid, UP, CLEARING)
        if ended.media is not None:
            headers["ChanVariable"] = f"RTPAUDIOQOS={_qos(ended)}"
        return self._event("Hangup", ended.at, headers)

    def _session_started(self, started: dict[str, Any]) -> list[bytes]:
        """The caller's channel entering the IVR's context (a Local channel of its own
        first, for a caller with no answered trunk leg)."""
        at, call = seconds(started["occurred_at"]), started.get("call_id")
        written = []
        found = self._channels.get(call) if call else None
        local = found is None
        if found is None:
            self._sequence += 1
            found = (f"Local/s@from-carrier-{self._sequence:08x};2", f"{int(at)}.{self._sequence}")
            written.append(self._event("Newchannel", at, self._channel(*found, RING)))
        channel, uid = found
        self._sessions[started["session_id"]] = _Session(call, channel, uid, at, local)
        context = started["application"]
        entered = self._channel(channel, uid, UP, context=context)
        written.append(self._event("Newexten", at, entered | _app("Background", "main-menu")))
        return written

    def _session_ended(self, ending: dict[str, Any]) -> list[bytes]:
        """What Asterisk raises as the IVR lets the caller go: nothing yet for a transfer
        (the queue's join says it); the IVR's ``Hangup()`` for a contained caller; the
        channel's own ``Hangup`` for a Local channel (a trunk leg's comes with the leg's
        end, :class:`Legs`)."""
        session = self._sessions.pop(ending["session_id"], None)
        if session is None:
            return []
        at = seconds(ending["occurred_at"])
        if ending["outcome"] == "transferred":
            if session.local and session.call is not None:
                self._joining[session.call] = (session.channel, session.uid)
            return []
        written = []
        if ending["outcome"] == "contained":
            hangup_app = self._channel(
                session.channel, session.uid, UP, context=ending["application"], priority=2
            )
            written.append(self._event("Newexten", at, hangup_app | _app("Hangup", "")))
        if session.local:
            headers = self._channel(session.channel, session.uid, UP, CLEARING)
            written.append(self._event("Hangup", at, headers))
        return written

    def _queue_join(self, queued: dict[str, Any]) -> list[bytes]:
        """A queued caller's channel joining the queue (``app_queue.c``), if it has one."""
        call = queued.get("call_id") or ""
        found = self._channels.get(call) or self._joining.pop(call, None)
        if found is None:
            return []
        headers = self._channel(*found, UP) | {"Queue": queued["queue"]}
        return [self._event("QueueCallerJoin", seconds(queued["occurred_at"]), headers)]

    def _status(self, status: dict[str, Any]) -> list[bytes]:
        trunk, state = status["trunk_id"], status.get("state")
        if state is None or self._states.get(trunk) == state:
            return []
        self._states[trunk] = state
        headers = {
            "URI": f"sip:{trunk}@sbc.{self.hostname}.carrier.example:5060",
            "ContactStatus": "Reachable" if state == "up" else "Unreachable",
            "AOR": trunk,
            "EndpointName": trunk,
            "RoundtripUsec": "0" if state == "down" else "21034",
        }
        return [self._event("ContactStatus", seconds(status["occurred_at"]), headers)]

    def _channel(
        self,
        channel: str,
        uid: str,
        state: int,
        cause: int | None = None,
        context: str = "from-carrier",
        priority: int = 1,
    ) -> dict[str, str]:
        """A channel's snapshot headers (``ast_manager_build_channel_state_string``), at
        extension ``s`` of ``context``."""
        headers = {
            "Channel": channel,
            "ChannelState": str(state),
            "ChannelStateDesc": "Up" if state == UP else "Ring",
            "CallerIDNum": f"+4420{int(uid.split('.')[1]) % 10_000_000:07d}",
            "Context": context,
            "Exten": "s",
            "Priority": str(priority),
            "Uniqueid": uid,
            "Linkedid": uid,
        }
        if cause is not None:
            headers |= {"Cause": str(cause), "Cause-txt": _CAUSE_TEXT.get(cause, "Unknown")}
        return headers

    def _event(self, name: str, at: float, headers: Mapping[str, str]) -> bytes:
        privilege = "system,all" if name == "ContactStatus" else "call,all"
        lines = [f"Event: {name}", f"Privilege: {privilege}", f"Timestamp: {at:.6f}"]
        lines += [f"{key}: {value}" for key, value in headers.items()]
        return ("\r\n".join(lines) + "\r\n\r\n").encode()


def _app(application: str, data: str) -> dict[str, str]:
    """The application a ``Newexten`` runs (``manager_channels.c``, channel_newexten)."""
    return {"Extension": "s", "Application": application, "AppData": data}


def _session_end(
    session: _Session, ending: dict[str, Any], outcome: str, occurred_at: str
) -> dict[str, Any]:
    """An ``ivr.session_ended`` as the adapter reads it at ``occurred_at``: the session and
    its duration as the two events' ``Timestamp`` (microseconds) say them."""
    end = float(f"{seconds(occurred_at):.6f}")
    duration = max(0.0, end - float(f"{session.started:.6f}"))
    return ending | {
        "session_id": session.uid,
        "occurred_at": occurred_at,
        "outcome": outcome,
        "duration_seconds": duration,
    }


def _counts(ended: Hangup) -> tuple[int, int]:
    """(received, lost) packets of a leg with media, as ``rxcount`` and ``lp``."""
    assert ended.media is not None
    loss = ended.media.get("packet_loss_ratio") or 0.0
    return packets(loss, ended.at - ended.leg.answered_at)


def _qos(ended: Hangup) -> str:
    assert ended.media is not None
    received, lost = _counts(ended)
    jitter = (ended.media.get("jitter_ms") or 0.0) / 1000
    rtt = (ended.media.get("rtt_ms") or 0.0) / 1000
    return (
        f"ssrc=1870234599;themssrc=3412099213;lp={lost};rxjitter=0.000000;rxcount={received};"
        f"txjitter={jitter:f};txcount={received};rlp=0;rtt={rtt:f}"
    )


def _kept_media(ended: Hangup) -> dict[str, Any] | None:
    """The leg's media.quality as its RTPAUDIOQOS reads back; None if it reads as none."""
    assert ended.media is not None
    received, lost = _counts(ended)
    kept = {
        k: v
        for k, v in ended.media.items()
        if k not in {"mos", "jitter_ms", "rtt_ms", "packet_loss_ratio"}
    }
    if not received:  # nothing received: the adapter reads no measure from it
        return None
    kept["packet_loss_ratio"] = lost / (lost + received)
    kept["jitter_ms"] = float(f"{(ended.media.get('jitter_ms') or 0.0) / 1000:f}") * 1000
    rtt = float(f"{(ended.media.get('rtt_ms') or 0.0) / 1000:f}")
    if rtt:
        kept["rtt_ms"] = rtt * 1000
    return kept
