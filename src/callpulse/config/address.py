"""The HTTP server's address in its three spellings: the ``--web.listen-address`` flag
(``host:port``, as node_exporter takes it), the URL start-up says it listens on, and the
URL alerts link back to when ``alerting.external_url`` is not set."""

from __future__ import annotations

import socket

WILDCARDS = frozenset({"", "0.0.0.0", "::"})


def parse_listen_address(text: str) -> tuple[str, int]:
    """``host:port``, ``[v6]:port`` or ``:port`` (every address) as (host, port); ValueError
    saying what was expected."""
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ValueError(f"expected host:port or :port (port 0-65535), not {text!r}")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    elif ":" in host:
        raise ValueError(f"an IPv6 address goes in brackets ([::1]:9464), not {text!r}")
    return (host or "0.0.0.0"), int(port)


def _netloc(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def listen_url(host: str, port: int, tls: bool = False) -> str:
    """Where the server listens, as a URL (``http://0.0.0.0:9464``)."""
    return f"{'https' if tls else 'http'}://{_netloc(host, port)}"


def external_url(host: str, port: int, tls: bool = False) -> str:
    """The URL alerts link back to by default: the listen address, with this machine's name
    for an address that means every interface (as Prometheus' own ``--web.external-url``
    defaults to its hostname and port; in Kubernetes, the pod's name)."""
    name = socket.gethostname() if host in WILDCARDS else host
    return listen_url(name, port, tls)
