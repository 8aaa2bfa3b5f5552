"""Playing a scenario through the real pipeline, fast, and checking the alerts it raised.

The simulated events go through the same decoder, monitor and alert evaluation as Kafka's
(with the rules and settings given), on a clock that jumps from one evaluation to the next,
so an hour of contact center takes seconds.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from callpulse.alerts import Alerting
from callpulse.core.ingest import Ingest, RawRecord
from callpulse.core.monitor import Monitor
from callpulse.settings import Settings, load_rules
from callpulse.simulation.model import ContactCenter, encode
from callpulse.simulation.scenario import Scenario


@dataclass
class Report:
    """What a scenario did to the pipeline."""

    events: int = 0
    rejected: int = 0
    duplicates: int = 0
    late: int = 0
    fired: Counter[str] = field(default_factory=Counter)  # notified firing alerts by name
    suppressed: Counter[str] = field(default_factory=Counter)
    first_fired: dict[str, float] = field(default_factory=dict)  # seconds into the scenario

    def verdict(self, scenario: Scenario) -> list[str]:
        """What is wrong against ``scenario.expect`` (nothing: it passed)."""
        problems = [
            f"expected {name} to fire; it did not"
            for name in scenario.expect.alerts
            if name not in self.fired
        ]
        allowed = set(scenario.expect.alerts) | set(scenario.expect.allow)
        problems += [
            f"{name} fired ({self.fired[name]} notifications, first at "
            f"{self.first_fired[name] / 60:.1f} min) and was not expected"
            for name in sorted(self.fired)
            if name not in allowed
        ]
        return problems


def run(scenario: Scenario, settings: Settings, step: float = 15.0) -> Report:
    """Play ``scenario`` from its ``start``, evaluating rules every ``step`` seconds."""
    start = scenario.start.timestamp()
    center = ContactCenter(scenario, start)
    monitor = Monitor(settings.monitor_config(event_time_clock=False), now=start)
    ingest = Ingest(monitor, max_record_bytes=settings.source.kafka.max_record_bytes)
    alerting = Alerting(
        settings.alerting.model_copy(
            update={"log": False, "state_file": None, "alertmanagers": [], "webhooks": []}
        ),
        load_rules(settings),
        monitor,
        backlog_severity=settings.maintenance.backlog.severity,
        backlog_keep_firing_for=settings.maintenance.backlog.keep_firing_for,
    )
    report = Report()
    t = start
    offset = 0
    while t < start + scenario.duration:
        t += step
        records = []
        for event in center.advance(t):
            records.append(
                RawRecord(encode(event), event["site"].encode(), "simulation", 0, offset)
            )
            offset += 1
        monitor.tick(t)
        report.rejected += len(ingest.process(records))
        report.events += len(records)
        for n in alerting.evaluate():
            if n.ends_at > t:
                name = n.labels["alertname"]
                report.fired[name] += 1
                report.first_fired.setdefault(name, t - start)
    for name, _ in alerting.suppressed:
        report.suppressed[name] += 1
    report.duplicates = monitor.stats.duplicates
    report.late = monitor.stats.late
    return report
