"""The pipeline, built in one place: decode (Ingest) -> monitor -> alert rules and sinks.

The daemon, ``callpulse rules test`` and ``callpulse scenario check`` all run events through
what :func:`build` returns, so what a rule test or a scenario proves is what the daemon does,
and a new part of the pipeline is wired here once.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from callpulse.adapters import records
from callpulse.adapters.base import Adapter
from callpulse.alerting import Alerting
from callpulse.config import Settings
from callpulse.core.consumer_health import Blindness
from callpulse.core.ingest import Ingest
from callpulse.core.monitor import Monitor
from callpulse.web.address import external_url


@dataclass(frozen=True)
class Pipeline:
    """The parts that turn records into KPIs and alerts."""

    monitor: Monitor
    ingest: Ingest
    alerting: Alerting
    adapters: dict[str, Adapter]  # by topic (or replayed file), where it is not events v1


def build(
    settings: Settings,
    *,
    now: float,
    event_time_clock: bool,
    deliver: bool = True,
    hold: Callable[[], bool] = lambda: False,
    blind: Callable[[], Blindness | None] = lambda: None,
    web_tls: bool = False,
) -> Pipeline:
    """Build the pipeline ``settings`` describe, its clock at ``now``.

    ``event_time_clock``: windows end at the newest event rather than at the wall clock (a
    replay or a simulation faster than real time). ``deliver`` False: no sink, no state file
    (a scenario check evaluates the rules but pages nobody). ``hold``, ``blind``: see
    :class:`Alerting`. ``web_tls``: the HTTP server serves HTTPS (the scheme of the
    ``external_url`` alerts link to, when the settings name none).
    The rules are the ones compiled when ``settings`` were loaded.
    """
    monitor = Monitor(settings.monitor_config(event_time_clock=event_time_clock), now=now)
    ingest = Ingest(monitor, max_record_bytes=settings.source.kafka.max_record_bytes)
    adapters = _adapters(settings)
    for topic, adapter in adapters.items():
        ingest.translators[topic] = records.translator(adapter)
        ingest.invalid.setdefault(f"invalid_{adapter.format}", 0)
    alerting_settings = settings.alerting
    if alerting_settings.external_url is None:
        http = settings.http
        alerting_settings = alerting_settings.model_copy(
            update={"external_url": external_url(http.host, http.port, web_tls)}
        )
    if not deliver:
        alerting_settings = alerting_settings.model_copy(
            update={"log": False, "state_file": None, "alertmanagers": [], "webhooks": []}
        )
    alerting = Alerting(
        alerting_settings,
        settings.compiled_rules(),
        monitor,
        backlog=settings.maintenance.backlog,
        hold=hold,
        blind=blind,
    )
    return Pipeline(monitor, ingest, alerting, adapters)


def _adapters(settings: Settings) -> dict[str, Adapter]:
    """The adapters of the topics (or the replayed file) that do not carry events v1."""
    source = settings.source
    formats = (
        {str(source.replay.path): source.replay.format}
        if source.kind == "replay"
        else source.kafka.formats
        if source.kind == "kafka"
        else {}
    )
    built = {topic: records.build(f) for topic, f in formats.items()}
    return {topic: adapter for topic, adapter in built.items() if adapter is not None}
