"""The HTTP server: its address, limits against abusive clients, and the status page's links."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated
from urllib.parse import urlsplit

from pydantic import (
    AfterValidator,
    BeforeValidator,
    Field,
)

from callpulse.config.base import Section
from callpulse.core.durations import parse_duration
from callpulse.core.http_limits import HttpLimits

_LIMITS = HttpLimits()


def _shown_url(url: str | None) -> str | None:
    """A URL the status page links to: http or https, and no ``user:password@`` (the page
    is for anyone who can read it)."""
    if url is None:
        return None
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("expected an http or https URL with a host")
    if parts.username is not None or parts.password is not None:
        raise ValueError("the page shows this URL: no user:password@ in it")
    return url


ShownUrl = Annotated[str | None, AfterValidator(_shown_url)]


class StatusPageSettings(Section):
    """What the status page links to and reads besides callpulse itself (README)."""

    grafana_url: ShownUrl = None
    # Unset: the first alerting.alertmanagers URL, scheme, host and port only.
    alertmanager_url: ShownUrl = None
    # Silences (and the alerts they silence) are read from the first Alertmanager this often.
    silences_interval: Annotated[float, BeforeValidator(parse_duration), Field(ge=1)] = 30.0
    max_silences: Annotated[int, Field(ge=1, le=1000)] = 100


class HttpSettings(Section):
    host: str = "0.0.0.0"
    port: Annotated[int, Field(ge=0, le=65535)] = 9464  # 0: any free port (logged)
    header_timeout: Annotated[float, BeforeValidator(parse_duration), Field(gt=0)] = (
        _LIMITS.header_timeout
    )
    keepalive_timeout: Annotated[float, BeforeValidator(parse_duration), Field(gt=0)] = (
        _LIMITS.keepalive_timeout
    )
    max_connections: Annotated[int, Field(ge=1)] = _LIMITS.max_connections
    max_header_bytes: Annotated[int, Field(ge=1024)] = _LIMITS.max_header_bytes
    web_config_file: Path | None = None  # TLS and basic auth (exporter-toolkit format)
    # Basic auth: wrong passwords a client address may try a minute before it gets 429, how
    # many addresses that is remembered for, and how many bcrypt checks may wait (then 503).
    auth_failures_per_minute: Annotated[int, Field(ge=1)] = _LIMITS.auth_failures_per_minute
    auth_max_addresses: Annotated[int, Field(ge=1)] = _LIMITS.auth_max_addresses
    auth_max_pending: Annotated[int, Field(ge=1)] = _LIMITS.auth_max_pending
    # /metrics and /api/v1/status are rendered in a forked child, off the event loop
    # (callpulse.web.forked).
    render_in_child: bool = True
    # A child slower than this is killed and the scrape answered 503: Prometheus' default
    # scrape_timeout. Raise both together for tens of thousands of queues.
    render_timeout: Annotated[float, BeforeValidator(parse_duration), Field(gt=0)] = 10.0
    status_page: StatusPageSettings = StatusPageSettings()
