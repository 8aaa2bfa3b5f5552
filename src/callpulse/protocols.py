"""The shell's plug-in points, in one place: what a source, an adapter and an emitter must
offer, each Protocol as small as the callers need, and the few types they speak in.

Why here, and why not everything: the package's import layers (``tests/unit/test_layers.py``)
let the daemon, the web side and the simulation import this module, and let adapters import
it too, because it sits with the helpers, just above ``core``. That also bounds what can
live here: a Protocol whose members speak of a higher layer's types stays beside them.
``core`` imports only ``core``, so its Protocols stay in it, each beside the types it speaks
of (``Tracker`` in :mod:`callpulse.core.monitor`, ``Translator`` with ``RawRecord`` in
:mod:`callpulse.core.ingest`); the simulation runner's ``Observer`` is in
:mod:`callpulse.simulation.runner`, since it is handed the simulated ``ContactCenter``; and a
Protocol that only names what one module reads of its own argument (``FormatChoice``,
``WrappingUp``, ``Agent``) stays in that module.

A :class:`Source` is four verbs: start, fetch, commit, stop. What only some sources have is a
capability of its own, ``@runtime_checkable``, which a caller asks for with ``isinstance``
(once, when it is built) and does without when it is absent: dead-lettering
(:class:`DeadLettering`), a readiness verdict (:class:`Readiness`), lag (:class:`Lagging`),
partitions that move between replicas (:class:`Partitioned`), a view that can go dark
(:class:`CanGoBlind`) and an end (:class:`Finite`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from callpulse.core.clock import Clock
from callpulse.core.consumer_health import Blindness
from callpulse.core.events import Event
from callpulse.core.ingest import RawRecord, Rejection

# --- sources ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Batch:
    """Records fetched together, and for Kafka the offsets to commit once they are applied."""

    records: Sequence[RawRecord]
    # (topic, partition) -> offset of the next record to read (last applied + 1).
    next_offsets: Mapping[tuple[str, int], int] = field(default_factory=dict)


@dataclass
class DeadLetterStats:
    """Rejected records written to the dead-letter destination, and those that could not be."""

    written: int = 0
    failed: int = 0


RevokeHandler = Callable[[Sequence[tuple[str, int]]], None]
"""Told the (topic, partition)s this replica no longer owns, so their state can go."""


class Source(Protocol):
    """A stream of raw records that the daemon decodes, applies and then commits.

    ``start`` raises :class:`~callpulse.sources.errors.SourceError` when the source cannot
    deliver now (the daemon retries), or its subclass ``SourceRefusedError`` when it never
    will with this configuration (the daemon stops)."""

    name: str
    """Shown in logs: ``kafka``, ``replay`` or ``simulator``."""

    clock: Clock
    """Whose time the pipeline runs on: the wall clock (Kafka), the records' own
    ``occurred_at`` bounded by the wall clock (a replay), or event time alone (a
    time-compressed simulation, whose events legitimately run ahead of the wall clock)."""

    async def start(self) -> None:
        """Connect or open; raise ``SourceError`` if not possible now."""

    async def fetch(self) -> Batch:
        """Wait briefly for records; an empty batch means none arrived in time."""

    async def commit(self, batch: Batch) -> None:
        """Record that ``batch`` has been applied (at-least-once: only after applying it).
        A source that keeps no position anyone else reads does nothing."""

    async def stop(self) -> None:
        """Release connections; commits what was applied."""


@runtime_checkable
class DeadLettering(Protocol):
    """A source with somewhere to keep rejected records (Kafka's dead-letter topic). Without
    it the rejects are only logged, each with its coordinates and reason."""

    dead_letters: DeadLetterStats
    """Counts of :meth:`dead_letter`'s work."""

    async def dead_letter(self, rejections: Sequence[Rejection]) -> None:
        """Keep the rejected records somewhere a person can find them, with the reason."""


@runtime_checkable
class Readiness(Protocol):
    """A source that can say whether it delivers. Without it, a started source is ready."""

    def readiness(self) -> tuple[bool, str]:
        """Whether the source is delivering, and a short reason either way."""


@runtime_checkable
class Lagging(Protocol):
    """A source that knows how far behind its records it is."""

    def lag(self) -> Mapping[tuple[str, int], int]:
        """Records not yet fetched per (topic, partition)."""


@runtime_checkable
class Partitioned(Lagging, Protocol):
    """A source whose partitions are shared out among replicas (Kafka's consumer group):
    they come and go, and a partition new to this replica is re-read to rebuild its state."""

    on_revoke: RevokeHandler | None
    """Called when partitions move to another replica."""

    def health(self) -> Mapping[tuple[str, int], str]:
        """Per-partition consumer verdicts (ok, slow, stalled, unknown)."""

    def rebuilding(self) -> bool:
        """True while re-read records are rebuilding state (alerts are held back)."""


@runtime_checkable
class CanGoBlind(Protocol):
    """A source that can lose sight of its records while the records go on (a broker out of
    reach): then silence means nothing, and the alerts must say so."""

    def blindness(self) -> Blindness | None:
        """Why the source cannot see its records now (or is still catching up on what it
        missed while it could not); None while it sees."""


@runtime_checkable
class Finite(Protocol):
    """A source that ends (a replay file)."""

    def exhausted(self) -> bool:
        """True when no more records will ever come."""


# --- adapters ----------------------------------------------------------------------------------


class Adapter(Protocol):
    """Turns one platform record into zero or more events v1, each its Struct."""

    format: str

    @property
    def ignored(self) -> Mapping[str, int]:
        """Well-formed records of a kind v1 has no use for, by kind: the format's known
        kinds by name, any other as ``_other`` (a fixed set of label values)."""
        ...

    def translate(self, record: bytes) -> list[Event]:
        """The events v1 ``record`` stands for; raises AdapterError if unreadable,
        PartlyReadError for a batch read in part (both in :mod:`callpulse.adapters.base`)."""
        ...

    def flush(self, now: float) -> list[Event]:
        """Events that are due by ``now`` without a record saying so (an assumed wrap-up
        ending on a quiet stream); the daemon's clock tick calls it. Most return []."""
        ...

    def fill(self) -> Mapping[str, float]:
        """How full each of the adapter's caps is, 0 to 1, by cap (``agents``...)."""
        ...


# --- simulation --------------------------------------------------------------------------------


class Emitter(Protocol):
    """Writes events-v1 bodies, in time order, as one platform's records.

    ``carries`` is the v1 types the platform's stream has room for; the others (trunks, IVR,
    components...) stay events v1, as they would on a topic of their own. An emitter is
    stateful where the platform is (a call's queue, an agent's open contacts)."""

    format: str
    carries: frozenset[str]
    # v1 types the platform writes as another v1 type comes back (a callback request is a
    # key press queue_log calls an exit): a comparison rewrites the reference the same way.
    merges: Mapping[str, str]
    # Whether the stream says when after-call work ends. When it does not, the adapter
    # assumes wrapup_seconds, and a comparison plays a day whose wrap-ups all last that long.
    acw_carried: bool
    # Whether the platform writes times in whole seconds; a comparison then plays a day
    # whose times are whole seconds, on both sides.
    whole_seconds: bool

    def emit(self, event: Mapping[str, Any]) -> list[bytes]:
        """The platform records ``event`` (one of ``carries``) becomes: zero or more."""
        ...
