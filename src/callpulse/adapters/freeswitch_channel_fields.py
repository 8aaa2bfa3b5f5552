"""What a FreeSWITCH channel record says of its leg, each field read as the FreeSWITCH source
writes it (github.com/signalwire/freeswitch), every number checked before it is used.

- **Trunk** (``trunk``): ``sip_gateway_name`` (set on a leg sent through a gateway,
  ``mod_sofia.c``), else the SIP profile in ``Channel-Name`` (``sofia/<profile>/...``).
- **Final SIP code** (``final_code``): an answered leg (``answer_uepoch`` > 0) had a 2xx;
  an unanswered leg's code is, in this order, ``sip_term_status`` (the final response
  received, ``sofia.c``), ``sip_invite_failure_status``, ``proto_specific_hangup_cause``
  (``sip:487``), ``last_bridge_proto_specific_hangup_cause`` (the other leg's code, which
  mod_sofia answers an inbound leg with when it has one), and only then ``hangup_cause``
  mapped as mod_sofia maps it to the response it sends (``hangup_cause_to_sip`` in
  ``mod_sofia.c``, after RFC 4497 §8.4.1; 480 for a cause it does not list).
- **Post-dial delay** (``post_dial_delay_ms``): ``progressmsec`` (to a 180) and
  ``progress_mediamsec`` (to a 183), milliseconds from the leg's creation. A leg can have
  both (a 183 then a 180): the earlier non-zero one is the delay; adding them would count
  the wait twice.
- **Media at hangup** (``hangup_media``), answered legs only, what FreeSWITCH received
  (``switch_core_media.c``, ``rtp_audio_in_*``): loss is ``skip_packet_count`` (the packets
  the timer had to make up for, ``switch_rtp.c``) over ``media_packet_count +
  skip_packet_count``; ``rtp_audio_in_mos`` is FreeSWITCH's score of flawed packets
  (``do_mos``: 1 + 0.035 R + 7e-6 R (R - 60)(100 - R), R the share of unflawed packets, 4.5
  when none is), a ``freeswitch_flaws`` score and no E-model MOS. The
  ``jitter_*_variance`` fields are variances in ms², not RFC 3550 jitter: not read.
- **RTCP** (``rtcp_media``): a ``RECV_RTCP_MESSAGE`` carries the far end's report blocks
  (``switch_core_media.c``): ``Source0-Fraction`` (lost / expected, in 256ths, RFC 3550
  §6.4.1) and ``Source0-Jitter`` (RTP timestamp units, made milliseconds with ``RTP-Rate``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from callpulse.adapters.base import LAST_INSTANT, AdapterError
from callpulse.adapters.bounds import checked_name, non_negative, shown, sip_status
from callpulse.adapters.freeswitch_channel_records import FORMAT, ChannelRecord
from callpulse.core.events import SCORE_RANGES

MAX_COUNT = 2**64 - 1  # switch_size_t: a packet counter cannot exceed it
MAX_PDD_MS = 3_600_000.0  # an hour: no INVITE transaction waits that long for a 180
_DIGITS = re.compile(r"[0-9]{1,20}")
_CAUSE = re.compile(r"[A-Z][A-Z0-9_]{0,63}")
_PROTO_CODE = re.compile(r"sips?:([0-9]{3})", re.IGNORECASE)
FLAWS_RANGE = SCORE_RANGES["freeswitch_flaws"]

# mod_sofia.c, hangup_cause_to_sip: the response mod_sofia sends for a cause.
CAUSE_TO_SIP = {
    "UNALLOCATED_NUMBER": 404, "NO_ROUTE_TRANSIT_NET": 404, "NO_ROUTE_DESTINATION": 404,
    "USER_BUSY": 486, "NO_USER_RESPONSE": 408, "NO_ANSWER": 480, "SUBSCRIBER_ABSENT": 480,
    "CALL_REJECTED": 603, "NUMBER_CHANGED": 410, "REDIRECTION_TO_NEW_DESTINATION": 410,
    "DESTINATION_OUT_OF_ORDER": 502, "INVALID_PROFILE": 502, "INVALID_NUMBER_FORMAT": 484,
    "INVALID_URL": 484, "INVALID_GATEWAY": 484, "FACILITY_REJECTED": 501,
    "NORMAL_UNSPECIFIED": 480, "REQUESTED_CHAN_UNAVAIL": 503, "NORMAL_CIRCUIT_CONGESTION": 503,
    "NETWORK_OUT_OF_ORDER": 503, "NORMAL_TEMPORARY_FAILURE": 503, "SWITCH_CONGESTION": 503,
    "GATEWAY_DOWN": 503, "OUTGOING_CALL_BARRED": 403, "INCOMING_CALL_BARRED": 403,
    "BEARERCAPABILITY_NOTAUTH": 403, "BEARERCAPABILITY_NOTAVAIL": 503,
    "BEARERCAPABILITY_NOTIMPL": 488, "INCOMPATIBLE_DESTINATION": 488,
    "FACILITY_NOT_IMPLEMENTED": 501, "SERVICE_NOT_IMPLEMENTED": 501,
    "RECOVERY_ON_TIMER_EXPIRE": 504, "ORIGINATOR_CANCEL": 487, "EXCHANGE_ROUTING_ERROR": 483,
    "BUSY_EVERYWHERE": 600, "DECLINE": 603, "REJECT_ALL": 603, "DOES_NOT_EXIST_ANYWHERE": 604,
    "NOT_ACCEPTABLE": 606, "UNWANTED": 607, "NO_IDENTITY": 428, "BAD_IDENTITY_INFO": 429,
    "UNSUPPORTED_CERTIFICATE": 437, "INVALID_IDENTITY": 438, "STALE_DATE": 403,
}  # fmt: skip
CAUSE_DEFAULT = 480  # hangup_cause_to_sip's default


@dataclass(frozen=True, slots=True)
class Media:
    """What a leg's record says of the media FreeSWITCH received on it."""

    packet_loss_ratio: float | None = None
    jitter_ms: float | None = None
    score: float | None = None  # a freeswitch_flaws score

    @property
    def measured(self) -> bool:
        """Whether it holds any measure at all."""
        return (self.packet_loss_ratio, self.jitter_ms, self.score) != (None, None, None)


def when(rec: ChannelRecord) -> float:
    """The record's time (epoch seconds): the event's ``Event-Date-Timestamp``, or for a CDR
    the leg's end (``end_uepoch``)."""
    micros = rec.header("Event-Date-Timestamp")
    name = "Event-Date-Timestamp"
    if micros is None:
        micros, name = rec.variable("end_uepoch"), "end_uepoch"
    if micros is None:
        raise AdapterError(FORMAT, "no time: neither Event-Date-Timestamp nor end_uepoch")
    at = non_negative(FORMAT, micros, name) / 1e6
    if at > LAST_INSTANT:
        raise AdapterError(FORMAT, f"{name} ({shown(micros)}) is after the year 9999")
    return at


def leg_id(rec: ChannelRecord) -> str:
    """The leg's UUID: ``Unique-ID``, or a CDR's ``uuid`` variable."""
    value = rec.header("Unique-ID") or rec.variable("uuid")
    if value is None:
        raise AdapterError(FORMAT, "no Unique-ID (nor uuid variable): which leg is it?")
    return checked_name(FORMAT, value, "Unique-ID")


def trunk(rec: ChannelRecord) -> str | None:
    """The leg's trunk: its gateway, else its SIP profile; None for a leg that is not SIP
    (``loopback/...``, ``user/...`` resolved elsewhere)."""
    gateway = rec.variable("sip_gateway_name")
    if gateway is not None:
        return checked_name(FORMAT, gateway, "sip_gateway_name")
    channel = rec.header("Channel-Name") or rec.variable("channel_name")
    if channel is None:
        return None
    tech, _, rest = channel.partition("/")
    profile = rest.partition("/")[0]
    if tech != "sofia" or not profile:
        return None
    return checked_name(FORMAT, profile, "the SIP profile in Channel-Name")


def answered(rec: ChannelRecord) -> bool:
    """Whether the leg was answered: ``answer_uepoch`` (else ``answer_epoch``) > 0."""
    for name in ("answer_uepoch", "answer_epoch"):
        value = rec.variable(name)
        if value is not None:
            return count(value, name) > 0
    return False


def final_code(rec: ChannelRecord, was_answered: bool) -> int:
    """The final response to the leg's INVITE (see the module's docstring)."""
    term = rec.variable("sip_term_status")
    term_code = None if term is None else sip_status(FORMAT, term, "sip_term_status", final=True)
    if was_answered:
        return term_code if term_code is not None and 200 <= term_code < 300 else 200
    if term_code is not None:
        return term_code
    failure = rec.variable("sip_invite_failure_status")
    if failure is not None:
        return sip_status(FORMAT, failure, "sip_invite_failure_status", final=True)
    for name in ("proto_specific_hangup_cause", "last_bridge_proto_specific_hangup_cause"):
        value = rec.variable(name)
        found = None if value is None else _PROTO_CODE.fullmatch(value)
        if found is not None:
            return sip_status(FORMAT, found.group(1), name, final=True)
    cause = rec.variable("hangup_cause") or rec.header("Hangup-Cause")
    if cause is None:
        raise AdapterError(FORMAT, "an unanswered leg with no SIP code and no hangup_cause")
    if not _CAUSE.fullmatch(cause):
        raise AdapterError(FORMAT, f"hangup_cause is no FreeSWITCH cause name: {shown(cause)}")
    return CAUSE_TO_SIP.get(cause, CAUSE_DEFAULT)


def post_dial_delay_ms(rec: ChannelRecord) -> float | None:
    """The earlier non-zero of ``progressmsec`` and ``progress_mediamsec``; None if neither."""
    found = []
    for name in ("progressmsec", "progress_mediamsec"):
        value = rec.variable(name)
        if value is None:
            continue
        ms = non_negative(FORMAT, value, name)
        if ms > MAX_PDD_MS:
            raise AdapterError(FORMAT, f"{name} {shown(value)} is more than an hour")
        if ms > 0:
            found.append(ms)
    return min(found, default=None)


def hangup_media(rec: ChannelRecord) -> Media:
    """Loss and the flaws score of what FreeSWITCH received on the leg (no jitter)."""
    media = _count_of(rec, "rtp_audio_in_media_packet_count")
    skipped = _count_of(rec, "rtp_audio_in_skip_packet_count")
    loss = None
    if media is not None and skipped is not None and media + skipped > 0:
        loss = skipped / (media + skipped)
    score = None
    text = rec.variable("rtp_audio_in_mos")
    # No packet received: the score is its starting 4.5, which says nothing.
    if text is not None and media:
        score = non_negative(FORMAT, text, "rtp_audio_in_mos")
        low, high = FLAWS_RANGE
        if not low <= score <= high:
            raise AdapterError(
                FORMAT, f"rtp_audio_in_mos {shown(text)} is outside FreeSWITCH's {low}-{high}"
            )
    return Media(packet_loss_ratio=loss, score=score)


def rtcp_media(rec: ChannelRecord) -> Media | None:
    """Loss and jitter from the first report block of a ``RECV_RTCP_MESSAGE``; None if it
    has no report block (a sender report of a party that receives nothing)."""
    fraction = rec.header("Source0-Fraction")
    if fraction is None:
        return None
    lost = count(fraction, "Source0-Fraction")
    if lost > 255:
        raise AdapterError(FORMAT, f"Source0-Fraction is 0-255 (256ths): {shown(fraction)}")
    jitter_ms = None
    jitter, rate = rec.header("Source0-Jitter"), rec.header("RTP-Rate")
    if jitter is not None and rate is not None:
        units, hertz = count(jitter, "Source0-Jitter"), count(rate, "RTP-Rate")
        if units > 2**32 - 1:
            raise AdapterError(FORMAT, f"Source0-Jitter is a 32-bit count: {shown(jitter)}")
        if hertz > 0:
            jitter_ms = units / hertz * 1000
    return Media(packet_loss_ratio=lost / 256, jitter_ms=jitter_ms)


def count(text: str, what: str) -> int:
    """``text`` as a whole number a FreeSWITCH counter can hold (0 to 2**64 - 1)."""
    if not _DIGITS.fullmatch(text) or int(text) > MAX_COUNT:
        raise AdapterError(FORMAT, f"{what} must be a whole number >= 0: {shown(text)}")
    return int(text)


def _count_of(rec: ChannelRecord, name: str) -> int | None:
    value = rec.variable(name)
    return None if value is None else count(value, name)
