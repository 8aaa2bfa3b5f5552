"""callpulse's HTTP server: aiohttp's low-level server, hardened for a hostile network.

It answers GET and HEAD only, which is all Prometheus and Kubernetes probes send. It runs on
the daemon's own event loop, so a scrape reads the monitor between two batches, never in the
middle of one. aiohttp parses HTTP; what a small exporter next to production telephony also
needs is added here, each limit a setting under ``http:``:

- a request's headers must arrive within ``header_timeout`` of its first byte (or of the
  connection, for one that sends nothing): a half-sent header is closed;
- an idle keep-alive connection is closed after ``keepalive_timeout``;
- at most ``max_connections`` connections: past it the oldest one still waiting for its
  headers is closed to make room, else the oldest idle one, so neither silent sockets nor idle
  keep-alives can keep a probe out; only when every connection is busy answering is the new
  one refused (:mod:`callpulse.web.connections`);
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
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, cast

import structlog
from aiohttp import web
from aiohttp.http_exceptions import LineTooLong
from aiohttp.web_log import AccessLogger
from aiohttp.web_protocol import RequestHandler

from callpulse.web.connections import ConnectionTable
from callpulse.web.webconfig import WebConfig

log = structlog.get_logger("callpulse.web")

_LINGER = 1.0  # seconds


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


class _Slot:
    """One accepted TCP connection as the server holds it: its socket's transport, its header
    deadline and its place in the connection table."""

    __slots__ = ("_deadline", "_server", "busy", "closed", "transport")

    def __init__(self, server: _Server, transport: asyncio.Transport) -> None:
        self._server = server
        self.transport = transport
        self._deadline: asyncio.TimerHandle | None = None
        self.busy = False
        self.closed = False

    @property
    def idle(self) -> bool:
        """Between requests, with no request in progress."""
        return not self.busy and self._deadline is None

    def await_headers(self) -> None:
        """A request has begun (or the connection has): its headers are due in time."""
        if self.closed:
            return
        self._server.table.waiting(self)
        self._disarm()
        self._deadline = asyncio.get_running_loop().call_later(
            self._server.limits.header_timeout, self._expired
        )

    def start_request(self) -> None:
        self._disarm()
        self.busy = True
        self._server.table.busy(self)

    def end_request(self) -> None:
        self.busy = False
        self._server.table.idle(self)

    def close(self) -> None:
        """The connection is gone: forget it."""
        self.closed = True
        self._disarm()
        self._server.table.remove(self)

    def abort(self) -> None:
        """Close the socket now, without flushing what is left to write."""
        self.close()
        self.transport.abort()

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _expired(self) -> None:
        self._deadline = None
        if not self.busy:
            self.abort()


class _Connection(RequestHandler):
    """aiohttp's protocol for one connection, reporting to its :class:`_Slot`."""

    def __init__(self, server: _Server, **kwargs: Any) -> None:
        super().__init__(server, **kwargs)
        self._owner = server
        self.slot: _Slot | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        if self.slot is None:
            self.slot = self._owner.accept(cast(asyncio.Transport, transport))

    def connection_lost(self, exc: BaseException | None) -> None:
        if self.slot is not None:
            self.slot.close()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if data and self.slot is not None and self.slot.idle:
            self.slot.await_headers()  # the first byte of a new request
        super().data_received(data)

    async def _handle_request(self, *args: Any, **kwargs: Any) -> Any:
        slot = self.slot
        if slot is not None:
            slot.start_request()
        try:
            return await super()._handle_request(*args, **kwargs)
        finally:
            if slot is not None:
                slot.end_request()

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
        self.table: ConnectionTable[_Slot] = ConnectionTable(limits.max_connections)

    def __call__(self) -> _Connection:
        return _Connection(self, loop=self._loop, **self._kwargs)

    def accept(self, transport: asyncio.Transport) -> _Slot | None:
        """A slot for a new connection, its headers due; None if it was refused."""
        slot = _Slot(self, transport)
        admission = self.table.admit(slot)
        if admission.evicted is not None:
            log.debug("http_connection_evicted", limit=self.limits.max_connections)
            admission.evicted.abort()
        if not admission.admitted:
            log.warning("http_connection_refused", limit=self.limits.max_connections)
            transport.abort()
            return None
        slot.await_headers()
        return slot

    def abort_all(self) -> None:
        """Close every connection left (TLS ones still handshaking or saying goodbye)."""
        for slot in self.table.connections():
            slot.abort()


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
        self._server: _Server | None = None
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
            # After a 413 the rest of the refused body is read and dropped for this long, so
            # that the client sees the answer rather than a reset, then the connection closes.
            lingering_time=_LINGER,
        )
        self._server = server
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
        if self._server is not None:
            self._server.abort_all()
            self._server = None

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
