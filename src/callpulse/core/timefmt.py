"""Instants as the wire formats write them."""

from __future__ import annotations

from datetime import UTC, datetime


def instant(timestamp: float) -> datetime:
    """``timestamp`` (epoch seconds) in UTC to the millisecond: the instant
    :func:`rfc3339` writes, as a decoder reads it back."""
    moment = datetime.fromtimestamp(timestamp, UTC)
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)


def rfc3339(timestamp: float) -> str:
    """``timestamp`` (epoch seconds) as RFC 3339 in UTC with milliseconds, e.g.
    ``2026-11-22T14:03:07.250Z``: what events v1 and Alertmanager's API both read."""
    return written(instant(timestamp))


def written(moment: datetime) -> str:
    """``moment`` (in UTC) as :func:`rfc3339` writes it."""
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
