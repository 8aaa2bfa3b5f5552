"""Sink URLs are secrets: they may carry ``user:password@`` or a token in the path or the
query. What logs and the ``sink`` label show is a configured name, or the host alone."""

from __future__ import annotations

from urllib.parse import urlsplit


def public_url(url: str) -> str:
    """``url`` with nothing secret: scheme, host and port only."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:  # an IPv6 literal
        host = f"[{host}]"
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}"


def sink_name(kind: str, url: str, name: str | None = None) -> str:
    """``kind:name`` when the sink was named in config, else ``kind:scheme://host:port``."""
    return f"{kind}:{name}" if name else f"{kind}:{public_url(url)}"
