"""The settings' schema: every key callpulse takes, its default and what it must be, and how
each section becomes the core's types.

Every section forbids unknown keys, so a typo stops start-up instead of being ignored.
``config/callpulse.yaml`` documents every key (a test makes sure).
"""

from __future__ import annotations

import dataclasses
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal, TypeVar
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from dateutil.rrule import rrulestr
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    PrivateAttr,
    SecretStr,
    model_validator,
)
from pydantic_core import to_jsonable_python
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from callpulse.adapters.agent_identity import rules as agent_rules
from callpulse.adapters.base import AdapterError
from callpulse.adapters.queue_log_lines import given as queue_log_columns
from callpulse.config.credentials import redact
from callpulse.config.errors import ENV_DELIMITER, ENV_PREFIX
from callpulse.config.yaml import YamlFileSource
from callpulse.core.calendar import AgentImpact, WindowSpec
from callpulse.core.cardinality import DEFAULT_LIMITS
from callpulse.core.durations import format_duration, parse_duration
from callpulse.core.events import SITE_MAX_LENGTH, SITE_PATTERN, AgentStateName
from callpulse.core.kpi import AbandonPolicy
from callpulse.core.maintenance import BacklogLimits, EventMode, EventPolicy
from callpulse.core.monitor import MonitorConfig
from callpulse.core.planned_silences import SilenceWindowPolicy
from callpulse.core.queues import ServiceLevelPolicy
from callpulse.core.rules import Rule, RuleSpec
from callpulse.core.silence import SilencePolicy
from callpulse.core.timegrid import check_windows
from callpulse.shipped import shipped
from callpulse.sinks.http_client import HttpConfig
from callpulse.sinks.naming import request_url, sink_labels

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

    from callpulse.web.server import Limits

# A site as events v1 defines it (core/events.py), read by pydantic here.
SiteName = Annotated[str, Field(min_length=1, max_length=SITE_MAX_LENGTH, pattern=SITE_PATTERN)]
Duration = Annotated[
    float,
    BeforeValidator(parse_duration),
    PlainSerializer(format_duration, return_type=str),
    Field(description="seconds, or a string such as 20s, 5m, 1h"),
]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


T = TypeVar("T", bound="DataclassInstance")


def _into(cls: type[T], section: BaseModel, **values: Any) -> T:
    """The core dataclass ``cls`` from ``section``: every field the two share by name, then
    ``values`` for those that are named or shaped differently."""
    shared = {f.name for f in dataclasses.fields(cls)} & set(type(section).model_fields)
    return cls(**({name: getattr(section, name) for name in shared} | values))


class FormatSettings(_Section):
    """What a topic (or a replayed file) carries: events v1, or a platform's own records that
    an adapter turns into v1 (docs/adapters.md)."""

    format: Literal[
        "events-v1",
        "asterisk-queue-log",
        "amazon-connect",
        "twilio-taskrouter",
        "freeswitch-callcenter",
    ] = "events-v1"
    # The site the records belong to, for formats that carry none.
    site: SiteName | None = None
    # Wrap-up the platform does not log (asterisk: queues.conf wrapuptime; freeswitch:
    # the agent's wrap_up_time).
    wrapup_seconds: Duration = 0.0
    # Whether a caller leaving on the queue's timeout counts as an abandon.
    timeouts_are_abandons: bool = True
    # An agent as the platform writes it (an interface, an ARN, a worker SID) -> its name.
    agent_names: dict[str, str] = {}
    # A queue as the platform writes it (a queue ARN, a TaskQueue SID) -> its name.
    queue_names: dict[str, str] = {}
    # A platform's status or activity name -> the events-v1 agent state it means, where the
    # platform's own class of it is not enough.
    activity_states: dict[str, AgentStateName] = {}
    # asterisk-queue-log (docs/adapters-asterisk-queue-log.md): which interfaces are one
    # agent (by_number: Local/1127@ctx, Agent/1127, PJSIP/1127 are agent 1127), rules
    # (a regular expression matching the whole agent field -> its name, \1 for a group), the
    # IANA zone of a YYYY-MM-DD HH:MM:SS time, and a table export's header line (e.g.
    # "time,callid,queuename,agent,event,data1,data2,data3,data4,data5") for a stream that
    # does not start with it.
    agent_identity: Literal["by_interface", "by_number"] = "by_interface"
    agent_aliases: dict[str, str] = {}
    timezone: str = "UTC"
    columns: str = ""
    # Whether the feed sends heartbeats (docs/alerts.md, SiteSilent); unset: only events v1 does.
    heartbeats: bool | None = None

    @model_validator(mode="after")
    def _site_where_needed(self) -> FormatSettings:
        if self.format != "events-v1" and self.site is None:
            raise ValueError(f"format {self.format} carries no site: give site")
        return self

    @model_validator(mode="after")
    def _queue_log_options(self) -> FormatSettings:
        try:
            ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f"timezone {self.timezone!r} is not an IANA time zone name "
                "(such as UTC, Europe/London, America/New_York)"
            ) from None
        agent_rules(self.agent_aliases)  # a ValueError names the rule
        if self.columns:
            try:
                queue_log_columns(self.columns)
            except AdapterError as exc:
                raise ValueError(f"columns: {exc.detail}") from None
        return self


class KafkaSettings(_Section):
    bootstrap_servers: str = "127.0.0.1:9092"
    topics: Annotated[list[str], Field(min_length=1)] = ["contact-center.events"]
    # Per topic, when a topic carries something other than events v1.
    formats: dict[str, FormatSettings] = {}
    group_id: str = "callpulse"
    client_id: str = "callpulse"
    dead_letter_topic: str = "contact-center.events.dlq"
    # A compacted topic where each site's alert state travels with its partition (optional).
    alert_state_topic: str | None = None
    auto_offset_reset: Literal["earliest", "latest"] = "earliest"
    max_record_bytes: Annotated[int, Field(ge=1)] = 256 * 1024
    max_batch_records: Annotated[int, Field(ge=1)] = 5000
    stall_timeout: Duration = 60.0
    security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = "PLAINTEXT"
    sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] | None = None
    sasl_username: str | None = None
    sasl_password: SecretStr | None = None
    sasl_password_file: Path | None = None  # a mounted Secret; read at start-up
    ssl_cafile: Path | None = None
    ssl_certfile: Path | None = None  # mutual TLS: this client's certificate...
    ssl_keyfile: Path | None = None  # ...and its key

    @model_validator(mode="after")
    def _security(self) -> KafkaSettings:
        if self.sasl_password_file is not None:
            if self.sasl_password is not None:
                raise ValueError("give sasl_password or sasl_password_file, not both")
            try:
                secret = self.sasl_password_file.read_text(encoding="utf-8").rstrip("\r\n")
            except OSError as exc:
                raise ValueError(
                    f"sasl_password_file {self.sasl_password_file}: cannot read it: {exc.strerror}"
                ) from None
            self.sasl_password = SecretStr(secret)
        credentials = self.sasl_mechanism or self.sasl_username or self.sasl_password
        if credentials and not self.security_protocol.startswith("SASL_"):
            raise ValueError(
                f"SASL settings need security_protocol SASL_SSL (or SASL_PLAINTEXT); with "
                f"{self.security_protocol} they would be ignored and nothing would authenticate"
            )
        if self.security_protocol.startswith("SASL_") and not (
            self.sasl_mechanism and self.sasl_username and self.sasl_password
        ):
            raise ValueError(
                f"security_protocol {self.security_protocol} needs sasl_mechanism, "
                "sasl_username and sasl_password (or sasl_password_file)"
            )
        if (self.ssl_certfile is None) != (self.ssl_keyfile is None):
            raise ValueError("mutual TLS needs both ssl_certfile and ssl_keyfile")
        unknown = sorted(set(self.formats) - set(self.topics))
        if unknown:
            raise ValueError(f"formats names topics not in topics: {', '.join(unknown)}")
        return self


class ReplaySettings(_Section):
    path: Path = Path("events.jsonl")
    speed: Annotated[float, Field(ge=0)] = 0.0
    format: FormatSettings = FormatSettings()


class SimulatorSettings(_Section):
    scenario: str = "maintenance-backlog"
    speed: Annotated[float, Field(gt=0)] = 30.0


class SourceSettings(_Section):
    kind: Literal["simulator", "kafka", "replay"] = "simulator"
    kafka: KafkaSettings = KafkaSettings()
    replay: ReplaySettings = ReplaySettings()
    simulator: SimulatorSettings = SimulatorSettings()


def _shown_url(url: str | None) -> str | None:
    """A URL the status page links to: http or https, and no ``user:password@`` (the page
    is for anyone who can read it)."""
    if url is None:
        return None
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("expected an http or https URL with a host")
    if parts.username is not None or parts.password is not None:
        raise ValueError("the page shows this URL: no user:password@ in it")
    return url


ShownUrl = Annotated[str | None, AfterValidator(_shown_url)]


class StatusPageSettings(_Section):
    """What the status page links to and reads besides callpulse itself (README)."""

    grafana_url: ShownUrl = None
    # Unset: the first alerting.alertmanagers URL, scheme, host and port only.
    alertmanager_url: ShownUrl = None
    # Silences (and the alerts they silence) are read from the first Alertmanager this often.
    silences_interval: Annotated[float, BeforeValidator(parse_duration), Field(ge=1)] = 30.0
    max_silences: Annotated[int, Field(ge=1, le=1000)] = 100


class HttpSettings(_Section):
    host: str = "0.0.0.0"
    port: Annotated[int, Field(ge=0, le=65535)] = 9464  # 0: any free port (logged)
    header_timeout: Annotated[float, BeforeValidator(parse_duration), Field(gt=0)] = 10.0
    keepalive_timeout: Annotated[float, BeforeValidator(parse_duration), Field(gt=0)] = 15.0
    max_connections: Annotated[int, Field(ge=1)] = 256
    max_header_bytes: Annotated[int, Field(ge=1024)] = 8190
    web_config_file: Path | None = None  # TLS and basic auth (exporter-toolkit format)
    # Basic auth: wrong passwords a client address may try a minute before it gets 429, how
    # many addresses that is remembered for, and how many bcrypt checks may wait (then 503).
    auth_failures_per_minute: Annotated[int, Field(ge=1)] = 10
    auth_max_addresses: Annotated[int, Field(ge=1)] = 10_000
    auth_max_pending: Annotated[int, Field(ge=1)] = 16
    # /metrics is rendered in a forked child, off the event loop (callpulse.web.forked).
    render_in_child: bool = True
    # A child slower than this is killed and the scrape answered 503: Prometheus' default
    # scrape_timeout. Raise both together for tens of thousands of queues.
    render_timeout: Annotated[float, BeforeValidator(parse_duration), Field(gt=0)] = 10.0
    status_page: StatusPageSettings = StatusPageSettings()

    def limits(self) -> Limits:
        # Imported here: the web server imports the config's errors, which import this.
        from callpulse.web.server import Limits

        return _into(Limits, self)


Ratio = Annotated[float, Field(gt=0, lt=1)]


class ServiceLevelOverride(_Section):
    threshold: Duration | None = None
    short_abandon: Duration | None = None
    abandons: AbandonPolicy | None = None
    target: Ratio | None = None


class ServiceLevelSettings(_Section):
    threshold: Duration = 20.0
    short_abandon: Duration = 5.0
    abandons: AbandonPolicy = "negative"
    target: Ratio = 0.8
    queues: dict[str, ServiceLevelOverride] = {}

    def policy(self, override: ServiceLevelOverride | None = None) -> ServiceLevelPolicy:
        o = override or ServiceLevelOverride()
        return ServiceLevelPolicy(
            threshold=self.threshold if o.threshold is None else o.threshold,
            short_abandon=self.short_abandon if o.short_abandon is None else o.short_abandon,
            abandons=o.abandons or self.abandons,
            target=self.target if o.target is None else o.target,
        )


class LabelLimits(_Section):
    site: Annotated[int, Field(ge=1)] = DEFAULT_LIMITS["site"]
    queue: Annotated[int, Field(ge=1)] = DEFAULT_LIMITS["queue"]
    application: Annotated[int, Field(ge=1)] = DEFAULT_LIMITS["application"]
    trunk: Annotated[int, Field(ge=1)] = DEFAULT_LIMITS["trunk"]
    component: Annotated[int, Field(ge=1)] = DEFAULT_LIMITS["component"]
    backend: Annotated[int, Field(ge=1)] = DEFAULT_LIMITS["backend"]
    agent: Annotated[int, Field(ge=1)] = DEFAULT_LIMITS["agent"]


class KpiSettings(_Section):
    windows: Annotated[list[Duration], Field(min_length=1)] = [60.0, 300.0, 900.0]
    bucket: Duration = 5.0
    service_level: ServiceLevelSettings = ServiceLevelSettings()
    max_clock_skew: Duration = 30.0
    tick: Duration = 1.0
    dedup_capacity: Annotated[int, Field(ge=1000)] = 2_000_000
    erlang_window: Duration | None = None
    component_stale_after: Duration = 60.0
    max_label_values: LabelLimits = LabelLimits()

    @model_validator(mode="after")
    def _windows_fit_buckets(self) -> KpiSettings:
        check_windows(self.windows, self.bucket)
        if self.erlang_window is not None and self.erlang_window not in self.windows:
            raise ValueError(
                f"erlang_window {format_duration(self.erlang_window)} must be one of the windows"
            )
        return self

    def monitor_config(self, *, event_time_clock: bool) -> MonitorConfig:
        sl = self.service_level
        return MonitorConfig(
            windows=tuple(sorted(self.windows)),
            bucket=self.bucket,
            max_clock_skew=self.max_clock_skew,
            service_level=sl.policy(),
            service_level_overrides={q: sl.policy(o) for q, o in sl.queues.items()},
            event_time_clock=event_time_clock,
            dedup_capacity=self.dedup_capacity,
            erlang_window=self.erlang_window or 300.0,
            component_stale_after=self.component_stale_after,
            label_limits=self.max_label_values.model_dump(),
        )


class BasicAuthSettings(_Section):
    username: str
    password: SecretStr | None = None
    password_file: Path | None = None


class AuthorizationSettings(_Section):
    type: Literal["Bearer"] = "Bearer"
    credentials: SecretStr | None = None
    credentials_file: Path | None = None


class TlsSettings(_Section):
    ca_file: Path | None = None
    cert_file: Path | None = None
    key_file: Path | None = None


class HttpClientSettings(_Section):
    """How a client authenticates to an HTTP server and trusts it, as Prometheus'
    ``http_config`` names it: what a sink and ``callpulse status --http.config.file`` take."""

    basic_auth: BasicAuthSettings | None = None
    authorization: AuthorizationSettings | None = None
    tls_config: TlsSettings | None = None

    @model_validator(mode="after")
    def _one_way_to_authenticate(self) -> HttpClientSettings:
        if self.basic_auth is not None and self.authorization is not None:
            raise ValueError("give basic_auth or authorization, not both")
        return self

    def http_config(self) -> HttpConfig:
        basic, bearer, tls = self.basic_auth, self.authorization, self.tls_config
        return HttpConfig(
            username=basic.username if basic else None,
            password=basic.password.get_secret_value() if basic and basic.password else None,
            password_file=basic.password_file if basic else None,
            bearer_token=(
                bearer.credentials.get_secret_value() if bearer and bearer.credentials else None
            ),
            bearer_token_file=bearer.credentials_file if bearer else None,
            ca_file=tls.ca_file if tls else None,
            cert_file=tls.cert_file if tls else None,
            key_file=tls.key_file if tls else None,
        )


class SinkTarget(HttpClientSettings):
    """Where an HTTP sink (an Alertmanager or a webhook) sends, and how it authenticates. The
    URL is a secret (it may hold credentials or a token): logs and the ``sink`` label show
    ``name``, or its host."""

    url: Annotated[str, AfterValidator(request_url)]
    timeout: Duration = 10.0
    name: str | None = None


def _switch(value: Any) -> Any:
    """``true`` / ``false`` for a section with an ``enabled`` key: on (or off) with its
    defaults."""
    return {"enabled": value} if isinstance(value, bool) else value


class SilenceWindowSettings(_Section):
    """Alertmanager silences for the maintenance calendar's windows (docs/alerts.md)."""

    enabled: bool = False
    site_label: Annotated[str, Field(pattern=r"^[a-zA-Z_][a-zA-Z0-9_]*$")] = "site"
    component_label: Annotated[str, Field(pattern=r"^[a-zA-Z_][a-zA-Z0-9_]*$")] = "component"
    cluster: bool = True
    lead: Duration = 60.0
    max_overrun: Duration = 7200.0
    max_answer_bytes: Annotated[int, Field(ge=65536)] = 8 * 1024 * 1024

    def policy(self) -> SilenceWindowPolicy:
        return _into(SilenceWindowPolicy, self)


class AlertingSettings(_Section):
    alertmanagers: list[SinkTarget] = []
    webhooks: list[SinkTarget] = []
    log: bool = True
    evaluation_interval: Annotated[float, BeforeValidator(parse_duration), Field(gt=0)] = 5.0
    resend_delay: Duration = 60.0
    # Unset: the listen address (this machine's name for 0.0.0.0), as Prometheus defaults it.
    external_url: Annotated[str, Field(pattern=r"^https?://")] | None = None
    state_file: Path | None = None
    queue_capacity: Annotated[int, Field(ge=10)] = 10_000
    silence_windows: Annotated[SilenceWindowSettings, BeforeValidator(_switch)] = (
        SilenceWindowSettings()
    )

    @model_validator(mode="after")
    def _silences_need_an_alertmanager(self) -> AlertingSettings:
        if self.silence_windows.enabled and not self.alertmanagers:
            raise ValueError(
                "silence_windows: enabled, but no alertmanagers are listed to hold the silences"
            )
        return self

    def labelled(self, kind: Literal["alertmanager", "webhook"]) -> list[tuple[str, SinkTarget]]:
        """``kind``'s targets in order, each with its ``sink`` label (sinks.naming)."""
        targets = self.alertmanagers if kind == "alertmanager" else self.webhooks
        labels = sink_labels(kind, [(t.url, t.name) for t in targets])
        return list(zip(labels, targets, strict=True))

    @model_validator(mode="after")
    def _distinct_sinks(self) -> AlertingSettings:
        # A sink's label is its identity in logs and metrics: two alike would add up two
        # sinks' counts in one series.
        named: dict[str, str] = {}
        for kind in ("alertmanager", "webhook"):
            pairs = self.labelled(kind)
            unnamed = {label: i for i, (label, t) in enumerate(pairs) if not t.name}
            for i, (label, target) in enumerate(pairs):
                if not target.name:
                    continue
                key = f"{kind}s.{i}.name"
                if target.name in named:
                    raise ValueError(
                        f"{key}: {target.name!r} is also {named[target.name]}: sink names must "
                        "be unique"
                    )
                if label in unnamed:
                    raise ValueError(
                        f"{key}: {target.name!r} is the label of the unnamed {kind}s."
                        f"{unnamed[label]}: choose another name"
                    )
                named[target.name] = key
        return self


class AbsentSettings(_Section):
    scope: str = "site"
    for_: Annotated[Duration, Field(alias="for")]
    # Sites without heartbeats page only on a silence this improbable at their own rate...
    improbability: float | None = None
    # ...or one this long, whatever the rate.
    max: Duration | None = None


class RuleSettings(_Section):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    alert: str
    kpi: str | None = None
    window: Duration | None = None
    match: dict[str, str] = {}
    op: str | None = None
    threshold: float | None = None
    clear: float | None = None
    for_: Annotated[Duration, Field(alias="for")] = 0.0
    keep_firing_for: Duration = 0.0
    severity: str = "warning"
    labels: dict[str, str] = {}
    annotations: dict[str, str] = {}
    absent: AbsentSettings | None = None

    def spec(self) -> RuleSpec:
        return _into(
            RuleSpec,
            self,
            for_seconds=self.for_,
            absent_scope=self.absent.scope if self.absent else None,
            absent_for=self.absent.for_ if self.absent else None,
            absent_improbability=self.absent.improbability if self.absent else None,
            absent_max=self.absent.max if self.absent else None,
        )


class RuleFile(_Section):
    rules: list[RuleSettings] = []


def _share(value: Any) -> Any:
    """``50%`` -> 0.5; a number must be a share from 0 to 1; a mapping passes on."""
    if isinstance(value, str):
        text = value.strip()
        try:
            value = float(text[:-1]) / 100 if text.endswith("%") else float(text)
        except ValueError:
            raise ValueError(f"expected a share such as 50% or 0.5, got {value!r}") from None
    if isinstance(value, int | float) and not isinstance(value, bool) and not 0 <= value <= 1:
        raise ValueError(f"a share must be from 0% to 100%, got {value!r}")
    return value


def _impact(value: float | dict[str, int] | None) -> AgentImpact | None:
    if value is None:
        return None
    if isinstance(value, dict):
        return AgentImpact(counts=tuple(sorted(value.items())))
    return AgentImpact(share=value)


class WindowSettings(_Section):
    name: Annotated[str, Field(min_length=1)]
    sites: Annotated[list[str], Field(min_length=1)]
    components: list[str] = []
    queues: list[str] = []
    trunks: list[str] = []
    applications: list[str] = []
    start: datetime
    duration: Annotated[float, BeforeValidator(parse_duration), Field(gt=0)]
    rrule: str | None = None
    agents_affected: Annotated[
        float | dict[str, Annotated[int, Field(ge=0)]] | None,
        BeforeValidator(_share),
        Field(
            description="a share of each covered queue's agents (50% or 0.5), or a count "
            "per queue ({billing: 10})"
        ),
    ] = None

    @model_validator(mode="after")
    def _check(self) -> WindowSettings:
        if self.start.tzinfo is not None:
            raise ValueError(
                "start is local time in maintenance.timezone: write it without an offset"
            )
        if self.rrule is not None:
            try:
                rrulestr(self.rrule, dtstart=self.start)
            except (ValueError, TypeError) as exc:
                raise ValueError(f"rrule is not an RFC 5545 RRULE: {exc}") from None
        return self

    def spec(self) -> WindowSpec:
        lists = ("sites", "components", "queues", "trunks", "applications")
        return _into(
            WindowSpec,
            self,
            **{name: tuple(getattr(self, name)) for name in lists},
            agents_affected=_impact(self.agents_affected),
        )


class BacklogSettings(_Section):
    # Defaults are merged into the file's values by key: they must be dumped as `for`.
    model_config = ConfigDict(extra="forbid", populate_by_name=True, serialize_by_alias=True)

    grace: Duration = 1800.0
    baseline: Duration = 1800.0
    min_calls_waiting: Annotated[int, Field(ge=1)] = 5
    max_calls_waiting: Annotated[int, Field(ge=0)] = 20
    max_backlog_ratio: Annotated[float, Field(gt=0)] = 3.0
    max_drain_eta: Duration = 900.0
    drained_calls_waiting: Annotated[int, Field(ge=0)] = 2
    patience: Annotated[Duration, Field(gt=0)] = 600.0
    forecast_lead: Duration = 1800.0
    overrun_after: Duration = 60.0
    return_spread: Annotated[Duration, Field(ge=0)] = 120.0
    page_confidence: Annotated[float, Field(ge=0.5, le=0.9)] = 0.75
    for_: Annotated[Duration, Field(alias="for")] = 60.0
    keep_firing_for: Duration = 120.0
    severity: str = "critical"

    @model_validator(mode="after")
    def _levels(self) -> BacklogSettings:
        if self.drained_calls_waiting >= self.min_calls_waiting:
            raise ValueError(
                f"drained_calls_waiting ({self.drained_calls_waiting}) must be below "
                f"min_calls_waiting ({self.min_calls_waiting}): the clear level is under the "
                "fire level"
            )
        return self

    def limits(self) -> BacklogLimits:
        return _into(BacklogLimits, self)


class EventWindowSettings(_Section):
    sites: list[str] = []
    components: list[str] = []
    max_duration: Annotated[float, BeforeValidator(parse_duration), Field(gt=0)] = 4 * 3600.0
    max_open_per_site: Annotated[int, Field(ge=1)] = 20
    max_names: Annotated[int, Field(ge=1)] = 64
    max_bytes: Annotated[int, Field(ge=64 * 1024)] = 8 * 1024 * 1024


class MaintenanceSettings(_Section):
    timezone: str = "UTC"
    windows: list[WindowSettings] = []
    backlog: BacklogSettings = BacklogSettings()
    events: EventMode = "accept"
    event_windows: EventWindowSettings = EventWindowSettings()

    def event_policy(self) -> EventPolicy:
        w = self.event_windows
        return EventPolicy(
            self.events,
            tuple(w.sites),
            tuple(w.components),
            w.max_duration,
            w.max_open_per_site,
            w.max_names,
            w.max_bytes,
        )

    @model_validator(mode="after")
    def _zone(self) -> MaintenanceSettings:
        try:
            ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"timezone {self.timezone!r} is not an IANA time zone") from None
        names = [w.name for w in self.windows]
        if len(set(names)) != len(names):
            raise ValueError("window names must be unique")
        return self


class LogSettings(_Section):
    level: Literal["debug", "info", "warning", "error"] = "info"
    format: Literal["auto", "json", "console"] = "auto"


class Settings(BaseSettings):
    """Everything callpulse can be told. See ``config/callpulse.yaml`` for each key."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_nested_delimiter=ENV_DELIMITER,
        extra="forbid",
        nested_model_default_partial_update=True,
    )

    source: SourceSettings = SourceSettings()
    http: HttpSettings = HttpSettings()
    kpi: KpiSettings = KpiSettings()
    log: LogSettings = LogSettings()
    shutdown_grace: Duration = 20.0
    alerting: AlertingSettings = AlertingSettings()
    maintenance: MaintenanceSettings = MaintenanceSettings()
    rules: list[RuleSettings] = []
    # Unset: the shipped rules (a config that names none still pages); ``[]``: none at all.
    rule_files: list[Path] = Field(default_factory=lambda: [shipped("rules.yaml")])
    _compiled: list[tuple[str, list[Rule]]] | None = PrivateAttr(default=None)

    def use_rule_files(self, files: list[Path]) -> None:
        """Evaluate ``files``' rules instead (the embedded default's shipped rules); they are
        compiled now, raising ConfigError as a load would."""
        self.rule_files = files
        self._compiled = None
        self.compiled_rules()

    def compiled_rules(self, origin: str = "(config)") -> list[Rule]:
        """The config's rules and every rule file's, compiled once (at load) and kept; raise
        ConfigError naming the file, the rule and the field."""
        return [rule for _, rules in self.rule_sources(origin) for rule in rules]

    def rule_sources(self, origin: str = "(config)") -> list[tuple[str, list[Rule]]]:
        """Where the rules come from (``origin``: the config itself, then each rule file),
        each with its compiled rules; compiled once and kept."""
        if self._compiled is None:
            from callpulse.config.rules import rule_sources

            self._compiled = rule_sources(self, origin)
        return self._compiled

    def rules_loaded(self) -> str:
        """The rules loaded, in words: "14 rules: 14 from rules.yaml" (what start-up and
        ``check-config`` print, so that a config that loads none says so)."""
        sources = self.rule_sources()
        total = sum(len(rules) for _, rules in sources)
        parts = [f"{len(rules)} from {where}" for where, rules in sources if rules]
        if not total:
            files = "rule_files: []" if not self.rule_files else "rule files without rules"
            return f"0 rules ({files}): nothing will page"
        return f"{total} rule{'s' if total != 1 else ''}: " + ", ".join(parts)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # Arguments, then the environment, then the YAML file: an operator overrides one key
        # of a mounted ConfigMap with an environment variable.
        return (init_settings, env_settings, YamlFileSource(settings_cls))

    def monitor_config(self, *, event_time_clock: bool) -> MonitorConfig:
        """The monitor's configuration: KPIs, maintenance windows and backlog limits."""
        return dataclasses.replace(
            self.kpi.monitor_config(event_time_clock=event_time_clock),
            maintenance_windows=tuple(w.spec() for w in self.maintenance.windows),
            maintenance_timezone=self.maintenance.timezone,
            backlog=self.maintenance.backlog.limits(),
            maintenance_events=self.maintenance.event_policy(),
            silence=self.silence_policy(),
        )

    def silence_policy(self) -> SilencePolicy:
        """Which sites' feeds have no heartbeat: a platform's records unless its format says
        ``heartbeats: true``, events v1 when its format says ``heartbeats: false`` (for every
        site no other feed names, as a topic of events v1 carries many)."""
        source = self.source
        formats = (
            [source.replay.format]
            if source.kind == "replay"
            else list(source.kafka.formats.values())
            if source.kind == "kafka"
            else []
        )
        sites: set[str] = set()
        by_default = False
        for f in formats:
            v1 = f.format == "events-v1"
            if f.heartbeats if f.heartbeats is not None else v1:
                continue
            if v1 or f.site is None:
                by_default = True
            else:
                sites.add(f.site)
        return SilencePolicy(frozenset(sites), by_default)

    def redacted(self) -> dict[str, Any]:
        """The effective settings as plain data, with every credential masked by its key
        (whatever its type) and sink URLs down to their scheme, host and port."""
        # Dumped as Python and made JSON after masking: a JSON dump would go through each
        # field's type (SecretStr's serializer fails on anything but a SecretStr).
        data = redact(self.model_dump(mode="python", warnings=False))
        return dict(to_jsonable_python(data))
