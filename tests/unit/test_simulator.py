from __future__ import annotations

from callpulse.core.ingest import decode
from callpulse.simulator import ContactCenter, default_profiles, encode

START = 1_800_000_000.0


def run(seed: int, minutes: int = 30) -> list[bytes]:
    center = ContactCenter(default_profiles(2, 3, seed), seed=seed, start=START)
    out: list[bytes] = []
    for step in range(1, minutes * 6 + 1):
        out.extend(encode(e) for e in center.advance(START + step * 10))
    return out


def test_same_seed_same_bytes() -> None:
    assert run(7) == run(7)
    assert run(7) != run(8)


def test_every_event_is_valid_and_in_time_order() -> None:
    events = [decode(value, 1 << 16) for value in run(3)]
    times = [e.occurred_at for e in events]
    assert times == sorted(times)
    kinds = {e.type for e in events}
    assert {
        "call.queued",
        "call.answered",
        "call.completed",
        "agent.state",
        "queue.snapshot",
        "component.health",
    } <= kinds


def test_arrival_rate_matches_the_profiles() -> None:
    profiles = default_profiles(2, 3, seed=5)
    hours = 4
    events = [decode(value, 1 << 16) for value in run(5, minutes=60 * hours)]
    queued = sum(e.type == "call.queued" for e in events)
    expected = sum(p.arrivals_per_minute for p in profiles.values()) * 60 * hours
    # Poisson: the standard deviation is sqrt(expected), ~85 here; allow 4 of them.
    assert abs(queued - expected) < 4 * expected**0.5
