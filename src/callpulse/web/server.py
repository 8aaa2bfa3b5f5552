"""callpulse's HTTP server: aiohttp's low-level server, hardened for a hostile network.

It answers GET and HEAD only, which is all Prometheus and Kubernetes probes send. It runs on
the daemon's own event loop, so a scrape reads the monitor between two batches, never in the
middle of one. aiohttp parses HTTP; what a small exporter next to production telephony also
needs is added here, each limit a setting under ``http:``:

- a request's headers must arrive within ``header_timeout`` of its first byte (or of the
  connection, for one that sends nothing): a half-sent header is closed;
- an idle keep-alive connection is closed after ``keepalive_timeout``;
- at most ``max_connections`` connections: past it the oldest idle one is closed to make room,
  or the new one if none is idle; the process never stalls;
- no request bodies: a request announcing one gets 413 and the connection is closed without
  reading it;
- headers over ``max_header_bytes`` get 431.

The access log leaves out requests answered below 400: Kubernetes' probes and Prometheus'
scrapes come every few seconds and would bury the rest. Refusals (401, 413...), unknown paths
and failures, such as a 503 from ``/readyz``, are logged.
"""

from __future__ import annotations

import asyncio
import base64
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import structlog
from aiohttp import web
from aiohttp.http_exceptions import LineTooLong
from aiohttp.web_log import AccessLogger
from aiohttp.web_protocol import RequestHandler

from callpulse.web.webconfig import WebConfig

log = structlog.get_logger("callpulse.web")


@dataclass(frozen=True)
class Limits:
    """How much a client may hold of the server; see the module's docstring."""

    header_timeout: float = 10.0
    keepalive_timeout: float = 15.0
    max_connections: int = 256
    max_header_bytes: int = 8190


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


class _Connection(RequestHandler):
    """aiohttp's protocol for one connection, plus the header deadline and the cap."""

    def __init__(self, server: _Server, **kwargs: Any) -> None:
        super().__init__(server, **kwargs)
        self._owner = server
        self._deadline: asyncio.TimerHandle | None = None
        self._busy = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        self._owner.admit(self)
        self._arm()

    def connection_lost(self, exc: BaseException | None) -> None:
        self._disarm()
        self._owner.release(self)
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._deadline is None and not self._busy:
            self._arm()  # the first byte of a new request: its headers are now due
        super().data_received(data)

    async def _handle_request(self, *args: Any, **kwargs: Any) -> Any:
        self._disarm()
        self._busy = True
        self._owner.touch(self)
        try:
            return await super()._handle_request(*args, **kwargs)
        finally:
            self._busy = False

    def handle_error(
        self,
        request: Any,
        status: int = 500,
        exc: BaseException | None = None,
        message: str | None = None,
    ) -> web.StreamResponse:
        # aiohttp answers headers over its limits with 400; the status for that is 431.
        if isinstance(exc, LineTooLong):
            status, message = 431, "request header fields too large"
        return super().handle_error(request, status, exc, message)

    def log_exception(self, *args: Any, **kwargs: Any) -> None:
        # A client's malformed request is the client's problem: no traceback at ERROR per
        # request (a flood of them must not flood the log).
        log.debug("http_bad_request", peer=str(args[1]) if len(args) > 1 else None)

    @property
    def idle(self) -> bool:
        """Between requests, with no request in progress."""
        return not self._busy and self._deadline is None

    def _arm(self) -> None:
        self._disarm()
        loop = asyncio.get_running_loop()
        self._deadline = loop.call_later(self._owner.limits.header_timeout, self._expired)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _expired(self) -> None:
        self._deadline = None
        if not self._busy:
            self.force_close()


class _AccessLog(AccessLogger):
    """aiohttp's access log, without the requests that were answered (see the module's
    docstring)."""

    def log(self, request: web.BaseRequest, response: web.StreamResponse, time: float) -> None:
        if response.status >= 400:
            super().log(request, response, time)


class _Server(web.Server):
    """aiohttp's low-level server, making :class:`_Connection` protocols and capping them."""

    def __init__(self, handler: Any, limits: Limits, **kwargs: Any) -> None:
        super().__init__(handler, **kwargs)
        self.limits = limits
        self._live: OrderedDict[_Connection, None] = OrderedDict()  # oldest first

    def __call__(self) -> _Connection:
        return _Connection(self, loop=self._loop, **self._kwargs)

    def admit(self, connection: _Connection) -> None:
        if len(self._live) >= self.limits.max_connections:
            idle = next((c for c in self._live if c.idle), None)
            if idle is None:
                log.warning("http_connection_refused", limit=self.limits.max_connections)
                connection.force_close()
                return
            idle.force_close()
            self._live.pop(idle, None)
        self._live[connection] = None

    def touch(self, connection: _Connection) -> None:
        if connection in self._live:
            self._live.move_to_end(connection)

    def release(self, connection: _Connection) -> None:
        self._live.pop(connection, None)


class HttpServer:
    """Serves ``routes`` (path -> handler) on ``host:port`` within ``limits``."""

    def __init__(
        self,
        host: str,
        port: int,
        routes: dict[str, Handler],
        limits: Limits | None = None,
        access: WebConfig | None = None,
    ) -> None:
        self._host = host
        self._port = port
        self._routes = routes
        self._limits = limits or Limits()
        self._web = access or WebConfig()
        self._runner: web.ServerRunner | None = None
        self._site: web.TCPSite | None = None

    @property
    def port(self) -> int:
        """The bound port (useful when configured as 0)."""
        assert self._runner is not None
        return int(self._runner.addresses[0][1])

    async def start(self) -> None:
        limits = self._limits
        server = _Server(
            self._serve,
            limits,
            keepalive_timeout=limits.keepalive_timeout,
            max_line_size=limits.max_header_bytes,
            max_field_size=limits.max_header_bytes,
            handler_cancellation=True,
            access_log_class=_AccessLog,
        )
        self._runner = web.ServerRunner(server, handle_signals=False)
        await self._runner.setup()
        self._site = web.TCPSite(
            self._runner, self._host, self._port, ssl_context=self._web.ssl_context
        )
        await self._site.start()

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def _serve(self, raw: web.BaseRequest) -> web.StreamResponse:
        if raw.body_exists or (raw.content_length or 0) > 0:
            # Never read it: a body is never needed here, and reading one is how memory goes.
            response = web.Response(status=413, text="no request bodies\n")
            response.force_close()
            return response
        if raw.method not in ("GET", "HEAD"):
            return web.Response(
                status=405, text="only GET and HEAD\n", headers={"Allow": "GET, HEAD"}
            )
        user, password = _basic_credentials(raw.headers.get("Authorization", ""))
        if not self._web.allows(raw.path, user, password):
            return web.Response(
                status=401,
                text="unauthorized\n",
                headers={"WWW-Authenticate": 'Basic realm="callpulse"'},
            )
        handler = self._routes.get(raw.path)
        if handler is None:
            return web.Response(status=404, text="not found\n")
        request = Request(
            raw.method, raw.path, raw.query_string, {k.lower(): v for k, v in raw.headers.items()}
        )
        try:
            answer = await handler(request)
        except Exception:
            log.exception("http_handler_failed", path=raw.path)
            return web.Response(status=500, text="internal error\n")
        response = web.Response(
            status=answer.status,
            body=answer.body,
            headers={
                "Content-Type": answer.content_type,
                # A response is only ever what its Content-Type says.
                "X-Content-Type-Options": "nosniff",
                **answer.headers,
            },
        )
        if len(answer.body) > 1024:
            response.enable_compression()  # gzip or deflate, when the client accepts it
        return response


def _basic_credentials(header: str) -> tuple[str | None, str | None]:
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "basic":
        return None, None
    try:
        user, _, password = base64.b64decode(value.strip(), validate=True).decode().partition(":")
    except (ValueError, UnicodeDecodeError):
        return None, None
    return user, password


__all__ = ["Handler", "HttpServer", "Limits", "Request", "Response"]
