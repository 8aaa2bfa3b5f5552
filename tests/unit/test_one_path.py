"""One path for every caller: the same records through the daemon's consumer, ``callpulse
rules test`` and ``callpulse replay --report`` give the same KPIs and the same alert timeline.

The stream: eight calls queue at lon1's billing with no agent to take them, so the backlog
rule fires; then they abandon one by one, and it resolves. A component's heartbeat every
10 s keeps the file's time going, so the report evaluates past the resolution as the others do.
No event falls on an evaluation instant (multiples of 15 s): the daemon and the rule test feed
what is due by an instant then evaluate, the report evaluates an instant before the first
record after it; between instants all three have applied the same records.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml

from callpulse.cli import report, rules
from callpulse.config import Settings, compile_config
from callpulse.core.clock import WALL_TIME
from callpulse.core.ingest import RawRecord
from callpulse.pipeline import Pipeline
from callpulse.protocols import Batch
from callpulse.runtime import compose

START = rules.START
INTERVAL = 15.0
RULES = {
    "rules": [
        {
            "alert": "QueueBacklog",
            "kpi": "queue_calls_waiting",
            "op": ">",
            "threshold": 4,
            "for": "30s",
            "severity": "warning",
        }
    ]
}
KPI_TIMES = [START + t for t in (60.0, 120.0, 180.0, 240.0, 300.0, 420.0)]


def stream() -> list[tuple[float, dict[str, Any]]]:
    """(seconds after START, event) in time order."""
    events: list[tuple[float, dict[str, Any]]] = []
    for n in range(8):
        events.append((2.0 + 10 * n, {"type": "call.queued", "call_id": f"c{n}"}))
        events.append(
            (151.0 + 20 * n, {"type": "call.abandoned", "call_id": f"c{n}", "wait_seconds": 149})
        )
    beats = [
        (3.0 + 10 * k, {"type": "component.health", "component": "pbx-1", "kind": "pbx"})
        for k in range(60)
    ]
    out = []
    for i, (at, fields) in enumerate(sorted(events + beats, key=lambda e: e[0])):
        body = {"event_id": f"e{i}", "site": "lon1", **fields}
        if fields["type"].startswith("call."):
            body["queue"] = "billing"
        else:
            body["status"] = "up"
        out.append((at, body))
    return out


def as_record(at: float, body: dict[str, Any]) -> bytes:
    occurred = datetime.fromtimestamp(START + at, UTC).isoformat()
    return json.dumps({"schema_version": 1, "occurred_at": occurred, **body}).encode()


Reading = tuple[object, ...]


class Seen:
    """What each evaluation left: the KPIs at the chosen times, and the alerts' states."""

    def __init__(self) -> None:
        self.kpis: dict[float, Reading] = {}
        self.alerts: dict[float, frozenset[tuple[str, str]]] = {}

    def __call__(self, now: float, pipeline: Pipeline) -> None:
        self.alerts[now] = frozenset(
            (a.label_dict()["alertname"], a.state) for a in pipeline.alerting.alerts()
        )
        if now in KPI_TIMES:
            [view] = pipeline.monitor.queue_views()
            windows = tuple((w.offered, w.abandoned, w.abandon_ratio) for w in view.windows)
            self.kpis[now] = (view.calls_waiting, view.oldest_wait_seconds, windows)

    def timeline(self, times: Sequence[float]) -> list[tuple[str, str, float]]:
        """(alert, state, time) each time an alert's state changes, over ``times``."""
        out, last = [], dict[str, str]()
        for t in times:
            for name, state in sorted(self.alerts[t]):
                if last.get(name) != state:
                    out.append((name, state, t - START))
                    last[name] = state
        return out


class ListSource:
    """The records of a list, handed out as the test asks."""

    name = "list"
    clock = WALL_TIME

    async def start(self) -> None:
        """Nothing to open."""

    async def fetch(self) -> Batch:
        """Never asked: the test hands batches to the consumer itself."""
        return Batch([])

    async def commit(self, batch: Batch) -> None:
        """Nothing to commit."""

    async def stop(self) -> None:
        """Nothing to close."""


def through_rules_test(tmp_path: Path, events: list[tuple[float, dict[str, Any]]]) -> Seen:
    last = events[-1][0]
    test = {
        "rule_files": ["rules.yaml"],
        "evaluation_interval": "15s",
        "tests": [
            {
                "name": "backlog",
                "events": [{"at": f"{at:g}s", **body} for at, body in events],
                "expect": [{"at": f"{last + INTERVAL:g}s", "firing": []}],
            }
        ],
    }
    path = tmp_path / "backlog.test.yaml"
    path.write_text(yaml.safe_dump(test))
    seen = Seen()
    [result] = rules.run_file(path, observe=seen)
    assert result.problems == []
    return seen


def through_report(tmp_path: Path, events: list[tuple[float, dict[str, Any]]]) -> Seen:
    path = tmp_path / "stream.jsonl"
    path.write_bytes(b"".join(as_record(at, body) + b"\n" for at, body in events))
    settings = Settings.model_validate(
        {
            "source": {"kind": "replay", "replay": {"path": str(path)}},
            "alerting": {"log": False, "evaluation_interval": "15s"},
            "rule_files": [str(tmp_path / "rules.yaml")],
        }
    )
    seen = Seen()
    played = report.play(settings, observe=seen)
    assert not played.rejected
    return seen


async def through_daemon(tmp_path: Path, events: list[tuple[float, dict[str, Any]]]) -> Seen:
    settings = Settings.model_validate(
        {
            "http": {"host": "127.0.0.1", "port": 0},
            "alerting": {"log": False, "evaluation_interval": "15s"},
            "rule_files": [str(tmp_path / "rules.yaml")],
        }
    )
    wall = [START]
    runtime = compose(compile_config(settings), ListSource(), clock=lambda: wall[0])
    consumer, seen = runtime.consumer, Seen()
    assert await consumer.open()
    pending = list(events)
    offset = 0
    for step in range(int(events[-1][0] // INTERVAL) + 2):
        wall[0] = now = START + step * INTERVAL
        batch = []
        while pending and START + pending[0][0] <= now:
            at, body = pending.pop(0)
            batch.append(RawRecord(as_record(at, body), b"lon1", "callpulse.events", 0, offset))
            offset += 1
        consumer.tick()  # what the consumer's clock does between batches
        if batch:
            await consumer.apply(Batch(batch))
        runtime.pipeline.evaluate(now)  # what the alerting service does every interval
        seen(now, runtime.pipeline)
    return seen


async def test_the_daemon_a_rule_test_and_a_report_see_the_same(tmp_path: Path) -> None:
    (tmp_path / "rules.yaml").write_text(yaml.safe_dump(RULES))
    events = stream()
    daemon = await through_daemon(tmp_path, events)
    tested = through_rules_test(tmp_path, events)
    reported = through_report(tmp_path, events)

    assert set(KPI_TIMES) <= daemon.kpis.keys()
    assert daemon.kpis == tested.kpis == reported.kpis
    assert daemon.kpis[START + 120][0] == 8  # the backlog is there
    assert daemon.kpis[START + 420][0] == 0  # and gone

    # The report evaluates from the first instant after its first record to its last.
    common = sorted(daemon.alerts.keys() & tested.alerts.keys() & reported.alerts.keys())
    timeline = daemon.timeline(common)
    assert timeline == tested.timeline(common) == reported.timeline(common)
    # More than 4 waiting from the fifth call (42 s), 30 s of `for`; 4 left at 211 s.
    assert timeline == [
        ("QueueBacklog", "pending", 45.0),
        ("QueueBacklog", "firing", 75.0),
        ("QueueBacklog", "resolved", 225.0),
    ]
