"""The sinks ``alerting`` settings describe, built once where the pipeline is composed and
handed to :class:`~callpulse.alerting.Alerting`, which only feeds them. Here, above config
and the sinks both, since it reads the one to build the other."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import structlog

from callpulse.config import AlertingSettings
from callpulse.config.convert import http_targets
from callpulse.core.alerting import DEFAULT_EXTERNAL_URL
from callpulse.sinks.alertmanager import AlertmanagerSink
from callpulse.sinks.delivery import Sink
from callpulse.sinks.log import LogSink
from callpulse.sinks.silences import SilenceKeeper
from callpulse.sinks.webhook import WebhookSink

log = structlog.get_logger("callpulse.alerts")


@dataclass(frozen=True)
class Sinks:
    """Where alerting's decisions go: the notification sinks (every Alertmanager listed,
    the webhooks, the log), and the keeper of the maintenance calendar's Alertmanager
    silences (None: none kept)."""

    notifications: list[Sink] = field(default_factory=list)
    silences: SilenceKeeper | None = None


def build_sinks(settings: AlertingSettings, now: Callable[[], float], *, event_time: bool) -> Sinks:
    """The sinks ``settings`` list, each with its own bounded queue; ``now``: the pipeline's
    time (what the webhooks and the log stamp); ``event_time``: the pipeline runs on event
    time, which no Alertmanager silence can follow."""
    max_age = max(settings.resend_delay, settings.evaluation_interval)
    capacity = settings.queue_capacity
    external_url = settings.external_url or DEFAULT_EXTERNAL_URL
    sinks: list[Sink] = [
        AlertmanagerSink(target, capacity, max_age)
        for target in http_targets(settings, "alertmanager")
    ]
    sinks += [
        WebhookSink(target, capacity, max_age, external_url, now)
        for target in http_targets(settings, "webhook")
    ]
    if settings.log:
        sinks.append(LogSink(now))
    return Sinks(sinks, _silence_keeper(settings, event_time))


def _silence_keeper(settings: AlertingSettings, event_time: bool) -> SilenceKeeper | None:
    """The keeper of the calendar's silences in Alertmanager, when they are wanted."""
    wanted = settings.silence_windows
    if not wanted.enabled or not settings.alertmanagers:
        return None
    if event_time:
        # A replay's or a sped-up simulation's clock is not the one silences run on.
        log.warning("silence_windows_off", reason="the clock is event time, not wall time")
        return None
    targets = http_targets(settings, "alertmanager")
    return SilenceKeeper(targets, wanted.cluster, wanted.max_answer_bytes)
