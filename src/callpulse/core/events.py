"""Canonical events, schema version 1 (docs/events.md): the one definition of each type.

One msgspec Struct per event ``type``, tagged on that field. Everything else about events is
derived from these classes: the JSON Schema (:mod:`callpulse.core.event_schema`), the
pydantic models that explain a rejected record (:mod:`callpulse.core.event_models`), and
:data:`EVENT_TYPES`. Unknown extra fields are ignored so that newer producers never break an
older callpulse; a missing or ill-typed field, an out-of-range value or an unknown ``type``
makes the record invalid.

Every constraint is declared here. Most (lengths, bounds, literals, an aware ``occurred_at``)
msgspec checks as it decodes. Two are declared as a ``pattern`` in ``extra_json_schema``
instead, so that msgspec does not run a regular expression per string, which would cost
more than the rest of the decode: the *printable* rule on names and the character set of
``site``. :func:`callpulse.core.ingest.decode` checks them another way, the derived models
enforce them, and ``tests/unit/test_decode_differential.py`` shows that both paths accept
exactly the same records with the same values.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, ClassVar, Literal, Protocol

from msgspec import Meta, Struct

SCHEMA_VERSION = 1

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
PRINTABLE = "^[^" + "".join(f"\\u{lo:04x}-\\u{hi:04x}" for lo, hi in NOT_IN_NAMES) + "]+$"
"""The pattern every name matches: none of :data:`NOT_IN_NAMES`."""
NOT_IN_NAMES_UTF8 = b"|".join(
    re.escape(chr(c).encode()) for lo, hi in NOT_IN_NAMES for c in range(max(lo, 0x80), hi + 1)
)
"""The UTF-8 of every character of :data:`NOT_IN_NAMES` beyond ASCII, as a bytes pattern."""
SITE_CHARACTERS = r"[A-Za-z0-9_.:\-]+"  # what a site name is made of (a label value, a key)

# A pattern in extra_json_schema is published and enforced by the derived models, but not
# run by msgspec (see the module's docstring).
Name = Annotated[str, Meta(min_length=1, max_length=256, extra_json_schema={"pattern": PRINTABLE})]
SITE_PATTERN = f"^{SITE_CHARACTERS}$"
SITE_MAX_LENGTH = 64
SiteName = Annotated[
    str, Meta(min_length=1, max_length=SITE_MAX_LENGTH, extra_json_schema={"pattern": SITE_PATTERN})
]
EventId = Annotated[
    str, Meta(min_length=1, max_length=128, extra_json_schema={"pattern": PRINTABLE})
]
Seconds = Annotated[float, Meta(ge=0)]
Count = Annotated[int, Meta(ge=0)]
Instant = Annotated[datetime, Meta(tz=True)]

AgentStateName = Literal["available", "on_call", "acw", "not_ready", "offline"]
AGENT_STATES: tuple[AgentStateName, ...] = ("available", "on_call", "acw", "not_ready", "offline")


# gc=False: an event holds only strings, numbers and lists of strings, so it can never be
# part of a reference cycle, and the collector need not track millions of them.
class Envelope(Struct, frozen=True, kw_only=True, tag_field="type", gc=False):
    """Fields every event carries; ``type`` is the tag msgspec dispatches on."""

    type: ClassVar[str]
    schema_version: Literal[1]
    event_id: EventId
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
    """A trunk's state, its channel usage, or both: what the producer knows of it.

    ``state`` absent: not reported, and the trunk's last reported state stands (a platform
    that counts channels from its call records cannot see a trunk go down).
    ``channels_in_use`` absent: not reported, and the trunk's last reported count stands (a
    platform's gateway status event says whether the carrier answers, not how many calls
    are up). One of the two is required: a status with neither says nothing.
    ``channels_total`` absent: the capacity configured for the trunk (``kpi.trunk_channels``).
    """

    type: ClassVar[str] = "trunk.status"
    trunk_id: Name
    channels_in_use: Count | None = None
    state: Literal["up", "down"] | None = None
    channels_total: Annotated[int, Meta(ge=1)] | None = None

    def __post_init__(self) -> None:
        problem = trunk_status_problem(self)
        if problem is not None:
            raise ValueError(problem)


class _TrunkReport(Protocol):
    """What :func:`trunk_status_problem` reads: a trunk.status's state and count (the
    Struct's, or a derived model's of the same names)."""

    @property
    def state(self) -> Literal["up", "down"] | None: ...
    @property
    def channels_in_use(self) -> int | None: ...


def trunk_status_problem(event: _TrunkReport) -> str | None:
    """Why a trunk.status makes no event: it gives neither a state nor a count, so it says
    nothing of the trunk. None when it gives either. Read by msgspec as it decodes and by
    the derived models, as :func:`media_quality_problem` is."""
    if event.state is None and event.channels_in_use is None:
        return "nothing reported: give at least one of state, channels_in_use"
    return None


class CallSetup(Envelope, tag="call.setup", frozen=True, kw_only=True):
    """The final SIP response to an INVITE on a trunk.

    Only final responses (200-699) are call setup results; a provisional 1xx (100 Trying,
    183 Session Progress) is not a seizure's outcome and is rejected.
    """

    type: ClassVar[str] = "call.setup"
    trunk_id: Name
    call_id: Name | None = None
    sip_code: Annotated[int, Meta(ge=200, le=699)]
    post_dial_delay_ms: Annotated[float, Meta(ge=0)] | None = None


ScoreKind = Literal["freeswitch_flaws", "connect_quality", "asterisk_mes"]
SCORE_KINDS: tuple[ScoreKind, ...] = ("freeswitch_flaws", "connect_quality", "asterisk_mes")
SCORE_RANGES: dict[ScoreKind, tuple[float, float]] = {
    # switch_rtp.c do_mos: 1 + 0.035 R + 7e-6 R (R - 60)(100 - R), R = 0..100 from flaws.
    "freeswitch_flaws": (1.0, 4.5),
    # Amazon Connect contact records, QualityMetrics...Audio.QualityScore.
    "connect_quality": (1.0, 5.0),
    # Asterisk RTPAUDIOQOS rxmes / txmes: the Media Experience Score, 0-100.
    "asterisk_mes": (0.0, 100.0),
}
"""Each platform score's kind and the range its platform gives it."""


class MediaQuality(Envelope, tag="media.quality", frozen=True, kw_only=True):
    """Media quality of a call leg or component: at least one measure of it.

    ``mos`` is an ITU-T G.107 E-model MOS (1-5) only. A platform's own score, which is not
    one, is ``score`` with its ``score_kind``, within that kind's range: freeswitch_flaws
    1-4.5, connect_quality 1-5, asterisk_mes 0-100. ``jitter_ms`` is RFC 3550 interarrival
    jitter; ``packet_loss_ratio`` lost / expected.
    """

    type: ClassVar[str] = "media.quality"
    trunk_id: Name | None = None
    component: Name | None = None
    call_id: Name | None = None
    mos: Annotated[float, Meta(ge=1, le=5)] | None = None
    jitter_ms: Annotated[float, Meta(ge=0)] | None = None
    packet_loss_ratio: Annotated[float, Meta(ge=0, le=1)] | None = None
    rtt_ms: Annotated[float, Meta(ge=0)] | None = None
    score: Annotated[float, Meta(ge=0, le=100)] | None = None
    score_kind: ScoreKind | None = None

    def __post_init__(self) -> None:
        problem = media_quality_problem(self)
        if problem is not None:
            raise ValueError(problem)


class _Measures(Protocol):
    """What :func:`media_quality_problem` reads: a media.quality's measures (the Struct's,
    or a derived model's of the same names)."""

    @property
    def mos(self) -> float | None: ...
    @property
    def jitter_ms(self) -> float | None: ...
    @property
    def packet_loss_ratio(self) -> float | None: ...
    @property
    def score(self) -> float | None: ...
    @property
    def score_kind(self) -> ScoreKind | None: ...


def media_quality_problem(event: _Measures) -> str | None:
    """Why a media.quality's measures, each valid alone, make no event together: none at all,
    a score without its kind (or a kind without a score), or a score outside its kind's
    range. None when they do. Read by msgspec as it decodes (``__post_init__``) and by the
    derived models, so both paths refuse the same records."""
    has_score, has_kind = event.score is not None, event.score_kind is not None
    if has_score != has_kind:
        return "score and score_kind come together: a score means nothing without its kind"
    if (
        event.score is None
        and event.mos is None
        and event.jitter_ms is None
        and event.packet_loss_ratio is None
    ):
        return "no measure: give at least one of mos, jitter_ms, packet_loss_ratio, score"
    if event.score is not None and event.score_kind is not None:
        low, high = SCORE_RANGES[event.score_kind]
        if not low <= event.score <= high:
            return f"score {event.score} is outside {event.score_kind}'s range {low:g}-{high:g}"
    return None


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
"""Each event type's Struct, by its ``type``."""

EVENT_TYPES: tuple[str, ...] = tuple(sorted(EVENT_STRUCTS))
