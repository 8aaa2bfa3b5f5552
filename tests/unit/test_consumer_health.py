"""Consumer verdicts in the spirit of Burrow: caught up, slow, stalled."""

from __future__ import annotations

from callpulse.core.consumer_health import ConsumerHealth

P = ("events", 0)


def verdict(samples: list[tuple[int, int]]) -> str:
    health = ConsumerHealth()
    for pair in samples:
        health.sample({P: pair})
    return health.verdicts()[P]


def test_verdicts() -> None:
    assert verdict([(10, 10)] * 3) == "unknown"  # too few samples to judge
    assert verdict([(10 * i, 10 * i + 5) for i in range(6)] + [(70, 70)]) == "ok"
    assert verdict([(100 * i, 100 * i + 50) for i in range(6)]) == "ok"  # keeping pace
    assert verdict([(100 * i, 120 * i + 1) for i in range(6)]) == "slow"  # falling behind
    assert verdict([(100, 100 + i) for i in range(1, 7)]) == "stalled"  # waiting, not moving


def test_partitions_not_sampled_any_more_are_forgotten() -> None:
    health = ConsumerHealth()
    health.sample({P: (1, 2), ("events", 1): (1, 1)})
    health.sample({P: (1, 2)})
    assert list(health.verdicts()) == [P]
