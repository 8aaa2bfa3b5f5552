"""A source is four verbs; what else it has, the daemon asks for and does without: each
shipped source has the capabilities it really has, and one of the four verbs alone runs."""

from __future__ import annotations

from pathlib import Path

import pytest

from callpulse.config import Settings, compile_config
from callpulse.core.clock import WALL_TIME
from callpulse.core.ingest import RawRecord
from callpulse.protocols import (
    Batch,
    CanGoBlind,
    DeadLettering,
    Finite,
    Lagging,
    Partitioned,
    Readiness,
    Source,
)
from callpulse.runtime import build_source, compose
from tests.unit.conftest import NOW
from tests.unit.events import raw

CAPABILITIES = (DeadLettering, Readiness, Lagging, Partitioned, CanGoBlind, Finite)


def capabilities(source: Source) -> set[str]:
    return {c.__name__ for c in CAPABILITIES if isinstance(source, c)}


@pytest.mark.parametrize(
    ("kind", "expected"),
    [
        ("kafka", {"DeadLettering", "Readiness", "Lagging", "Partitioned", "CanGoBlind"}),
        ("replay", {"Readiness", "Finite"}),
        ("simulator", {"Readiness", "Lagging"}),
    ],
)
def test_each_shipped_source_has_the_capabilities_it_really_has(
    kind: str, expected: set[str], tmp_path: Path
) -> None:
    settings = Settings.model_validate(
        {"source": {"kind": kind, "replay": {"path": str(tmp_path / "none.jsonl")}}}
    )
    assert capabilities(build_source(settings)) == expected


class Bare:
    """The four verbs and nothing else."""

    name = "bare"
    clock = WALL_TIME

    def __init__(self) -> None:
        self.committed: list[Batch] = []

    async def start(self) -> None:
        """Nothing to open."""

    async def fetch(self) -> Batch:
        """Never asked: the test hands the batch to the consumer itself."""
        return Batch([])

    async def commit(self, batch: Batch) -> None:
        self.committed.append(batch)

    async def stop(self) -> None:
        """Nothing to close."""


async def test_a_source_of_the_four_verbs_alone_runs_the_daemon() -> None:
    source = Bare()
    assert capabilities(source) == set()
    settings = Settings.model_validate({"http": {"host": "127.0.0.1", "port": 0}})
    runtime = compose(compile_config(settings), source, clock=lambda: NOW)
    consumer = runtime.consumer
    assert consumer.readiness() == (False, "starting the bare source")
    assert await consumer.open()
    assert consumer.readiness() == (True, "bare started")
    assert not consumer.holding()  # settled, and nothing is ever rebuilt

    # A reject has nowhere to go but the log: the batch is still committed.
    batch = Batch(
        [RawRecord(raw("call.queued", NOW - 1, call_id="c1", queue="q")), RawRecord(b"{")]
    )
    await consumer.apply(batch)
    assert source.committed == [batch]
    assert runtime.pipeline.ingest.invalid["invalid_json"] == 1
    assert runtime.pipeline.monitor.queue_views()[0].calls_waiting == 1

    assert runtime.registry.get_sample_value("callpulse_dead_letter_records_total") == 0
