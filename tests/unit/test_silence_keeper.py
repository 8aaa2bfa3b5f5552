"""The silence keeper against real HTTP servers on loopback that answer what no Alertmanager
should: too much, garbage, errors, ids built to leave the path. Whatever they answer, the
worker keeps going, counts the failure and touches nothing it should not."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, suppress
from datetime import datetime

from aiohttp import web

from callpulse.core.calendar import Calendar, WindowSpec
from callpulse.core.planned_silences import CREATED_BY, SilenceWindowPolicy, comment, plan
from callpulse.core.timefmt import rfc3339
from callpulse.sinks.http_client import HttpTarget
from callpulse.sinks.silences import SilenceKeeper
from tests.hostile import deep

from .receivers import Receiver

WINDOW = WindowSpec("patching", ("lon1",), datetime(2026, 12, 6, 2, 0), 1800.0)
NOW = Calendar([WINDOW], "UTC").occurrences(0, 2e9)[0].start + 60
WANTED = plan(NOW, Calendar([WINDOW], "UTC"), {}, SilenceWindowPolicy(), ["X"])
FAST = (0.01, 0.05)


def alertmanager(gets: Iterator[web.Response]) -> Callable[[web.Request], web.Response]:
    """Answers each GET with the next of ``gets`` (the last one forever), and accepts every
    POST and DELETE as Alertmanager does."""
    last: list[web.Response] = []

    def answer(request: web.Request) -> web.Response:
        if request.method == "GET":
            nxt = next(gets, None)
            if nxt is not None:
                last[:] = [nxt]
            body, status = last[0].body, last[0].status
            return web.Response(status=status, body=body)
        if request.method == "POST":
            return web.json_response({"silenceID": "new"})
        return web.Response(status=200)

    return answer


def ok(entries: object) -> web.Response:
    return web.Response(body=json.dumps(entries).encode())


async def until(check: Callable[[], bool], what: str) -> None:
    for _ in range(1000):
        if check():
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"never: {what}")


def target(receiver: Receiver, label: str = "am") -> HttpTarget:
    return HttpTarget(label, f"http://127.0.0.1:{receiver.port}", 2.0)


@asynccontextmanager
async def running(keeper: SilenceKeeper) -> AsyncIterator[SilenceKeeper]:
    """The keeper's worker, running until the block ends."""
    worker = asyncio.create_task(keeper.run())
    try:
        yield keeper
        assert not worker.done(), "the worker stopped"
    finally:
        worker.cancel()
        with suppress(asyncio.CancelledError):
            await worker
        await keeper.close()


def posts(receiver: Receiver) -> list[str]:
    return [path for method, path, _, _ in receiver.requests if method == "POST"]


async def test_garbage_and_oversized_answers_are_counted_and_the_worker_goes_on() -> None:
    answers = iter(
        [
            web.Response(body=b"[" + b"1," * 50_000 + b"1]"),  # past the bound
            web.Response(body=b"<html>not json</html>"),
            web.Response(body=deep(100_000, "[]").encode()),
            ok({"silences": []}),
            web.Response(status=500, body=b"oops"),
            ok([None, 1, "x", {"createdBy": CREATED_BY}, {"createdBy": CREATED_BY, "comment": 7}]),
        ]
    )
    async with Receiver(alertmanager(answers)) as am:
        keeper = SilenceKeeper([target(am)], True, 65_536, retry=FAST)
        async with running(keeper):
            keeper.submit(WANTED, {"patching"})
            await until(lambda: bool(posts(am)), "a silence created once an answer makes sense")
            assert keeper.stats["am"].errors == 5
    [(_, _, body, _)] = [r for r in am.requests if r[0] == "POST"]
    sent = json.loads(body)
    assert sent["createdBy"] == CREATED_BY
    assert sent["comment"] == comment("patching", WANTED[0].starts_at)
    assert sent["startsAt"] == rfc3339(WANTED[0].starts_at)


async def test_a_cluster_is_written_once_to_the_first_alertmanager_that_answers() -> None:
    down = alertmanager(iter([web.Response(status=503)]))
    async with Receiver(down) as first, Receiver(alertmanager(iter([ok([])]))) as second:
        keeper = SilenceKeeper([target(first, "a"), target(second, "b")], True, 65_536, FAST)
        async with running(keeper):
            keeper.submit(WANTED, {"patching"})
            await until(lambda: bool(posts(second)), "the second to get the silence")
        assert posts(first) == []
        assert posts(second) == ["/api/v2/silences"]
        assert keeper.stats["a"].errors >= 1
        assert keeper.stats["b"].changes["created"] == 1


async def test_separate_alertmanagers_each_get_their_own_silence() -> None:
    async with (
        Receiver(alertmanager(iter([ok([])]))) as first,
        Receiver(alertmanager(iter([ok([])]))) as second,
    ):
        keeper = SilenceKeeper([target(first, "a"), target(second, "b")], False, 65_536, FAST)
        async with running(keeper):
            keeper.submit(WANTED, {"patching"})
            await until(lambda: bool(posts(first) and posts(second)), "both to get it")


async def test_an_id_built_to_leave_the_path_is_sent_as_one_segment() -> None:
    hostile = {
        "id": "../../alerts?x=1",
        "status": {"state": "active"},
        "matchers": [{"name": "site", "value": "lon1", "isRegex": True, "isEqual": True}],
        "startsAt": rfc3339(NOW - 7200),
        "endsAt": rfc3339(NOW + 3600),
        "createdBy": CREATED_BY,
        "comment": comment("patching", NOW - 7200),  # an occurrence no one wants now
    }
    async with Receiver(alertmanager(iter([ok([hostile])]))) as am:
        keeper = SilenceKeeper([target(am)], True, 65_536, FAST)
        async with running(keeper):
            keeper.submit([], {"patching"})
            await until(lambda: any(r[0] == "DELETE" for r in am.requests), "the expiry")
    [path] = [p for method, p, _, _ in am.requests if method == "DELETE"]
    assert path == "/api/v2/silence/../../alerts?x=1"  # the server decoded one segment
    assert all(p.startswith("/api/v2/silence") for _, p, _, _ in am.requests)
