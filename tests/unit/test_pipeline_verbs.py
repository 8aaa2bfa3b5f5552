"""The pipeline's verbs carry the daemon's limits, and the consumer's loop around them
dead-letters what they reject and commits what it fed."""

from __future__ import annotations

from collections.abc import Sequence

from callpulse import pipeline
from callpulse.config import Settings, compile_config
from callpulse.core.clock import WALL_TIME
from callpulse.core.ingest import RawRecord, Rejection
from callpulse.protocols import Batch, DeadLetterStats
from callpulse.runtime import compose
from tests.unit.conftest import NOW
from tests.unit.events import raw

SMALL = {"source": {"kafka": {"max_record_bytes": 1024}}}


def test_feed_refuses_what_the_daemon_refuses() -> None:
    parts = pipeline.build(Settings.model_validate(SMALL), now=NOW, clock=WALL_TIME, deliver=False)
    fits = raw("call.queued", NOW - 1, call_id="c1", queue="q")
    padded = raw("call.queued", NOW - 1, call_id="c2", queue="q", note="x" * 2000)
    [rejected] = parts.feed([RawRecord(fits), RawRecord(padded, offset=1)], NOW)
    assert (rejected.reason, rejected.record.offset) == ("oversize", 1)
    assert parts.monitor.queue_views()[0].calls_waiting == 1


class Recorded:
    """A dead-lettering source that remembers what was committed and counts the rejects."""

    name = "recorded"
    clock = WALL_TIME

    def __init__(self) -> None:
        self.committed: list[Batch] = []
        self.dead_letters = DeadLetterStats()

    async def start(self) -> None:
        """Nothing to open."""

    async def fetch(self) -> Batch:
        """Never asked here."""
        return Batch([])

    async def commit(self, batch: Batch) -> None:
        self.committed.append(batch)

    async def dead_letter(self, rejections: Sequence[Rejection]) -> None:
        self.dead_letters.written += len(rejections)

    async def stop(self) -> None:
        """Nothing to close."""

    def readiness(self) -> tuple[bool, str]:
        return True, "ok"


async def test_the_consumer_dead_letters_the_rejected_and_commits_the_batch() -> None:
    source = Recorded()
    settings = Settings.model_validate({**SMALL, "http": {"host": "127.0.0.1", "port": 0}})
    runtime = compose(compile_config(settings), source, clock=lambda: NOW)
    batch = Batch(
        [RawRecord(raw("call.queued", NOW - 1, call_id="c1", queue="q")), RawRecord(b"{")],
        {("t", 0): 2},
    )
    await runtime.consumer.apply(batch)
    assert source.dead_letters.written == 1
    assert source.committed == [batch]
    assert runtime.pipeline.ingest.invalid["invalid_json"] == 1
