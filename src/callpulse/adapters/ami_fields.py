"""What the AMI events the ``asterisk-ami`` adapter reads say of a leg: its final code, and
the media Asterisk received on it. Every number is checked before it is used. Sources:
github.com/asterisk/asterisk (docs/adapters-asterisk-ami.md names the lines).

- **DialEnd** ``DialStatus`` (``main/dial.c``, ``apps/app_dial.c``): mapped through the CDR
  disposition it stands for, so that a dial reads the same in both adapters.
- **Q.850 cause** (``Hangup`` ``Cause``): to the SIP response of RFC 3398 §7.2.4.1's table.
- **RTPAUDIOQOS** (``main/rtp_engine.c``, ``ast_rtp_instance_get_quality``):
  ``ssrc;themssrc;lp;rxjitter;rxcount;txjitter;txcount;rlp;rtt[;rxmes;txmes]``. Its names
  are the far end's view for the jitter and the score: ``res_rtp_asterisk.c`` fills
  ``rxjitter`` and ``rxmes`` from what the far end *reported* (RTCP), and ``txjitter`` and
  ``txmes`` from what Asterisk measured on the packets it *received*. ``lp`` (rxploss) is
  what Asterisk lost of what it received, over ``rxcount`` received. Read here, one
  direction, what Asterisk received: loss ``lp / (rxcount + lp)``, jitter ``txjitter``,
  score ``txmes``; and ``rtt``. Times are seconds.
- **RTCPSent** (``main/rtp_engine.c``, ``rtcp_report_to_ami``): Asterisk's own report of
  what it received: ``Report0FractionLost`` (256ths, RFC 3550 §6.4.1) and ``MES``
  (``rtp->rxmes``). ``Report0IAJitter`` is in RTP timestamp units and the event names no
  clock rate, so it is not read.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from callpulse.adapters.ami_records import FORMAT, AmiEvent
from callpulse.adapters.asterisk_cdr import SIP_CODES
from callpulse.adapters.base import AdapterError
from callpulse.adapters.bounds import shown
from callpulse.core.events import SCORE_RANGES

# DialStatus -> the CDR disposition it stands for (whose SIP code asterisk_cdr chose).
DISPOSITION = {
    "ANSWER": "ANSWERED", "BUSY": "BUSY", "NOANSWER": "NO ANSWER", "CANCEL": "CANCEL",
    "CONGESTION": "CONGESTION", "CHANUNAVAIL": "FAILED",
}  # fmt: skip
# Statuses that say nothing of how the far end answered (the PBX's own decision).
NO_OUTCOME = frozenset({"ABORT", "CONTINUE", "FORWARDED", "DONTCALL", "TORTURE", "INVALIDARGS"})

# RFC 3398 §7.2.4.1, ISUP (Q.850) cause -> SIP response.
Q850_TO_SIP = {
    1: 404, 2: 404, 3: 404, 17: 486, 18: 408, 19: 480, 20: 480, 21: 403, 22: 410, 23: 410,
    26: 404, 27: 502, 28: 484, 29: 501, 31: 480, 34: 503, 38: 503, 41: 503, 42: 503, 47: 503,
    55: 403, 57: 403, 58: 503, 65: 488, 70: 488, 79: 501, 87: 403, 88: 503, 102: 504,
    111: 500, 127: 500,
}  # fmt: skip
CLEARING = 16  # normal clearing: before an answer, the caller gave up (a CANCEL)
CANCELLED = 487  # Request Terminated: what the PBX answers an INVITE its caller cancelled
UNLISTED = 500  # a cause RFC 3398's table does not list
MAX_JITTER_S = 10.0  # no jitter buffer holds seconds more: a larger value is garbage
MAX_RTT_S = 60.0
MAX_U32 = 2**32 - 1
_WRAPPED = 2**31  # an unsigned count at or past it is a negative difference that wrapped
_COUNT = re.compile(r"[0-9]{1,10}")
MES_RANGE = SCORE_RANGES["asterisk_mes"]


@dataclass(frozen=True, slots=True)
class Media:
    """What one AMI event says of the media Asterisk received on a leg."""

    packet_loss_ratio: float | None = None
    jitter_ms: float | None = None
    rtt_ms: float | None = None
    score: float | None = None  # an asterisk_mes score

    @property
    def measured(self) -> bool:
        """Whether it holds any measure at all."""
        return any(v is not None for v in (self.packet_loss_ratio, self.jitter_ms, self.score))


def dial_code(status: str) -> int | None:
    """The SIP code a DialEnd's ``DialStatus`` stands for; None for a status that is no
    outcome of the far end (:data:`NO_OUTCOME`); AdapterError for one Asterisk never writes."""
    if status in NO_OUTCOME:
        return None
    disposition = DISPOSITION.get(status)
    if disposition is None:
        raise AdapterError(
            FORMAT,
            f"DialStatus {shown(status)} is none of {', '.join([*DISPOSITION, *NO_OUTCOME])}",
        )
    return SIP_CODES[disposition]


def cause_code(text: str) -> int:
    """The SIP response for an unanswered leg's Q.850 ``Cause`` (see the module)."""
    if not _COUNT.fullmatch(text) or not 0 <= int(text) <= 127:
        raise AdapterError(FORMAT, f"Cause is no Q.850 cause (0-127): {shown(text)}")
    cause = int(text)
    if cause == CLEARING:
        return CANCELLED
    return Q850_TO_SIP.get(cause, UNLISTED)


def qos(value: str) -> Media:
    """The media an ``RTPAUDIOQOS`` value says Asterisk received; a measure whose numbers
    are missing, not finite, negative or beyond reason (``inf``, ``1e83``) is left out."""
    fields: dict[str, str] = {}
    for part in value.split(";")[:16]:
        name, _, number = part.partition("=")
        fields[name.strip()] = number.strip()
    lost, received = _count(fields.get("lp")), _count(fields.get("rxcount"))
    if not received:  # nothing received: nothing measured on it
        return Media()
    loss = None
    if lost is not None and lost < _WRAPPED:
        loss = lost / (lost + received)
    jitter = _seconds(fields.get("txjitter"), MAX_JITTER_S)
    rtt = _seconds(fields.get("rtt"), MAX_RTT_S)
    return Media(
        packet_loss_ratio=loss,
        jitter_ms=None if jitter is None else jitter * 1000,
        rtt_ms=None if rtt is None or rtt == 0 else rtt * 1000,  # 0: no RTCP round trip yet
        score=_mes(fields.get("txmes")),
    )


def rtcp_sent(event: AmiEvent) -> Media | None:
    """Loss and MES from an ``RTCPSent``'s first report block; None without one."""
    fraction = _count(event.get("Report0FractionLost"))
    if fraction is None or fraction > 255:
        return None
    return Media(packet_loss_ratio=fraction / 256, score=_mes(event.get("MES")))


def _count(text: str | None) -> int | None:
    if text is None or not _COUNT.fullmatch(text) or int(text) > MAX_U32:
        return None
    return int(text)


def _number(text: str | None) -> float | None:
    try:
        value = float(text) if text else math.nan
    except ValueError:
        return None
    return value if math.isfinite(value) and value >= 0 else None


def _seconds(text: str | None, most: float) -> float | None:
    value = _number(text)
    return value if value is not None and value <= most else None


def _mes(text: str | None) -> float | None:
    value = _number(text)
    low, high = MES_RANGE
    return value if value is not None and low <= value <= high else None
