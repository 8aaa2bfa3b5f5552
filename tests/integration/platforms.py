"""What the platform-adapter integration tests share: a shipped sample produced to a real
broker by kcat, a daemon reading the topic in that format, and the checks every adapter
answers to (queue KPIs, ignored kinds, the one dead letter carrying the platform's record)."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from .helpers import Daemon, Samples, kafka_config, kcat_consume, kcat_produce, wait_until


@contextmanager
def platform_daemon(
    bootstrap: str, topics: tuple[str, str], tmp_path: Path, records: list[bytes],
    fmt: dict[str, Any], key: str = "lon1", settings: dict[str, Any] | None = None,
) -> Iterator[Daemon]:  # fmt: skip
    """``records`` produced to the topic (each keyed ``key``, as a platform's connector keys
    one site's records), and a daemon reading it with ``fmt`` (and the sections of
    ``settings``), ready and past the sample's one dead letter. The daemon stops cleanly on
    the way out."""
    topic, dlq = topics
    kcat_produce(bootstrap, topic, [(key, r) for r in records], tmp_path)
    config = kafka_config(bootstrap, topic, dlq, f"g-{uuid.uuid4().hex}", formats={topic: fmt})
    config |= settings or {}
    daemon = Daemon(tmp_path, config)
    daemon.start()
    try:
        daemon.wait_ready()
        wait_until(
            lambda: daemon.value("callpulse_dead_letter_records_total") == 1, 30, "one dead letter"
        )
        yield daemon
    finally:
        assert daemon.stop() == 0


def settled(daemon: Daemon, site: str, queue: str, expected: dict[str, Any]) -> Samples:
    """The daemon's samples once the queue's figures (:func:`queue_kpis`) are ``expected``.

    A sample's records come in more than one fetch and a scrape can fall between two, so the
    figures are polled until they are all right; a figure that never comes right fails the
    test with the last ones seen, after 30 s."""

    def figures(samples: Samples) -> dict[str, Any] | None:
        try:
            return queue_kpis(samples, site, queue)
        except KeyError:  # the queue is not on /metrics yet
            return None

    return settled_on(daemon, figures, expected)


def settled_on(daemon: Daemon, figures: Callable[[Samples], Any], expected: Any) -> Samples:
    """The daemon's samples once ``figures`` of them are ``expected``, polled (a sample's
    records come in more than one fetch, and a scrape can fall between two); after 30 s the
    test fails with the last figures seen."""
    deadline = time.monotonic() + 30
    last: Any = None
    while time.monotonic() < deadline:
        samples = daemon.samples()
        last = figures(samples)
        if last == expected:
            return samples
        time.sleep(0.2)
    # A helper's assert is not rewritten by pytest: the message says what differs.
    assert last == expected, f"after 30 s: {last} != {expected}"
    return samples


EXAMPLES = Path(__file__).resolve().parents[2] / "docs" / "examples"  # the shipped samples


def queue_kpis(samples: Samples, site: str, queue: str) -> dict[str, Any]:
    """One queue's figures, to compare whole: the 15-minute window's counts, service level,
    ASA and AHT, the calls waiting, and its agents by state (the states with any)."""
    q = queue_series(samples, site, queue)
    return {
        **{
            kind: q(f"callpulse_queue_{name}", window="15m")
            for kind, name in (
                ("offered", "offered_calls"),
                ("answered", "answered_calls"),
                ("abandoned", "abandoned_calls"),
                ("service_level", "service_level_ratio"),
                ("asa", "asa_seconds"),
                ("aht", "aht_seconds"),
            )
        },
        "waiting": q("callpulse_queue_calls_waiting"),
        "agents": {
            dict(labels)["state"]: v
            for (name, labels), v in samples.items()
            if name == "callpulse_queue_agents"
            and dict(labels).get("site") == site
            and dict(labels).get("queue") == queue
            and v
        },
    }


def queue_series(samples: Samples, site: str, queue: str) -> Callable[..., float]:
    """One queue's series in ``samples``: ``q(name, **labels)``."""

    def q(name: str, **labels: str) -> float:
        return samples[(name, frozenset({"site": site, "queue": queue, **labels}.items()))]

    return q


def ignored_kinds(samples: Samples) -> dict[str, float]:
    """``callpulse_adapter_events_ignored_total`` by kind."""
    return {
        dict(labels)["kind"]: v
        for (name, labels), v in samples.items()
        if name == "callpulse_adapter_events_ignored_total"
    }


def check_dead_letter(
    bootstrap: str, dlq: str, samples: Samples, fmt: str, record: bytes, error: str
) -> None:
    """The one rejection is counted as ``invalid_<fmt>`` and reached the dead-letter topic as
    the platform's own ``record``, with an error saying what was expected."""
    reason = f"invalid_{fmt}"
    assert samples[("callpulse_events_invalid_total", frozenset({"reason": reason}.items()))] == 1
    [dead] = kcat_consume(bootstrap, dlq, 1)
    assert dead["headers"]["callpulse.reason"] == reason
    assert dead["payload"].encode() == record
    assert error in dead["headers"]["callpulse.error"]
