"""FreeSWITCH channel records (a leg's hangup, RTCP reports) and gateway states to events
v1: call setups with their final SIP code and post-dial delay per trunk, media quality per
leg, and whether each gateway (a carrier trunk) is up.

A record is one of (:mod:`.freeswitch_channel_records` reads each form):

- a ``CHANNEL_HANGUP_COMPLETE`` event, as JSON (``event json``) or plain ESL text, or a
  ``mod_json_cdr`` document: one per leg, at its hangup. It yields a ``call.setup`` for a
  SIP leg (its trunk, final code and post-dial delay) and, if the leg was answered and
  received media, a ``media.quality`` with its loss and FreeSWITCH's flaws score
  (``score_kind`` ``freeswitch_flaws``, never ``mos``). How each field is read:
  :mod:`.freeswitch_channel_fields`.
- a ``RECV_RTCP_MESSAGE`` event: a ``media.quality`` with RFC 3550 loss and jitter, mid-call.
  It names only the leg (``Unique-ID``), so its trunk is the one an earlier channel event of
  that leg named (``CHANNEL_CREATE``, ``CHANNEL_ANSWER``...: the bridge subscribes to them);
  a report on a leg no event named is counted, not guessed.
- a ``sofia::gateway_state`` event (a CUSTOM event): a ``trunk.status`` with the gateway's
  ``state``, up or down (:mod:`.freeswitch_gateway_state` says which headers mean which),
  the trunk named as a leg through the gateway names it (``sip_gateway_name``), and no
  ``channels_in_use``: the state says nothing of the calls, which the legs count (below).
  An event that says neither up nor down (a registration under way, a state FreeSWITCH
  never writes) is counted in ``ignored``.

Every event of a record is stamped with the record's time: a setup counts when its leg
ends. Stamping an answered setup at its answer would put a long call's 200 behind the
windows (the record comes at hangup) while its failures arrive at once, and the ASR would
fall for no reason.

Channels in use per trunk (:mod:`.trunk_channels`): a leg counts on its trunk from its
``CHANNEL_CREATE`` (the INVITE: a ringing channel holds a carrier's channel as an answered
one does) to its ``CHANNEL_HANGUP_COMPLETE`` (or ``CHANNEL_DESTROY``), each change a
``trunk.status`` with ``channels_in_use``. The leg stays on the trunk its create named: a
create written before the gateway was chosen names the profile, and its hangup the gateway;
counting the hangup on the gateway would leave the profile's channel held. A hangup of a leg
whose create was not read (mod_json_cdr alone, a leg older than the adapter) changes no
count: records at hangup alone cannot give a live count (docs/metrics.md).

What the records cannot carry: an E-model MOS, and jitter at hangup (only RTCP gives it);
the trunk of a leg that is not SIP (``loopback/...``): its hangup is counted and yields
nothing. Sources: ``switch_event.c``, ``switch_core_media.c``, ``switch_rtp.c``,
``mod_sofia.c``, ``sofia.c``, ``mod_json_cdr.c`` (github.com/signalwire/freeswitch).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from callpulse.adapters import freeswitch_channel_fields as fields
from callpulse.adapters import freeswitch_gateway_state as gateways
from callpulse.adapters.base import V1, Writer
from callpulse.adapters.bounds import Ignored, digest
from callpulse.adapters.freeswitch import IGNORED_KINDS as EVENT_NAMES
from callpulse.adapters.freeswitch_channel_records import FORMAT, ChannelRecord, read
from callpulse.adapters.trunk_channels import TrunkChannels

MAX_LEGS = 10_000  # legs whose trunk is kept for their RTCP reports, until their hangup
HANGUP = "CHANNEL_HANGUP_COMPLETE"
RTCP = "RECV_RTCP_MESSAGE"
CREATE = "CHANNEL_CREATE"  # a leg starts: it holds a channel of its trunk from now
NOT_SIP = f"{HANGUP}:not_sip"  # a leg on no SIP profile (loopback, ...): no trunk
UNKNOWN_LEG = f"{RTCP}:unknown_leg"  # a report on a leg no channel event named
NO_REPORT = f"{RTCP}:no_report"  # a sender report without a report block
_GONE = frozenset({HANGUP, "CHANNEL_DESTROY"})  # after these, no report on the leg follows

# FreeSWITCH's event names (switch_event.c), less the two read, and this adapter's own kinds.
IGNORED_KINDS = frozenset(
    {
        *(name for name in EVENT_NAMES if name.isupper()),
        *(NOT_SIP, UNKNOWN_LEG, NO_REPORT, gateways.UNKNOWN_STATE, gateways.REGISTERING),
    }
    - {HANGUP, RTCP}
)


@dataclass(frozen=True, slots=True)
class FreeSwitchChannelOptions:
    """How to read one site's channel records: the site is all they need."""

    site: str


class FreeSwitchChannel:
    """An Adapter for FreeSWITCH channel records, one event or CDR per record."""

    format = FORMAT

    def __init__(self, options: FreeSwitchChannelOptions) -> None:
        self.options = options
        self.ignored = Ignored(IGNORED_KINDS)
        # Legs by the digest of their Unique-ID -> their trunk, for their RTCP reports.
        self._trunks: dict[bytes, str] = {}
        self.channels = TrunkChannels()

    def translate(self, record: bytes) -> list[V1]:
        """The events-v1 bodies one record stands for (none for a kind v1 has no use for,
        counted in ``ignored``). Raises AdapterError for a record it cannot read."""
        rec = read(record)
        name = "CHANNEL_HANGUP_COMPLETE" if rec.form == "json-cdr" else rec.header("Event-Name")
        if name == HANGUP:
            return self._hangup(record, rec)
        if name == RTCP:
            return self._rtcp(record, rec)
        if gateways.is_gateway_state(rec):
            return self._gateway(record, rec)
        events = self._count(record, rec, name or "")
        self._learn(rec)
        if not events:
            self.ignored.add(name or "")
        return events

    def flush(self, now: float) -> list[V1]:
        """A ``trunk.status`` for each trunk whose count fell as legs open for longer than
        a call lasts expired (their hangup was lost)."""
        out = Writer(
            f"{FORMAT}|expired|{self.options.site}|{now!r}".encode(), self.options.site, now
        )
        self.channels.expire(now, out)
        return out.events

    def fill(self) -> Mapping[str, float]:
        """How full the tables of legs are: those awaiting RTCP reports, those counted as
        channels in use."""
        return {"legs": len(self._trunks) / MAX_LEGS, "trunk_legs": self.channels.fill()}

    def _hangup(self, record: bytes, rec: ChannelRecord) -> list[V1]:
        leg, trunk = fields.leg_id(rec), fields.trunk(rec)
        site = self.options.site
        out = Writer(record, site, fields.when(rec))
        if trunk is None:
            self.ignored.add(NOT_SIP)
        else:
            was_answered = fields.answered(rec)
            setup: dict[str, Any] = {"trunk_id": trunk, "call_id": leg}
            setup["sip_code"] = fields.final_code(rec, was_answered)
            setup["post_dial_delay_ms"] = fields.post_dial_delay_ms(rec)
            media = fields.hangup_media(rec) if was_answered else fields.Media()
            # Ids from the leg, not the record's bytes: the same leg read as its hangup event
            # and as its mod_json_cdr document is one leg, and the ingest keeps it once.
            with out.revealed(f"{FORMAT}|hangup|{site}|{leg}", out.when):
                out.add("call.setup", **setup)
                if media.measured:
                    self._media(out, trunk, leg, media)
        # Read: only now is the leg forgotten (a rejected record leaves it as it was).
        self._trunks.pop(digest(leg), None)
        self.channels.close(leg, out)
        return out.events

    def _rtcp(self, record: bytes, rec: ChannelRecord) -> list[V1]:
        leg = fields.leg_id(rec)
        at = fields.when(rec)
        media = fields.rtcp_media(rec)
        trunk = self._trunks.get(digest(leg))
        if media is None:
            self.ignored.add(NO_REPORT)
            return []
        if trunk is None:
            self.ignored.add(UNKNOWN_LEG)
            return []
        out = Writer(record, self.options.site, at)
        self._media(out, trunk, leg, media)
        return out.events

    def _gateway(self, record: bytes, rec: ChannelRecord) -> list[V1]:
        """A gateway's reachability changed: a ``trunk.status`` with its state only (the
        trunk's count stands as the legs last said it, here or on another topic)."""
        trunk, state = gateways.gateway(rec), gateways.state(rec)
        if state not in ("up", "down"):
            self.ignored.add(state)
            return []
        out = Writer(record, self.options.site, fields.when(rec))
        out.add("trunk.status", trunk_id=trunk, state=state)
        return out.events

    def _count(self, record: bytes, rec: ChannelRecord, name: str) -> list[V1]:
        """A created leg opens a channel on its trunk; a destroyed one closes it."""
        if name not in (CREATE, "CHANNEL_DESTROY") or rec.header("Unique-ID") is None:
            return []
        leg = fields.leg_id(rec)
        out = Writer(record, self.options.site, fields.when(rec))
        if name == CREATE:
            trunk = fields.trunk(rec)
            if trunk is not None:
                self.channels.open(leg, trunk, out.when, out)
        else:
            self.channels.close(leg, out)
        return out.events

    def _learn(self, rec: ChannelRecord) -> None:
        """Keep the trunk a channel event names for its leg, for the leg's RTCP reports."""
        name = rec.header("Event-Name") or ""
        if not name.startswith("CHANNEL_") or rec.header("Unique-ID") is None:
            return
        key = digest(fields.leg_id(rec))
        if name in _GONE:
            self._trunks.pop(key, None)
            return
        trunk = fields.trunk(rec)
        if trunk is None or key in self._trunks:
            return
        if len(self._trunks) >= MAX_LEGS:  # the oldest leg goes: its hangup may never come
            del self._trunks[next(iter(self._trunks))]
        self._trunks[key] = trunk

    @staticmethod
    def _media(out: Writer, trunk: str, leg: str, media: fields.Media) -> None:
        measures: dict[str, Any] = {"trunk_id": trunk, "call_id": leg}
        if media.packet_loss_ratio is not None:
            measures["packet_loss_ratio"] = media.packet_loss_ratio
        if media.jitter_ms is not None:
            measures["jitter_ms"] = media.jitter_ms
        if media.score is not None:
            measures |= {"score": media.score, "score_kind": "freeswitch_flaws"}
        out.add("media.quality", **measures)
