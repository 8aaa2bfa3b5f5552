"""What every settings section shares: unknown keys are errors, durations read as ``20s`` or
seconds, and a section becomes the core dataclass it describes field by field."""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
)

from callpulse.core.durations import format_duration, parse_duration

if TYPE_CHECKING:
    from _typeshed import DataclassInstance


Duration = Annotated[
    float,
    BeforeValidator(parse_duration),
    PlainSerializer(format_duration, return_type=str),
    Field(description="seconds, or a string such as 20s, 5m, 1h"),
]


class Section(BaseModel):
    """A settings section: unknown keys are errors."""

    model_config = ConfigDict(extra="forbid")


T = TypeVar("T", bound="DataclassInstance")


def into(cls: type[T], section: BaseModel, **values: Any) -> T:
    """The core dataclass ``cls`` from ``section``: every field the two share by name, then
    ``values`` for those that are named or shaped differently."""
    shared = {f.name for f in dataclasses.fields(cls)} & set(type(section).model_fields)
    return cls(**({name: getattr(section, name) for name in shared} | values))
