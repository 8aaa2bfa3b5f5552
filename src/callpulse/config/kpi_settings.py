"""How KPIs are computed: windows, service level, abandon policy and label caps."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

from pydantic import (
    Field,
    model_validator,
)

from callpulse.core.cardinality import DEFAULT_LIMITS
from callpulse.core.durations import format_duration
from callpulse.core.kpi import AbandonPolicy
from callpulse.core.monitor import MonitorConfig
from callpulse.core.queues import ServiceLevelPolicy
from callpulse.core.timegrid import check_windows

if TYPE_CHECKING:
    pass

from callpulse.config.base import Duration, Section

Ratio = Annotated[float, Field(gt=0, lt=1)]


class ServiceLevelOverride(Section):
    threshold: Duration | None = None
    short_abandon: Duration | None = None
    abandons: AbandonPolicy | None = None
    target: Ratio | None = None


class ServiceLevelSettings(Section):
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


class LabelLimits(Section):
    site: Annotated[int, Field(ge=1)] = DEFAULT_LIMITS["site"]
    queue: Annotated[int, Field(ge=1)] = DEFAULT_LIMITS["queue"]
    application: Annotated[int, Field(ge=1)] = DEFAULT_LIMITS["application"]
    trunk: Annotated[int, Field(ge=1)] = DEFAULT_LIMITS["trunk"]
    component: Annotated[int, Field(ge=1)] = DEFAULT_LIMITS["component"]
    backend: Annotated[int, Field(ge=1)] = DEFAULT_LIMITS["backend"]
    agent: Annotated[int, Field(ge=1)] = DEFAULT_LIMITS["agent"]


class KpiSettings(Section):
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
