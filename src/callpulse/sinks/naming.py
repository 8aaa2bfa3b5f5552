"""Sink URLs are secrets: they may carry ``user:password@`` or a token in the path or the
query. What logs and the ``sink`` label show is a configured name, or the origin alone."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from urllib.parse import urlsplit


def request_url(url: str) -> str:
    """``url``, if it is an http or https URL with a host and a numeric port; else ValueError
    saying what is wrong without quoting any of it (its port may be a mistyped password)."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - parsing the port is the check
    except ValueError:
        raise ValueError("not a URL with a host and a numeric port") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("not an http or https URL with a host")
    return url


def public_url(url: str) -> str:
    """``url`` with nothing secret: scheme, host and port only."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:  # an IPv6 literal
        host = f"[{host}]"
    try:
        port = f":{parts.port}" if parts.port else ""
    except ValueError:  # not a number: a password typed where the port goes, say
        port = ""
    return f"{parts.scheme}://{host}{port}"


def sink_name(kind: str, url: str, name: str | None = None) -> str:
    """``kind:name`` when the sink was named in config, else ``kind:scheme://host:port``."""
    return f"{kind}:{name}" if name else f"{kind}:{public_url(url)}"


def sink_labels(kind: str, targets: Sequence[tuple[str, str | None]]) -> list[str]:
    """The ``sink`` label of each of ``kind``'s targets, given as (url, name) in config order.

    A named target is ``kind:name``. An unnamed one is ``kind:scheme://host:port``; the
    second, third... unnamed target on the same origin adds ``#2``, ``#3``. The path and the
    query may hold the secret (a Slack webhook's does), so nothing of them, not even a hash,
    tells two targets apart: their order does, and a name keeps the label stable.
    """
    seen: Counter[str] = Counter()
    labels = []
    for url, name in targets:
        label = sink_name(kind, url, name)
        if not name:
            seen[label] += 1
            if seen[label] > 1:
                label += f"#{seen[label]}"
        labels.append(label)
    return labels
