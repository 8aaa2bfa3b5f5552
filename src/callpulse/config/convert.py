"""Validated settings as the objects the daemon runs on: the core's policies and the typed
options of the shell (the HTTP server's limits, a sink's client settings).

Pure functions from a section to a value: nothing here reads a file or keeps what it made,
so a reload converts the new settings the way start-up converted the first ones. The
defaults are the targets' own: a section's default refers to its core dataclass, and a
field the two share by name is copied by :func:`into`, not listed again.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any, Literal, TypeVar

from pydantic import BaseModel

from callpulse.config.alerting_settings import (
    AlertingSettings,
    HttpClientSettings,
    RuleSettings,
    SilenceWindowSettings,
)
from callpulse.config.http_settings import HttpSettings
from callpulse.config.kpi_settings import KpiSettings, ServiceLevelOverride, ServiceLevelSettings
from callpulse.config.maintenance_settings import (
    BacklogSettings,
    MaintenanceSettings,
    WindowSettings,
)
from callpulse.config.schema import Settings
from callpulse.config.source_settings import SourceSettings
from callpulse.core.calendar import AgentImpact, WindowSpec
from callpulse.core.http_limits import HttpLimits
from callpulse.core.maintenance_policy import (
    BacklogLimits,
    BacklogPaging,
    EventPolicy,
    MaintenancePolicy,
)
from callpulse.core.monitor_config import ERLANG_WINDOW, MonitorConfig
from callpulse.core.planned_silences import SilenceWindowPolicy
from callpulse.core.queues import ServiceLevelPolicy
from callpulse.core.rules import RuleSpec
from callpulse.core.silence import SilencePolicy
from callpulse.sinks.http_client import HttpConfig, HttpTarget

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

T = TypeVar("T", bound="DataclassInstance")


def into(cls: type[T], section: BaseModel, **values: Any) -> T:
    """The dataclass ``cls`` from ``section``: every field the two share by name, then
    ``values`` for those that are named or shaped differently."""
    shared = {f.name for f in dataclasses.fields(cls)} & set(type(section).model_fields)
    return cls(**({name: getattr(section, name) for name in shared} | values))


def monitor_config(settings: Settings, *, event_time_clock: bool) -> MonitorConfig:
    """The monitor's configuration: KPIs, maintenance windows and backlog limits, and which
    sites' feeds send no heartbeat."""
    maintenance = settings.maintenance
    return dataclasses.replace(
        kpi_config(settings.kpi, event_time_clock=event_time_clock),
        maintenance_windows=tuple(window_spec(w) for w in maintenance.windows),
        maintenance_timezone=maintenance.timezone,
        backlog=backlog_limits(maintenance.backlog),
        maintenance_events=event_policy(maintenance),
        silence=silence_policy(settings.source),
    )


def kpi_config(kpi: KpiSettings, *, event_time_clock: bool) -> MonitorConfig:
    """The KPI part of the monitor's configuration (maintenance left at its defaults)."""
    sl = kpi.service_level
    return MonitorConfig(
        windows=tuple(sorted(kpi.windows)),
        bucket=kpi.bucket,
        max_clock_skew=kpi.max_clock_skew,
        service_level=service_level(sl),
        service_level_overrides={q: service_level(sl, o) for q, o in sl.queues.items()},
        event_time_clock=event_time_clock,
        dedup_capacity=kpi.dedup_capacity,
        erlang_window=kpi.erlang_window or ERLANG_WINDOW,
        component_stale_after=kpi.component_stale_after,
        label_limits=kpi.max_label_values.model_dump(),
        trunk_channels=dict(kpi.trunk_channels),
    )


def service_level(
    sl: ServiceLevelSettings, override: ServiceLevelOverride | None = None
) -> ServiceLevelPolicy:
    """A queue's service-level policy: ``sl``'s, with what ``override`` sets instead."""
    o = override or ServiceLevelOverride()
    return ServiceLevelPolicy(
        threshold=sl.threshold if o.threshold is None else o.threshold,
        short_abandon=sl.short_abandon if o.short_abandon is None else o.short_abandon,
        abandons=o.abandons or sl.abandons,
        target=sl.target if o.target is None else o.target,
    )


def window_spec(window: WindowSettings) -> WindowSpec:
    """A planned window of the calendar, as the core's calendar expands it."""
    lists = ("sites", "components", "queues", "trunks", "applications")
    return into(
        WindowSpec,
        window,
        **{name: tuple(getattr(window, name)) for name in lists},
        agents_affected=_impact(window.agents_affected),
    )


def _impact(value: float | dict[str, int] | None) -> AgentImpact | None:
    if value is None:
        return None
    if isinstance(value, dict):
        return AgentImpact(counts=tuple(sorted(value.items())))
    return AgentImpact(share=value)


def backlog_limits(backlog: BacklogSettings) -> BacklogLimits:
    """When a backlog is material, and when a forecast warns."""
    return into(BacklogLimits, backlog)


def maintenance_policy(backlog: BacklogSettings) -> MaintenancePolicy:
    """All of ``maintenance.backlog`` as one value: its limits and how its page is sent."""
    return MaintenancePolicy(
        limits=backlog_limits(backlog),
        paging=BacklogPaging(backlog.severity, backlog.for_, backlog.keep_firing_for),
    )


def event_policy(maintenance: MaintenanceSettings) -> EventPolicy:
    """What ``maintenance.started`` and ``ended`` events may open."""
    w = maintenance.event_windows
    return into(
        EventPolicy,
        w,
        mode=maintenance.events,
        sites=tuple(w.sites),
        components=tuple(w.components),
    )


def silence_policy(source: SourceSettings) -> SilencePolicy:
    """Which sites' feeds have no heartbeat: a platform's records unless its format says
    ``heartbeats: true``, events v1 when its format says ``heartbeats: false`` (for every
    site no other feed names, as a topic of events v1 carries many)."""
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


def silence_window_policy(silences: SilenceWindowSettings) -> SilenceWindowPolicy:
    """How the calendar's windows become Alertmanager silences."""
    return into(SilenceWindowPolicy, silences)


def rule_spec(rule: RuleSettings) -> RuleSpec:
    """A rule as written, for :func:`callpulse.core.rules.compile_rule`."""
    absent = rule.absent
    return into(
        RuleSpec,
        rule,
        for_seconds=rule.for_,
        absent_scope=absent.scope if absent else None,
        absent_for=absent.for_ if absent else None,
        absent_improbability=absent.improbability if absent else None,
        absent_max=absent.max if absent else None,
    )


def http_limits(http: HttpSettings) -> HttpLimits:
    """What the HTTP server allows a client."""
    return into(HttpLimits, http)


def http_targets(
    alerting: AlertingSettings, kind: Literal["alertmanager", "webhook"]
) -> list[HttpTarget]:
    """``kind``'s receivers in the order configured, each with its ``sink`` label."""
    return [
        HttpTarget(label, target.url, target.timeout, http_config(target))
        for label, target in alerting.labelled(kind)
    ]


def http_config(client: HttpClientSettings) -> HttpConfig:
    """How a sink (or ``callpulse status``) authenticates and trusts the server it calls."""
    basic, bearer, tls = client.basic_auth, client.authorization, client.tls_config
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
