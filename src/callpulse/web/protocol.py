"""The HTTP server's connections: aiohttp's protocol under a header deadline and a cap, and the
TLS handshake in front of it.

Each accepted TCP connection gets a :class:`_Slot` at once: its place in the connection table
(:mod:`callpulse.web.connections`) and its header deadline. Under TLS the slot is taken before
the handshake, so the handshake counts against both: a socket that never starts TLS is closed
at ``header_timeout`` like one that never sends a request, and takes a place in the table that
a new connection can claim. That is why the server upgrades to TLS itself
(``loop.start_tls`` on the accepted socket) instead of handing asyncio an SSL context, whose
handshake would run unseen until the protocol's ``connection_made``.

A connection the server sheds (displaced at the cap, or past its header deadline) has its TCP
socket aborted: nothing is flushed and no TLS goodbye awaited from a client that has shown it
will not follow the protocol. Connections that end normally close as aiohttp closes them, the
TLS goodbye bounded by ``header_timeout`` too.
"""

from __future__ import annotations

import asyncio
import ssl
from typing import Any, cast

import structlog
from aiohttp import web
from aiohttp.http_exceptions import LineTooLong
from aiohttp.web_protocol import RequestHandler

from callpulse.core.http_limits import HttpLimits
from callpulse.web.connections import ConnectionTable

log = structlog.get_logger("callpulse.web")


class _Slot:
    """One accepted TCP connection as the server holds it: its socket's transport, its header
    deadline and its place in the connection table."""

    __slots__ = ("_deadline", "_server", "busy", "closed", "transport")

    def __init__(self, server: Server, transport: asyncio.Transport) -> None:
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

    def __init__(self, server: Server, slot: _Slot | None = None, **kwargs: Any) -> None:
        super().__init__(server, **kwargs)
        self._owner = server
        self.slot = slot  # given by the TLS handshake; else taken in connection_made

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


class _Handshake(asyncio.Protocol):
    """A TLS connection until its handshake is done, then the placeholder that hands the TLS
    transport to a :class:`_Connection`."""

    def __init__(self, server: Server, context: ssl.SSLContext) -> None:
        self._server = server
        self._context = context
        # Request bytes that came with the end of the handshake, before the hand-over.
        self._early: list[bytes] = []
        self._lost = False
        self._task: asyncio.Task[None] | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        tcp = cast(asyncio.Transport, transport)
        slot = self._server.accept(tcp)
        if slot is None:
            return
        # Until start_tls takes over reading: the client's hello must reach the TLS layer.
        tcp.pause_reading()
        self._task = asyncio.get_running_loop().create_task(self._upgrade(tcp, slot))

    def data_received(self, data: bytes) -> None:
        self._early.append(data)

    def eof_received(self) -> bool | None:
        return None  # close: a client that says goodbye before its request gets none

    def connection_lost(self, exc: BaseException | None) -> None:
        self._lost = True

    async def _upgrade(self, tcp: asyncio.Transport, slot: _Slot) -> None:
        timeout = self._server.limits.header_timeout
        try:
            # The slot's header deadline closes a slow handshake; asyncio's own timeout is
            # only its backstop. The same bound applies to the TLS goodbye when closing.
            tls = await asyncio.get_running_loop().start_tls(
                tcp,
                self,
                self._context,
                server_side=True,
                ssl_handshake_timeout=timeout,
                ssl_shutdown_timeout=timeout,
            )
        except OSError as exc:  # ssl.SSLError, ConnectionError and TimeoutError among them
            log.debug("http_tls_handshake_failed", error=str(exc))
            slot.close()
            return
        if tls is None or self._lost:  # closed as the handshake ended
            slot.close()
            return
        connection = self._server.connection(slot)
        tls.set_protocol(connection)
        connection.connection_made(tls)
        for data in self._early:
            connection.data_received(data)
        self._early.clear()


class Server(web.Server):
    """aiohttp's low-level server, making the protocols above and holding their table."""

    def __init__(
        self,
        handler: Any,
        limits: HttpLimits,
        tls: ssl.SSLContext | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(handler, **kwargs)
        self.limits = limits
        self.tls = tls
        self.table: ConnectionTable[_Slot] = ConnectionTable(limits.max_connections)

    # aiohttp's site hands this to loop.create_server as the protocol factory, which takes any
    # protocol; aiohttp's own type says RequestHandler.
    def __call__(self) -> asyncio.Protocol:  # type: ignore[override]
        if self.tls is not None:
            return _Handshake(self, self.tls)
        return self.connection()

    def connection(self, slot: _Slot | None = None) -> _Connection:
        """aiohttp's protocol for a connection, already holding ``slot`` after a handshake."""
        return _Connection(self, slot, loop=self._loop, **self._kwargs)

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


__all__ = ["Server"]
