"""Scenarios: a contact center, the incidents that happen to it, and the alerts they should
raise. Each is a YAML file a user can copy and edit (config/scenarios/)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Literal
from zoneinfo import ZoneInfo

import yaml
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError

from callpulse.core.durations import parse_duration
from callpulse.shipped import shipped

if TYPE_CHECKING:
    from callpulse.config import Settings

Seconds = Annotated[float, BeforeValidator(parse_duration), Field(ge=0)]
Share = Annotated[float, Field(ge=0, le=1)]


def _patience(value: object) -> float | None:
    """A duration, or ``None`` for ``null`` / ``none``: callers who never give up."""
    if value is None or (isinstance(value, str) and value.strip().lower() == "none"):
        return None
    return parse_duration(value)


Patience = Annotated[Annotated[float, Field(ge=0)] | None, BeforeValidator(_patience)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class QueueSpec(_Model):
    name: str
    calls_per_hour: Annotated[float, Field(gt=0)]
    agents: Annotated[int, Field(ge=0)]
    talk: Seconds = 180.0  # median talk time
    acw: Seconds = 30.0  # median after-call work
    hold_share: Share = 0.2  # calls with a hold
    # Mean time a caller waits before giving up; None (``null`` / ``none``): nobody does.
    patience: Patience = 120.0
    callback_share: Share = 0.1  # of those giving up, how many ask for a callback


class IvrSpec(_Model):
    application: str
    containment: Share = 0.3
    hangup: Share = 0.05
    no_input: Share = 0.05
    no_match: Share = 0.08
    backend_errors: Share = 0.005
    ports: Annotated[int, Field(ge=1)] = 120


class TrunkSpec(_Model):
    id: str
    channels: Annotated[int, Field(ge=1)] = 120


class ComponentSpec(_Model):
    id: str
    kind: Literal["sbc", "media_gateway", "pbx", "ivr_platform", "recording", "cti", "other"]


class SiteSpec(_Model):
    name: str
    queues: list[QueueSpec]
    ivr: IvrSpec | None = None
    trunks: list[TrunkSpec] = []
    components: list[ComponentSpec] = []


class Incident(_Model):
    at: Seconds
    duration: Seconds
    kind: Literal[
        "maintenance",
        "component_down",
        "trunk_down",
        "ivr_backend_outage",
        "agent_shortage",
        "flash_crowd",
    ]
    site: str
    components: list[str] = []  # maintenance, component_down
    queues: list[str] = []  # maintenance, agent_shortage, flash_crowd (empty: all)
    trunk: str | None = None  # trunk_down
    agents_lost: Share = 0.0  # maintenance, agent_shortage: share of agents logged off
    # maintenance, agent_shortage: each agent taken logs back in at a uniform time in
    # [end, end + return_spread] (0: all at the end), as people do after a window.
    return_spread: Seconds = 0.0
    # maintenance: in the maintenance calendar ahead of time (with agents_affected =
    # agents_lost), as a change-managed window would be, besides the started/ended events.
    planned: bool = False
    error_rate: Share = 0.8  # ivr_backend_outage
    multiplier: Annotated[float, Field(gt=0)] = 3.0  # flash_crowd


class Breaks(_Model):
    every: Seconds = 7200.0  # each agent, roughly this often (+-25 %)
    length: Seconds = 600.0  # median break length


class ErrorBound(_Model):
    """A relative error allowed over the seeds of one check (median) and in any one seed."""

    median: Annotated[float, Field(ge=0)] = 0.2
    worst: Annotated[float, Field(ge=0)] = 0.5


class Expect(_Model):
    alerts: list[str] = []  # must fire at least once
    allow: list[str] = []  # may fire; anything else firing fails the check
    max_episodes: Annotated[int, Field(ge=1)] = 1  # firing episodes per alert (labels)
    flaps: Annotated[int, Field(ge=0)] = 0  # re-fires within 10 minutes of a resolve
    # MaintenanceBacklog: |announced drain ETA - simulated drain time| / simulated drain time.
    eta_error: ErrorBound | None = None
    # MaintenanceImpactForecast: |forecast peak - simulated peak| / simulated peak.
    forecast_error: ErrorBound | None = None


class Scenario(_Model):
    name: str
    description: str = ""
    seed: int = 1
    duration: Seconds = 3600.0
    start: datetime = datetime(2026, 11, 23, 9, 0)  # simulated start (UTC) for offline runs
    diurnal: Literal["flat", "office"] = "flat"
    late_share: Share = 0.005  # events delivered 20-90 s after they happened
    duplicate_share: Share = 0.002  # events delivered twice
    breaks: Breaks | None = None  # agents go not_ready for breaks (None: no breaks)
    sites: list[SiteSpec]
    incidents: list[Incident] = []
    expect: Expect = Expect()


def planned_windows(scenario: Scenario, start: float, timezone: str) -> list[dict[str, object]]:
    """The calendar entries (``maintenance.windows`` settings) of the scenario's planned
    maintenance when it is played from ``start`` (epoch seconds), in local ``timezone``."""
    zone = ZoneInfo(timezone)
    out: list[dict[str, object]] = []
    for incident in scenario.incidents:
        if incident.kind != "maintenance" or not incident.planned:
            continue
        local = datetime.fromtimestamp(start + incident.at, zone).replace(tzinfo=None)
        out.append(
            {
                "name": maintenance_id(incident),
                "sites": [incident.site],
                "components": incident.components,
                "queues": incident.queues,
                "start": local,
                "duration": incident.duration,
                "agents_affected": incident.agents_lost,
            }
        )
    return out


def with_planned_windows(settings: Settings, scenario: Scenario, start: float) -> Settings:
    """``settings`` with the scenario's planned maintenance (played from ``start``) added to
    the maintenance calendar, as the operator would have entered it."""
    from callpulse.config import WindowSettings

    planned = planned_windows(scenario, start, settings.maintenance.timezone)
    if not planned:
        return settings
    maintenance = settings.maintenance.model_copy(
        update={
            "windows": [
                *settings.maintenance.windows,
                *(WindowSettings.model_validate(w) for w in planned),
            ]
        }
    )
    return settings.model_copy(update={"maintenance": maintenance})


def maintenance_id(incident: Incident) -> str:
    """The id a maintenance incident's window and events carry."""
    return f"mw-{incident.site}-{int(incident.at)}"


def builtin_dir() -> Path:
    """Where the shipped scenarios are."""
    return shipped("scenarios")


def names() -> list[str]:
    """The shipped scenarios' names."""
    return sorted(p.stem for p in builtin_dir().glob("*.yaml"))


def load(name_or_path: str) -> Scenario:
    """A shipped scenario by name, or a scenario file by path; ValueError says what is wrong."""
    path = Path(name_or_path)
    if not path.exists():
        path = builtin_dir() / f"{name_or_path}.yaml"
        if not path.exists():
            raise ValueError(f"no scenario {name_or_path!r}: shipped ones are {', '.join(names())}")
    try:
        return Scenario.model_validate(yaml.safe_load(path.read_text()))
    except (ValidationError, yaml.YAMLError) as exc:
        raise ValueError(f"{path}: {exc}") from None
