"""A small asyncio HTTP/1.1 server for /metrics, /healthz and /readyz.

It answers GET and HEAD only, which is all Prometheus and Kubernetes probes send; keeping it
on the daemon's own event loop means a scrape reads the monitor between two batches, never in
the middle of one.
"""

from __future__ import annotations

import asyncio
import gzip
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import structlog

log = structlog.get_logger("callpulse.web")

_MAX_HEADER_BYTES = 16 * 1024
_REASONS = {
    200: "OK",
    404: "Not Found",
    405: "Method Not Allowed",
    500: "Internal Server Error",
    503: "Service Unavailable",
}


@dataclass(frozen=True)
class Request:
    """The parts of a request the handlers look at."""

    method: str
    path: str
    query: str
    headers: dict[str, str]


@dataclass
class Response:
    """What a handler returns."""

    status: int = 200
    body: bytes = b""
    content_type: str = "text/plain; charset=utf-8"
    headers: dict[str, str] = field(default_factory=dict)


Handler = Callable[[Request], Awaitable[Response]]


class HttpServer:
    """Serves ``routes`` (path -> handler) on ``host:port``."""

    def __init__(self, host: str, port: int, routes: dict[str, Handler]) -> None:
        self._host = host
        self._port = port
        self._routes = routes
        self._server: asyncio.Server | None = None

    @property
    def port(self) -> int:
        """The bound port (useful when configured as 0)."""
        assert self._server is not None
        return int(self._server.sockets[0].getsockname()[1])

    async def start(self) -> None:
        self._server = await asyncio.start_server(
            self._serve, self._host, self._port, limit=_MAX_HEADER_BYTES
        )

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                request = await _read_request(reader)
                if request is None:
                    break
                response = await self._dispatch(request)
                keep_alive = request.headers.get("connection", "").lower() != "close"
                writer.write(_encode(request, response, keep_alive))
                await writer.drain()
                if not keep_alive:
                    break
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            pass
        except ValueError:
            writer.write(
                b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
            )
        finally:
            writer.close()

    async def _dispatch(self, request: Request) -> Response:
        if request.method not in ("GET", "HEAD"):
            return Response(405, b"only GET and HEAD\n", headers={"Allow": "GET, HEAD"})
        handler = self._routes.get(request.path)
        if handler is None:
            return Response(404, b"not found\n")
        try:
            return await handler(request)
        except Exception:
            log.exception("http_handler_failed", path=request.path)
            return Response(500, b"internal error\n")


async def _read_request(reader: asyncio.StreamReader) -> Request | None:
    head = await reader.readuntil(b"\r\n\r\n") if not reader.at_eof() else b""
    if not head:
        return None
    lines = head.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ")
    if len(parts) != 3:
        raise ValueError("malformed request line")
    method, target, _ = parts
    headers = {}
    for line in lines[1:]:
        if ":" in line:
            name, value = line.split(":", 1)
            headers[name.strip().lower()] = value.strip()
    if headers.get("content-length", "0") not in ("", "0"):
        await reader.readexactly(int(headers["content-length"]))
    path, _, query = target.partition("?")
    return Request(method, path, query, headers)


def _encode(request: Request, response: Response, keep_alive: bool) -> bytes:
    body = response.body
    # nosniff everywhere: a response is only ever what its Content-Type says.
    headers = {
        "Content-Type": response.content_type,
        "X-Content-Type-Options": "nosniff",
        **response.headers,
    }
    if len(body) > 1024 and "gzip" in request.headers.get("accept-encoding", ""):
        body = gzip.compress(body, compresslevel=1)
        headers["Content-Encoding"] = "gzip"
    headers["Content-Length"] = str(len(body))
    headers["Connection"] = "keep-alive" if keep_alive else "close"
    status = f"HTTP/1.1 {response.status} {_REASONS.get(response.status, 'Error')}\r\n"
    head = status + "".join(f"{k}: {v}\r\n" for k, v in headers.items()) + "\r\n"
    return head.encode("latin-1") + (b"" if request.method == "HEAD" else body)
