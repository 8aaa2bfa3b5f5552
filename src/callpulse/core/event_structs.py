"""Events v1 as the monitor holds them: msgspec Structs, decoded straight from JSON.

:mod:`callpulse.core.events` (pydantic) is the schema of record: it makes the JSON Schema and
the error messages, and it is the judge of what is valid. These Structs mirror its models one
for one (same class names, fields, defaults and numeric and length bounds) because msgspec
decodes a record into them about four times faster, and the decoder runs once per record.

Two checks of the models are not repeated here, because a regular expression per string would
cost more than the rest of the decode: the *printable* rule on names and the character set of
``site``. :func:`callpulse.core.ingest.decode` makes them another way (a record with an escape
sequence or a DEL byte is judged by the models; a site is checked once and remembered), and
``tests/unit/test_decode_differential.py`` shows that the two paths accept exactly the same
records with the same values.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, ClassVar, Literal

from msgspec import Meta, Struct

from callpulse.core.events import AGENT_STATES, AgentStateName

__all__ = ["AGENT_STATES", "EVENT_STRUCTS", "AgentStateName", "Event"]

Seconds = Annotated[float, Meta(ge=0)]
Count = Annotated[int, Meta(ge=0)]
Name = Annotated[str, Meta(min_length=1, max_length=256)]
SiteName = Annotated[str, Meta(min_length=1, max_length=64)]
Instant = Annotated[datetime, Meta(tz=True)]


# gc=False: an event holds only strings, numbers and lists of strings, so it can never be
# part of a reference cycle, and the collector need not track millions of them.
class Envelope(Struct, frozen=True, kw_only=True, tag_field="type", gc=False):
    """Fields every event carries; ``type`` is the tag msgspec dispatches on."""

    type: ClassVar[str]
    schema_version: Literal[1]
    event_id: Annotated[str, Meta(min_length=1, max_length=128)]
    occurred_at: Instant
    site: SiteName


# --- ACD -------------------------------------------------------------------------------


class CallQueued(Envelope, tag="call.queued", frozen=True, kw_only=True):
    """A call entered a queue and starts waiting."""

    type: ClassVar[str] = "call.queued"
    call_id: Name
    queue: Name
    priority: int = 0


class CallAnswered(Envelope, tag="call.answered", frozen=True, kw_only=True):
    """An agent answered a waiting call."""

    type: ClassVar[str] = "call.answered"
    call_id: Name
    queue: Name
    agent_id: Name
    wait_seconds: Seconds


class CallAbandoned(Envelope, tag="call.abandoned", frozen=True, kw_only=True):
    """The caller hung up while waiting."""

    type: ClassVar[str] = "call.abandoned"
    call_id: Name
    queue: Name
    wait_seconds: Seconds


class CallbackRequested(Envelope, tag="call.callback_requested", frozen=True, kw_only=True):
    """The caller left the queue asking to be called back."""

    type: ClassVar[str] = "call.callback_requested"
    call_id: Name
    queue: Name
    wait_seconds: Seconds


class CallTransferred(Envelope, tag="call.transferred", frozen=True, kw_only=True):
    """The call left ``queue``, possibly for ``to_queue``."""

    type: ClassVar[str] = "call.transferred"
    call_id: Name
    queue: Name
    to_queue: Name | None = None


class CallCompleted(Envelope, tag="call.completed", frozen=True, kw_only=True):
    """An answered call ended; its handle time is talk + hold + after-call work."""

    type: ClassVar[str] = "call.completed"
    call_id: Name
    queue: Name
    agent_id: Name
    talk_seconds: Seconds
    hold_seconds: Seconds
    acw_seconds: Seconds


class AgentState(Envelope, tag="agent.state", frozen=True, kw_only=True):
    """An agent changed state; ``queues`` are the queues the agent serves."""

    type: ClassVar[str] = "agent.state"
    agent_id: Name
    state: AgentStateName
    queues: list[Name]


class QueueSnapshot(Envelope, tag="queue.snapshot", frozen=True, kw_only=True):
    """The ACD's own periodic view of a queue, authoritative at ``occurred_at``."""

    type: ClassVar[str] = "queue.snapshot"
    queue: Name
    calls_waiting: Count
    oldest_wait_seconds: Seconds
    agents_staffed: Count
    agents_available: Count


# --- IVR -------------------------------------------------------------------------------


class IvrSessionStarted(Envelope, tag="ivr.session_started", frozen=True, kw_only=True):
    """A caller entered an IVR application."""

    type: ClassVar[str] = "ivr.session_started"
    session_id: Name
    application: Name
    call_id: Name | None = None


class IvrNode(Envelope, tag="ivr.node", frozen=True, kw_only=True):
    """An IVR session reached a menu or node."""

    type: ClassVar[str] = "ivr.node"
    session_id: Name
    application: Name
    node: Name


class IvrInputError(Envelope, tag="ivr.input_error", frozen=True, kw_only=True):
    """The caller gave no input, or input that matched nothing."""

    type: ClassVar[str] = "ivr.input_error"
    session_id: Name
    application: Name
    node: Name | None = None
    kind: Literal["no_input", "no_match"]


class IvrBackendError(Envelope, tag="ivr.backend_error", frozen=True, kw_only=True):
    """A backend the IVR depends on failed during a session."""

    type: ClassVar[str] = "ivr.backend_error"
    session_id: Name
    application: Name
    backend: Name
    error: str | None = None


class IvrSessionEnded(Envelope, tag="ivr.session_ended", frozen=True, kw_only=True):
    """An IVR session ended, contained or not."""

    type: ClassVar[str] = "ivr.session_ended"
    session_id: Name
    application: Name
    outcome: Literal["contained", "transferred", "hangup", "error"]
    duration_seconds: Seconds


class IvrPorts(Envelope, tag="ivr.ports", frozen=True, kw_only=True):
    """Port usage of an IVR application."""

    type: ClassVar[str] = "ivr.ports"
    application: Name
    ports_in_use: Count
    ports_total: Annotated[int, Meta(ge=1)]


# --- Voice infrastructure ---------------------------------------------------------------


class TrunkStatus(Envelope, tag="trunk.status", frozen=True, kw_only=True):
    """A trunk's state and channel usage."""

    type: ClassVar[str] = "trunk.status"
    trunk_id: Name
    state: Literal["up", "down"]
    channels_in_use: Count
    channels_total: Annotated[int, Meta(ge=1)]


class CallSetup(Envelope, tag="call.setup", frozen=True, kw_only=True):
    """The final SIP response (200-699) to an INVITE on a trunk."""

    type: ClassVar[str] = "call.setup"
    trunk_id: Name
    call_id: Name | None = None
    sip_code: Annotated[int, Meta(ge=200, le=699)]
    post_dial_delay_ms: Annotated[float, Meta(ge=0)] | None = None


class MediaQuality(Envelope, tag="media.quality", frozen=True, kw_only=True):
    """Media quality of a call leg or component."""

    type: ClassVar[str] = "media.quality"
    trunk_id: Name | None = None
    component: Name | None = None
    call_id: Name | None = None
    mos: Annotated[float, Meta(ge=1, le=5)]
    jitter_ms: Annotated[float, Meta(ge=0)]
    packet_loss_ratio: Annotated[float, Meta(ge=0, le=1)]
    rtt_ms: Annotated[float, Meta(ge=0)] | None = None


class ComponentHealth(Envelope, tag="component.health", frozen=True, kw_only=True):
    """A heartbeat from an infrastructure component."""

    type: ClassVar[str] = "component.health"
    component: Name
    kind: Literal["sbc", "media_gateway", "pbx", "ivr_platform", "recording", "cti", "other"]
    status: Literal["up", "degraded", "down"]
    detail: str | None = None


class MaintenanceStarted(Envelope, tag="maintenance.started", frozen=True, kw_only=True):
    """Maintenance began on some components (ad-hoc or announced)."""

    type: ClassVar[str] = "maintenance.started"
    maintenance_id: Name
    components: list[Name]
    queues: list[Name] | None = None
    reason: str | None = None
    ticket: str | None = None


class MaintenanceEnded(Envelope, tag="maintenance.ended", frozen=True, kw_only=True):
    """Maintenance ended."""

    type: ClassVar[str] = "maintenance.ended"
    maintenance_id: Name


Event = (
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
    | MaintenanceEnded
)

EVENT_STRUCTS: dict[str, type[Envelope]] = {cls.type: cls for cls in Envelope.__subclasses__()}
