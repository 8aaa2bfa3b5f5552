"""From raw records to applied events: decoding, validation and rejection with a reason.

Decoding happens here, in application code, never in a Kafka deserializer: a deserializer
that raises makes the consumer fetch the same record forever.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Literal, Protocol, cast, get_args

import msgspec
from pydantic import BaseModel, ValidationError

from callpulse.core.event_structs import EVENT_STRUCTS, Event
from callpulse.core.events import EVENT_ADAPTER, SITE_CHARACTERS
from callpulse.core.monitor import Monitor, Outcome

RejectReason = Literal[
    "oversize",
    "invalid_json",
    "unknown_type",
    "unsupported_version",
    "invalid_schema",
    "future_event",
    "processing_error",
]
REJECT_REASONS: tuple[RejectReason, ...] = get_args(RejectReason)


class DecodeError(ValueError):
    """A record that is not a valid v1 event; ``reason`` is one of :data:`REJECT_REASONS`,
    or ``invalid_<format>`` for a record an adapter could not read."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


# Not frozen (and compared by identity), though nothing changes a record once made: a frozen
# dataclass sets each field through object.__setattr__, 1 us a record against 0.3 us, on the
# path of every record.
@dataclass(slots=True, eq=False)
class RawRecord:
    """A record as a source delivers it, with the coordinates to find it again."""

    value: bytes | None
    key: bytes | None = None
    topic: str = ""
    partition: int = 0
    offset: int = -1
    timestamp_ms: int | None = None
    replay: bool = False  # re-read to rebuild state (see Monitor.apply)


@dataclass(frozen=True, slots=True)
class Rejection:
    """A record that was not applied, and why."""

    record: RawRecord
    reason: str
    detail: str


class Translator(Protocol):
    """Turns one record of a platform's own format into events-v1 records (an adapter, at
    the edge); raises :class:`DecodeError` for a record it cannot read."""

    def __call__(self, record: RawRecord) -> Sequence[RawRecord]:
        """The events-v1 records ``record`` stands for, with its coordinates."""
        ...


_FAST = msgspec.json.Decoder(Event)
_SITE = re.compile(SITE_CHARACTERS)
# Sites already found to match the schema's pattern: a deployment has tens of them, and a
# regular expression per record would cost a third of the decode. Bounded, so a producer
# inventing sites cannot grow it; past the bound a site is simply checked every time.
_GOOD_SITES: set[str] = set()
_GOOD_SITES_MAX = 4096


def decode(value: bytes | None, max_bytes: int) -> Event:
    """Decode one record's value into an event, or raise :class:`DecodeError`.

    The pydantic models of :mod:`callpulse.core.events` decide what is valid. Most records
    take a faster path to the same answer: msgspec decodes them into the Structs of
    :mod:`callpulse.core.event_structs`, which check everything the models check but the
    *printable* rule on names and the site's character set. A record without a backslash
    (so without an escape sequence) and without a DEL byte cannot hold a control character
    (JSON forbids them raw), and the site is checked here. Whatever the fast path refuses,
    the models judge again: so it only ever answers sooner, never differently.
    """
    if value is None:
        raise DecodeError("invalid_json", "the record has no value (a tombstone)")
    if len(value) > max_bytes:
        raise DecodeError("oversize", f"{len(value)} bytes, more than the limit of {max_bytes}")
    event = fast_decode(value)
    if event is not None:
        return event
    try:
        model = EVENT_ADAPTER.validate_json(value)
    except ValidationError as exc:
        raise _classify(exc) from None
    return as_struct(model)


def fast_decode(value: bytes) -> Event | None:
    """The event ``value`` holds, by the fast path alone; None where the models must judge.

    Never accepts a record the models refuse, nor gives other values than theirs
    (``tests/unit/test_decode_differential.py``).
    """
    if b"\\" in value or b"\x7f" in value:
        return None
    try:
        event = _FAST.decode(value)
    except msgspec.MsgspecError:
        return None  # the models say why (or that it is valid after all, e.g. 1.0 for 1)
    site = event.site
    if site in _GOOD_SITES:
        return event
    if not _SITE.fullmatch(site):
        return None
    if len(_GOOD_SITES) < _GOOD_SITES_MAX:
        _GOOD_SITES.add(site)
    return event


def as_struct(model: BaseModel) -> Event:
    """The Struct of a validated pydantic event (the models' valid is the Structs' valid)."""
    cls = EVENT_STRUCTS[model.type]  # type: ignore[attr-defined]  # every event model has one
    event = cls(**{name: getattr(model, name) for name in cls.__struct_fields__})
    return cast(Event, event)


def _classify(exc: ValidationError) -> DecodeError:
    errors = exc.errors(include_url=False, include_input=False)
    first = errors[0]
    kind = first["type"]
    if kind == "json_invalid":
        return DecodeError("invalid_json", first["msg"])
    if kind == "union_tag_invalid":
        tag = first.get("ctx", {}).get("tag", "?")
        return DecodeError("unknown_type", f"unknown event type {tag!r}")
    if kind == "union_tag_not_found":
        return DecodeError("invalid_schema", "the event has no 'type' field")
    if any(e["loc"][1:] == ("schema_version",) and e["type"] == "literal_error" for e in errors):
        return DecodeError("unsupported_version", "schema_version must be 1")
    detail = "; ".join(
        f"{'.'.join(str(part) for part in e['loc'][1:]) or '(event)'}: {e['msg']}"
        for e in errors[:5]
    )
    return DecodeError("invalid_schema", detail)


@dataclass(slots=True)
class Ingest:
    """Decodes records, applies the valid ones to a monitor, and returns the rest."""

    monitor: Monitor
    max_record_bytes: int = 256 * 1024
    invalid: dict[str, int] = field(default_factory=lambda: dict.fromkeys(REJECT_REASONS, 0))
    # Topics whose records are not events v1, with what turns them into v1.
    translators: dict[str, Translator] = field(default_factory=dict)
    # Which sites each (topic, partition) carried, so a revoked partition's sites can go.
    sites_by_partition: dict[tuple[str, int], set[str]] = field(default_factory=dict)

    def process(self, records: Iterable[RawRecord], *, translated: bool = False) -> list[Rejection]:
        """Apply every valid record; return the rejected ones in order.

        ``translated``: the records are events v1 already, though their topic has a
        translator (what an adapter yields on the clock, with no record of its own)."""
        rejected: list[Rejection] = []
        translators, invalid = self.translators, self.invalid
        if translated:
            translators = {}
        partition: tuple[str, int] = ("", -1)
        sites: set[str] = set()
        for record in records:
            if (record.topic, record.partition) != partition:
                partition = (record.topic, record.partition)
                sites = self.sites_by_partition.setdefault(partition, set())
            translate = translators.get(record.topic) if translators else None
            if translate is None:
                self._apply(record, record, sites, rejected)
                continue
            size = len(record.value or b"")
            if size > self.max_record_bytes:  # refused before an adapter parses it whole
                invalid["oversize"] += 1
                limit = self.max_record_bytes
                rejected.append(
                    Rejection(record, "oversize", f"{size} bytes, more than the limit of {limit}")
                )
                continue
            try:
                yielded = translate(record)
            except DecodeError as exc:
                invalid[exc.reason] = invalid.get(exc.reason, 0) + 1
                rejected.append(Rejection(record, exc.reason, exc.detail))
                continue
            except Exception as exc:
                # As for the monitor below: a translator's bug must not stop the stream.
                invalid["processing_error"] += 1
                rejected.append(
                    Rejection(record, "processing_error", f"{type(exc).__name__}: {exc}")
                )
                continue
            for each in yielded:
                # A rejection names the platform's record, which is what its owner can fix.
                self._apply(each, record, sites, rejected)
        return rejected

    def _apply(
        self, record: RawRecord, source: RawRecord, sites: set[str], rejected: list[Rejection]
    ) -> None:
        monitor, invalid = self.monitor, self.invalid
        try:
            event = decode(record.value, self.max_record_bytes)
        except DecodeError as exc:
            invalid[exc.reason] += 1
            rejected.append(Rejection(source, exc.reason, exc.detail))
            return
        try:
            outcome = monitor.apply(event, record.replay)
        except Exception as exc:
            # A bug must not stop the stream: the record is kept with the error for
            # whoever fixes it, and counted like any other rejection.
            invalid["processing_error"] += 1
            rejected.append(Rejection(source, "processing_error", repr(exc)[:500]))
            return
        sites.add(event.site)
        if outcome is Outcome.FUTURE:
            invalid["future_event"] += 1
            ahead = event.occurred_at.timestamp() - monitor.now
            rejected.append(
                Rejection(
                    source,
                    "future_event",
                    f"occurred_at is {ahead:.0f} s ahead of the clock "
                    f"(max_clock_skew {monitor.config.max_clock_skew:g} s)",
                )
            )

    def release_partitions(self, partitions: Iterable[tuple[str, int]]) -> set[str]:
        """Forget ``partitions``; return the sites no remaining partition carries."""
        released: set[str] = set()
        for partition in partitions:
            released |= self.sites_by_partition.pop(partition, set())
        for sites in self.sites_by_partition.values():
            released -= sites
        return released
