"""What the status page shows beside the monitor's view: where the data comes from (and
whether it is simulated), its links to Grafana and Alertmanager, the partitions each site
came from and their lag, and Alertmanager's silences."""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TypedDict

from callpulse.config import Settings
from callpulse.config.convert import http_targets
from callpulse.core.freshness import Partition
from callpulse.simulation import scenario as scenarios
from callpulse.sinks.naming import public_url
from callpulse.sinks.silence_reader import SilenceReader


class SourceStatus(TypedDict):
    """Where the events come from; ``simulated`` names a simulation or a replay, which the
    page marks on every view (null for live data)."""

    kind: str
    simulated: str | None


class Links(TypedDict):
    """The page's header links (null: none configured)."""

    grafana: str | None
    alertmanager: str | None


@dataclass(frozen=True)
class PageContext:
    """The status page's inputs from outside the monitor. ``lag``: the consumer lag per
    (topic, partition), for a Kafka source only; ``partitions``: the sites each partition
    carried; ``stale_after``: seconds without an event after which a site is stale."""

    source: SourceStatus
    links: Links
    stale_after: float
    partitions: Callable[[], Mapping[Partition, Collection[str]]]
    lag: Callable[[], Mapping[Partition, int]] | None = None
    silences: SilenceReader | None = None


def source_status(settings: Settings) -> SourceStatus:
    """``settings``' source, and what it simulates or replays (null for live data)."""
    source = settings.source
    simulated = None
    if source.kind == "simulator":
        sim = source.simulator
        # As the simulator reads it: a file when one is there, else a shipped scenario.
        if Path(sim.scenario).exists() or sim.scenario not in scenarios.names():
            what = f"the scenario file {Path(sim.scenario).name}"
        else:
            what = f"the built-in demo scenario {sim.scenario}"
        simulated = f"{what} at {sim.speed:g}x"
    elif source.kind == "replay":
        replay = source.replay
        pace = f"at {replay.speed:g}x" if replay.speed else "as fast as it reads"
        simulated = f"a replay of {replay.path.name} {pace}"
    return SourceStatus(kind=source.kind, simulated=simulated)


def links(settings: Settings) -> Links:
    """The Grafana and Alertmanager links: as configured, else Alertmanager's is the first
    ``alerting.alertmanagers`` URL cut to its origin (a sink URL may hold credentials)."""
    page = settings.http.status_page
    alertmanager = page.alertmanager_url
    if alertmanager is None and settings.alerting.alertmanagers:
        alertmanager = public_url(settings.alerting.alertmanagers[0].url)
    return Links(grafana=page.grafana_url, alertmanager=alertmanager)


def silence_reader(settings: Settings) -> SilenceReader | None:
    """The reader of the first Alertmanager's silences, when one is configured."""
    targets = http_targets(settings.alerting, "alertmanager")
    if not targets:
        return None
    page = settings.http.status_page
    return SilenceReader(
        targets[0],
        page.silences_interval,
        settings.alerting.silence_windows.max_answer_bytes,
        page.max_silences,
    )
