"""`callpulse simulate --kafka` drives a real broker, keyed by site."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from .helpers import kcat_consume

pytestmark = pytest.mark.integration


def test_simulate_produces_a_scenario_to_kafka(
    kafka_bootstrap: str, topics: tuple[str, str]
) -> None:
    topic, _ = topics
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "callpulse",
            "simulate",
            "--scenario",
            "normal-day",
            "--kafka",
            kafka_bootstrap,
            "--topic",
            topic,
            "--speed",
            "0",
            "--duration",
            "30m",
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    match = re.search(
        r"([\d,]+) events produced to \S+ in ([\d.]+) s \(([\d,]+) events/s\)", result.stdout
    )
    assert match, result.stdout
    produced = int(match.group(1).replace(",", ""))
    print(f"simulate --kafka: {match.group(0)}")
    assert produced > 3000
    records = kcat_consume(kafka_bootstrap, topic, 200)
    assert {r["key"] for r in records} <= {"lon1", "nyc1"}
    assert all(f'"site":"{r["key"]}"' in r["payload"] for r in records)
