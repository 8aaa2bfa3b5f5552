"""The silences callpulse keeps in Alertmanager (:mod:`callpulse.sinks.silences`), as
metrics computed at scrape time."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from prometheus_client.metrics_core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from callpulse.sinks.silences import SilenceStats


class SilenceCollector(Collector):
    """``callpulse_silences``, ``callpulse_silence_changes_total`` and
    ``callpulse_silence_errors_total``, by Alertmanager (its ``sink`` label)."""

    def __init__(self, stats: Mapping[str, SilenceStats]) -> None:
        self._stats = stats

    def describe(self) -> Iterable[Metric]:
        return []

    def collect(self) -> Iterable[Metric]:
        held = GaugeMetricFamily(
            "callpulse_silences",
            "Silences callpulse holds in each Alertmanager for planned maintenance, by state "
            "(as the last sync left them).",
            labels=["alertmanager", "state"],
        )
        changes = CounterMetricFamily(
            "callpulse_silence_changes",
            "Silences callpulse created, updated (extended, or matchers changed) and expired, "
            "by Alertmanager.",
            labels=["alertmanager", "change"],
        )
        errors = CounterMetricFamily(
            "callpulse_silence_errors",
            "Syncs of an Alertmanager's silences that failed (each is retried with backoff).",
            labels=["alertmanager"],
        )
        for label, stats in sorted(self._stats.items()):
            for state, count in stats.held.items():
                held.add_metric([label, state], count)
            for change, count in stats.changes.items():
                changes.add_metric([label, change], count)
            errors.add_metric([label], stats.errors)
        yield held
        yield changes
        yield errors
