"""Pydantic models of events v1, generated at import from the Structs of
:mod:`callpulse.core.events`: the slow path's judge, which says why a record is invalid.

They are kept, not written by hand, because pydantic reports every field that is wrong (up
to five go into a dead-letter reason), each by name with what was expected, and it enforces
the two checks the Structs declare but msgspec does not run (the ``pattern`` of names and of
``site``). Each model is made from its Struct's fields as :func:`msgspec.inspect.type_info`
reads them, so a constraint added to a Struct is one the models check too.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Annotated, Any, Literal, Union, cast

from msgspec import NODEFAULT, inspect
from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    TypeAdapter,
    ValidatorFunctionWrapHandler,
    create_model,
    field_validator,
    model_validator,
)

from callpulse.core.events import EVENT_STRUCTS

# Seven or more digits of a second: more than a datetime holds.
_FRACTION = re.compile(r"[.,]([0-9]{7})")


class EventModel(BaseModel):
    """What every generated model shares: how strictly it reads, and the envelope's rules
    that are about JSON rather than about a field's type."""

    # strict: "12" is not an int and 1.5 is not a count; frozen: events are facts.
    # allow_inf_nan: JSON has no Infinity; a producer that writes it must not get past here.
    model_config = ConfigDict(strict=True, frozen=True, extra="ignore", allow_inf_nan=False)

    @field_validator("schema_version", mode="before", check_fields=False)
    @classmethod
    def _an_integer(cls, value: object) -> object:
        """``true`` and ``1.0`` equal 1 in Python, and strict mode lets a Literal take them:
        a version is the integer, as the schema says and the fast path reads it."""
        if type(value) is not int:
            raise ValueError("schema_version must be the integer 1")
        return value

    @field_validator("occurred_at", mode="wrap", check_fields=False)
    @classmethod
    def _nearest_microsecond(cls, value: object, handler: ValidatorFunctionWrapHandler) -> datetime:
        """A finer fraction of a second (nanoseconds, as Go and Java write them) is rounded
        to the nearest microsecond, as the fast decode path rounds it, not cut short."""
        if not isinstance(value, str):
            raise ValueError("occurred_at must be an ISO 8601 string")
        parsed: datetime = handler(value)
        if (digits := _FRACTION.search(value)) and digits.group(1)[6] >= "5":
            try:
                parsed += timedelta(microseconds=1)
            except OverflowError:
                raise ValueError("occurred_at is out of range") from None
        return parsed


class UnsupportedTypeError(TypeError):
    """A Struct field of a type the generator has no pydantic equivalent for (a defect of
    the event definitions, found at import)."""


_BOUNDS = ("gt", "ge", "lt", "le", "multiple_of", "min_length", "max_length", "pattern")


def _constraints(info: Any, extra: dict[str, Any]) -> dict[str, Any]:
    found = {name: getattr(info, name, None) for name in _BOUNDS}
    found["pattern"] = found["pattern"] or extra.get("pattern")
    return {name: value for name, value in found.items() if value is not None}


def annotation(info: inspect.Type, extra: dict[str, Any] | None = None) -> Any:
    """The pydantic annotation that checks what ``info`` (a msgspec type) checks, plus a
    ``pattern`` its ``extra_json_schema`` declares."""
    extra = extra or {}
    if isinstance(info, inspect.Metadata):
        return annotation(info.type, {**extra, **(info.extra_json_schema or {})})
    if isinstance(info, inspect.StrType | inspect.IntType | inspect.FloatType):
        base = {inspect.StrType: str, inspect.IntType: int, inspect.FloatType: float}[type(info)]
        bounds = _constraints(info, extra)
        return Annotated[base, Field(**bounds)] if bounds else base
    if isinstance(info, inspect.LiteralType):
        return Literal[info.values]
    if isinstance(info, inspect.NoneType):
        return None
    if isinstance(info, inspect.DateTimeType) and info.tz:
        # Not strict: a validator wrapping a strict datetime is handed the JSON string as a
        # Python one, which strict refuses; the envelope's validator admits strings only.
        return Annotated[AwareDatetime, Field(strict=False)]
    if isinstance(info, inspect.ListType):
        bounds = _constraints(info, {})
        item = annotation(info.item_type)
        return Annotated[list[item], Field(**bounds)] if bounds else list[item]  # type: ignore[valid-type]
    if isinstance(info, inspect.UnionType):
        return Union[tuple(annotation(each) for each in info.types)]  # noqa: UP007
    raise UnsupportedTypeError(f"no pydantic equivalent for {info!r}")


def model_of(struct: type) -> type[EventModel]:
    """The pydantic model of one event Struct: same name, docstring, fields, defaults and
    constraints, and its tag as the literal ``type`` field."""
    info = cast(inspect.StructType, inspect.type_info(struct))
    fields: dict[str, Any] = {}
    for each in info.fields:
        default = ... if each.default is NODEFAULT else each.default
        fields[each.encode_name] = (annotation(each.type), default)
        if each.name == "site":  # where the hand-written models had it: errors keep their order
            fields["type"] = (Literal[info.tag], ...)
    validators: dict[str, Any] = {}
    together = getattr(struct, "__post_init__", None)
    if together is not None:
        # What the Struct checks of its fields together, the model checks too: the method
        # reads only the fields, which the model has by the same names.
        def _together(model: Any) -> Any:
            together(model)
            return model

        validators["_fields_together"] = model_validator(mode="after")(_together)
    model = create_model(
        struct.__name__,
        __base__=EventModel,
        __doc__=struct.__doc__,
        __validators__=validators,
        **fields,
    )
    model.__module__ = __name__
    return model


MODELS: dict[str, type[EventModel]] = {tag: model_of(cls) for tag, cls in EVENT_STRUCTS.items()}
"""Each event type's model, by its ``type``."""

_ANY_MODEL: Any = Annotated[Union[tuple(MODELS.values())], Field(discriminator="type")]  # noqa: UP007
EVENT_ADAPTER: TypeAdapter[EventModel] = TypeAdapter(_ANY_MODEL)
"""Validates a record's JSON into the model of its ``type``."""
