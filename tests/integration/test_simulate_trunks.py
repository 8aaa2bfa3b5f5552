"""`callpulse simulate --format` of a trunk format to a real broker, read back by the daemon
through the platform's adapter: each trunk's setups by response class as events v1 of the
same simulated day counts them (trunk-failure: lon1's trunk refuses every call with 503
from the 15th minute)."""

from __future__ import annotations

import json
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from callpulse.simulation import scenario as scenarios
from callpulse.simulation.model import ContactCenter

from .helpers import Daemon, kafka_config, simulate_to_kafka, wait_until

pytestmark = pytest.mark.integration
SCENARIO, MINUTES = "trunk-failure", 25
SITES = ("lon1", "nyc1")
OPTIONS: dict[str, dict[str, Any]] = {
    "kamailio-acc": {"trunk_attribute": "gw"},
    "opensips-acc": {"trunk_attribute": "gw"},
    "freeswitch-channel": {},
}


def same_day_setups() -> Counter[tuple[str, str, str]]:
    """(site, trunk, class) -> setups in the scenario's first minutes as events v1."""
    center = ContactCenter(scenarios.load(SCENARIO), 0.0, in_order=True)
    counts: Counter[tuple[str, str, str]] = Counter()
    for record in center.records(MINUTES * 60.0):
        e = json.loads(record.value or b"")
        if e["type"] == "call.setup":
            counts[(e["site"], e["trunk_id"], f"{e['sip_code'] // 100}xx")] += 1
    return counts


@pytest.mark.parametrize("fmt", sorted(OPTIONS))
def test_a_simulated_trunk_failure_counts_its_setups_as_events_v1(
    fmt: str, kafka_bootstrap: str, topics: tuple[str, str], tmp_path: Path
) -> None:
    topic, dlq = topics
    per_site = simulate_to_kafka(kafka_bootstrap, topic, SCENARIO, MINUTES, fmt, SITES)
    formats = {
        name: {"format": fmt, "site": site, **OPTIONS[fmt]} for site, name in per_site.items()
    }
    config = kafka_config(kafka_bootstrap, topic, dlq, f"g-{uuid.uuid4().hex}",
                          topics=[topic, *per_site.values()], formats=formats)  # fmt: skip
    expected = same_day_setups()
    assert expected[("lon1", "lon1-sip-1", "5xx")] > 0  # the outage is in the first minutes
    daemon = Daemon(tmp_path, config)
    daemon.start()
    try:
        daemon.wait_ready()

        def counts() -> Counter[tuple[str, str, str]]:
            s = daemon.samples()
            return Counter({
                (site, trunk, c): int(s.get(("callpulse_trunk_setup_responses_total",
                    frozenset({"site": site, "trunk": trunk, "class": c}.items())), 0))
                for site, trunk, c in expected
            })  # fmt: skip

        if fmt != "freeswitch-channel":
            # A proxy accounts every INVITE's final response as it is sent.
            wait_until(lambda: counts() == expected, 60, f"the setups {sorted(expected.items())}")
        else:
            # FreeSWITCH writes a leg at its hang-up: every refusal at once, an answered leg
            # only once its call is over, so some of the day's answers are still up.
            refused = {k: n for k, n in expected.items() if k[2] == "5xx"}
            wait_until(
                lambda: {k: counts()[k] for k in refused} == refused, 60, f"refusals {refused}"
            )
            got = counts()
            for key, n in expected.items():
                if key[2] == "2xx":
                    assert 0.5 * n < got[key] <= n, (key, got[key], n)
            scores = {
                dict(labels)["trunk"]
                for name, labels in daemon.samples()
                if name == "callpulse_trunk_media_score_mean"
                and dict(labels).get("kind") == "freeswitch_flaws"
            }
            assert scores == {"lon1-sip-1", "nyc1-sip-1"}  # FreeSWITCH's own score, no MOS
        assert daemon.value("callpulse_dead_letter_records_total") in (None, 0)
    finally:
        assert daemon.stop() == 0
