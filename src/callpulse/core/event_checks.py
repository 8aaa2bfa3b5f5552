"""Making an event from its fields, with every constraint of its Struct checked: how an
adapter builds what it yields, so that it cannot yield an invalid event."""

from __future__ import annotations

import re
from typing import Any, cast

import msgspec
from msgspec import inspect

from callpulse.core.events import EVENT_STRUCTS, Envelope, Event
from callpulse.core.ingest import DecodeError


class InvalidEventError(DecodeError):
    """Fields that make no valid event; its reason is ``invalid_schema``, as a producer's
    record with them would get, and its detail names the field and what was expected."""

    def __init__(self, detail: str) -> None:
        super().__init__("invalid_schema", detail)


def _patterns(info: Any) -> tuple[re.Pattern[str], ...]:
    """The patterns a field's type declares in ``extra_json_schema`` (msgspec does not run
    them), however it is wrapped: optional, a list of them."""
    if isinstance(info, inspect.Metadata):
        own = (info.extra_json_schema or {}).get("pattern")
        inner = _patterns(info.type)
        return (re.compile(own), *inner) if own else inner
    if isinstance(info, inspect.UnionType):
        return tuple(p for each in info.types for p in _patterns(each))
    if isinstance(info, inspect.ListType):
        return _patterns(info.item_type)
    return ()


def _pattern_fields(cls: type[Envelope]) -> tuple[tuple[str, tuple[re.Pattern[str], ...]], ...]:
    info = cast(inspect.StructType, inspect.type_info(cls))
    found = ((each.name, _patterns(each.type)) for each in info.fields)
    return tuple((name, patterns) for name, patterns in found if patterns)


_CHECKED: dict[type[Envelope], tuple[tuple[str, tuple[re.Pattern[str], ...]], ...]] = {
    cls: _pattern_fields(cls) for cls in EVENT_STRUCTS.values()
}
# What a body may name: its Struct's fields and the tag. A producer's unknown field is
# ignored, for the producer may be newer; an adapter is callpulse's own, and a field it
# writes that no Struct has would be dropped unseen.
_KNOWN: dict[str, frozenset[str]] = {
    tag: frozenset((*cls.__struct_fields__, "type")) for tag, cls in EVENT_STRUCTS.items()
}


def make(body: dict[str, Any]) -> Event:
    """The event ``body`` describes (its ``type`` picks the Struct), or
    :class:`InvalidEventError` naming what breaks a constraint or a field it does not have."""
    tag = body.get("type")
    cls = EVENT_STRUCTS.get(tag) if isinstance(tag, str) else None
    if cls is None:
        raise InvalidEventError(f"unknown event type {tag!r}")
    unknown = body.keys() - _KNOWN[cls.type]
    if unknown:
        raise InvalidEventError(f"{cls.type} has no field {', '.join(sorted(unknown))}")
    try:
        # To the Struct, not the Event union: msgspec caches a Struct's type information
        # but works a union's out on every call, which costs sixty times the conversion.
        event = cast(Event, msgspec.convert(body, cls))
    except msgspec.ValidationError as exc:
        raise InvalidEventError(str(exc)) from None
    for name, patterns in _CHECKED[cls]:
        value = getattr(event, name)
        for each in value if isinstance(value, list) else (value,):
            for pattern in patterns:
                if each is not None and not pattern.fullmatch(each):
                    raise InvalidEventError(f"{name}: {each!r} does not match {pattern.pattern}")
    return event
