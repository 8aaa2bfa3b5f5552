"""Hints in ``replay --report`` about options that would name things better.

A platform that writes only ids (an ARN's last segment, a TaskQueue SID) gives the report a
table of UUIDs; the format's ``queue_names`` and ``agent_names`` map them to names, and the
report says so when it shows ids.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from callpulse.protocols import Adapter
from callpulse.text import plain

_RAW_IDS = (
    (re.compile(r"arn:aws[a-z-]*:\S+"), "ARNs"),
    (re.compile(r"(WQ|WK|WS|WW|WT|WA|WR)[0-9a-f]{32}"), "Twilio SIDs"),
    (re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", re.I), "UUIDs"),
)
_CONFIG = "source.replay.format"


def raw_id(name: str) -> str | None:
    """What kind of platform id ``name`` is (ARNs, Twilio SIDs, UUIDs), or None."""
    for pattern, kind in _RAW_IDS:
        if pattern.fullmatch(name):
            return kind
    return None


def names(queues: Iterable[str], agent: str | None, fmt: str) -> list[str]:
    """A hint for queue names that are ids (the first one shown), and one for ``agent``, an
    agent id the file gave, if it is one; none for events v1, which has no such option."""
    out: list[str] = []
    if fmt == "events-v1":
        return out
    for option, thing, name in (
        ("queue_names", "queue names", next((q for q in sorted(queues) if raw_id(q)), None)),
        ("agent_names", "agent ids", agent if agent and raw_id(agent) else None),
    ):
        if name is not None:
            out.append(
                f"{thing} such as {plain(name)} are {raw_id(name)}: name them with "
                f"{option} in the config's {_CONFIG} (-c; docs/adapters-{fmt}.md)"
            )
    return out


def from_adapter(adapter: Adapter, limit: int = 5) -> list[str]:
    """Hints ``adapter`` has from what it read: the queue_log adapter's numbers seen under
    several agent interfaces (one person counted as several agents), at most ``limit``."""
    split = getattr(adapter, "split_agents", None)
    if split is None:
        return []
    numbers: dict[str, tuple[str, ...]] = split()
    if not numbers:
        return []
    shown = sorted(numbers)[:limit]
    more = f" and {len(numbers) - limit} more" if len(numbers) > limit else ""
    example = ", ".join(plain(i) for i in numbers[shown[0]])
    return [
        f"{len(numbers)} agent number(s) appear under several interfaces "
        f"({', '.join(plain(n) for n in shown)}{more}; {plain(shown[0])} as {example}), each "
        f"counted as more than one agent: set agent_identity: by_number (or agent_aliases) "
        f"in the config's {_CONFIG} (-c; docs/adapters-{adapter.format}.md)"
    ]
