"""The embedded default source: the simulated contact center, paced by the wall clock."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping, Sequence

import structlog

from callpulse.core.ingest import RawRecord, Rejection
from callpulse.settings import SimulatorSettings
from callpulse.simulator import ContactCenter, default_profiles, encode
from callpulse.sources.base import Batch, DeadLetterStats, RevokeHandler

log = structlog.get_logger("callpulse.simulator")

_STEP_SECONDS = 0.2


class SimulatorSource:
    """Runs :class:`~callpulse.simulator.ContactCenter` at ``speed`` x real time.

    Records go through the same decoding as Kafka's, so what a newcomer sees is what the
    Kafka pipeline computes. Simulated time starts at the wall clock and, at speed 1, stays on
    it; faster speeds run ahead of it and use the simulated clock as event time.
    """

    name = "simulator"

    def __init__(self, settings: SimulatorSettings) -> None:
        self._settings = settings
        self.event_time_clock = settings.speed != 1.0
        self._center: ContactCenter | None = None
        self._started = 0.0
        self._offset = 0
        self.dead_letters = DeadLetterStats()
        self.on_revoke: RevokeHandler | None = None

    async def start(self) -> None:
        self._started = time.time()
        profiles = default_profiles(
            self._settings.sites, self._settings.queues_per_site, self._settings.seed
        )
        self._center = ContactCenter(profiles, seed=self._settings.seed, start=self._started)
        log.info("simulator_started", queues=len(profiles), speed=self._settings.speed)

    async def fetch(self) -> Batch:
        assert self._center is not None, "start() first"
        await asyncio.sleep(_STEP_SECONDS)
        simulated = self._started + (time.time() - self._started) * self._settings.speed
        records = []
        for event in self._center.advance(simulated):
            records.append(
                RawRecord(encode(event), event["site"].encode(), "simulator", 0, self._offset)
            )
            self._offset += 1
        return Batch(records=records)

    async def commit(self, batch: Batch) -> None:
        return None

    async def dead_letter(self, rejections: Sequence[Rejection]) -> None:
        # The simulator's own events are valid by construction; a rejection is a bug here.
        self.dead_letters.written += len(rejections)

    async def stop(self) -> None:
        self._center = None

    def readiness(self) -> tuple[bool, str]:
        if self._center is None:
            return False, "simulator not started"
        return True, "simulating"

    def exhausted(self) -> bool:
        return False

    def lag(self) -> Mapping[tuple[str, int], int]:
        return {}
