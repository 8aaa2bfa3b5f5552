"""Asterisk CDRs to events v1: a ``call.setup`` per call the PBX placed on a trunk.

A CDR (one per party A / party B pair, ``main/cdr.c``) names the calling channel
(``channel``) and the dialled one (``dstchannel``), and ``disposition`` is the outcome of
that dial. So a row whose ``dstchannel`` is a trunk says how the trunk answered the PBX's
call: that is one setup on the trunk, its disposition mapped to the SIP final response code
that stands for it (:data:`SIP_CODES`; docs/adapters-asterisk-cdr.md says why each). A
row whose trunk is only the ``channel`` (a call the carrier brought in) says how the PBX's
own next dial went (an agent's phone, a queue), not how the carrier's call was set up: it
yields nothing, and is counted in ``ignored`` as ``inbound``.

What a CDR cannot carry: post-dial delay (no provisional response is recorded:
``post_dial_delay_ms`` stays empty), media quality (``RTPAUDIOQOS``, RTCP: :mod:`.asterisk_ami`),
and IVR sessions (``dcontext`` and ``lastapp`` are the last context and application only:
docs/adapters-asterisk-cdr.md).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from callpulse.adapters.base import V1, AdapterError, Writer
from callpulse.adapters.bounds import Ignored, checked_name, shown
from callpulse.adapters.cdr_rows import FORMAT, RowReader

# Disposition -> the SIP final code that stands for it in core/trunks.py's ratios.
SIP_CODES = {
    "ANSWERED": 200,  # 2xx: answered
    "BUSY": 486,  # Busy Here: the callee busy, network-effective (NER)
    "NO ANSWER": 480,  # Temporarily Unavailable (Q.850 19, no answer): effective
    "CANCEL": 480,  # the caller gave up while it rang: main/cdr.c writes it NO ANSWER
    "CONGESTION": 503,  # Service Unavailable (Q.850 34, no circuit): a network failure
    "FAILED": 500,  # channel unavailable, or congestion with cdr.conf congestion=no
}
IGNORED_KINDS = frozenset({"HEADER", "inbound", "no_trunk"})
# Channel technologies that are never a trunk: the PBX's own legs.
_INTERNAL = frozenset({
    "local", "agent", "parked", "bridge", "announcer", "recorder", "snoop", "cbann", "cbrec",
    "message", "multicastrtp", "unicastrtp", "audiosocket",
})  # fmt: skip


@dataclass(frozen=True, slots=True)
class AsteriskCdrOptions:
    """How to read one site's CDRs.

    ``trunks``: the peers that are trunks (``KTTK`` for ``SIP/KTTK-000009ae``); empty, every
    peer whose name is not only digits (phones are numbered by their extension, as in
    FreePBX; carriers and gateways are named). ``timezone``: the IANA zone of a time
    without an offset (``cdr_csv`` writes local time unless ``usegmtime``). ``columns``: a
    CSV export's header line, for a stream that does not start with it."""

    site: str
    trunks: list[str] = field(default_factory=list)
    timezone: str = "UTC"
    columns: str = ""


def peer(channel: str) -> tuple[str, str] | None:
    """A channel name's technology and peer (``SIP/KTTK-000009ae`` -> ``("SIP", "KTTK")``,
    ``DAHDI/i1/5551234-5`` -> ``("DAHDI", "i1")``); None for an empty name or one with no
    technology. The peer is what precedes the channel's ``-<sequence>`` suffix (a peer's
    own name may hold ``-``) and, for a Local channel, its ``;1``/``;2`` half."""
    name = channel.split("<", 1)[0]  # <ZOMBIE>, <MASQ>: a masqueraded channel's leftover
    tech, slash, rest = name.partition("/")
    if not slash or not tech or not rest:
        return None
    rest = rest.split(";", 1)[0]
    head, dash, tail = rest.rpartition("-")
    if dash and head and tail.isalnum():
        rest = head
    return tech, rest.split("/", 1)[0]


class AsteriskCdr:
    """An Adapter for Asterisk CDRs: one CDR (a CSV row or a JSON object) per record."""

    format = FORMAT

    def __init__(self, options: AsteriskCdrOptions) -> None:
        self.options = options
        self.ignored = Ignored(IGNORED_KINDS)
        self._trunks = frozenset(options.trunks)
        self._rows = RowReader(ZoneInfo(options.timezone), options.columns)

    def translate(self, record: bytes) -> list[V1]:
        """The events-v1 bodies one CDR stands for: a ``call.setup`` when the dialled
        channel is a trunk, else none (counted in ``ignored``). Raises AdapterError for a
        record it cannot read."""
        row = self._rows.read(record)
        if row is None:
            self.ignored.add("HEADER")
            return []
        code = SIP_CODES.get(row.disposition)
        if code is None:
            raise AdapterError(
                FORMAT, f"disposition {shown(row.disposition)} is none of "
                f"{', '.join(SIP_CODES)}",
            )  # fmt: skip
        trunk = self._trunk(row.dstchannel, "dstchannel")
        if trunk is None:
            self.ignored.add("inbound" if self._trunk(row.channel, "channel") else "no_trunk")
            return []
        # The attempt is over when the far end answered, or when it ended unanswered.
        when = row.answer if code == 200 and row.answer is not None else row.end
        out = Writer(record, self.options.site, when)
        call = checked_name(FORMAT, row.uniqueid, "uniqueid") if row.uniqueid else None
        out.add("call.setup", trunk_id=trunk, call_id=call, sip_code=code)
        return out.events

    def flush(self, now: float) -> list[V1]:
        """Nothing is ever due without a record: a CDR is written once the call is over."""
        return []

    def fill(self) -> Mapping[str, float]:
        """No cap to fill: the only state is the last header line, of at most 64 names."""
        return {}

    def _trunk(self, channel: str, what: str) -> str | None:
        """The trunk ``channel`` is on, or None when it is no trunk."""
        return trunk_of(FORMAT, channel, self._trunks, what)


def trunk_of(fmt: str, channel: str, trunks: frozenset[str], what: str) -> str | None:
    """The trunk ``channel`` (a channel name) is on, or None when it is no trunk: a peer of
    ``trunks`` or, when ``trunks`` is empty, any peer whose name is not only digits, on a
    technology that is not one of the PBX's own (Local, Agent...). The one rule every
    Asterisk adapter names trunks by (docs/adapters-asterisk-cdr.md, "Trunks")."""
    found = peer(channel)
    if found is None:
        return None
    tech, name = found
    if tech.lower() in _INTERNAL:
        return None
    return named_trunk(fmt, name, trunks, f"{what}'s peer")


def named_trunk(fmt: str, name: str, trunks: frozenset[str], what: str) -> str | None:
    """``name`` (a peer's or an endpoint's name, checked) if it is a trunk by the rule of
    :func:`trunk_of`, else None."""
    checked_name(fmt, name, what)
    trunk = name in trunks if trunks else not name.isdigit()
    return name if trunk else None
