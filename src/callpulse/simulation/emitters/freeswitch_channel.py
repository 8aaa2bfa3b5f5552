"""The simulator's caller legs written as FreeSWITCH writes them: a ``CHANNEL_CREATE`` at
each leg's start, the last RTCP report of a leg with media and a ``CHANNEL_HANGUP_COMPLETE``
at its hang-up, serialized as the event
socket's ``event json`` (``switch_event_serialize_json``: every value a string, channel
variables as ``variable_<name>``). The inverse of ``callpulse.adapters.freeswitch_channel``
(docs/adapters-freeswitch-channel.md).

The simulator's callers are the carrier's calls into the contact center, each an inbound
leg on the carrier's SIP profile: ``Channel-Name`` ``sofia/<trunk>/<caller>`` (no
``sip_gateway_name``: that names an outbound leg's gateway).

- Every setup's leg starts with a ``CHANNEL_CREATE`` (``CS_INIT``, ``Channel-Call-State``
  DOWN), written at the setup's time: the simulator says a setup at its final response,
  so a leg's ringing (its post-dial delay) is not counted as held. The adapter counts a
  channel on the trunk from it to the leg's hang-up.
- A refused setup (503 while the trunk is down, 486 while it is full) is a leg FreeSWITCH
  refused at once: unanswered, ``sip_hangup_disposition`` ``send_refuse``, the cause
  mod_sofia answers that code for (``NORMAL_TEMPORARY_FAILURE`` 41, ``USER_BUSY`` 17; any
  other code as ``proto_specific_hangup_cause`` ``sip:<code>``).
- An answered setup is written when the leg ends (:mod:`.freeswitch_legs` says when):
  ``answer_uepoch`` the answer, ``progressmsec`` the post-dial delay in whole
  milliseconds (``progress_mediamsec`` 0: no early media), ``NORMAL_CLEARING``. A leg whose
  call ended with an agent carries what FreeSWITCH received on it: media and skipped packet
  counts at 50 a second over the talk, so that their ratio is the simulated loss, and
  ``rtp_audio_in_mos`` FreeSWITCH's own flaws score computed from them (``do_mos``). Just
  before it, the last ``RECV_RTCP_MESSAGE`` the carrier sent on the leg: its report block's
  fraction lost (the simulated loss in 256ths) and interarrival jitter (the simulated
  jitter in 8 kHz timestamp units), which the adapter reads as RFC 3550 loss and jitter.

A trunk's state changes (a simulated ``trunk.status`` whose state differs from the last)
are ``sofia::gateway_state`` events of the gateway named after the trunk, as
``sofia_reg.c`` fires them: going down, a registration refused (``State`` FAILED,
``Status`` 503, ``Ping-Status`` still UP), then FAIL_WAIT with ``Ping-Status`` DOWN; coming
back, REGED with ``Ping-Status`` UP. The simulated ``trunk.status`` heartbeat itself is
not written: FreeSWITCH counts its channels from its own legs.

What the records cannot carry: the simulator's E-model MOS (FreeSWITCH computes none: its
score is of flawed packets, another series), jitter finer than a timestamp unit (125 µs)
and loss finer than 1/256 (the report block's resolution), and round trip (the report's
delay since the last sender report is not written);
the media of a leg that ended without an agent (the simulator measures none: FreeSWITCH
would count its IVR and queue audio); the setups and hang-ups of legs still up when the
day ends (their channels stay counted); and the trunk's capacity (``kpi.trunk_channels``).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any

from callpulse.adapters.freeswitch_channel_records import FORMAT
from callpulse.simulation.emitters.freeswitch_legs import (
    WATCHED,
    Hangup,
    Legs,
    flaws_score,
    packets,
    seconds,
)
from callpulse.simulation.emitters.trunk_counts import KeptChannels
from callpulse.simulation.emitters.trunk_setups import STATUS, TrunkStates

RTP_RATE = 8000  # PCMU's RTP clock, in Hz: the unit of an RTCP report's jitter
_NAMESPACE = uuid.UUID("0b7d5c3e-91a4-4e62-8f1d-6c2a9e4b7f35")
# The cause FreeSWITCH hangs a leg up with when it refuses it with a code, and its Q.850.
_REFUSALS = {486: ("USER_BUSY", "17"), 503: ("NORMAL_TEMPORARY_FAILURE", "41")}


class FreeSwitchChannelEmitter:
    """An Emitter writing one FreeSWITCH's ``CHANNEL_HANGUP_COMPLETE`` events, one JSON
    object each."""

    format = FORMAT
    carries = frozenset({"call.setup", "media.quality", STATUS})
    merges: Mapping[str, str] = MappingProxyType({})
    acw_carried = True  # the queues stay events v1: nothing of theirs is lost
    whole_seconds = False  # Event-Date-Timestamp is in microseconds
    adapter_options: Mapping[str, Any] = MappingProxyType({})
    watches = WATCHED

    def __init__(self, hostname: str = "fs1") -> None:
        self.hostname = hostname
        self._core = str(uuid.uuid5(_NAMESPACE, hostname))
        self._sequence = 0
        self._legs = Legs()  # what emit writes
        self._kept = Legs()  # what as_kept gives back
        self._states = TrunkStates()
        self._kept_states = TrunkStates()
        self._kept_channels = KeptChannels()

    def emit(self, event: Mapping[str, Any]) -> list[bytes]:
        """What ``event`` makes FreeSWITCH write, if any: a setup's leg created, and hung up
        at once if refused, an answered leg's hang-up when the leg ends; a gateway's state
        when a status changes it."""
        body = dict(event)
        if body["type"] == STATUS:
            return self._gateway(body) if self._states.changed(body) else []
        if body["type"] == "call.setup":
            created = self._created(body)
            if 200 <= body["sip_code"] < 300:
                self._legs.answered(body)
                return [created]
            return [created, self._refused(body)]
        ended = self._legs.ended(body)
        if ended is None:
            return []
        report = [self._rtcp(ended)] if ended.media is not None else []
        return [*report, self._hangup(ended)]

    def as_kept(self, event: dict[str, Any]) -> list[dict[str, Any]]:
        """Events v1 as these records keep them: a channel opened on the trunk at each
        setup; a refused setup as it is (no post-dial delay: none was sent), its channel
        closed at once; an answered setup at its leg's hang-up, its delay in whole
        milliseconds, then its channel closed; the leg's media as a flaws score and the loss
        its packet counts give, without MOS, jitter or round trip, and before it the RTCP
        report's loss and jitter at their resolution; no heartbeat, and each
        change of state as the gateway's own status, the state alone (:class:`TrunkStates`)."""
        kind = event["type"]
        channels = self._kept_channels
        if kind == STATUS:
            return self._kept_states.change(event)
        if kind == "call.setup":
            opened = channels.opened(event)
            if 200 <= event["sip_code"] < 300:
                self._kept.answered(event)
                return [opened]
            setup = {k: v for k, v in event.items() if k != "post_dial_delay_ms"}
            return [opened, setup, channels.closed(event)]
        ended = self._kept.ended(event)
        out = [] if kind == "media.quality" else [event]
        if ended is None:
            return out
        setup = ended.leg.setup | {"occurred_at": ended.occurred_at}
        if setup.get("post_dial_delay_ms") is not None:
            setup["post_dial_delay_ms"] = float(round(setup["post_dial_delay_ms"]))
        out.append(setup)
        if ended.media is not None:
            media, skipped = _packets(ended)
            measured = {
                k: v for k, v in ended.media.items()
                if k not in {"mos", "jitter_ms", "rtt_ms", "packet_loss_ratio"}
            }  # fmt: skip
            fraction, jitter = _report_block(ended.media)
            out.append(measured | {
                "event_id": f"{ended.media['event_id']}:rtcp",
                "packet_loss_ratio": fraction / 256, "jitter_ms": jitter / RTP_RATE * 1000,
            })  # fmt: skip
            out.append(measured | {
                "packet_loss_ratio": skipped / (media + skipped),
                "score": flaws_score(media, skipped), "score_kind": "freeswitch_flaws",
            })  # fmt: skip
        out.append(channels.closed(setup))
        return out

    # --- writing -------------------------------------------------------------------------

    def _created(self, setup: dict[str, Any]) -> bytes:
        """The leg's ``CHANNEL_CREATE``: the channel's headers
        (``switch_channel_event_set_basic_data``), no variables set yet."""
        at = seconds(setup["occurred_at"])
        body = self._header(at, "CHANNEL_CREATE", "switch_core_state_machine.c",
                            "switch_core_session_run")  # fmt: skip
        body |= {"Channel-State": "CS_INIT", "Channel-Call-State": "DOWN"}
        body |= self._channel(setup)
        return json.dumps(body, separators=(",", ":")).encode()

    def _refused(self, setup: dict[str, Any]) -> bytes:
        at = seconds(setup["occurred_at"])
        code = setup["sip_code"]
        cause, q850 = _REFUSALS.get(code, ("NORMAL_UNSPECIFIED", "31"))
        variables = {
            "start_uepoch": _micros(at), "answer_uepoch": "0", "answer_epoch": "0",
            "end_uepoch": _micros(at), "hangup_cause": cause, "hangup_cause_q850": q850,
            "sip_hangup_disposition": "send_refuse", "progressmsec": "0",
            "progress_mediamsec": "0",
        }  # fmt: skip
        if code not in _REFUSALS:
            variables["proto_specific_hangup_cause"] = f"sip:{code}"
        return self._fire(at, setup, cause, variables)

    def _hangup(self, ended: Hangup) -> bytes:
        setup, answered = ended.leg.setup, ended.leg.answered_at
        pdd = setup.get("post_dial_delay_ms")
        variables = {
            "start_uepoch": _micros(answered - (pdd or 0) / 1000),
            "answer_uepoch": _micros(answered),
            "answer_epoch": str(int(answered)),
            "end_uepoch": _micros(ended.at),
            "hangup_cause": "NORMAL_CLEARING",
            "hangup_cause_q850": "16",
            "sip_hangup_disposition": "recv_bye",
            "progressmsec": str(round(pdd)) if pdd is not None else "0",
            "progress_mediamsec": "0",
        }
        if ended.media is not None:
            media, skipped = _packets(ended)
            variables |= {
                "rtp_audio_in_media_packet_count": str(media),
                "rtp_audio_in_skip_packet_count": str(skipped),
                "rtp_audio_in_packet_count": str(media),
                "rtp_audio_in_media_bytes": str(media * 160),  # PCMU, 20 ms a packet
                "rtp_audio_in_mos": f"{flaws_score(media, skipped):.2f}",
            }
        return self._fire(ended.at, setup, "NORMAL_CLEARING", variables)

    def _rtcp(self, ended: Hangup) -> bytes:
        """The last RTCP receiver report FreeSWITCH got on the leg, just before its hang-up
        (``RECV_RTCP_MESSAGE``, ``switch_rtp.c``): the report block's fraction lost in
        256ths and its interarrival jitter in RTP timestamp units."""
        assert ended.media is not None
        fraction, jitter = _report_block(ended.media)
        body = self._header(ended.at, "RECV_RTCP_MESSAGE", "switch_rtp.c", "process_rtcp_report")
        body |= {
            "Unique-ID": self._channel(ended.leg.setup)["Unique-ID"],
            "SSRC": "6f3a2b1c",
            "RTP-Rate": str(RTP_RATE),
            "Source0-SSRC": "0a1b2c3d",
            "Source0-Fraction": str(fraction),
            "Source0-Jitter": str(jitter),
        }
        return json.dumps(body, separators=(",", ":")).encode()

    def _gateway(self, status: dict[str, Any]) -> list[bytes]:
        at = seconds(status["occurred_at"])
        gateway = status["trunk_id"]
        if status["state"] == "up":
            return [self._custom(at, {"Gateway": gateway, "State": "REGED", "Ping-Status": "UP"})]
        return [
            self._custom(at, {
                "Gateway": gateway, "State": "FAILED", "Ping-Status": "UP", "Status": "503",
                "Phrase": "Service Unavailable",
            }),
            self._custom(at, {"Gateway": gateway, "State": "FAIL_WAIT", "Ping-Status": "DOWN"}),
        ]  # fmt: skip

    def _custom(self, at: float, headers: dict[str, str]) -> bytes:
        """A ``sofia::gateway_state`` event with ``headers``."""
        body = self._header(
            at, "CUSTOM", "sofia_reg.c", "sofia_reg_fire_custom_gateway_state_event"
        )
        body |= {"Event-Subclass": "sofia::gateway_state", **headers}
        return json.dumps(body, separators=(",", ":")).encode()

    def _header(self, at: float, name: str, file: str, function: str) -> dict[str, str]:
        """The headers every event starts with (switch_event_prep_for_delivery)."""
        self._sequence += 1
        when = datetime.fromtimestamp(at, UTC)
        return {
            "Event-Name": name,
            "Core-UUID": self._core,
            "FreeSWITCH-Hostname": self.hostname,
            "FreeSWITCH-Switchname": self.hostname,
            "Event-Date-Local": when.strftime("%Y-%m-%d %H:%M:%S"),
            "Event-Date-GMT": when.strftime("%a, %d %b %Y %H:%M:%S GMT"),
            "Event-Date-Timestamp": _micros(at),
            "Event-Calling-File": file,
            "Event-Calling-Function": function,
            "Event-Sequence": str(self._sequence),
        }

    def _fire(
        self, at: float, setup: dict[str, Any], cause: str, variables: dict[str, str]
    ) -> bytes:
        body = self._header(
            at,
            "CHANNEL_HANGUP_COMPLETE",
            "switch_core_state_machine.c",
            "switch_core_session_reporting_state",
        )
        leg = self._channel(setup)
        body |= {
            "Hangup-Cause": cause,
            "Channel-State": "CS_REPORTING",
            "Channel-Call-State": "HANGUP",
            **leg,
            "variable_uuid": leg["Unique-ID"],
            "variable_direction": "inbound",
            "variable_channel_name": leg["Channel-Name"],
            "variable_sip_profile_name": setup["trunk_id"],
        }
        body |= {f"variable_{name}": value for name, value in variables.items()}
        return json.dumps(body, separators=(",", ":")).encode()

    def _channel(self, setup: dict[str, Any]) -> dict[str, str]:
        """The headers naming the leg of ``setup``, the same in each of its events."""
        leg = uuid.uuid5(_NAMESPACE, f"{self.hostname}|{setup.get('call_id') or setup['event_id']}")
        caller = f"+4420{leg.int % 10_000_000:07d}"
        return {
            "Channel-Name": f"sofia/{setup['trunk_id']}/{caller}",
            "Unique-ID": str(leg),
            "Call-Direction": "inbound",
        }


def _report_block(media: Mapping[str, Any]) -> tuple[int, int]:
    """The simulated loss and jitter as an RTCP report block holds them (RFC 3550 6.4.1):
    the fraction lost in 256ths (at most 255), the jitter in timestamp units."""
    loss = media.get("packet_loss_ratio") or 0.0
    jitter_ms = media.get("jitter_ms") or 0.0
    return min(255, round(loss * 256)), round(jitter_ms / 1000 * RTP_RATE)


def _packets(ended: Hangup) -> tuple[int, int]:
    assert ended.media is not None
    loss = ended.media.get("packet_loss_ratio") or 0.0
    return packets(loss, ended.at - ended.leg.answered_at)


def _micros(at: float) -> str:
    return str(round(at * 1_000_000))
