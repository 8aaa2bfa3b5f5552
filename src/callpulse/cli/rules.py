"""``callpulse rules test FILE``: unit tests for alert rules, in the spirit of promtool's.

A test file names rule files and lists tests. Each test feeds events at offsets from its
start through the real decoder and monitor, evaluates the rules every
``evaluation_interval``, and compares the alerts at the given times with the expected ones::

    rule_files: [rules.yaml]          # relative to this file
    evaluation_interval: 15s          # default 15s
    kpi: {windows: [1m, 5m, 15m]}     # optional: the kpi settings the rules run with
    tests:
      - name: billing's service level collapses
        events:
          - {at: 0s, type: agent.state, site: lon1, agent_id: a1, state: available,
             queues: [billing]}
          - {at: 10s, every: 20s, until: 5m, type: call.answered, site: lon1, queue: billing,
             call_id: "c{n}", agent_id: a1, wait_seconds: 60}
        expect:
          - at: 3m
            firing: [{alertname: QueueServiceLevelLow, site: lon1, queue: billing}]
          - at: 10m
            firing: []

``every``/``until`` repeat an event, and ``{n}`` in a string is the repetition's number. An
expected alert matches an actual one whose labels include all of its labels. At each
expected time the firing alerts that would be sent must match exactly; ``suppressed`` (firing,
but withheld by a maintenance window) and ``pending`` are checked when the expectation lists
them. A ``maintenance:`` section (as in the settings) gives the tests a calendar; the built-in
maintenance alerts run as they do in the daemon.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml

from callpulse import pipeline
from callpulse.alerting import Alerting
from callpulse.config import (
    AlertingSettings,
    ConfigError,
    KpiSettings,
    LoadedConfig,
    MaintenanceSettings,
    Settings,
    compile_config,
)
from callpulse.core.clock import WALL_TIME
from callpulse.core.durations import format_duration, parse_duration
from callpulse.core.ingest import RawRecord
from callpulse.text import plain

START = datetime(2026, 1, 5, 9, 0, tzinfo=UTC).timestamp()  # a Monday morning


@dataclass
class TestResult:
    """One test's outcome: a name and the differences found (none when it passed)."""

    name: str
    problems: list[str]


def run_file(path: Path, observe: pipeline.Observer | None = None) -> list[TestResult]:
    """Run every test of ``path``; raise ConfigError if the file itself is wrong.
    ``observe``: told of every evaluation of every test."""
    try:
        doc = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"{path}: cannot read the rule test file: {exc}") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("tests"), list):
        raise ConfigError(f"{path}: expected a mapping with a `tests` list")
    files = [path.parent / f for f in doc.get("rule_files", [])]
    try:
        settings = Settings(
            kpi=KpiSettings(**doc.get("kpi", {})),
            maintenance=MaintenanceSettings(**doc.get("maintenance", {})),
            alerting=AlertingSettings(
                log=False, evaluation_interval=doc.get("evaluation_interval", "15s")
            ),
            rule_files=files,
        )
        config = compile_config(settings, str(path))
        interval = parse_duration(doc.get("evaluation_interval", "15s"))
    except (ValueError, TypeError) as exc:
        raise ConfigError(f"{path}: {exc}") from None
    return [_run_test(path, test, config, interval, observe) for test in doc["tests"]]


def _run_test(
    path: Path,
    test: Mapping[str, Any],
    config: LoadedConfig,
    interval: float,
    observe: pipeline.Observer | None,
) -> TestResult:
    name = str(test.get("name", "(unnamed)"))
    # The test's clock is its wall clock, jumping from one evaluation to the next.
    parts = pipeline.build(config.settings, rules=config.rules, now=START, clock=WALL_TIME)
    alerting = parts.alerting
    try:
        events = sorted(_expand(test.get("events", [])), key=lambda e: e[0])
        expectations = sorted(
            ((parse_duration(x["at"]), x) for x in test.get("expect", [])), key=lambda e: e[0]
        )
    except (KeyError, ValueError, TypeError) as exc:
        raise ConfigError(f"{path}: test {name!r}: {exc}") from None
    problems: list[str] = []
    end = max([t for t, _ in expectations], default=0.0)
    steps = int(end // interval) + 1
    pending_events = list(events)
    checks = list(expectations)
    for step in range(steps + 1):
        now = step * interval
        batch: list[tuple[RawRecord, str]] = []
        while pending_events and pending_events[0][0] <= now:
            at, body = pending_events.pop(0)
            where = f"{path}: test {name!r}: event at {format_duration(at)}"
            try:
                value = json.dumps(body, allow_nan=False).encode()
            except (TypeError, ValueError, RecursionError) as exc:
                raise ConfigError(f"{where}: not an event in JSON: {exc}") from None
            batch.append((RawRecord(value, topic=str(path), offset=len(batch)), where))
        # Through the daemon's own path: the same limits, and the same boundary.
        for rejected in parts.feed([record for record, _ in batch], START + now):
            where = batch[rejected.record.offset][1]
            raise ConfigError(f"{where}: {rejected.reason}: {rejected.detail}")
        parts.evaluate(START + now)
        if observe is not None:
            observe(START + now, parts)
        while checks and checks[0][0] <= now:
            at, expected = checks.pop(0)
            problems += _compare(at, expected, alerting)
    return TestResult(name, problems)


def _expand(items: Iterable[Mapping[str, Any]]) -> Iterable[tuple[float, dict[str, Any]]]:
    counter = 0
    for item in items:
        fields = dict(item)
        at = parse_duration(fields.pop("at", 0))
        every = fields.pop("every", None)
        until = parse_duration(fields.pop("until", at))
        times = [at]
        if every is not None:
            step = parse_duration(every)
            times = [at + i * step for i in range(int((until - at) // step) + 1)]
        for n, t in enumerate(times):
            counter += 1
            body = {
                k: (v.replace("{n}", str(n)) if isinstance(v, str) else v)
                for k, v in fields.items()
            }
            body.setdefault("schema_version", 1)
            body.setdefault("event_id", f"test-{counter}")
            body["occurred_at"] = datetime.fromtimestamp(START + t, UTC).isoformat()
            yield t, body


def _compare(at: float, expected: Mapping[str, Any], alerting: Alerting) -> list[str]:
    problems = []
    alerts = alerting.alerts()
    held = {id(a) for a in alerts if alerting.suppressed_by(a)}
    states = {
        "firing": [a for a in alerts if a.state == "firing" and id(a) not in held],
        "suppressed": [a for a in alerts if a.state == "firing" and id(a) in held],
        "pending": [a for a in alerts if a.state == "pending"],
    }
    for state, present in states.items():
        if state not in expected and state != "firing":
            continue
        wanted = [dict(x) for x in expected.get(state) or []]
        actual = [a.label_dict() for a in present]
        unmatched = list(actual)
        missing = []
        for want in wanted:
            hit = next((a for a in unmatched if want.items() <= a.items()), None)
            if hit is None:
                missing.append(want)
            else:
                unmatched.remove(hit)
        if missing or unmatched:
            lines = [f"at {format_duration(at)}, {state}:"]
            lines += [f"  - expected, not {state}: {_show(m)}" for m in missing]
            lines += [f"  + {state}, not expected: {_show(u)}" for u in unmatched]
            problems.append("\n".join(lines))
    return problems


def _show(labels: Mapping[str, str]) -> str:
    return "{" + ", ".join(f"{plain(k)}={v!r}" for k, v in sorted(labels.items())) + "}"


def main(files: list[Path]) -> int:
    """Run every rule test file; print PASS/FAIL per test; 0 when all passed, 2 on a bad file."""
    from callpulse import logs

    logs.configure("warning", "console")

    failed = 0
    for path in files:
        try:
            results = run_file(path)
        except ConfigError as exc:
            print(f"callpulse: {plain(str(exc), newlines=True)}", file=sys.stderr)
            return 2
        for result in results:
            # Names and labels come from the test file (the problems' lines are ours).
            test = plain(f"{path}: {result.name}")
            if result.problems:
                failed += 1
                print(f"FAIL  {test}")
                for problem in result.problems:
                    print("      " + plain(problem, newlines=True).replace("\n", "\n      "))
            else:
                print(f"PASS  {test}")
    print("rule tests failed" if failed else "rule tests passed")
    return 1 if failed else 0
