"""Pages that hold through a rebalance: two and three replicas in one group, a real
Alertmanager.

Four sites have a caller waiting and a rule pages for each. A second replica joins and takes
some of the partitions, then leaves with SIGTERM and the first takes them back. With three,
two join, one leaves with SIGTERM and one is killed with SIGKILL. Throughout, Alertmanager
must hold every page active with the start it had, and only the owner of a site may send for
it.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.partitioner import DefaultPartitioner

from tests.unit.events import raw

from .alertmanager import Alertmanager
from .helpers import Daemon, kafka_config, wait_until

pytestmark = pytest.mark.integration

# Keyed by site as producers key them: three partitions, one replica's share each way.
SITES = ("lon1", "nyc1", "sgp1", "syd1")
RESEND = 4.0  # firing re-sent every 4 s, endsAt 16 s ahead
KEEP_FIRING_FOR = 6.0

RULES = f"""
rules:
  - alert: CallerWaiting
    kpi: queue_calls_waiting
    op: ">"
    threshold: 0
    for: 2s
    keep_firing_for: {KEEP_FIRING_FOR:g}s
    severity: critical
"""

AM_CONFIG = """
route:
  receiver: hook
  group_by: [alertname, site]
  group_wait: 0s
  group_interval: 1s
  repeat_interval: 1h
receivers:
  - name: hook
    webhook_configs:
      - url: {url}
        send_resolved: true
"""


class Inbox:
    """A real HTTP receiver on loopback: every alert POSTed to it, by path, with its time."""

    def __init__(self) -> None:
        self.received: list[tuple[float, str, dict[str, Any]]] = []
        inbox = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                now = time.time()
                inbox.received += [(now, self.path, alert) for alert in body["alerts"]]
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *_: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def alerts(self, path: str, since: float = 0.0) -> list[tuple[str, str]]:
        """(site, status) of each alert POSTed to ``path`` at ``since`` or later."""
        return [
            (a["labels"]["site"], a["status"])
            for t, p, a in list(self.received)
            if p == path and t >= since
        ]

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


class Watch:
    """Polls Alertmanager's alerts; records each site's page not active at some instant."""

    def __init__(self, am: Alertmanager) -> None:
        self._am = am
        self.gaps: list[tuple[float, str, str]] = []
        self.starts: dict[str, set[str]] = {}
        self.polls = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(0.25):
            now = time.time()
            seen = {a["labels"]["site"]: a for a in self._am.alerts()}
            self.polls += 1
            for site in SITES:
                alert = seen.get(site)
                if alert is None:
                    self.gaps.append((now, site, "absent"))
                    continue
                ends = datetime.fromisoformat(alert["endsAt"].replace("Z", "+00:00"))
                if alert["status"]["state"] != "active" or ends.timestamp() <= now:
                    self.gaps.append((now, site, f"{alert['status']['state']} {alert['endsAt']}"))
                self.starts.setdefault(site, set()).add(alert["startsAt"])

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)


@pytest.fixture
def inbox() -> Iterator[Inbox]:
    box = Inbox()
    try:
        yield box
    finally:
        box.close()


async def _produce(bootstrap: str, topic: str, events: list[tuple[str, bytes]]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
    await producer.start()
    try:
        for site, value in events:
            await producer.send_and_wait(topic, value, key=site.encode())
    finally:
        await producer.stop()


async def _compacted_topic(bootstrap: str, name: str) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        topic = NewTopic(name, 1, 1, topic_configs={"cleanup.policy": "compact"})
        await admin.create_topics([topic])
    finally:
        await admin.close()


def replica(
    name: str,
    tmp_path: Path,
    config: dict[str, Any],
    am: Alertmanager,
    inbox: Inbox,
    resend: float = RESEND,
) -> Daemon:
    config = config | {
        "alerting": {
            "alertmanagers": [{"url": am.url, "timeout": "2s"}],
            "webhooks": [{"url": f"{inbox.url}/{name}", "timeout": "2s"}],
            "evaluation_interval": "1s",
            "resend_delay": f"{resend:g}s",
            "log": False,
        },
        "rule_files": [str(tmp_path / "rules.yaml")],
    }
    return Daemon(tmp_path, config, name=name).start()


def instant(rfc3339: str) -> float:
    return round(datetime.fromisoformat(rfc3339.replace("Z", "+00:00")).timestamp(), 3)


def paged(daemon: Daemon) -> set[str]:
    """The sites whose CallerWaiting the replica exports as firing."""
    return {
        dict(labels)["site"]
        for (n, labels), v in daemon.samples().items()
        if n == "callpulse_alerts" and ("alertstate", "firing") in labels and v == 1
    }


@pytest.mark.parametrize("carried", [False, True], ids=["rebuilt", "alert-state-topic"])
def test_pages_that_hold_stay_active_while_a_replica_joins_and_leaves(
    kafka_bootstrap: str, topics: tuple[str, str], tmp_path: Path, inbox: Inbox, carried: bool
) -> None:
    """``carried``: with an alert state topic, the new owner carries each page on (the same
    startsAt in every notification); without, it pages anew after its ``for``, which
    Alertmanager merges into the page still active."""
    topic, dlq = topics
    partitions = {DefaultPartitioner()(s.encode(), [0, 1, 2], [0, 1, 2]) for s in SITES}
    assert partitions == {0, 1, 2}  # whichever share the newcomer takes, sites move
    (tmp_path / "rules.yaml").write_text(RULES)
    am = Alertmanager(tmp_path, config=AM_CONFIG.format(url=f"{inbox.url}/alertmanager")).start()
    now = time.time()
    waiting = [
        (s, raw("call.queued", now, site=s, call_id=f"c-{s}", queue="billing")) for s in SITES
    ]
    asyncio.run(_produce(kafka_bootstrap, topic, waiting))
    config = kafka_config(kafka_bootstrap, topic, dlq, f"g-{uuid.uuid4().hex}")
    if carried:
        config["source"]["kafka"]["alert_state_topic"] = f"{topic}.alert-state"
        asyncio.run(_compacted_topic(kafka_bootstrap, f"{topic}.alert-state"))
    first = replica("first", tmp_path, config, am, inbox)
    second: Daemon | None = None
    watch: Watch | None = None
    try:
        first.wait_ready()
        wait_until(lambda: paged(first) == set(SITES), 30, "the first replica to page all four")
        wait_until(
            lambda: {a["labels"]["site"] for a in am.alerts()} == set(SITES),
            30,
            "Alertmanager to hold the four pages",
        )
        starts = {a["labels"]["site"]: a["startsAt"] for a in am.alerts()}
        watch = Watch(am)

        # Scale-up: the newcomer takes a share of the partitions, and their sites with it.
        second = replica("second", tmp_path, config, am, inbox)
        second.wait_ready()
        [released] = wait_until(
            lambda: first.log_events("sites_released"), 30, "the first replica to release"
        )
        moved = set(released["sites"])
        stays = set(SITES) - moved
        assert moved
        moved_at = time.time()
        wait_until(
            lambda: {s for s, st in inbox.alerts("/second") if st == "firing"} == moved,
            30,
            "the newcomer to page the sites it took",
        )
        # Past keep_firing_for and two re-sends: when the old owner used to resolve them.
        time.sleep(KEEP_FIRING_FOR + 2 * RESEND)
        exported = (paged(first), paged(second))
        first_after_move = {s for s, _ in inbox.alerts("/first", since=moved_at)}
        print(
            f"moved {sorted(moved)}; after the move the first replica sent "
            f"{sorted(set(inbox.alerts('/first', since=moved_at)))}"
        )

        # Scale-down: SIGTERM, and the first replica takes the partitions back.
        assert second.stop() == 0
        left_at = time.time()
        wait_until(
            lambda: (
                {s for s, st in inbox.alerts("/first", since=left_at) if st == "firing"}
                == set(SITES)
            ),
            60,
            "the first replica to page the sites it took back",
        )
        time.sleep(KEEP_FIRING_FOR + 2 * RESEND)
        watch.stop()
        print(f"{watch.polls} polls of Alertmanager; {len(inbox.received)} alerts received")

        sent = inbox.alerts("/first") + inbox.alerts("/second")
        assert [a for a in sent if a[1] != "firing"] == []
        assert [a for a in inbox.alerts("/alertmanager") if a[1] != "firing"] == []
        assert watch.gaps == []
        assert watch.polls > 2 * (KEEP_FIRING_FOR + 2 * RESEND)
        # One page each, from first to last: Alertmanager kept when each began.
        assert watch.starts == {site: {start} for site, start in starts.items()}
        # After the move only the owner sent, and exported, each site's page.
        assert first_after_move == stays
        assert {s for s, _ in inbox.alerts("/second")} == moved
        assert exported == (stays, moved)
        assert paged(first) == set(SITES)
        if carried:
            # Each page carried on as it began, whoever sent it.
            begun = {(a["labels"]["site"], instant(a["startsAt"])) for _, _, a in inbox.received}
            assert begun == {(site, instant(start)) for site, start in starts.items()}
            [adopted] = second.log_events("alert_state_adopted")
            assert (set(adopted["sites"]), adopted["alerts"]) == (moved, len(moved))
        [dropped] = first.log_events("alerts_released")
        assert (dropped["alerts"], dropped["firing"], set(dropped["sites"])) == (
            len(moved),
            len(moved),
            moved,
        )
    finally:
        if watch is not None:
            watch.stop()
        try:
            if second is not None:
                second.stop()
            assert first.stop() == 0
        finally:
            am.stop()


# A killed replica's pages must outlive the group noticing (the consumer's session timeout,
# 10 s) and the rebuild: Alertmanager holds each until its endsAt, 4 x the re-send delay.
KILL_RESEND = 8.0


def owners(replicas: dict[str, Daemon]) -> dict[str, set[str]]:
    return {name: paged(d) for name, d in replicas.items()}


def settled(replicas: dict[str, Daemon]) -> dict[str, set[str]] | None:
    """Each replica's pages once every site is paged by exactly one of them, each has some."""
    found = owners(replicas)
    every = [s for sites in found.values() for s in sites]
    if sorted(every) == sorted(SITES) and all(found.values()):
        return found
    return None


def test_three_replicas_keep_every_page_through_a_join_a_stop_and_a_kill(
    kafka_bootstrap: str, topics: tuple[str, str], tmp_path: Path, inbox: Inbox
) -> None:
    topic, dlq = topics
    (tmp_path / "rules.yaml").write_text(RULES)
    am = Alertmanager(tmp_path, config=AM_CONFIG.format(url=f"{inbox.url}/alertmanager")).start()
    now = time.time()
    waiting = [
        (s, raw("call.queued", now, site=s, call_id=f"c-{s}", queue="billing")) for s in SITES
    ]
    asyncio.run(_produce(kafka_bootstrap, topic, waiting))
    config = kafka_config(kafka_bootstrap, topic, dlq, f"g-{uuid.uuid4().hex}")
    config["source"]["kafka"]["alert_state_topic"] = f"{topic}.alert-state"
    asyncio.run(_compacted_topic(kafka_bootstrap, f"{topic}.alert-state"))
    replicas: dict[str, Daemon] = {}

    def start(name: str) -> Daemon:
        replicas[name] = replica(name, tmp_path, config, am, inbox, resend=KILL_RESEND)
        replicas[name].wait_ready()
        return replicas[name]

    watch: Watch | None = None
    try:
        first = start("first")
        wait_until(lambda: paged(first) == set(SITES), 30, "the first replica to page all four")
        wait_until(
            lambda: {a["labels"]["site"] for a in am.alerts()} == set(SITES),
            30,
            "Alertmanager to hold the four pages",
        )
        starts = {a["labels"]["site"]: a["startsAt"] for a in am.alerts()}
        watch = Watch(am)

        # Two join: three partitions, one each.
        start("second")
        start("third")
        shares = wait_until(lambda: settled(replicas), 60, "the three to share the sites")
        shared_at = time.time()
        time.sleep(2 * KILL_RESEND)  # every owner re-sends its pages at least once
        for name, sites in shares.items():
            assert {s for s, _ in inbox.alerts(f"/{name}", since=shared_at)} == sites, name

        # One leaves with SIGTERM: the other two take its sites on.
        assert replicas.pop("third").stop() == 0
        left_at = time.time()
        shares = wait_until(lambda: settled(replicas), 60, "the two to share the sites")
        time.sleep(2 * KILL_RESEND)
        print(f"after SIGTERM: {shares}")

        # One is killed: nothing of it says goodbye; the group notices at its session timeout.
        killed = replicas.pop("second")
        killed.kill()
        killed_at = time.time()
        wait_until(
            lambda: (
                {s for s, st in inbox.alerts("/first", since=killed_at) if st == "firing"}
                == set(SITES)
            ),
            90,
            "the first replica to page the killed one's sites",
        )
        time.sleep(KEEP_FIRING_FOR + 2 * KILL_RESEND)
        watch.stop()
        print(f"{watch.polls} polls of Alertmanager; {len(inbox.received)} alerts received")

        sent = [a for name in ("first", "second", "third") for a in inbox.alerts(f"/{name}")]
        assert [a for a in sent if a[1] != "firing"] == []
        assert [a for a in inbox.alerts("/alertmanager") if a[1] != "firing"] == []
        assert watch.gaps == []
        assert watch.starts == {site: {start} for site, start in starts.items()}
        # Every notification, whoever sent it, carried the page's first start.
        begun = {(a["labels"]["site"], instant(a["startsAt"])) for _, _, a in inbox.received}
        assert begun == {(site, instant(start)) for site, start in starts.items()}
        # Since the kill, only the survivor sent; since the stop, never the one stopped.
        assert {s for s, _ in inbox.alerts("/second", since=killed_at + 1)} == set()
        assert {s for s, _ in inbox.alerts("/third", since=left_at + 1)} == set()
        assert paged(first) == set(SITES)
    finally:
        if watch is not None:
            watch.stop()
        try:
            for daemon in replicas.values():
                daemon.stop()
        finally:
            am.stop()
