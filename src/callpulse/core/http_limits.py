"""How much a client may hold of the HTTP server: the ``http:`` settings the server enforces.

A policy like the core's others (the backlog's limits, the label caps): plain numbers with
their defaults, which the settings' schema refers to and the web server obeys."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class HttpLimits:
    """See :mod:`callpulse.web.server` for what each limit does."""

    header_timeout: float = 10.0
    keepalive_timeout: float = 15.0
    max_connections: int = 256
    max_header_bytes: int = 8190
    auth_failures_per_minute: int = 10
    auth_max_addresses: int = 10_000
    auth_max_pending: int = 16


__all__ = ["HttpLimits"]
