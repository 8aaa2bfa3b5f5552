"""A minimal asyncio HTTP/1.1 client: POST a body, read the status. Enough for webhooks."""

from __future__ import annotations

import asyncio
import ssl
from urllib.parse import urlsplit

_MAX_RESPONSE = 64 * 1024


class HttpError(Exception):
    """The request failed before an HTTP status came back (refused, reset, timed out)."""


async def post(url: str, body: bytes, content_type: str, time_limit: float) -> int:
    """POST ``body`` to ``url`` within ``time_limit`` seconds; return the status code."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise HttpError(f"not an http(s) URL: {url!r}")
    secure = parts.scheme == "https"
    port = parts.port or (443 if secure else 80)
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    name = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    host = name if parts.port is None else f"{name}:{parts.port}"
    head = (
        f"POST {path} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: callpulse\r\n"
        f"Content-Type: {content_type}\r\nContent-Length: {len(body)}\r\n"
        "Connection: close\r\n\r\n"
    ).encode("latin-1")
    try:
        async with asyncio.timeout(time_limit):
            reader, writer = await asyncio.open_connection(
                parts.hostname, port, ssl=ssl.create_default_context() if secure else None
            )
            try:
                writer.write(head + body)
                await writer.drain()
                status_line = await reader.readline()
                await reader.read(_MAX_RESPONSE)  # enough of the rest; the status is what counts
            finally:
                writer.close()
    except (OSError, TimeoutError, asyncio.IncompleteReadError) as exc:
        raise HttpError(f"POST {url}: {exc!r}") from exc
    fields = status_line.decode("latin-1").split()
    if len(fields) < 2 or not fields[1].isdigit():
        raise HttpError(f"POST {url}: malformed status line {status_line!r}")
    return int(fields[1])
