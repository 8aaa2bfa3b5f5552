"""The embedded default source: a scenario of the simulated contact center, played live.

Records go through the same decoding as Kafka's, so what a newcomer sees is what the Kafka
pipeline computes. The simulation starts at the wall clock and runs ``speed`` times faster
(30: an hour in two minutes); faster than 1, time follows the simulated events.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping

import structlog

from callpulse.config import Settings, SimulatorSettings
from callpulse.core.clock import EVENT_TIME, WALL_TIME, Clock
from callpulse.protocols import Batch
from callpulse.simulation import scenario as scenarios
from callpulse.simulation.model import ContactCenter
from callpulse.sources.errors import SourceError

log = structlog.get_logger("callpulse.simulator")

_STEP_SECONDS = 0.2


class SimulatorSource:
    """Plays ``settings.scenario`` at ``settings.speed`` x real time, from its creation. A
    :class:`~callpulse.protocols.Source` that has :class:`~callpulse.protocols.Readiness` and
    is :class:`~callpulse.protocols.Lagging` (never behind)."""

    name = "simulator"

    def __init__(self, settings: SimulatorSettings) -> None:
        self._settings = settings
        # Faster than real time, event time runs ahead of the wall clock: it is the only one.
        self.clock: Clock = WALL_TIME if settings.speed == 1.0 else EVENT_TIME
        self._center: ContactCenter | None = None
        # Fixed now, so the calendar entries of the scenario's planned maintenance are known
        # before the monitor is built.
        self._started = time.time()
        try:
            self._scenario: scenarios.Scenario | None = scenarios.load(settings.scenario)
            self._error = ""
        except ValueError as exc:
            self._scenario, self._error = None, str(exc)

    def with_planned_windows(self, settings: Settings) -> Settings:
        """``settings`` with the scenario's planned maintenance in the calendar."""
        if self._scenario is None:
            return settings
        return scenarios.with_planned_windows(settings, self._scenario, self._started)

    async def start(self) -> None:
        if self._scenario is None:
            raise SourceError(self._error)
        scenario = self._scenario
        self._center = ContactCenter(scenario, start=self._started)
        log.info(
            "simulator_started",
            scenario=scenario.name,
            speed=self._settings.speed,
            description=scenario.description,
        )

    async def fetch(self) -> Batch:
        assert self._center is not None, "start() first"
        await asyncio.sleep(_STEP_SECONDS)
        simulated = self._started + (time.time() - self._started) * self._settings.speed
        return Batch(records=self._center.records(simulated, topic="simulator"))

    async def commit(self, batch: Batch) -> None:
        """Nothing to commit: a simulation keeps no position anyone else reads."""

    async def stop(self) -> None:
        self._center = None

    def readiness(self) -> tuple[bool, str]:
        if self._center is None:
            return False, "simulator not started"
        return True, "simulating"

    def lag(self) -> Mapping[tuple[str, int], int]:
        # Every simulated event is handed over as it happens: never behind.
        return {("simulator", 0): 0} if self._center is not None else {}
