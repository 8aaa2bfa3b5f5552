from __future__ import annotations

import asyncio
import base64
import gzip
import logging
import time
from pathlib import Path

import bcrypt
import pytest

from callpulse.core.http_limits import HttpLimits
from callpulse.web.server import HttpServer, Request, Response
from callpulse.web.webconfig import WebConfig, load_web_config

CLOSE = b"Connection: close\r\n\r\n"


async def hello(request: Request) -> Response:
    return Response(body=b"x" * 2000 if request.query == "big" else b"hello\n")


async def broken(request: Request) -> Response:
    raise RuntimeError("boom")


async def exchange(port: int, request: bytes) -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(request)
    await writer.drain()
    data = await reader.read()
    writer.close()
    return data


async def test_routes_methods_and_errors() -> None:
    server = HttpServer("127.0.0.1", 0, {"/hello": hello, "/broken": broken})
    await server.start()
    try:
        port = server.port
        ok = await exchange(port, b"GET /hello HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        assert ok.startswith(b"HTTP/1.1 200 OK\r\n")
        assert ok.endswith(b"\r\n\r\nhello\n")
        head = await exchange(port, b"HEAD /hello HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        assert b"Content-Length: 6" in head
        assert head.endswith(b"\r\n\r\n")
        missing = await exchange(
            port, b"GET /nope HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
        )
        assert missing.startswith(b"HTTP/1.1 404")
        post = await exchange(port, b"POST /hello HTTP/1.1\r\nHost: x\r\n" + CLOSE)
        assert post.startswith(b"HTTP/1.1 405")
        failed = await exchange(
            port, b"GET /broken HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
        )
        assert failed.startswith(b"HTTP/1.1 500")
        zipped = await exchange(
            port,
            b"GET /hello?big HTTP/1.1\r\nHost: x\r\nAccept-Encoding: gzip\r\n"
            b"Connection: close\r\n\r\n",
        )
        head, body = zipped.split(b"\r\n\r\n", 1)
        assert b"Content-Encoding: gzip" in head
        assert gzip.decompress(body) == b"x" * 2000
    finally:
        await server.stop()


async def test_the_access_log_keeps_refusals_and_failures_not_answered_probes(
    caplog: pytest.LogCaptureFixture,
) -> None:
    server = HttpServer("127.0.0.1", 0, {"/hello": hello, "/broken": broken})
    await server.start()
    try:
        with caplog.at_level(logging.INFO, logger="aiohttp.access"):
            for path in (b"/hello", b"/hello", b"/nope", b"/broken"):
                await exchange(server.port, b"GET " + path + b" HTTP/1.1\r\nHost: x\r\n" + CLOSE)
            await asyncio.sleep(0.05)  # aiohttp logs once the response is written
    finally:
        await server.stop()
    logged = [r.getMessage() for r in caplog.records if r.name == "aiohttp.access"]
    assert [line.split('"')[1] for line in logged] == ["GET /nope HTTP/1.1", "GET /broken HTTP/1.1"]
    assert '" 404 ' in logged[0]
    assert '" 500 ' in logged[1]


async def test_keep_alive_serves_several_requests_on_one_connection() -> None:
    server = HttpServer("127.0.0.1", 0, {"/hello": hello})
    await server.start()
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        for _ in range(3):
            writer.write(b"GET /hello HTTP/1.1\r\nHost: x\r\n\r\n")
            await writer.drain()
            head = await reader.readuntil(b"\r\n\r\n")
            assert b"200 OK" in head
            assert await reader.readexactly(6) == b"hello\n"
        writer.close()
    finally:
        await server.stop()


TIGHT = HttpLimits(
    header_timeout=0.5, keepalive_timeout=0.8, max_connections=3, max_header_bytes=1024
)


async def closed_within(reader: asyncio.StreamReader, seconds: float) -> float:
    """How long until the server closes the connection (fails past ``seconds``)."""
    loop = asyncio.get_running_loop()
    started = loop.time()
    async with asyncio.timeout(seconds):
        try:
            while await reader.read(1024):
                pass
        except ConnectionResetError:
            pass  # closed without a goodbye: the server aborted it
    return loop.time() - started


async def still_open(reader: asyncio.StreamReader) -> bool:
    """Whether the server has left this silent connection open (nothing to read, no EOF)."""
    try:
        async with asyncio.timeout(0.2):
            await reader.read(1)
    except TimeoutError:
        return True
    except ConnectionResetError:
        return False
    return False


async def settle() -> None:
    """Let the server's side of the loop accept the connections just opened."""
    await asyncio.sleep(0.1)


async def test_a_half_sent_header_is_closed_after_the_header_timeout() -> None:
    server = HttpServer("127.0.0.1", 0, {"/hello": hello}, TIGHT)
    await server.start()
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        writer.write(b"GET /hello HTTP/1.1\r\nHost: x\r\nX-Slow: ")
        took = await closed_within(reader, 3)
        assert 0.4 < took < 1.5
        writer.close()
        # A connection that sends nothing at all is closed as soon.
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        assert await closed_within(reader, 3) < 1.5
        writer.close()
    finally:
        await server.stop()


async def test_an_idle_keep_alive_connection_is_closed_after_the_keepalive_timeout() -> None:
    server = HttpServer("127.0.0.1", 0, {"/hello": hello}, TIGHT)
    await server.start()
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        writer.write(b"GET /hello HTTP/1.1\r\nHost: x\r\n\r\n")
        await reader.readuntil(b"hello\n")
        took = await closed_within(reader, 3)
        assert 0.5 < took < 2.0
        writer.close()
    finally:
        await server.stop()


async def test_past_the_connection_cap_the_oldest_idle_connection_makes_room() -> None:
    server = HttpServer("127.0.0.1", 0, {"/hello": hello}, TIGHT)
    await server.start()
    try:
        held = []
        for _ in range(3):  # the cap, each idle after one request
            reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
            writer.write(b"GET /hello HTTP/1.1\r\nHost: x\r\n\r\n")
            await reader.readuntil(b"hello\n")
            held.append((reader, writer))
        loop = asyncio.get_running_loop()
        started = loop.time()
        answer = await exchange(server.port, b"GET /hello HTTP/1.1\r\nHost: x\r\n" + CLOSE)
        assert answer.endswith(b"hello\n")
        assert loop.time() - started < 1.0
        oldest_reader, _ = held[0]
        assert await closed_within(oldest_reader, 1) < 1.0  # the oldest idle one went
        for _, writer in held:
            writer.close()
    finally:
        await server.stop()


async def test_a_request_body_is_refused_unread_and_big_headers_get_431() -> None:
    server = HttpServer("127.0.0.1", 0, {"/hello": hello}, TIGHT)
    await server.start()
    try:
        # 96 MiB announced, a few bytes sent: refused at once, the rest never read.
        body = await exchange(
            server.port,
            b"GET /hello HTTP/1.1\r\nHost: x\r\nContent-Length: 100663296\r\n\r\nabc",
        )
        assert body.startswith(b"HTTP/1.1 413")
        big = await exchange(
            server.port, b"GET /hello HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 4096 + b"\r\n\r\n"
        )
        assert big.split(b"\r\n")[0].endswith(b" 431 Request Header Fields Too Large")
    finally:
        await server.stop()


async def test_silent_connections_at_the_cap_make_room_for_a_probe() -> None:
    # Silent sockets would hold their slots for the whole header timeout: a long one here.
    limits = HttpLimits(header_timeout=60, keepalive_timeout=60, max_connections=3)
    server = HttpServer("127.0.0.1", 0, {"/healthz": hello}, limits)
    await server.start()
    try:
        silent = [await asyncio.open_connection("127.0.0.1", server.port) for _ in range(3)]
        for _ in range(3):  # an attacker re-opens what was closed: each probe still gets in
            await settle()
            probe = await exchange(server.port, b"GET /healthz HTTP/1.1\r\nHost: x\r\n" + CLOSE)
            assert probe.startswith(b"HTTP/1.1 200 OK")
            # The oldest silent connection made room; the others are still held.
            oldest, *others = silent
            assert await closed_within(oldest[0], 5) < 5
            assert [await still_open(reader) for reader, _ in others] == [True, True]
            oldest[1].close()
            silent = [*others, await asyncio.open_connection("127.0.0.1", server.port)]
        for _, writer in silent:
            writer.close()
    finally:
        await server.stop()


async def test_when_every_connection_is_busy_a_new_one_is_refused() -> None:
    release = asyncio.Event()

    async def slow(request: Request) -> Response:
        await release.wait()
        return Response(body=b"done\n")

    server = HttpServer("127.0.0.1", 0, {"/slow": slow}, TIGHT)
    await server.start()
    try:
        busy = []
        for _ in range(3):
            reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
            writer.write(b"GET /slow HTTP/1.1\r\nHost: x\r\n" + CLOSE)
            busy.append((reader, writer))
        await settle()
        assert await exchange(server.port, b"GET /slow HTTP/1.1\r\nHost: x\r\n" + CLOSE) == b""
        release.set()
        for reader, writer in busy:
            assert (await reader.read()).endswith(b"done\n")
            writer.close()
    finally:
        await server.stop()


def with_users(tmp_path: Path, rounds: int) -> WebConfig:
    """A web config with one user, "prom", whose password is "right"."""
    digest = bcrypt.hashpw(b"right", bcrypt.gensalt(rounds=rounds)).decode()
    path = tmp_path / "web.yml"
    path.write_text(f"basic_auth_users: {{prom: '{digest}'}}\n")
    return load_web_config(path)


def get(path: str, user: str, password: str) -> bytes:
    token = base64.b64encode(f"{user}:{password}".encode())
    return (
        b"GET "
        + path.encode()
        + b" HTTP/1.1\r\nHost: x\r\nAuthorization: Basic "
        + token
        + (b"\r\n" + CLOSE)
    )


async def most_cpu_between_turns(stop: asyncio.Event) -> float:
    """The most CPU time the event loop's thread spent between two turns of this task: how
    long work on the loop held it. CPU time rather than wall time, which a loaded machine
    inflates by however long other processes have the core."""
    held = 0.0
    while not stop.is_set():
        before = time.thread_time()
        await asyncio.sleep(0.002)
        held = max(held, time.thread_time() - before)
    return held


async def test_password_guessing_neither_holds_the_loop_nor_goes_on_past_the_budget(
    tmp_path: Path,
) -> None:
    # Cost 11: one bcrypt check is about 0.2 s of CPU, four times the 50 ms allowed.
    server = HttpServer(
        "127.0.0.1",
        0,
        {"/metrics": hello, "/healthz": hello},
        HttpLimits(),
        with_users(tmp_path, 11),
    )
    await server.start()
    stop = asyncio.Event()
    watch = asyncio.create_task(most_cpu_between_turns(stop))
    probes: list[bytes] = []

    async def guess(client: int) -> list[bytes]:
        return [
            await exchange(server.port, get("/metrics", "prom", f"guess-{client}-{n}"))
            for n in range(3)
        ]

    async def probe() -> None:
        while not stop.is_set():
            probes.append(
                await exchange(server.port, b"GET /healthz HTTP/1.1\r\nHost: x\r\n" + CLOSE)
            )
            await asyncio.sleep(0.05)

    try:
        prober = asyncio.create_task(probe())
        started = time.monotonic()
        answers = [a for client in await asyncio.gather(*map(guess, range(8))) for a in client]
        elapsed = time.monotonic() - started
        stop.set()
        held = await watch
        await prober
    finally:
        await server.stop()
    statuses = [a.split(b"\r\n")[0] for a in answers]
    refused = statuses.count(b"HTTP/1.1 401 Unauthorized")
    # Ten failures a minute from one address, and a token back every 6 s meanwhile.
    assert 10 <= refused <= 10 + int(elapsed / 6)
    assert statuses.count(b"HTTP/1.1 429 Too Many Requests") == len(answers) - refused
    assert all(b"\r\nRetry-After: " in a for a in answers if b" 429 " in a)
    assert held < 0.05, f"the event loop was held {held * 1000:.0f} ms"
    assert probes
    assert all(p.startswith(b"HTTP/1.1 200 OK") for p in probes)


async def test_an_unknown_user_costs_the_check_a_wrong_password_does(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    checked: list[bytes] = []
    checkpw = bcrypt.checkpw

    def spy(password: bytes, digest: bytes) -> bool:
        checked.append(digest[:7])  # "$2b$05$": the version and the cost
        return checkpw(password, digest)

    monkeypatch.setattr(bcrypt, "checkpw", spy)
    server = HttpServer("127.0.0.1", 0, {"/metrics": hello}, HttpLimits(), with_users(tmp_path, 5))
    await server.start()
    try:
        for user in ("prom", "nobody"):
            answer = await exchange(server.port, get("/metrics", user, "wrong"))
            assert answer.startswith(b"HTTP/1.1 401")
    finally:
        await server.stop()
    assert checked == [b"$2b$05$", b"$2b$05$"]
