"""Settings become core objects in config/convert.py, and a section's defaults are its core
object's own: an unset key means what the core means by it, typed once."""

from __future__ import annotations

import dataclasses

from callpulse.config import Settings
from callpulse.config.convert import (
    backlog_limits,
    event_policy,
    http_limits,
    kpi_config,
    maintenance_policy,
    monitor_config,
    service_level,
    silence_window_policy,
)
from callpulse.config.kpi_settings import ServiceLevelOverride
from callpulse.core.cardinality import DEFAULT_LIMITS
from callpulse.core.http_limits import HttpLimits
from callpulse.core.maintenance_policy import (
    BacklogLimits,
    BacklogPaging,
    EventPolicy,
    MaintenancePolicy,
)
from callpulse.core.monitor import MonitorConfig
from callpulse.core.planned_silences import SilenceWindowPolicy
from callpulse.core.queues import ServiceLevelPolicy


def test_unset_sections_convert_to_the_core_defaults() -> None:
    s = Settings()
    assert backlog_limits(s.maintenance.backlog) == BacklogLimits()
    assert maintenance_policy(s.maintenance.backlog) == MaintenancePolicy()
    assert event_policy(s.maintenance) == EventPolicy()
    assert http_limits(s.http) == HttpLimits()
    assert silence_window_policy(s.alerting.silence_windows) == SilenceWindowPolicy()
    assert service_level(s.kpi.service_level) == ServiceLevelPolicy()
    monitor = MonitorConfig(label_limits=dict(DEFAULT_LIMITS))
    assert kpi_config(s.kpi, event_time_clock=False) == monitor
    assert monitor_config(s, event_time_clock=False) == monitor


def test_every_backlog_key_reaches_the_policy() -> None:
    changed = {
        "grace": 60.0,
        "baseline": 90.0,
        "min_calls_waiting": 9,
        "max_calls_waiting": 40,
        "max_backlog_ratio": 2.5,
        "max_drain_eta": 300.0,
        "drained_calls_waiting": 1,
        "patience": 120.0,
        "forecast_lead": 600.0,
        "overrun_after": 30.0,
        "return_spread": 10.0,
        "page_confidence": 0.9,
        "for": 5.0,
        "keep_firing_for": 15.0,
        "severity": "page",
    }
    s = Settings.model_validate({"maintenance": {"backlog": changed}})
    policy = maintenance_policy(s.maintenance.backlog)
    limits = dataclasses.asdict(policy.limits)
    assert limits == {
        k: v for k, v in changed.items() if k not in ("for", "keep_firing_for", "severity")
    }
    assert policy.paging == BacklogPaging("page", 5.0, 15.0)
    assert policy.limits == backlog_limits(s.maintenance.backlog)


def test_a_queue_override_keeps_the_rest_of_the_service_level() -> None:
    s = Settings.model_validate({"kpi": {"service_level": {"threshold": "30s"}}})
    sl = s.kpi.service_level
    assert service_level(sl, ServiceLevelOverride(target=0.9)) == ServiceLevelPolicy(
        threshold=30.0, target=0.9
    )


def test_conversion_leaves_the_settings_as_they_were() -> None:
    s = Settings.model_validate({"maintenance": {"backlog": {"severity": "page"}}})
    before = s.model_dump()
    first = monitor_config(s, event_time_clock=True)
    assert monitor_config(s, event_time_clock=True) == first
    assert s.model_dump() == before


def test_trunk_channels_reach_the_monitor_as_they_are_written() -> None:
    s = Settings.model_validate({"kpi": {"trunk_channels": {"carrier-a": 30, "sbc-pstn": 120}}})
    config = monitor_config(s, event_time_clock=False)
    assert config.trunk_channels == {"carrier-a": 30, "sbc-pstn": 120}
    assert MonitorConfig().trunk_channels == {}
