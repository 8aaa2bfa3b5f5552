"""The simulator's call setups written as Asterisk's ``cdr_csv`` writes ``Master.csv``. The
inverse of ``callpulse.adapters.asterisk_cdr`` (docs/adapters-asterisk-cdr.md), as far as
the simulated traffic allows.

The simulator's callers are the carrier's calls into the contact center. Asterisk writes
such a call's CDR with the trunk as the calling channel (``channel``
``PJSIP/<trunk>-<sequence>``, party A) and the PBX's own next step as the dialled one
(here none: the call is answered by the dialplan, the IVR, so ``dstchannel`` is empty).
So each answered setup is one row, ``ANSWERED``, with the trunk in ``channel``. A setup the
trunk refused (503 when it is down, 486 when it is full) leaves no CDR at all: the carrier's
INVITE never became a channel.

That is all a CDR can say of these calls, and it is not a setup on a trunk: the adapter
counts only rows whose *dialled* channel is a trunk (the PBX's own calls out), and counts
these in ``ignored`` as ``inbound``. So the format carries none of the simulated setups
(``as_kept`` keeps none): the trunk KPIs and alerts of inbound traffic need CEL or AMI.

Times are whole seconds (``%Y-%m-%d %T``, in UTC as with ``usegmtime``). The simulator
says when the trunk answered, not when the call ended, so a row is written at the answer
with ``end`` at the answer too (``duration`` and ``billsec`` 0); Asterisk writes it at the
hang-up with the call's length. The adapter reads none of those fields for an inbound row.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any

from callpulse.adapters.cdr_rows import FORMAT, MASTER_CSV

_BARE = frozenset({"duration", "billsec"})


class AsteriskCdrEmitter:
    """An Emitter writing one site's ``Master.csv`` rows (``loguniqueid`` on: 17 columns)."""

    format = FORMAT
    carries = frozenset({"call.setup"})
    merges: Mapping[str, str] = MappingProxyType({})
    acw_carried = True  # the queues stay events v1: nothing of theirs is lost
    whole_seconds = True  # cdr_csv writes %Y-%m-%d %T
    adapter_options: Mapping[str, Any] = MappingProxyType({})
    watches: frozenset[str] = frozenset()

    def __init__(self) -> None:
        self._channels = 0  # Asterisk's channel sequence, the -<hex> suffix of a name

    def emit(self, event: Mapping[str, Any]) -> list[bytes]:
        """The CDR row of an answered setup; none for a refused one (no channel existed)."""
        if not 200 <= int(event["sip_code"]) < 300:
            return []
        at = datetime.fromisoformat(event["occurred_at"]).astimezone(UTC)
        when = at.strftime("%Y-%m-%d %H:%M:%S")
        self._channels += 1
        caller = f"+4420{self._channels % 10_000_000:07d}"
        row = {
            "accountcode": "", "src": caller, "dst": "s", "dcontext": "from-trunk",
            "clid": f'"" <{caller}>', "channel": f"PJSIP/{event['trunk_id']}-{self._channels:08x}",
            "dstchannel": "", "lastapp": "BackGround", "lastdata": "custom/welcome",
            "start": when, "answer": when, "end": when, "duration": "0", "billsec": "0",
            "disposition": "ANSWERED", "amaflags": "DOCUMENTATION",
            "uniqueid": f"{int(at.timestamp())}.{self._channels}",
        }  # fmt: skip
        # cdr_csv.c quotes every string (doubling a quote inside) and date; append_int
        # writes duration and billsec bare.
        text = ",".join(
            row[name] if name in _BARE else '"' + row[name].replace('"', '""') + '"'
            for name in MASTER_CSV[:17]
        )
        return [text.encode()]

    def as_kept(self, event: dict[str, Any]) -> list[dict[str, Any]]:
        """No setup: a CDR holds none of a call the carrier brought in (above)."""
        return [] if event.get("type") == "call.setup" else [event]
