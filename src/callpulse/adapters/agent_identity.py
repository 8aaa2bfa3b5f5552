"""Which agent a ``queue_log`` agent field names.

One person can appear under several interfaces: an AgentCallbackLogin agent is
``Local/1127@callback-agent`` in ADDMEMBER and ``Agent/1127`` in CONNECT; a phone moved
from chan_sip to chan_pjsip is ``SIP/1127`` then ``PJSIP/1127``. The agent is, in order:

1. ``agent_names[field]``, the field as written;
2. else the replacement of the first ``agent_aliases`` rule (a regular expression matching
   the whole field -> a replacement, ``\\1`` for a group);
3. else, with ``agent_identity: by_number``, the number of an interface ``Tech/N``,
   ``Tech/N@context`` or ``Local/N@context/n`` (``N`` whatever precedes the ``@``);
4. else the field as written.

Whatever the choice, it notes each number seen under interfaces that make different agents
(:meth:`AgentIdentity.split`), for a report to warn of one person counted as several.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Literal

from callpulse.adapters.base import AdapterError, entry
from callpulse.adapters.bounds import checked_name, digest, shown

FORMAT = "asterisk-queue-log"
MAX_NUMBERS = 10_000  # numbers whose interfaces are kept; the oldest forgotten past it
MAX_INTERFACES = 4  # per number: enough to show one number is several agents
# An interface noted is at most this long (Local/1127@callback-agent/n is 27): the table is
# diagnostics, and so holds a few MiB whatever a producer sends.
MAX_NOTED = 64
_INTERFACE = re.compile(r"[A-Za-z][A-Za-z0-9_]*/(?P<number>[^@/;]+)(?:@[^/]*)?(?:/n)?")
Identity = Literal["by_interface", "by_number"]


def number(field: str) -> str | None:
    """The number of an interface (``Local/1127@callback-agent`` -> ``1127``), or None."""
    match = _INTERFACE.fullmatch(field)
    return match["number"] if match else None


def rules(aliases: Mapping[str, str]) -> list[tuple[re.Pattern[str], str]]:
    """``agent_aliases`` compiled; raises ValueError naming the rule that is no regular
    expression."""
    compiled = []
    for pattern, replacement in aliases.items():
        try:
            compiled.append((re.compile(pattern), replacement))
        except re.error as exc:
            raise ValueError(
                f"agent_aliases: {pattern!r} is not a regular expression: {exc}"
            ) from None
    return compiled


class AgentIdentity:
    """Agent fields to agent names (module docstring), noting split numbers."""

    def __init__(
        self, identity: Identity, names: Mapping[str, str], aliases: Mapping[str, str]
    ) -> None:
        self.identity = identity
        self.names = names
        self.rules = rules(aliases)
        # number -> {interface as written: the agent it made, as a digest}, both bounded.
        self._seen: dict[str, dict[str, bytes]] = {}

    def agent(self, field: str) -> str:
        """The agent ``field`` (checked, not empty) names."""
        found = number(field)
        name = self._resolve(field, found)
        if found is not None and len(field) <= MAX_NOTED:
            seen, _ = entry(self._seen, found, dict, MAX_NUMBERS)
            if field in seen or len(seen) < MAX_INTERFACES:
                seen[field] = digest(name)
        return name

    def split(self) -> dict[str, tuple[str, ...]]:
        """Each number seen under interfaces that count as more than one agent -> those
        interfaces, sorted: ``{"1127": ("Agent/1127", "Local/1127@callback-agent")}``
        (``agent_identity: by_number`` or an ``agent_aliases`` rule makes them one)."""
        return {
            n: tuple(sorted(seen))
            for n, seen in sorted(self._seen.items())
            if len(set(seen.values())) > 1
        }

    def fill(self) -> float:
        """How full the table of numbers is, 0 to 1."""
        return len(self._seen) / MAX_NUMBERS

    def _resolve(self, field: str, found: str | None) -> str:
        if field in self.names:
            return self.names[field]
        for pattern, replacement in self.rules:
            match = pattern.fullmatch(field)
            if match:
                try:
                    made = match.expand(replacement)
                except (re.error, IndexError) as exc:
                    raise AdapterError(
                        FORMAT, f"agent_aliases rule {shown(pattern.pattern)}: {exc}"
                    ) from None
                if not made:
                    raise AdapterError(
                        FORMAT,
                        f"agent_aliases rule {shown(pattern.pattern)} makes {shown(field)} "
                        "an empty name",
                    )
                return checked_name(FORMAT, made, f"agent_aliases rule's name for {field}")
        if self.identity == "by_number" and found is not None:
            return found
        return field
