"""The status document's shape: what ``/api/v1/status`` answers, the page renders and
``callpulse status`` prints, section by section (built by :mod:`callpulse.web.status`)."""

from __future__ import annotations

from typing import TypedDict

from callpulse.alerting.tick import AlertRow
from callpulse.web.page_context import Links, SourceStatus


class Windows(TypedDict):
    """Which windows the document's ratios are over: ``short`` is the Erlang window (5m by
    default), ``long`` the longest (15m): both are always among ``kpi.windows``."""

    short: str
    long: str


class QueueStatus(TypedDict):
    site: str
    queue: str
    calls_waiting: int
    oldest_wait_seconds: float
    service_level: float | None  # over the short window, as the two below
    abandon_ratio: float | None
    asa_seconds: float | None
    agents: dict[str, int]
    drain_eta_seconds: float | None  # null when unknown or when it never drains
    drains: bool
    drain_eta_low_seconds: float | None  # P10 and P90, where a range is computed; null
    drain_eta_high_seconds: float | None  # also for a P90 that never drains (then not drains)
    drain_eta_maintenance: str | None  # the window whose backlog it is; null: staffing as now
    history: dict[str, list[float | None]]


class ComponentStatus(TypedDict):
    site: str
    component: str
    kind: str
    status: str
    heartbeat_age_seconds: float
    stale: bool


class TrunkStatus(TypedDict):
    site: str
    trunk: str
    up: bool | None
    utilization: float | None
    asr: float | None  # short window


class IvrStatus(TypedDict):
    site: str
    application: str
    containment: float | None  # long window
    backend_errors_per_session: float | None  # short window


class WindowStatus(TypedDict):
    name: str
    sites: list[str]
    components: list[str]
    start: str
    end: str | None
    source: str


class ForecastStatus(TypedDict):
    """What a window coming is expected to do to one queue (MaintenanceImpactForecast)."""

    site: str
    queue: str
    agents_serving: int
    agents_lost: int
    agents_to_keep: int | None  # null: even full staffing would not stay within the limits
    peak: float  # calls waiting as the window ends, and its P10-P90
    peak_low: float
    peak_high: float
    drain_after_seconds: float | None  # null when it would not drain
    warning: bool  # MaintenanceImpactForecast is active on it


class UpcomingStatus(TypedDict):
    """A planned window opening within ``maintenance.backlog.forecast_lead``."""

    name: str
    sites: list[str]
    components: list[str]
    start: str
    end: str
    starts_in_seconds: float
    forecasts: list[ForecastStatus]
    forecast_expected: bool  # it sets agents_affected: a forecast comes once traffic allows


class SiteStatus(TypedDict):
    site: str
    last_event_age_seconds: float | None  # null: no event yet
    stale: bool  # no event for longer than kpi.component_stale_after (or none yet)
    lag: int | None  # records not yet consumed on its partitions (Kafka; else null)
    partitions: list[str]  # topic/N of the partitions it came from (Kafka; else empty)


class PageAlert(AlertRow):
    """An alert as the page shows it: also the Alertmanager silences muting it."""

    silencedBy: list[str]  # noqa: N815 - camelCase, as the rest of AlertRow


class SilenceStatus(TypedDict):
    id: str
    state: str  # active or pending
    matchers: list[str]
    createdBy: str
    comment: str
    startsAt: str
    endsAt: str
    window: str | None  # the planned window it is callpulse's silence for


class SilencesStatus(TypedDict):
    """The first Alertmanager's silences, as its last read left them (every
    ``http.status_page.silences_interval``); ``now`` and the times are wall-clock."""

    alertmanager: str
    now: str
    fetchedAt: str | None
    error: str | None  # the last read failed: why (no silences are listed then)
    items: list[SilenceStatus]
    more: int  # live silences past http.status_page.max_silences, not listed


class StatusDocument(TypedDict):
    """What ``/api/v1/status`` answers, the page renders and ``callpulse status`` prints."""

    now: str | None
    source: SourceStatus
    links: Links
    windows: Windows
    sites: list[SiteStatus]
    queues: list[QueueStatus]
    trunks: list[TrunkStatus]
    ivr: list[IvrStatus]
    components: list[ComponentStatus]
    maintenance: list[WindowStatus]
    upcoming: list[UpcomingStatus]
    # firing (not suppressed), suppressed (firing but withheld by a window), pending (each
    # with firesInSeconds, suppressed ones marked by suppressedBy)
    alerts: dict[str, list[PageAlert]]
    silences: SilencesStatus | None  # null: no Alertmanager configured
