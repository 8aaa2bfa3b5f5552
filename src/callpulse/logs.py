"""structlog set-up: JSON lines for machines, a readable console when a person is watching."""

from __future__ import annotations

import logging
import sys
import time
from typing import Literal

import structlog

from callpulse.text import plain


def configure(level: str = "info", fmt: Literal["auto", "json", "console"] = "auto") -> None:
    """Route structlog and the standard library's logging (aiokafka's) to stderr."""
    console = fmt == "console" or (fmt == "auto" and sys.stderr.isatty())
    numeric = logging.getLevelNamesMapping()[level.upper()]
    shared: list[structlog.typing.Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    # JSON escapes every control character; the console renderer writes strings as they
    # are, so they are escaped first (a name in an event must not drive the terminal), and
    # it colours only a terminal (not a file that "console" was asked for).
    rendering: list[structlog.typing.Processor] = (
        [_plain_strings, structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty())]
        if console
        else [structlog.processors.JSONRenderer()]
    )
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.make_filtering_bound_logger(numeric),
        cache_logger_on_first_use=True,
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=shared,
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                structlog.processors.format_exc_info,
                *rendering,
            ],
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(numeric)
    # aiokafka logs every reconnect attempt at ERROR; during a broker outage that is a flood.
    # Warnings and up are what an operator needs, each kind once in a while.
    logging.getLogger("aiokafka").setLevel(max(numeric, logging.WARNING))
    handler.addFilter(RepeatFilter(seconds=60.0, prefix="aiokafka"))


def _plain_strings(
    logger: object, method: str, event: structlog.typing.EventDict
) -> structlog.typing.EventDict:
    """Every string of ``event`` escaped (:func:`callpulse.text.plain`); a traceback keeps
    its lines."""
    return {
        key: plain(value, newlines=key == "exception") if isinstance(value, str) else value
        for key, value in event.items()
    }


class RepeatFilter(logging.Filter):
    """Lets each message template of loggers under ``prefix`` through once per ``seconds``."""

    def __init__(self, seconds: float, prefix: str) -> None:
        super().__init__()
        self._seconds = seconds
        self._prefix = prefix
        self._last: dict[tuple[str, object], float] = {}

    def filter(self, record: logging.LogRecord) -> bool:
        if not record.name.startswith(self._prefix):
            return True
        key = (record.name, record.msg)
        now = time.monotonic()
        last = self._last.get(key)
        if last is not None and now - last < self._seconds:
            return False
        if len(self._last) > 1000:
            self._last.clear()
        self._last[key] = now
        return True
