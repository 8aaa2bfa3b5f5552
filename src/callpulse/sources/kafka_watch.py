"""How the Kafka consumer is doing, for /readyz and the blindness verdict: every few seconds
a metadata request checks that the broker answers, and each partition's position and high
watermark are sampled for its health verdict (Burrow's rules, simplified)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping

import structlog
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import KafkaError

from callpulse.config import KafkaSettings
from callpulse.core.consumer_health import Blindness, ConsumerHealth, Sight

log = structlog.get_logger("callpulse.kafka")

HEALTH_EVERY = 5.0  # seconds between two checks
_HEALTH_SAMPLES = 10  # the window each partition's verdict judges, in samples


def positions(
    consumer: AIOKafkaConsumer, fetched: Mapping[TopicPartition, int]
) -> dict[tuple[str, int], tuple[int, int]]:
    """Per partition fetched from whose high watermark is known: (position, high watermark)."""
    found = {}
    for tp, position in fetched.items():
        high = consumer.highwater(tp)
        if high is not None:
            found[(tp.topic, tp.partition)] = (position, high)
    return found


class KafkaWatch:
    """When the broker last answered and a fetch last completed, and each partition's
    verdict: ok, slow, stalled or unknown."""

    def __init__(self, settings: KafkaSettings) -> None:
        self._settings = settings
        self._health = ConsumerHealth(_HEALTH_SAMPLES)
        self._sight = Sight("kafka", settings.max_batch_records, settings.stall_timeout)
        self.last_contact = time.monotonic()
        self.last_poll = 0.0
        self._unreachable_logged = False

    def started(self) -> None:
        """The clients have just connected: contact and a poll, as of now."""
        self.last_poll = self.last_contact = time.monotonic()

    def polled(self) -> None:
        """A fetch has completed."""
        self.last_poll = time.monotonic()

    async def check(
        self, consumer: AIOKafkaConsumer, fetched: Callable[[], Mapping[TopicPartition, int]]
    ) -> None:
        """Is the broker answering, and how is each partition doing? ``fetched`` gives the
        next offset fetched of each partition assigned, read once the broker has answered."""
        try:
            await asyncio.wait_for(consumer.topics(), timeout=HEALTH_EVERY)
        except (KafkaError, TimeoutError) as exc:
            silent = time.monotonic() - self.last_contact
            if not self._unreachable_logged and silent > self._settings.stall_timeout:
                # Once per outage: the consumer retries on its own, quietly.
                self._unreachable_logged = True
                log.error("kafka_unreachable", seconds=round(silent), error=repr(exc))
        else:
            if self._unreachable_logged:
                log.info("kafka_reachable_again")
            self._unreachable_logged = False
            self.last_contact = time.monotonic()
        self._health.sample(positions(consumer, fetched()))

    def verdicts(self) -> Mapping[tuple[str, int], str]:
        """Per-partition verdicts: ok, slow, stalled or unknown."""
        return self._health.verdicts()

    def readiness(self, partitions: int) -> tuple[bool, str]:
        """Ready, or why not, for a consumer that has joined its group and rebuilt its
        state, consuming ``partitions`` partitions."""
        silent = time.monotonic() - self.last_poll
        if silent > self._settings.stall_timeout:
            return False, f"consumer stalled: no fetch completed for {silent:.0f} s"
        unreachable = time.monotonic() - self.last_contact
        if unreachable > self._settings.stall_timeout:
            return False, f"Kafka unreachable for {unreachable:.0f} s"
        stalled = sorted(f"{t}[{p}]" for (t, p), v in self.verdicts().items() if v == "stalled")
        if stalled:
            return False, f"consumer stalled on {', '.join(stalled)}"
        return True, f"consuming {partitions} partition(s)"

    def blindness(self, joined: bool, lag: Mapping[tuple[str, int], int]) -> Blindness | None:
        """Whether the consumer cannot see (the broker unreachable, no fetch completing, a
        partition stalled or falling behind past a batch), or is catching up after it (for
        ``stall_timeout`` more once caught up: the producers cut off by the same outage
        deliver what they held). ``joined``: connected and in its group; ``lag`` per
        partition."""
        wall = time.time()
        fetched = wall - (time.monotonic() - self.last_poll)
        return self._sight.observe(wall, self._trouble(lag) if joined else None, lag, fetched)

    def _trouble(self, lag: Mapping[tuple[str, int], int]) -> tuple[str, float] | None:
        """What keeps the consumer from seeing, and since when (epoch seconds)."""
        now, wall = time.monotonic(), time.time()
        timeout = self._settings.stall_timeout
        unreachable = now - self.last_contact
        if unreachable > timeout:
            brokers = self._settings.bootstrap_servers
            return f"Kafka at {brokers} unreachable for {unreachable:.0f} s", wall - unreachable
        silent = now - self.last_poll
        if silent > timeout:
            return f"consumer stalled: no fetch completed for {silent:.0f} s", wall - silent
        stuck = sorted(
            f"{t}[{p}]"
            for (t, p), v in self.verdicts().items()
            if v == "stalled" or (v == "slow" and lag.get((t, p), 0) > self._sight.caught_up)
        )
        if stuck:
            # A verdict judges the whole window of samples: the trouble began about as long ago.
            began = wall - HEALTH_EVERY * _HEALTH_SAMPLES
            return f"consumer stalled or falling behind on {', '.join(stuck)}", began
        return None
