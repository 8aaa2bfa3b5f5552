"""POSTing to an HTTP receiver with aiohttp's client, on the daemon's event loop.

aiohttp (a maintained client, and what serves callpulse's own HTTP next) does what a
hand-written one got wrong: ``user:password@`` in a URL becomes basic auth instead of being
dropped, TLS takes a private CA and a client certificate, and responses are read safely.
Authentication and TLS are configured the way Prometheus' ``http_config`` names them.
"""

from __future__ import annotations

import base64
import ssl
from dataclasses import dataclass
from pathlib import Path

import aiohttp

from callpulse.sinks.delivery import PermanentError
from callpulse.sinks.naming import public_url


class HttpError(Exception):
    """The request failed: no HTTP status came back (refused, reset, timed out), or one
    that may pass (5xx, 408, 429)."""


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
        if self.ca_file is None and self.cert_file is None:
            return None
        context = ssl.create_default_context(cafile=str(self.ca_file) if self.ca_file else None)
        if self.cert_file is not None:
            context.load_cert_chain(
                str(self.cert_file), str(self.key_file) if self.key_file else None
            )
        return context


class HttpClient:
    """One receiver's connection pool; :meth:`close` it when the sink stops."""

    def __init__(self, config: HttpConfig | None = None) -> None:
        self._config = config or HttpConfig()
        self._session: aiohttp.ClientSession | None = None

    async def post(self, url: str, body: bytes, content_type: str, time_limit: float) -> int:
        """POST ``body`` to ``url`` within ``time_limit`` seconds; return the status code.

        Errors name the receiver by its host only: the URL may hold credentials.
        """
        config = self._config
        if self._session is None:
            self._session = aiohttp.ClientSession(
                headers={"User-Agent": "callpulse"},
                connector=aiohttp.TCPConnector(ssl=config.ssl_context() or True),
            )
        try:
            async with self._session.post(
                url,
                data=body,
                headers={"Content-Type": content_type, **config.headers()},
                timeout=aiohttp.ClientTimeout(total=time_limit),
            ) as response:
                await response.read()
                return response.status
        except (aiohttp.ClientError, TimeoutError, OSError, ValueError) as exc:
            detail = str(exc)
            if "://" in detail or "@" in detail:  # it quotes the URL: say only what failed
                detail = ""
            raise HttpError(
                f"POST {public_url(url)}: {type(exc).__name__}" + (f": {detail}" if detail else "")
            ) from None

    async def post_json(self, url: str, body: bytes, time_limit: float, receiver: str) -> None:
        """POST JSON ``body``; raise PermanentError for a refusal retrying cannot change (a
        4xx but 408 and 429) and :class:`HttpError` for any other non-2xx."""
        status = await self.post(url, body, "application/json", time_limit)
        if 400 <= status < 500 and status not in (408, 429):
            raise PermanentError(f"{receiver} refused the notifications: {status}")
        if status // 100 != 2:
            raise HttpError(f"{receiver} answered {status}")

    async def close(self) -> None:
        """Close the pool's connections."""
        if self._session is not None:
            await self._session.close()
            self._session = None


def _read_secret(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8").rstrip("\r\n")
    except OSError as exc:
        raise HttpError(f"cannot read the secret file {path}: {exc.strerror}") from None
