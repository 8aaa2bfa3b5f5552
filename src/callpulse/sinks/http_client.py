"""Talking to an HTTP receiver with aiohttp's client, on the daemon's event loop.

aiohttp (a maintained client, and what serves callpulse's own HTTP next) does what a
hand-written one got wrong: ``user:password@`` in a URL becomes basic auth instead of being
dropped, TLS takes a private CA and a client certificate, and responses are read safely.
Authentication and TLS are configured the way Prometheus' ``http_config`` names them.

Redirects are followed by hand, only within the origin (scheme, host and port) and only where
they keep the method and the body: a 307 or 308, or any redirect of a GET. Prometheus follows
every redirect by default (``follow_redirects: true``), to another origin too, and Go re-sends
a 307's body there; a receiver that points elsewhere would get the alerts (or a ``status``
reader's credentials) for the asking. A 301, 302 or 303 to a POST would turn it into a GET
that delivers nothing and may still answer 200.
"""

from __future__ import annotations

import asyncio
import base64
import ssl
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import aiohttp
from yarl import URL

from callpulse.sinks.delivery import DeliveryError, PermanentError
from callpulse.sinks.naming import public_url

REDIRECT_HOPS = 10  # as Go's client and aiohttp's
_KEEP_METHOD = frozenset({307, 308})
_REDIRECTS = frozenset({301, 302, 303, 307, 308})


class HttpError(DeliveryError):
    """The request failed: no HTTP status came back (refused, reset, timed out), or one
    that may pass (5xx, 408, 429)."""


class RedirectError(PermanentError):
    """The receiver redirected where callpulse does not follow: another origin, a redirect
    that would drop the body, or too many hops. Nothing was sent where it pointed."""


@dataclass(frozen=True)
class HttpConfig:
    """How to reach one receiver: basic auth or a bearer token, and TLS.

    Secrets are read from their files at each new session, so a rotated Kubernetes Secret is
    picked up without a restart.
    """

    username: str | None = None
    password: str | None = None
    password_file: Path | None = None
    bearer_token: str | None = None
    bearer_token_file: Path | None = None
    ca_file: Path | None = None
    cert_file: Path | None = None
    key_file: Path | None = None
    server_name: str | None = None  # the name the certificate must hold, when not the host's
    insecure_skip_verify: bool = False

    def headers(self) -> dict[str, str]:
        """The Authorization header for basic auth or a bearer token, when configured."""
        if self.username is not None:
            password = self.password
            if self.password_file is not None:
                password = _read_secret(self.password_file)
            pair = f"{self.username}:{password or ''}".encode()
            return {"Authorization": "Basic " + base64.b64encode(pair).decode()}
        token = self.bearer_token
        if self.bearer_token_file is not None:
            token = _read_secret(self.bearer_token_file)
        return {"Authorization": f"Bearer {token}"} if token else {}

    def ssl_context(self) -> ssl.SSLContext | None:
        """A context with the private CA and the client certificate, when configured."""
        if self.ca_file is None and self.cert_file is None and not self.insecure_skip_verify:
            return None
        context = ssl.create_default_context(cafile=str(self.ca_file) if self.ca_file else None)
        if self.insecure_skip_verify:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        if self.cert_file is not None:
            context.load_cert_chain(
                str(self.cert_file), str(self.key_file) if self.key_file else None
            )
        return context


@dataclass(frozen=True)
class HttpTarget:
    """One receiver callpulse calls: its ``sink`` label (what logs and metrics name it by,
    :func:`~callpulse.sinks.naming.sink_labels`), its URL (a secret: it may hold credentials),
    how long a request may take, and how to authenticate."""

    label: str
    url: str
    timeout: float = 10.0
    http: HttpConfig | None = None


@dataclass(frozen=True)
class Answer:
    """What the receiver answered, after any redirect followed."""

    status: int
    body: bytes


class HttpClient:
    """One receiver's connection pool; :meth:`close` it when the sink stops."""

    def __init__(self, config: HttpConfig | None = None) -> None:
        self._config = config or HttpConfig()
        self._session: aiohttp.ClientSession | None = None

    async def request(
        self,
        method: str,
        url: str,
        time_limit: float,
        body: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        limit: int | None = None,
    ) -> Answer:
        """``method`` ``url`` within ``time_limit`` seconds, redirects included.

        Errors name the receiver by its origin only: the URL may hold credentials. A redirect
        that is not followed raises :class:`RedirectError` with its status. ``limit``: an
        answer longer than this many bytes raises :class:`HttpError` (read no further).
        """
        try:
            target = URL(url)
            origin = target.origin()
        except ValueError:
            raise HttpError("the URL is not one callpulse can request") from None
        # user:password@ becomes the header here, not aiohttp's, so that it goes with a
        # redirect within the origin and never with anything aiohttp could quote.
        auth = self._config.headers()
        if not auth and target.user is not None:
            pair = f"{target.user}:{target.password or ''}".encode()
            auth = {"Authorization": "Basic " + base64.b64encode(pair).decode()}
        target = target.with_user(None)
        sent = {**(headers or {}), **auth}
        try:
            async with asyncio.timeout(time_limit):
                for _ in range(REDIRECT_HOPS + 1):
                    async with self._open().request(
                        method,
                        target,
                        data=body,
                        headers=sent,
                        allow_redirects=False,
                        server_hostname=self._config.server_name,
                    ) as response:
                        status = response.status
                        location = response.headers.get("Location")
                        if status not in _REDIRECTS or location is None:
                            return Answer(status, await _read(response, limit))
                    target = _follow(method, status, target, location, origin)
        except (aiohttp.ClientError, TimeoutError, OSError, ValueError) as exc:
            detail = str(exc)
            if "://" in detail or "@" in detail:  # it quotes the URL: say only what failed
                detail = ""
            raise HttpError(
                f"{method} {public_url(url)}: {type(exc).__name__}"
                + (f": {detail}" if detail else "")
            ) from None
        except _TooLargeError:
            raise HttpError(f"{method} {public_url(url)}: more than {limit} bytes") from None
        raise RedirectError(f"more than {REDIRECT_HOPS} redirects", status)

    def _open(self) -> aiohttp.ClientSession:
        if self._session is None:
            self._session = aiohttp.ClientSession(
                headers={"User-Agent": "callpulse"},
                connector=aiohttp.TCPConnector(ssl=self._config.ssl_context() or True),
            )
        return self._session

    async def post(self, url: str, body: bytes, content_type: str, time_limit: float) -> int:
        """POST ``body`` to ``url`` within ``time_limit`` seconds; return the status code."""
        answer = await self.request("POST", url, time_limit, body, {"Content-Type": content_type})
        return answer.status

    async def post_json(self, url: str, body: bytes, time_limit: float, receiver: str) -> None:
        """POST JSON ``body``; raise PermanentError for a refusal retrying cannot change (a
        4xx but 408 and 429, a redirect not followed) and :class:`HttpError` for any other
        non-2xx."""
        try:
            status = await self.post(url, body, "application/json", time_limit)
        except RedirectError as exc:
            raise RedirectError(f"{receiver} answered {exc.status}: {exc}", exc.status) from None
        if 400 <= status < 500 and status not in (408, 429):
            raise PermanentError(f"{receiver} refused the notifications: {status}", status)
        if status // 100 != 2:
            raise HttpError(f"{receiver} answered {status}", status)

    async def close(self) -> None:
        """Close the pool's connections."""
        if self._session is not None:
            await self._session.close()
            self._session = None


class _TooLargeError(Exception):
    """An answer longer than the caller's limit (raised inside the request only)."""


async def _read(response: aiohttp.ClientResponse, limit: int | None) -> bytes:
    """The body, or _TooLargeError once it has gone past ``limit`` bytes."""
    if limit is None:
        return await response.read()
    chunks, size = [], 0
    async for chunk in response.content.iter_any():
        size += len(chunk)
        if size > limit:
            raise _TooLargeError
        chunks.append(chunk)
    return b"".join(chunks)


def _follow(method: str, status: int, target: URL, location: str, origin: URL) -> URL:
    """Where a redirect from ``target`` leads, if callpulse follows it; else RedirectError."""
    if method != "GET" and status not in _KEEP_METHOD:
        raise RedirectError("a redirect that would drop the body: not followed", status)
    try:
        nxt = target.join(URL(location))
        elsewhere = not nxt.is_absolute() or nxt.origin() != origin
    except ValueError:
        elsewhere = True
    if elsewhere:
        raise RedirectError("a redirect to another origin: not followed", status)
    return nxt.with_user(None)


def _read_secret(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8").rstrip("\r\n")
    except OSError as exc:
        raise HttpError(f"cannot read the secret file {path}: {exc.strerror}") from None
