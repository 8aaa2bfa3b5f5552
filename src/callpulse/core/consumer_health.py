"""Judging callpulse's own consumer, partition by partition, in the spirit of Burrow's rules.

Each evaluation looks at a sliding window of samples of (fetch position, high watermark):

- ``ok``: the partition was caught up (lag 0) at some point in the window, or lag is not
  growing while the position advances;
- ``slow``: the position advances but lag grows across the whole window: consuming, yet
  falling behind;
- ``stalled``: records are waiting (lag > 0) and the position has not moved across the whole
  window: something is stuck;
- ``unknown``: not enough samples yet.
"""

from __future__ import annotations

import itertools
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field

STATUSES = ("ok", "slow", "stalled", "unknown")


@dataclass
class PartitionHealth:
    """Samples of one partition: (position, high watermark), oldest first."""

    samples: deque[tuple[int, int]] = field(default_factory=lambda: deque(maxlen=10))

    def verdict(self, minimum: int = 5) -> str:
        """The status of the partition over its window (see the module's docstring)."""
        samples = self.samples
        if len(samples) < minimum:
            return "unknown"
        lags = [max(0, high - position) for position, high in samples]
        if min(lags) == 0:
            return "ok"
        positions = [position for position, _ in samples]
        if positions[-1] == positions[0]:
            return "stalled"
        if all(b > a for a, b in itertools.pairwise(lags)):
            return "slow"
        return "ok"


class ConsumerHealth:
    """Per-partition health from periodic samples."""

    def __init__(self, window: int = 10) -> None:
        self._window = window
        self._partitions: dict[tuple[str, int], PartitionHealth] = {}

    def sample(self, observed: Mapping[tuple[str, int], tuple[int, int]]) -> None:
        """Record (position, high watermark) per partition; forget partitions not listed."""
        for key in [k for k in self._partitions if k not in observed]:
            del self._partitions[key]
        for key, pair in observed.items():
            health = self._partitions.setdefault(key, PartitionHealth(deque(maxlen=self._window)))
            health.samples.append(pair)

    def verdicts(self) -> dict[tuple[str, int], str]:
        """The status of every partition sampled."""
        return {key: health.verdict() for key, health in self._partitions.items()}


@dataclass(frozen=True, slots=True)
class Blindness:
    """Why the source cannot see (``reason``, naming brokers or partitions), and since when
    (epoch seconds)."""

    source: str
    reason: str
    since: float


class Sight:
    """Whether callpulse sees its source: blind while the source reports trouble, and after
    it until caught up: a fetch completed since, every partition within ``caught_up`` records
    of its high watermark (what was missed may hold the events whose absence the rules would
    page on), and ``settle`` seconds more, for the producers cut off by the same outage to
    deliver what they held."""

    def __init__(self, source: str, caught_up: int, settle: float) -> None:
        self._source = source
        self.caught_up = caught_up
        self._settle = settle
        self._since: float | None = None
        self._clear_at: float | None = None
        self._caught_at: float | None = None

    def observe(
        self,
        now: float,
        trouble: tuple[str, float] | None,
        lag: Mapping[tuple[str, int], int],
        fetched_at: float,
    ) -> Blindness | None:
        """The blindness at ``now`` (epoch seconds), given the source's ``trouble`` (what,
        and since when it has not seen; None: it is fetching), its ``lag`` per partition and
        when its last fetch completed; None when it sees."""
        if trouble is not None:
            reason, began = trouble
            self._since = began if self._since is None else self._since
            self._clear_at = self._caught_at = None
            return Blindness(self._source, reason, self._since)
        if self._since is None:
            return None
        if self._clear_at is None:
            self._clear_at = now
        behind = sorted((k, v) for k, v in lag.items() if v > self.caught_up)
        if behind or fetched_at <= self._clear_at:
            names = ", ".join(f"{t}[{p}] {v}" for (t, p), v in behind) or "none known yet"
            reason = f"catching up on what it missed (records behind: {names})"
            return Blindness(self._source, reason, self._since)
        if self._caught_at is None:
            self._caught_at = now
        if now - self._caught_at < self._settle:
            reason = f"caught up; {self._settle:.0f} s for producers to deliver what they held"
            return Blindness(self._source, reason, self._since)
        self._since = self._clear_at = self._caught_at = None
        return None
