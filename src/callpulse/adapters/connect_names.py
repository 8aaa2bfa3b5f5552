"""The names Amazon Connect's agents and queues are reported by.

Identity is the ARN's last segment (the agent's or queue's id), stable across the three
streams, which name things differently (contact events give only ARNs); what events v1 are
told is a name. With ``agent_names`` / ``queue_names``, it is the map's. Without a map, it is
the name the streams carry (:class:`LearnedNames`): a queue's ``Name`` (contact records,
agent events' routing profiles), an agent's ``Username`` (its agent events, contact
records), learned once per id and kept; until one is seen, the id.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping
from typing import Any

from callpulse.adapters.base import AdapterError
from callpulse.adapters.bounds import checked_name, digest
from callpulse.adapters.connect_fields import FORMAT, id_of


class ConnectNames:
    """An instance's agents and queues by name: the configured maps (ARN or id -> name),
    else the names learned from the streams, at most ``limit`` of each kind."""

    def __init__(
        self, agent_names: Mapping[str, str], queue_names: Mapping[str, str], limit: int
    ) -> None:
        self._agent_names, self._queue_names = agent_names, queue_names
        self._agents = LearnedNames(not agent_names, limit)
        self._queues = LearnedNames(not queue_names, limit)

    def agent(self, arn: str, what: str, name: Any = None) -> str:
        """The agent of ``arn`` (``what`` says which field held it), learning ``name``."""
        return _named(arn, self._agent_names, self._agents, name, what)

    def queue(self, arn: str, what: str, name: Any = None) -> str:
        """The queue of ``arn`` (``what`` says which field held it), learning ``name``."""
        return _named(arn, self._queue_names, self._queues, name, what)

    def mapped(self, queue_arn: str) -> bool:
        """Whether the queue map names ``queue_arn`` (or its id)."""
        names = self._queue_names
        return queue_arn in names or id_of(queue_arn, "queue ARN") in names

    def fill(self) -> dict[str, float]:
        """How full the names learned are, by kind, 0 to 1."""
        return {"agent_names": self._agents.fill(), "queue_names": self._queues.fill()}


def _named(arn: str, names: Mapping[str, str], learned: LearnedNames, name: Any, what: str) -> str:
    """The configured name for an ARN (or its id), else the name the streams gave the id
    (``name``, if this record carries one), else the id."""
    last = arn.rstrip("/").rsplit("/", 1)[-1]
    configured = names.get(arn) or names.get(last)
    if configured:
        return configured
    ident = id_of(arn, what)
    return learned.name(ident, name)


class LearnedNames:
    """The names the streams give ids (a queue's ``Name``, an agent's ``Username``), when
    no map is configured: the first name seen for an id is kept (so a series does not move
    under a rename), a name another id already has is not taken (two queues stay two), and
    a name the decoder would refuse is not used. Bounded: past ``limit`` ids the oldest is
    forgotten."""

    def __init__(self, enabled: bool, limit: int) -> None:
        self.enabled = enabled
        self._limit = limit
        self._by_id: OrderedDict[bytes, str] = OrderedDict()  # by the id's digest
        self._taken: dict[str, bytes] = {}  # name -> the digest of its id

    def name(self, ident: str, seen: Any) -> str:
        """``ident``'s name (learning ``seen``, a name a record gives it), else ``ident``."""
        if not self.enabled:
            return ident
        key = digest(ident)
        known = self._by_id.get(key)
        if known is not None:
            return known
        if not isinstance(seen, str) or not seen.strip() or seen.strip() in self._taken:
            return ident
        try:
            label = checked_name(FORMAT, seen.strip(), "name")
        except AdapterError:
            return ident  # a name is for people; the id still says which queue it is
        if len(self._by_id) >= self._limit:
            _, forgotten = self._by_id.popitem(last=False)
            del self._taken[forgotten]
        self._by_id[key], self._taken[label] = label, key
        return label

    def fill(self) -> float:
        """How full it is, 0 to 1."""
        return len(self._by_id) / self._limit
