"""callpulse's HTTP server: aiohttp's low-level server, hardened for a hostile network.

It answers GET and HEAD only, which is all Prometheus and Kubernetes probes send. It runs on
the daemon's own event loop, so a scrape reads the monitor between two batches, never in the
middle of one. aiohttp parses HTTP; what a small exporter next to production telephony also
needs is added here, each limit a setting under ``http:``:

- a request's headers must arrive within ``header_timeout`` of its first byte (or of the
  connection, for one that sends nothing; under TLS the handshake is part of it): a half-sent
  header is closed;
- an idle keep-alive connection is closed after ``keepalive_timeout``;
- at most ``max_connections`` connections: past it the oldest one still waiting for its
  headers is closed to make room, else the oldest idle one, so neither silent sockets nor idle
  keep-alives can keep a probe out; only when every connection is busy answering is the new
  one refused (:mod:`callpulse.web.connections`); a TLS handshake holds a place too;
- no request bodies: a request announcing one gets 413 and the connection is closed without
  keeping any of it (what the client goes on sending is dropped for a second, so that it
  reads the answer rather than a reset);
- headers over ``max_header_bytes`` get 431;
- with a web config (:mod:`callpulse.web.webconfig`), every path but the probes needs a user
  when there are users (checked off the event loop, within a failure budget per client
  address: :mod:`callpulse.web.auth`) and a client certificate when there is a client CA
  (403 without one).

The access log leaves out requests answered below 400: Kubernetes' probes and Prometheus'
scrapes come every few seconds and would bury the rest. Refusals (401, 413...), unknown paths
and failures, such as a 503 from ``/readyz``, are logged.
"""

from __future__ import annotations

import base64
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import structlog
from aiohttp import web
from aiohttp.web_log import AccessLogger

from callpulse.core.http_limits import HttpLimits
from callpulse.web.auth import OPEN_PATHS, Authenticator, Denied
from callpulse.web.protocol import Server
from callpulse.web.webconfig import WebConfig

log = structlog.get_logger("callpulse.web")

_LINGER = 1.0  # seconds


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


class _AccessLog(AccessLogger):
    """aiohttp's access log, without the requests that were answered (see the module's
    docstring)."""

    def log(self, request: web.BaseRequest, response: web.StreamResponse, time: float) -> None:
        if response.status >= 400:
            super().log(request, response, time)


class HttpServer:
    """Serves ``routes`` (path -> handler) on ``host:port`` within ``limits``."""

    def __init__(
        self,
        host: str,
        port: int,
        routes: dict[str, Handler],
        limits: HttpLimits | None = None,
        access: WebConfig | None = None,
    ) -> None:
        self._host = host
        self._port = port
        self._routes = routes
        self._limits = limits or HttpLimits()
        self._web = access or WebConfig()
        self._auth = Authenticator(
            self._web.users,
            failures_per_minute=self._limits.auth_failures_per_minute,
            max_addresses=self._limits.auth_max_addresses,
            max_pending=self._limits.auth_max_pending,
        )
        self._runner: web.ServerRunner | None = None
        self._server: Server | None = None
        self._site: web.TCPSite | None = None

    @property
    def port(self) -> int:
        """The bound port (useful when configured as 0)."""
        assert self._runner is not None
        return int(self._runner.addresses[0][1])

    def fill(self) -> dict[str, float]:
        """How full each of its caps is (``callpulse_cap_fill_ratio``): connections held,
        and what basic auth keeps."""
        held = len(self._server.table) if self._server is not None else 0
        return {"http_connections": held / self._limits.max_connections} | self._auth.fill()

    async def start(self) -> None:
        limits = self._limits
        server = Server(
            self._serve,
            limits,
            self._web.ssl_context,
            keepalive_timeout=limits.keepalive_timeout,
            max_line_size=limits.max_header_bytes,
            max_field_size=limits.max_header_bytes,
            handler_cancellation=True,
            access_log_class=_AccessLog,
            lingering_time=_LINGER,  # after a 413 (see the module's docstring)
        )
        self._server = server
        self._runner = web.ServerRunner(server, handle_signals=False)
        await self._runner.setup()
        # No ssl_context here: the server runs the TLS handshake itself (web.protocol).
        self._site = web.TCPSite(self._runner, self._host, self._port)
        await self._site.start()

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        if self._server is not None:
            self._server.abort_all()
            self._server = None
        self._auth.close()

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
        if (
            self._web.client_certificate_required
            and raw.path not in OPEN_PATHS
            and not _verified_client(raw)
        ):
            return web.Response(status=403, text="client certificate required\n")
        user, password = _basic_credentials(raw.headers.get("Authorization", ""))
        denied = await self._auth.check(raw.path, raw.remote or "", user, password)
        if denied is not None:
            return _refusal(denied)
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
        if len(answer.body) > 1024 and "Content-Encoding" not in answer.headers:
            response.enable_compression()  # gzip or deflate, when the client accepts it
        return response


def _verified_client(raw: web.BaseRequest) -> bool:
    # The handshake verified any certificate the client gave (or failed); None when it gave
    # none.
    transport = raw.transport
    return transport is not None and bool(transport.get_extra_info("peercert"))


def _refusal(denied: Denied) -> web.Response:
    if denied.status == 401:
        return web.Response(
            status=401,
            text="unauthorized\n",
            headers={"WWW-Authenticate": 'Basic realm="callpulse"'},
        )
    text = "too many failed logins" if denied.status == 429 else "too many logins pending"
    return web.Response(
        status=denied.status,
        text=f"{text}: retry later\n",
        headers={"Retry-After": str(denied.retry_after or 1)},
    )


def _basic_credentials(header: str) -> tuple[str | None, str | None]:
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "basic":
        return None, None
    try:
        user, _, password = base64.b64decode(value.strip(), validate=True).decode().partition(":")
    except (ValueError, UnicodeDecodeError):
        return None, None
    return user, password


__all__ = ["Handler", "HttpServer", "Request", "Response"]
