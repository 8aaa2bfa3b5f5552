"""What every adapter shares: its error, and how it makes an events-v1 event (what an adapter
must offer, the ``Adapter`` Protocol, is in :mod:`callpulse.protocols`)."""

from __future__ import annotations

import hashlib
import heapq
import json
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from callpulse.core.event_checks import make
from callpulse.core.events import Event
from callpulse.core.ingest import MAX_DEPTH, DecodeError, too_deep
from callpulse.core.timefmt import instant

V1 = Event
T = TypeVar("T")
LAST_INSTANT = 253_402_300_799  # 9999-12-31T23:59:59Z: what RFC 3339 can write


class AdapterError(DecodeError):
    """A record the adapter cannot read. It goes to the dead-letter topic with the reason
    ``invalid_<format>`` and this message."""

    def __init__(self, fmt: str, message: str) -> None:
        super().__init__(f"invalid_{fmt}", message)


@dataclass(frozen=True, slots=True)
class Unreadable:
    """A document, or an entry of one, that could not be read: the detail of the
    AdapterError it stands for, for the adapter to reject only itself.

    The detail, not the error: an error kept past its ``except`` holds, through its
    traceback, the frames that kept it, and those frames hold it, so a refused record's
    bytes would wait in that cycle for the collector."""

    detail: str


class PartlyReadError(AdapterError):
    """A record holding several documents (a batch) of which some could not be read:
    ``events`` are what the others stand for, and the message names those not read."""

    def __init__(self, fmt: str, message: str, events: list[V1]) -> None:
        super().__init__(fmt, message)
        self.events = events


def batch_read(
    fmt: str, events: list[V1], failed: list[str], total: int, what: str, shown: int = 3
) -> list[V1]:
    """What a record of ``total`` documents (``what``: "documents", "log events") gave:
    ``events`` if none ``failed``; else PartlyReadError with them, naming the first
    ``shown`` failures, or AdapterError when every one failed."""
    if not failed:
        return events
    detail = f"{len(failed)} of {total} {what} not read: " + "; ".join(failed[:shown])
    if len(failed) == total:
        raise AdapterError(fmt, detail)
    raise PartlyReadError(fmt, detail, events)


def v1(record: bytes, index: int, event_type: str, when: float, site: str, **fields: Any) -> V1:
    """An event v1, its Struct's constraints checked as a producer's record would have them
    checked (:class:`~callpulse.core.event_checks.InvalidEventError` if one is broken). Its
    ``event_id`` is a hash of the platform record and the event's place among those it
    yields, so a record read twice (a restarted tail, a replayed topic) is de-duplicated like
    any other event. Its time is kept to the millisecond, as the adapters always wrote it."""
    if not 0 <= when <= LAST_INSTANT:
        raise ValueError(f"time {when!r} is out of range")
    digest = hashlib.blake2b(record, digest_size=12).hexdigest()
    return make(
        {
            "schema_version": 1,
            "event_id": f"{digest}-{index}",
            "type": event_type,
            "occurred_at": instant(when),
            "site": site,
            **fields,
        }
    )


def entry(table: dict[str, T], key: str, make: Callable[[], T], limit: int) -> tuple[T, T | None]:
    """``table[key]``, made by ``make`` if absent; adding past ``limit`` entries forgets the
    oldest first, as every tracker is bounded. Returns the entry and the one forgotten (for
    the caller to give back what it held), if any."""
    found = table.get(key)
    if found is not None:
        return found, None
    forgotten = table.pop(next(iter(table))) if len(table) >= limit else None
    made = table[key] = make()
    return made, forgotten


def parse_json(fmt: str, record: bytes | str, expected: str) -> Any:
    """``record`` as one JSON document; raises AdapterError (saying it ``expected`` ...)
    for one that is not, for one nested deeper than the events-v1 decoder reads (before
    reading it), and for what JSON cannot write but Python's reader takes: NaN and
    Infinity."""
    raw = record if isinstance(record, bytes) else record.encode("utf-8", "surrogatepass")
    if too_deep(raw):
        raise AdapterError(fmt, f"expected {expected}: nested deeper than {MAX_DEPTH} levels")
    try:
        # UTF-8 only: json.loads would take bytes as UTF-16 or 32 after a byte-order mark.
        text = record.decode() if isinstance(record, bytes) else record
        return json.loads(text, parse_constant=_no_constant)
    except UnicodeDecodeError as exc:
        raise AdapterError(fmt, f"not UTF-8 at byte {exc.start}") from None
    except ValueError as exc:
        raise AdapterError(fmt, f"expected {expected}: {exc}") from None


def line_text(fmt: str, record: bytes) -> str:
    """``record``, one line of a text format, as text without its line break or a leading
    byte-order mark; AdapterError when it is not UTF-8."""
    try:
        text = record.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise AdapterError(fmt, f"not UTF-8 at byte {exc.start}") from None
    return text.removeprefix("\ufeff").rstrip("\r\n")


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


class Writer:
    """Collects the events one platform record yields, each with its own id and time.

    An event is stamped ``at`` (the record's time) and its id hashed from ``record`` and its
    place. An event a record only reveals, such as a wrap-up that ended before it, is written
    inside :meth:`revealed`, with its own time and key, so that its id is the same whichever
    record or clock tick reveals it."""

    def __init__(self, record: bytes, site: str, when: float) -> None:
        self.record, self.site, self.when, self.at = record, site, when, when
        self.events: list[V1] = []

    def add(self, event_type: str, **fields: Any) -> None:
        """Add one event of ``event_type`` with ``fields``."""
        index = len(self.events)
        self.events.append(v1(self.record, index, event_type, self.at, self.site, **fields))

    @contextmanager
    def revealed(self, key: str, at: float) -> Iterator[None]:
        """Within it, events are stamped ``at`` and hashed from ``key``."""
        record = self.record
        self.record, self.at = key.encode(), at
        try:
            yield
        finally:
            self.record, self.at = record, self.when


class WrappingUp(Protocol):
    """An agent as an adapter that assumes wrap-ups keeps it."""

    wrapup_until: float
    reported: Any  # what the adapter last reported of the agent


Ended = list[tuple[float, str, Any]]  # (ends, agent, what was reported before)


class WrapupClock:
    """When wrap-ups a platform does not log end: (ends, agent), soonest first, for the
    agents of ``agents``. Bounded: past ``limit`` entries (records from far in the future
    never come due), those no longer due (agent forgotten, or its wrap-up renewed) go, then if
    need be the latest. With ``limit`` at least twice the agents kept, no live wrap-up goes."""

    def __init__(self, agents: Mapping[str, WrappingUp], limit: int) -> None:
        self._agents = agents
        self._heap: list[tuple[float, str]] = []
        self._limit = limit

    def start(self, agent: str, ends: float) -> None:
        """``agent``'s wrap-up ends at ``ends``."""
        heapq.heappush(self._heap, (ends, agent))
        if len(self._heap) > self._limit:
            live = [(ends, name) for ends, name in self._heap if self._live(name, ends)]
            self._heap = heapq.nsmallest(self._limit // 2, live)  # sorted: a heap

    def _live(self, name: str, ends: float) -> bool:
        agent = self._agents.get(name)
        return agent is not None and agent.wrapup_until == ends

    def fill(self) -> float:
        """How full it is, 0 to 1."""
        return len(self._heap) / self._limit

    def end(self, now: float, report: Callable[[str, float], None], out: Writer) -> Ended:
        """Report (``report(agent, ends)``, into ``out``) every wrap-up over by ``now`` and
        not renewed since, each stamped when it ended; return what :meth:`reopen` undoes."""
        ended: Ended = []
        while self._heap and self._heap[0][0] <= now:
            ends, name = heapq.heappop(self._heap)
            if self._live(name, ends):
                ended.append((ends, name, self._agents[name].reported))
                with out.revealed(f"wrapup-end|{out.site}|{name}|{ends}", ends):
                    report(name, ends)
        return ended

    @contextmanager
    def ending(
        self, now: float, report: Callable[[str, float], None], out: Writer
    ) -> Iterator[None]:
        """:meth:`end` for a record being translated inside the block: if the block rejects
        the record (AdapterError), its events are not returned, so the wrap-up ends it
        revealed are put back (:meth:`reopen`)."""
        ended = self.end(now, report, out)
        try:
            yield
        except DecodeError:  # an AdapterError, or an event it could not make
            self.reopen(ended)
            raise

    def reopen(self, ended: Ended) -> None:
        """Put back wrap-ups whose ends were reported in events that were not returned (the
        record that revealed them was rejected)."""
        for ends, name, reported in ended:
            self.start(name, ends)
            agent = self._agents.get(name)
            if agent is not None:
                agent.reported = reported
