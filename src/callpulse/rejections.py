"""Saying what was rejected: one log line per record not applied, and a traceback for a
defect.

A record judged invalid is the producer's to fix, and its line says why. A
``processing_error`` is callpulse's own to fix: its first occurrence of each kind (exception
type and the line that raised) is logged at ERROR with the traceback, so a defect surfaces
however hostile the stream around it; repeats log the usual line only, so one bad record
sent a million times does not write a million tracebacks.
"""

from __future__ import annotations

import traceback
from collections.abc import Iterable

import structlog

from callpulse.core.ingest import Rejection

log = structlog.get_logger("callpulse")

_KINDS_REMEMBERED = 256  # kinds of defect whose traceback was logged; past it, no more


class RejectionLog:
    """Logs rejections; remembers which kinds of defect it has shown a traceback for."""

    def __init__(self) -> None:
        self._shown: set[tuple[str, str, int]] = set()

    def __call__(self, rejected: Iterable[Rejection]) -> None:
        """Log each of ``rejected`` once, then let go of its errors' tracebacks."""
        for r in rejected:
            record = r.record
            where = {
                "reason": r.reason,
                "detail": r.detail,
                "topic": record.topic,
                "partition": record.partition,
                "offset": record.offset,
            }
            if r.error is not None and self._first(r.error):
                log.error("record_processing_failed", **where, exc_info=r.error)
            else:
                log.warning("record_rejected", **where)
            if r.error is not None:
                _drop_tracebacks(r.error)

    def _first(self, error: BaseException) -> bool:
        frames = traceback.extract_tb(error.__traceback__)
        last = frames[-1] if frames else None
        kind = (
            type(error).__name__,
            last.filename if last else "",
            (last.lineno or 0) if last else 0,
        )
        if kind in self._shown or len(self._shown) >= _KINDS_REMEMBERED:
            return False
        self._shown.add(kind)
        return True


def _drop_tracebacks(error: BaseException) -> None:
    """Let go of the tracebacks of ``error`` and of the errors it was raised from or among.

    A traceback holds the ingest's frames, and a frame the one that called it, which holds
    the batch's rejections, ``error`` among them: a reference cycle that would keep the
    batch's records, up to ``max_record_bytes`` each, until the collector passes. Once the
    error is logged, nothing needs them."""
    seen: set[int] = set()
    errors = [error]
    while errors:
        each = errors.pop()
        if id(each) in seen:
            continue
        seen.add(id(each))
        each.__traceback__ = None
        errors += [e for e in (each.__cause__, each.__context__) if e is not None]
        if isinstance(each, BaseExceptionGroup):
            errors += each.exceptions
