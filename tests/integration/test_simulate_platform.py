"""`callpulse simulate --format` to a real broker, read back by the daemon through the
platform's adapter: each site's records on a topic of its own, and the queue counts of the
same simulated day as events v1."""

from __future__ import annotations

import json
import uuid
from collections import Counter
from pathlib import Path

import pytest

from callpulse.simulation import scenario as scenarios
from callpulse.simulation.model import ContactCenter

from .helpers import Daemon, kafka_config, simulate_to_kafka, wait_until

pytestmark = pytest.mark.integration
SCENARIO, MINUTES, FORMAT = "flash-crowd", 25, "twilio-taskrouter"


def same_day_counts() -> Counter[tuple[str, str, str]]:
    """(site, queue, kind) -> calls, for the scenario's first minutes as events v1, each
    event once: offered, answered, and abandoned after S = 5 s. (Its profile is flat, so the
    day does not depend on when it starts; its flash crowd at 15 minutes makes abandons.)"""
    scenario = scenarios.load(SCENARIO)
    center = ContactCenter(scenario, 0.0, in_order=True)
    counts: Counter[tuple[str, str, str]] = Counter()
    kinds = {"call.queued": "offered", "call.answered": "answered", "call.abandoned": "abandoned"}
    for record in center.records(MINUTES * 60.0):
        e = json.loads(record.value or b"")
        kind = kinds.get(e["type"])
        if kind == "abandoned" and e["wait_seconds"] < 5:
            continue
        if kind is not None:
            counts[(e["site"], e["queue"], kind)] += 1
    return counts


def test_a_simulated_day_written_as_taskrouter_events_counts_as_events_v1(
    kafka_bootstrap: str, topics: tuple[str, str], tmp_path: Path
) -> None:
    topic, dlq = topics
    per_site = simulate_to_kafka(
        kafka_bootstrap, topic, SCENARIO, MINUTES, FORMAT, ("lon1", "nyc1")
    )
    formats = {name: {"format": FORMAT, "site": site} for site, name in per_site.items()}
    config = kafka_config(kafka_bootstrap, topic, dlq, f"g-{uuid.uuid4().hex}",
                          topics=[topic, *per_site.values()], formats=formats)  # fmt: skip
    expected = same_day_counts()
    assert sum(n for (_, _, kind), n in expected.items() if kind == "abandoned") > 0
    daemon = Daemon(tmp_path, config)
    daemon.start()
    try:
        daemon.wait_ready()
        # The cumulative counts: the day is longer than the 15-minute window.
        metric = {kind: f"callpulse_queue_calls_{kind}_total" for kind in
                  ("offered", "answered", "abandoned")}  # fmt: skip

        def counts() -> Counter[tuple[str, str, str]]:
            s = daemon.samples()
            return Counter(
                {
                    (site, queue, kind): int(
                        s.get((metric[kind], frozenset({"site": site, "queue": queue}.items())), 0)
                    )
                    for site, queue, kind in expected
                }
            )  # fmt: skip

        wait_until(lambda: counts() == expected, 60, f"the counts of {sorted(expected.items())}")
        assert daemon.value("callpulse_dead_letter_records_total") in (None, 0)
    finally:
        assert daemon.stop() == 0
