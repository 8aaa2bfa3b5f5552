"""Canonical events, schema version 1 (docs/events.md).

One pydantic model per event ``type``, discriminated on that field. Unknown extra fields are
ignored so that newer producers never break an older callpulse; a missing or ill-typed field,
an out-of-range value or an unknown ``type`` makes the record invalid.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Annotated, Literal

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    TypeAdapter,
    ValidatorFunctionWrapHandler,
    field_validator,
)

SCHEMA_VERSION = 1

Seconds = Annotated[float, Field(ge=0)]
Count = Annotated[int, Field(ge=0)]
# Names become label values, log fields and terminal output, so they may not hold what
# changes how text around them is shown: C0 and C1 controls (an escape sequence would reach
# an engineer's terminal raw), DEL, the line and paragraph separators, and the bidirectional
# overrides and isolates (U+202E shows "gnp.exe" as "exe.png").
NOT_IN_NAMES: tuple[tuple[int, int], ...] = (
    (0x00, 0x1F),
    (0x7F, 0x9F),
    (0x061C, 0x061C),
    (0x200E, 0x200F),
    (0x2028, 0x202E),
    (0x2066, 0x2069),
)
_PRINTABLE = "^[^" + "".join(f"\\u{lo:04x}-\\u{hi:04x}" for lo, hi in NOT_IN_NAMES) + "]+$"
NOT_IN_NAMES_UTF8 = b"|".join(
    re.escape(chr(c).encode()) for lo, hi in NOT_IN_NAMES for c in range(max(lo, 0x80), hi + 1)
)
"""The UTF-8 of every character of :data:`NOT_IN_NAMES` beyond ASCII, as a bytes pattern."""
Name = Annotated[str, Field(min_length=1, max_length=256, pattern=_PRINTABLE)]


# Seven or more digits of a second: more than a datetime holds.
_FRACTION = re.compile(r"[.,]([0-9]{7})")

SITE_CHARACTERS = r"[A-Za-z0-9_.:\-]+"  # what a site name is made of (a label value, a key)
SiteName = Annotated[str, Field(min_length=1, max_length=64, pattern=rf"^{SITE_CHARACTERS}$")]


class Envelope(BaseModel):
    """Fields every event carries."""

    # strict: "12" is not an int and 1.5 is not a count; frozen: events are facts.
    # allow_inf_nan: JSON has no Infinity; a producer that writes it must not get past here.
    model_config = ConfigDict(strict=True, frozen=True, extra="ignore", allow_inf_nan=False)

    schema_version: Literal[1]
    event_id: Annotated[str, Field(min_length=1, max_length=128, pattern=_PRINTABLE)]
    # Not strict: a validator wrapping a strict datetime is handed the JSON string as a
    # Python one, which strict refuses; the validator below admits strings only instead.
    occurred_at: Annotated[AwareDatetime, Field(strict=False)]
    site: SiteName

    @field_validator("schema_version", mode="before")
    @classmethod
    def _an_integer(cls, value: object) -> object:
        """``true`` and ``1.0`` equal 1 in Python, and strict mode lets a Literal take them:
        a version is the integer, as the schema says and the fast path reads it."""
        if type(value) is not int:
            raise ValueError("schema_version must be the integer 1")
        return value

    @field_validator("occurred_at", mode="wrap")
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


# --- ACD -------------------------------------------------------------------------------


class CallQueued(Envelope):
    """A call entered a queue and starts waiting."""

    type: Literal["call.queued"]
    call_id: Name
    queue: Name
    priority: int = 0


class CallAnswered(Envelope):
    """An agent answered a waiting call."""

    type: Literal["call.answered"]
    call_id: Name
    queue: Name
    agent_id: Name
    wait_seconds: Seconds


class CallAbandoned(Envelope):
    """The caller hung up while waiting."""

    type: Literal["call.abandoned"]
    call_id: Name
    queue: Name
    wait_seconds: Seconds


class CallbackRequested(Envelope):
    """The caller left the queue asking to be called back."""

    type: Literal["call.callback_requested"]
    call_id: Name
    queue: Name
    wait_seconds: Seconds


class CallTransferred(Envelope):
    """The call left ``queue``, possibly for ``to_queue``."""

    type: Literal["call.transferred"]
    call_id: Name
    queue: Name
    to_queue: Name | None = None


class CallCompleted(Envelope):
    """An answered call ended; its handle time is talk + hold + after-call work."""

    type: Literal["call.completed"]
    call_id: Name
    queue: Name
    agent_id: Name
    talk_seconds: Seconds
    hold_seconds: Seconds
    acw_seconds: Seconds


AgentStateName = Literal["available", "on_call", "acw", "not_ready", "offline"]
AGENT_STATES: tuple[AgentStateName, ...] = ("available", "on_call", "acw", "not_ready", "offline")


class AgentState(Envelope):
    """An agent changed state; ``queues`` are the queues the agent serves."""

    type: Literal["agent.state"]
    agent_id: Name
    state: AgentStateName
    queues: list[Name]


class QueueSnapshot(Envelope):
    """The ACD's own periodic view of a queue, authoritative at ``occurred_at``."""

    type: Literal["queue.snapshot"]
    queue: Name
    calls_waiting: Count
    oldest_wait_seconds: Seconds
    agents_staffed: Count
    agents_available: Count


# --- IVR -------------------------------------------------------------------------------


class IvrSessionStarted(Envelope):
    """A caller entered an IVR application."""

    type: Literal["ivr.session_started"]
    session_id: Name
    application: Name
    call_id: Name | None = None


class IvrNode(Envelope):
    """An IVR session reached a menu or node."""

    type: Literal["ivr.node"]
    session_id: Name
    application: Name
    node: Name


class IvrInputError(Envelope):
    """The caller gave no input, or input that matched nothing."""

    type: Literal["ivr.input_error"]
    session_id: Name
    application: Name
    node: Name | None = None
    kind: Literal["no_input", "no_match"]


class IvrBackendError(Envelope):
    """A backend the IVR depends on failed during a session."""

    type: Literal["ivr.backend_error"]
    session_id: Name
    application: Name
    backend: Name
    error: str | None = None


class IvrSessionEnded(Envelope):
    """An IVR session ended, contained or not."""

    type: Literal["ivr.session_ended"]
    session_id: Name
    application: Name
    outcome: Literal["contained", "transferred", "hangup", "error"]
    duration_seconds: Seconds


class IvrPorts(Envelope):
    """Port usage of an IVR application."""

    type: Literal["ivr.ports"]
    application: Name
    ports_in_use: Count
    ports_total: Annotated[int, Field(ge=1)]


# --- Voice infrastructure ---------------------------------------------------------------


class TrunkStatus(Envelope):
    """A trunk's state and channel usage."""

    type: Literal["trunk.status"]
    trunk_id: Name
    state: Literal["up", "down"]
    channels_in_use: Count
    channels_total: Annotated[int, Field(ge=1)]


class CallSetup(Envelope):
    """The final SIP response to an INVITE on a trunk.

    Only final responses (200-699) are call setup results; a provisional 1xx (100 Trying,
    183 Session Progress) is not a seizure's outcome and is rejected.
    """

    type: Literal["call.setup"]
    trunk_id: Name
    call_id: Name | None = None
    sip_code: Annotated[int, Field(ge=200, le=699)]
    post_dial_delay_ms: Annotated[float, Field(ge=0)] | None = None


class MediaQuality(Envelope):
    """Media quality of a call leg or component."""

    type: Literal["media.quality"]
    trunk_id: Name | None = None
    component: Name | None = None
    call_id: Name | None = None
    mos: Annotated[float, Field(ge=1, le=5)]
    jitter_ms: Annotated[float, Field(ge=0)]
    packet_loss_ratio: Annotated[float, Field(ge=0, le=1)]
    rtt_ms: Annotated[float, Field(ge=0)] | None = None


class ComponentHealth(Envelope):
    """A heartbeat from an infrastructure component."""

    type: Literal["component.health"]
    component: Name
    kind: Literal["sbc", "media_gateway", "pbx", "ivr_platform", "recording", "cti", "other"]
    status: Literal["up", "degraded", "down"]
    detail: str | None = None


class MaintenanceStarted(Envelope):
    """Maintenance began on some components (ad-hoc or announced)."""

    type: Literal["maintenance.started"]
    maintenance_id: Name
    components: list[Name]
    queues: list[Name] | None = None
    reason: str | None = None
    ticket: str | None = None


class MaintenanceEnded(Envelope):
    """Maintenance ended."""

    type: Literal["maintenance.ended"]
    maintenance_id: Name


Event = Annotated[
    CallQueued
    | CallAnswered
    | CallAbandoned
    | CallbackRequested
    | CallTransferred
    | CallCompleted
    | AgentState
    | QueueSnapshot
    | IvrSessionStarted
    | IvrNode
    | IvrInputError
    | IvrBackendError
    | IvrSessionEnded
    | IvrPorts
    | TrunkStatus
    | CallSetup
    | MediaQuality
    | ComponentHealth
    | MaintenanceStarted
    | MaintenanceEnded,
    Field(discriminator="type"),
]

EVENT_ADAPTER: TypeAdapter[Event] = TypeAdapter(Event)

EVENT_TYPES: tuple[str, ...] = tuple(
    sorted(
        model.model_fields["type"].annotation.__args__[0]  # type: ignore[union-attr]
        for model in Envelope.__subclasses__()
    )
)


def json_schema() -> dict[str, object]:
    """Return the JSON Schema of events v1, generated from these models."""
    schema = EVENT_ADAPTER.json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "callpulse event, schema version 1"
    return schema
