"""Maintenance: the calendar of planned windows, what a window's backlog may be before it
pages, and what maintenance events may open. The defaults are the core policies' own
(:mod:`callpulse.core.maintenance_policy`); :mod:`callpulse.config.convert` makes them."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from dateutil.rrule import rrulestr
from pydantic import (
    BeforeValidator,
    ConfigDict,
    Field,
    model_validator,
)

from callpulse.config.base import Duration, Section
from callpulse.core.durations import parse_duration
from callpulse.core.maintenance_policy import EventMode, EventPolicy, MaintenancePolicy

_POLICY = MaintenancePolicy()
_LIMITS = _POLICY.limits
_EVENTS = EventPolicy()


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


class WindowSettings(Section):
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


class BacklogSettings(Section):
    # Defaults are merged into the file's values by key: they must be dumped as `for`.
    model_config = ConfigDict(extra="forbid", populate_by_name=True, serialize_by_alias=True)

    grace: Duration = _LIMITS.grace
    baseline: Duration = _LIMITS.baseline
    min_calls_waiting: Annotated[int, Field(ge=1)] = _LIMITS.min_calls_waiting
    max_calls_waiting: Annotated[int, Field(ge=0)] = _LIMITS.max_calls_waiting
    max_backlog_ratio: Annotated[float, Field(gt=0)] = _LIMITS.max_backlog_ratio
    max_drain_eta: Duration = _LIMITS.max_drain_eta
    drained_calls_waiting: Annotated[int, Field(ge=0)] = _LIMITS.drained_calls_waiting
    patience: Annotated[Duration, Field(gt=0)] = _LIMITS.patience
    forecast_lead: Duration = _LIMITS.forecast_lead
    overrun_after: Duration = _LIMITS.overrun_after
    return_spread: Annotated[Duration, Field(ge=0)] = _LIMITS.return_spread
    page_confidence: Annotated[float, Field(ge=0.5, le=0.9)] = _LIMITS.page_confidence
    for_: Annotated[Duration, Field(alias="for")] = _POLICY.paging.for_seconds
    keep_firing_for: Duration = _POLICY.paging.keep_firing_for
    severity: str = _POLICY.paging.severity

    @model_validator(mode="after")
    def _levels(self) -> BacklogSettings:
        if self.drained_calls_waiting >= self.min_calls_waiting:
            raise ValueError(
                f"drained_calls_waiting ({self.drained_calls_waiting}) must be below "
                f"min_calls_waiting ({self.min_calls_waiting}): the clear level is under the "
                "fire level"
            )
        return self


class EventWindowSettings(Section):
    sites: list[str] = []
    components: list[str] = []
    max_duration: Annotated[float, BeforeValidator(parse_duration), Field(gt=0)] = (
        _EVENTS.max_duration
    )
    max_open_per_site: Annotated[int, Field(ge=1)] = _EVENTS.max_open_per_site
    max_names: Annotated[int, Field(ge=1)] = _EVENTS.max_names
    max_bytes: Annotated[int, Field(ge=64 * 1024)] = _EVENTS.max_bytes


class MaintenanceSettings(Section):
    timezone: str = "UTC"
    windows: list[WindowSettings] = []
    backlog: BacklogSettings = BacklogSettings()
    events: EventMode = _EVENTS.mode
    event_windows: EventWindowSettings = EventWindowSettings()

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
