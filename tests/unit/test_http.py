from __future__ import annotations

import asyncio
import gzip

from callpulse.web.server import HttpServer, Request, Response


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
        head = await exchange(port, b"HEAD /hello HTTP/1.1\r\nConnection: close\r\n\r\n")
        assert b"Content-Length: 6" in head
        assert head.endswith(b"\r\n\r\n")
        missing = await exchange(port, b"GET /nope HTTP/1.1\r\nConnection: close\r\n\r\n")
        assert missing.startswith(b"HTTP/1.1 404")
        post = await exchange(port, b"POST /hello HTTP/1.1\r\nConnection: close\r\n\r\n")
        assert post.startswith(b"HTTP/1.1 405")
        failed = await exchange(port, b"GET /broken HTTP/1.1\r\nConnection: close\r\n\r\n")
        assert failed.startswith(b"HTTP/1.1 500")
        zipped = await exchange(
            port,
            b"GET /hello?big HTTP/1.1\r\nAccept-Encoding: gzip\r\nConnection: close\r\n\r\n",
        )
        head, body = zipped.split(b"\r\n\r\n", 1)
        assert b"Content-Encoding: gzip" in head
        assert gzip.decompress(body) == b"x" * 2000
    finally:
        await server.stop()


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
