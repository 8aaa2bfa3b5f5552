"""How KPIs are computed: windows, service level, abandon policy and label caps. The defaults
are the monitor's own (:class:`~callpulse.core.monitor.MonitorConfig`);
:mod:`callpulse.config.convert` makes one."""

from __future__ import annotations

from typing import Annotated

from pydantic import (
    Field,
    model_validator,
)

from callpulse.config.base import Duration, Section
from callpulse.core.cardinality import DEFAULT_LIMITS
from callpulse.core.dedup import MAX_CAPACITY
from callpulse.core.durations import format_duration
from callpulse.core.kpi import AbandonPolicy
from callpulse.core.monitor import MonitorConfig
from callpulse.core.queues import ServiceLevelPolicy
from callpulse.core.timegrid import check_windows

_MONITOR = MonitorConfig()
_SERVICE_LEVEL = ServiceLevelPolicy()

Ratio = Annotated[float, Field(gt=0, lt=1)]
# A trunk's name as its label says it (events v1's limit on a name), and its channels: a
# whole number, never true or "30" (strict: YAML can say 30).
TrunkName = Annotated[str, Field(min_length=1, max_length=256)]
Channels = Annotated[int, Field(ge=1, strict=True)]


class ServiceLevelOverride(Section):
    threshold: Duration | None = None
    short_abandon: Duration | None = None
    abandons: AbandonPolicy | None = None
    target: Ratio | None = None


class ServiceLevelSettings(Section):
    threshold: Duration = _SERVICE_LEVEL.threshold
    short_abandon: Duration = _SERVICE_LEVEL.short_abandon
    abandons: AbandonPolicy = _SERVICE_LEVEL.abandons
    target: Ratio = _SERVICE_LEVEL.target
    queues: dict[str, ServiceLevelOverride] = {}


class LabelLimits(Section):
    site: Annotated[int, Field(ge=1)] = DEFAULT_LIMITS["site"]
    queue: Annotated[int, Field(ge=1)] = DEFAULT_LIMITS["queue"]
    application: Annotated[int, Field(ge=1)] = DEFAULT_LIMITS["application"]
    trunk: Annotated[int, Field(ge=1)] = DEFAULT_LIMITS["trunk"]
    component: Annotated[int, Field(ge=1)] = DEFAULT_LIMITS["component"]
    backend: Annotated[int, Field(ge=1)] = DEFAULT_LIMITS["backend"]
    agent: Annotated[int, Field(ge=1)] = DEFAULT_LIMITS["agent"]


class KpiSettings(Section):
    windows: Annotated[list[Duration], Field(min_length=1)] = list(_MONITOR.windows)
    bucket: Duration = _MONITOR.bucket
    service_level: ServiceLevelSettings = ServiceLevelSettings()
    max_clock_skew: Duration = _MONITOR.max_clock_skew
    tick: Duration = 1.0  # the shell's: how often the consumer ticks the monitor
    # At most dedup.MAX_CAPACITY (2**30) ids: the de-duplication finds an id again by the
    # low 32 bits of its hash, which hold its slot only in a table under 2**32 slots.
    dedup_capacity: Annotated[int, Field(ge=1000, le=MAX_CAPACITY)] = _MONITOR.dedup_capacity
    # Unset: the monitor's own (core.monitor_config.ERLANG_WINDOW).
    erlang_window: Duration | None = None
    component_stale_after: Duration = _MONITOR.component_stale_after
    max_label_values: LabelLimits = LabelLimits()
    trunk_channels: dict[TrunkName, Channels] = dict(_MONITOR.trunk_channels)

    @model_validator(mode="after")
    def _windows_fit_buckets(self) -> KpiSettings:
        check_windows(self.windows, self.bucket)
        if self.erlang_window is not None and self.erlang_window not in self.windows:
            raise ValueError(
                f"erlang_window {format_duration(self.erlang_window)} must be one of the windows"
            )
        return self
