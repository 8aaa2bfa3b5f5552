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

# The decode errors live in a module of their own, which stays Python when this one is
# compiled: adapters and event_checks subclass them, and an interpreted class cannot
# subclass a mypyc-compiled one. Both they and RawRecord are still imported from here.
from callpulse.core.decode_errors import DecodeError as DecodeError
from callpulse.core.decode_errors import PartlyDecodedError as PartlyDecodedError
from callpulse.core.event_models import EVENT_ADAPTER
from callpulse.core.events import EVENT_STRUCTS, NOT_IN_NAMES_UTF8, SITE_CHARACTERS, Event
from callpulse.core.monitor import Monitor, Outcome
from callpulse.core.raw_record import RawRecord as RawRecord

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

Stage = Literal["adapter", "decode", "monitor"]
STAGES: tuple[Stage, ...] = get_args(Stage)
"""Where a record can make callpulse raise: the platform's adapter, the decoder, the monitor."""


@dataclass(frozen=True, slots=True)
class Rejection:
    """A record that was not applied, and why. ``error``: for a ``processing_error``, what
    was raised (the defect to log with its traceback); None for a record judged invalid."""

    record: RawRecord
    reason: str
    detail: str
    error: BaseException | None = None


class Translator(Protocol):
    """Turns one record of a platform's own format into records that carry events v1 (an
    adapter, at the edge); raises :class:`DecodeError` for a record it cannot read, and
    :class:`PartlyDecodedError` for a batch it could read only in part."""

    def __call__(self, record: RawRecord) -> Sequence[RawRecord]:
        """The events-v1 records ``record`` stands for, with its coordinates."""
        ...


MAX_DEPTH = 32
"""How deeply a record's JSON may nest. Events v1 need 2 (an envelope and a list of names);
the rest is room for unknown fields. Both decoders recurse, and each has its own limit (msgspec
the interpreter's stack, pydantic about 250): a fixed one, checked before either, makes one
answer for every record, and a megabyte of brackets costs a scan, not a stack."""

_FAST = msgspec.json.Decoder(Event)
_SITE = re.compile(SITE_CHARACTERS)
# The bytes of a record worth a closer look: an escape, DEL, the openers of arrays and
# objects, and anything beyond ASCII. One translate deletes the rest, in C; what is left of
# a call event is its one "{", and of any event a few bytes, which the checks below read
# instead of the record. It costs less than the two searches for an escape and a DEL it
# replaces.
_NOTEWORTHY = b"\\\x7f[{" + bytes(range(0x80, 0x100))
_PLAIN = bytes(b for b in range(256) if b not in _NOTEWORTHY)
# A JSON string, escapes included (unrolled: no backtracking on a long one).
_JSON_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
# Every byte but the brackets, to delete; objects and arrays nest alike, so both become [ ].
_BRACKETS_ONLY = bytes.maketrans(b"{}", b"[]")
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")
_TOO_DEEP_RUN = b"[" * (MAX_DEPTH + 1)
# NaN and Infinity where JSON allows a value (strings taken out first).
_NON_JSON = re.compile(rb"NaN|-?Infinity")
# The models' parser refuses an integer of more than 4,300 digits ("number out of range"),
# where msgspec skips it in an unknown field: a record that long is left to the models.
# Events are a few hundred bytes; a longer one is only slower to read.
_FAST_MAX_BYTES = 4096
_NOT_IN_NAMES = re.compile(NOT_IN_NAMES_UTF8)
# Sites already found to match the schema's pattern: a deployment has tens of them, and a
# regular expression per record would cost a third of the decode. Bounded, so a producer
# inventing sites cannot grow it; past the bound a site is simply checked every time.
_GOOD_SITES: set[str] = set()
_GOOD_SITES_MAX = 4096


def decode(value: bytes | None, max_bytes: int) -> Event:
    """Decode one record's value into an event, or raise :class:`DecodeError`.

    The Structs of :mod:`callpulse.core.events` define what is valid; msgspec decodes most
    records straight into them, checking everything but the two patterns they declare for
    msgspec not to run: the *printable* rule on names and the site's character set. A record
    without a backslash (so without an escape sequence) and without a DEL byte cannot hold a
    C0 control (JSON forbids them raw); one that is not ASCII is handed to the models when it
    holds the UTF-8 of another character names may not have (C1 controls, bidi overrides);
    and the site is checked here. Whatever the fast path refuses, the pydantic models generated from
    the same Structs (:mod:`callpulse.core.event_models`) judge again, and say why: so the
    fast path only ever answers sooner, never differently.
    """
    if value is None:
        raise DecodeError("invalid_json", "the record has no value (a tombstone)")
    if len(value) > max_bytes:
        raise DecodeError("oversize", f"{len(value)} bytes, more than the limit of {max_bytes}")
    noteworthy = value.translate(None, _PLAIN)
    if len(noteworthy) > MAX_DEPTH and _too_deep(value, noteworthy):
        raise DecodeError("invalid_json", f"nested deeper than {MAX_DEPTH} levels")
    event = _fast(value, noteworthy)
    if event is not None:
        return event
    if (b"NaN" in value or b"Infinity" in value) and _NON_JSON.search(_JSON_STRING.sub(b"", value)):
        # The models' parser takes them where a field is unknown; they are still not JSON.
        raise DecodeError("invalid_json", "NaN and Infinity are not numbers in JSON")
    try:
        model = EVENT_ADAPTER.validate_json(value)
    except ValidationError as exc:
        raise _classify(exc) from None
    return as_struct(model)


def fast_decode(value: bytes) -> Event | None:
    """The event ``value`` holds, by the fast path alone; None where the models must judge.
    ``value`` is within :data:`MAX_DEPTH` (:func:`decode` checks that first).

    Never accepts a record the models refuse, nor gives other values than theirs
    (``tests/unit/test_decode_differential.py``).
    """
    return _fast(value, value.translate(None, _PLAIN))


def _fast(value: bytes, noteworthy: bytes) -> Event | None:
    if len(value) > _FAST_MAX_BYTES:
        return None
    if noteworthy.strip(b"[{"):  # more than openers: an escape, DEL or a byte past ASCII
        if b"\\" in noteworthy or b"\x7f" in noteworthy:
            return None
        if _NOT_IN_NAMES.search(value):
            return None
        if not noteworthy.isascii() and not _utf8(value):
            return None  # msgspec skips an unknown field's string unread: the models refuse it
    try:
        event = _FAST.decode(value)
    except (msgspec.MsgspecError, RecursionError):
        return None  # the models say why (or that it is valid after all, e.g. 1.0 for 1)
    site = event.site
    if site in _GOOD_SITES:
        return event
    if not _SITE.fullmatch(site):
        return None
    if len(_GOOD_SITES) < _GOOD_SITES_MAX:
        _GOOD_SITES.add(site)
    return event


def _utf8(value: bytes) -> bool:
    try:
        value.decode()
    except UnicodeDecodeError:
        return False
    return True


def too_deep(value: bytes) -> bool:
    """Whether ``value`` nests arrays and objects more than :data:`MAX_DEPTH` deep.

    Every step runs in C over the bytes: a record with few openers (nearly all) costs a
    translate and two counts of what is left; a long run of openers is found by one search;
    anything else has its innermost pairs taken out, a level a pass, at most
    :data:`MAX_DEPTH` passes.
    """
    return _too_deep(value, value.translate(None, _PLAIN))


def _too_deep(value: bytes, noteworthy: bytes) -> bool:
    if noteworthy.count(b"[") + noteworthy.count(b"{") <= MAX_DEPTH:
        return False
    skeleton = _JSON_STRING.sub(b"", value).translate(_BRACKETS_ONLY, _NOT_BRACKETS)
    if _TOO_DEEP_RUN in skeleton:
        return True
    for _ in range(MAX_DEPTH):
        if not skeleton:
            return False
        shorter = skeleton.replace(b"[]", b"")
        if len(shorter) == len(skeleton):
            # Brackets that do not balance: not JSON, which the decoder will say; unless the
            # openers left unclosed are many, and it would recurse into them first.
            return _TOO_DEEP_RUN in skeleton
        skeleton = shorter
    return bool(skeleton)


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
    # processing_error rejections by the stage that raised (callpulse_processing_errors_total).
    errors: dict[str, int] = field(default_factory=lambda: dict.fromkeys(STAGES, 0))
    # Which sites each (topic, partition) carried, so a revoked partition's sites can go.
    sites_by_partition: dict[tuple[str, int], set[str]] = field(default_factory=dict)

    def process(
        self,
        records: Iterable[RawRecord],
        *,
        translated: bool = False,
        rejected: list[Rejection] | None = None,
    ) -> list[Rejection]:
        """Apply every valid record; return the rejected ones in order. A record re-read to
        rebuild state (``replay``) is neither counted nor returned when rejected again.

        ``translated``: the records are events v1 already, though their topic has a
        translator (what an adapter yields on the clock, with no record of its own).
        ``rejected``: the list the rejections are added to and that is returned (a new one
        when None): a caller that feeds many records at once keeps those rejected before
        whatever cut the batch short (an iterator of records that raised)."""
        if rejected is None:
            rejected = []
        translators = self.translators
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
                detail = f"{size} bytes, more than the limit of {self.max_record_bytes}"
                self._reject(rejected, record, "oversize", detail)
                continue
            try:
                yielded = translate(record)
            except PartlyDecodedError as exc:
                # One bad document of a batch does not take its neighbours with it; it is
                # still counted and dead-lettered, with the record that holds it.
                self._reject(rejected, record, exc.reason, exc.detail)
                yielded = exc.records
            except Exception as exc:
                self._refuse(record, "adapter", exc, rejected)
                continue
            for each in yielded:
                # A rejection names the platform's record, which is what its owner can fix.
                self._apply(each, record, sites, rejected)
        return rejected

    def _apply(
        self, record: RawRecord, source: RawRecord, sites: set[str], rejected: list[Rejection]
    ) -> None:
        monitor = self.monitor
        try:
            event = record.event
            if event is None:
                event = decode(record.value, self.max_record_bytes)
        except Exception as exc:
            self._refuse(source, "decode", exc, rejected)
            return
        try:
            outcome = monitor.apply(event, record.replay)
        except Exception as exc:
            self._failed(source, "monitor", exc, rejected)
            return
        sites.add(event.site)
        if outcome is Outcome.FUTURE:
            ahead = event.occurred_at.timestamp() - monitor.now
            skew = monitor.config.max_clock_skew
            detail = f"occurred_at is {ahead:.0f} s ahead of the clock (max_clock_skew {skew:g} s)"
            self._reject(rejected, source, "future_event", detail)

    def _reject(
        self,
        rejected: list[Rejection],
        record: RawRecord,
        reason: str,
        detail: str,
        error: BaseException | None = None,
    ) -> None:
        if record.replay:
            # Re-read to rebuild state: whoever read it first counted it and dead-lettered it.
            return
        self.invalid[reason] = self.invalid.get(reason, 0) + 1
        rejected.append(Rejection(record, reason, detail, error))

    def _refuse(
        self, record: RawRecord, stage: Stage, exc: Exception, rejected: list[Rejection]
    ) -> None:
        """One record's boundary: a DecodeError is the record's own fault and says why;
        anything else is :meth:`_failed`."""
        if isinstance(exc, DecodeError):
            self._reject(rejected, record, exc.reason, exc.detail)
        else:
            self._failed(record, stage, exc, rejected)

    def _failed(
        self, record: RawRecord, stage: Stage, exc: Exception, rejected: list[Rejection]
    ) -> None:
        """Whatever a record made a stage raise (a defect of ours, a RecursionError, a
        MemoryError of its own making) rejects that record alone, and the stream goes on.
        It is counted by stage, and the error rides with the rejection so that the shell
        can log its traceback."""
        if not record.replay:
            self.errors[stage] += 1
        detail = f"{stage}: {type(exc).__name__}: {exc}"[:500]
        self._reject(rejected, record, "processing_error", detail, exc)

    def release_partitions(self, partitions: Iterable[tuple[str, int]]) -> set[str]:
        """Forget ``partitions``; return the sites no remaining partition carries."""
        released: set[str] = set()
        for partition in partitions:
            released |= self.sites_by_partition.pop(partition, set())
        for sites in self.sites_by_partition.values():
            released -= sites
        return released
