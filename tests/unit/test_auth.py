"""Basic-auth checks: what they admit, the failure budget, the bound on pending checks."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator

import bcrypt
import pytest

from callpulse.web.auth import Authenticator, Denied
from callpulse.web.budget import FailureBudget, client_key

DIGEST = bcrypt.hashpw(b"s3cret", bcrypt.gensalt(rounds=4))


async def test_the_probes_stay_open_and_every_other_path_needs_a_user() -> None:
    auth = Authenticator({"prom": DIGEST})
    try:
        assert await auth.check("/metrics", "10.0.0.1", "prom", "s3cret") is None
        assert await auth.check("/metrics", "10.0.0.1", "prom", "s3cret") is None  # remembered
        assert await auth.check("/metrics", "10.0.0.1", "prom", "wrong") == Denied(401)
        assert await auth.check("/metrics", "10.0.0.1", "nobody", "s3cret") == Denied(401)
        assert await auth.check("/api/v1/status", "10.0.0.1", None, None) == Denied(401)
        assert await auth.check("/healthz", "10.0.0.1", None, None) is None
        assert await auth.check("/readyz", "10.0.0.1", None, None) is None
        # bcrypt reads 72 bytes of a password: a longer one is a wrong one, not an error.
        assert await auth.check("/metrics", "10.0.0.1", "prom", "x" * 100) == Denied(401)
    finally:
        auth.close()


async def test_without_users_everything_is_open() -> None:
    assert await Authenticator({}).check("/metrics", "10.0.0.1", None, None) is None


async def test_past_the_budget_an_address_gets_429_without_a_check(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    checks: list[bytes] = []
    real = bcrypt.checkpw
    monkeypatch.setattr(bcrypt, "checkpw", lambda pw, h: checks.append(pw) or real(pw, h))
    auth = Authenticator({"prom": DIGEST}, failures_per_minute=3)
    try:
        answers = [await auth.check("/metrics", "10.0.0.1", "prom", f"guess{i}") for i in range(5)]
        assert answers[:3] == [Denied(401)] * 3
        assert answers[3:] == [Denied(429, retry_after=20)] * 2  # a token every 20 s
        assert len(checks) == 3
        # Another address has its own budget. Credentials that passed are remembered, and
        # served from any address without a check.
        assert await auth.check("/metrics", "10.0.0.2", "prom", "s3cret") is None
        assert await auth.check("/metrics", "10.0.0.1", "prom", "s3cret") is None
        assert await auth.check("/metrics", "10.0.0.1", "prom", "other") == Denied(
            429, retry_after=20
        )
    finally:
        auth.close()


@pytest.fixture
def held_checks(monkeypatch: pytest.MonkeyPatch) -> Iterator[threading.Event]:
    """bcrypt checks that wait until the event is set, then fail."""
    release = threading.Event()

    def checkpw(password: bytes, digest: bytes) -> bool:
        release.wait(10)
        return False

    monkeypatch.setattr(bcrypt, "checkpw", checkpw)
    yield release
    release.set()


async def test_past_max_pending_checks_a_request_gets_503_and_keeps_its_budget(
    held_checks: threading.Event,
) -> None:
    auth = Authenticator({"prom": DIGEST}, failures_per_minute=2, max_pending=1)
    try:
        first = asyncio.create_task(auth.check("/metrics", "10.0.0.1", "prom", "a"))
        await asyncio.sleep(0.05)
        assert auth.pending == 1
        assert await auth.check("/metrics", "10.0.0.2", "prom", "b") == Denied(503, retry_after=1)
        held_checks.set()
        assert await first == Denied(401)
        await asyncio.sleep(0.05)
        assert auth.pending == 0
        # The 503 took nothing from 10.0.0.2's budget: two checks, then 429.
        assert await auth.check("/metrics", "10.0.0.2", "prom", "c") == Denied(401)
        assert await auth.check("/metrics", "10.0.0.2", "prom", "d") == Denied(401)
        assert await auth.check("/metrics", "10.0.0.2", "prom", "e") == Denied(429, retry_after=30)
    finally:
        auth.close()


async def test_a_check_whose_client_went_away_counts_until_it_is_over(
    held_checks: threading.Event,
) -> None:
    auth = Authenticator({"prom": DIGEST}, max_pending=1)
    try:
        gone = asyncio.create_task(auth.check("/metrics", "10.0.0.1", "prom", "a"))
        await asyncio.sleep(0.05)
        gone.cancel()  # the client hung up; its check runs on
        await asyncio.sleep(0.05)
        assert auth.pending == 1
        assert await auth.check("/metrics", "10.0.0.2", "prom", "b") == Denied(503, retry_after=1)
        held_checks.set()
        await asyncio.sleep(0.1)
        assert auth.pending == 0
    finally:
        auth.close()


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_the_budget_comes_back_at_its_rate_per_minute() -> None:
    clock = Clock()
    budget = FailureBudget(per_minute=10, max_addresses=100, clock=clock)
    assert [budget.take("10.0.0.1") for _ in range(10)] == [0.0] * 10
    assert budget.take("10.0.0.1") == pytest.approx(6.0)
    clock.now += 6
    assert budget.take("10.0.0.1") == 0.0
    assert budget.take("10.0.0.1") == pytest.approx(6.0)
    budget.give_back("10.0.0.1")
    assert budget.take("10.0.0.1") == 0.0
    clock.now += 60  # full again, and forgotten
    assert len(budget) == 0
    assert [budget.take("10.0.0.1") for _ in range(10)] == [0.0] * 10


def test_the_budget_table_is_bounded_in_addresses() -> None:
    clock = Clock()
    budget = FailureBudget(per_minute=1, max_addresses=3, clock=clock)
    for i in range(1000):
        budget.take(f"10.0.{i // 256}.{i % 256}")
    assert len(budget) == 3
    assert budget.take("10.0.3.231") > 0  # among the last three: still spent


def test_an_ipv6_host_counts_by_its_64() -> None:
    assert client_key("2001:db8:1:2:3:4:5:6") == client_key("2001:db8:1:2:ffff::1")
    assert client_key("2001:db8:1:2::1") == "2001:db8:1:2::/64"
    assert client_key("2001:db8:1:3::1") != client_key("2001:db8:1:2::1")
    assert client_key("::ffff:10.0.0.1") == "10.0.0.1"
    assert client_key("10.0.0.1") == "10.0.0.1"
    assert client_key("") == ""
