"""Which simulated caller's leg ends when, as FreeSWITCH would see it: the state the
``freeswitch-channel`` emitter (and the reference it is compared with) keeps between a leg's
answer and its hang-up.

The simulator says when the trunk answered a caller (``call.setup`` 200) and, later, why the
call ended: the caller hung up after talking to an agent (``media.quality``, written at that
hang-up), gave up in the queue (``call.abandoned``, ``call.callback_requested``), or the IVR
finished with the caller (``ivr.session_ended`` contained or hung up; the IVR session names
its call in ``ivr.session_started``). A transfer to a queue does not end the leg.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

# FreeSWITCH's RTP clock for narrowband audio: a packet every 20 ms.
PACKETS_PER_SECOND = 50
_GIVING_UP = frozenset({"call.abandoned", "call.callback_requested"})
WATCHED = frozenset({"ivr.session_started", "ivr.session_ended", *_GIVING_UP})


@dataclass(slots=True)
class Leg:
    """A caller's answered leg, until its hang-up."""

    setup: dict[str, Any]  # the call.setup that answered it
    answered_at: float


@dataclass(frozen=True, slots=True)
class Hangup:
    """A leg's end: when, and the media.quality the simulator measured on it, if any."""

    leg: Leg
    at: float
    occurred_at: str
    media: dict[str, Any] | None


class Legs:
    """Answered legs by call, and which IVR session is whose call."""

    def __init__(self) -> None:
        self._legs: dict[str, Leg] = {}
        self._sessions: dict[str, str] = {}  # IVR session -> its call

    def answered(self, setup: dict[str, Any]) -> None:
        """Remember an answered setup's leg (a setup with no call id names no leg to end)."""
        call = setup.get("call_id")
        if call is not None:
            self._legs[call] = Leg(setup, seconds(setup["occurred_at"]))

    def ended(self, event: dict[str, Any]) -> Hangup | None:
        """The leg ``event`` ends, if it ends one."""
        kind = event["type"]
        if kind == "ivr.session_started" and event.get("call_id"):
            self._sessions[event["session_id"]] = event["call_id"]
            return None
        call = None
        if kind == "media.quality" or kind in _GIVING_UP:
            call = event.get("call_id")
        elif kind == "ivr.session_ended":
            call = self._sessions.pop(event["session_id"], None)
            if event.get("outcome") == "transferred":
                return None  # the caller goes on to a queue, on the same leg
        leg = self._legs.pop(call, None) if call is not None else None
        if leg is None:
            return None
        media = event if kind == "media.quality" else None
        return Hangup(leg, seconds(event["occurred_at"]), event["occurred_at"], media)


def packets(loss: float, talked: float) -> tuple[int, int]:
    """The packets FreeSWITCH received on a leg and the ones it had to make up for
    (``rtp_audio_in_media_packet_count``, ``..._skip_packet_count``) over ``talked``
    seconds with ``loss`` of them lost."""
    expected = max(1, round(talked * PACKETS_PER_SECOND))
    skipped = round(loss * expected)
    return expected - skipped, skipped


def flaws_score(media: int, skipped: int) -> float:
    """FreeSWITCH's own score of a leg from its flawed packets (``switch_rtp.c``, do_mos):
    1 + 0.035 R + 7e-6 R (R - 60)(100 - R), R the share of good packets in percent; 4.5
    with none flawed. Written with two decimals, as ``rtp_audio_in_mos`` is."""
    r = 100.0 * media / (media + skipped) if media + skipped else 100.0
    return round(1 + 0.035 * r + 7e-6 * r * (r - 60) * (100 - r), 2)


def seconds(occurred_at: str) -> float:
    """An events-v1 time as epoch seconds."""
    return datetime.fromisoformat(occurred_at).timestamp()
