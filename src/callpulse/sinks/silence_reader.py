"""The status page's view of an Alertmanager's silences, read in the background.

Every ``interval`` seconds it reads ``GET /api/v2/silences`` and the silenced alerts of ``GET
/api/v2/alerts`` from one Alertmanager, with the sink's client (its auth and TLS), each
answer at most ``max_answer_bytes`` and within the sink's timeout. A page request only reads
what the last round left, so an Alertmanager that is slow, down or hostile never slows the
page; what is kept is bounded (:mod:`callpulse.core.silence_view`). A failed round replaces
the list with its error: silences shown from before it could be gone by now.
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass, field
from typing import Any

import structlog

from callpulse.core.silence_view import LabelSet, SilenceRow, live_silences, silenced_alerts
from callpulse.sinks.http_client import HttpClient, HttpError, HttpTarget

log = structlog.get_logger("callpulse.alerts")

SILENCED_ALERTS = "/api/v2/alerts?silenced=true&inhibited=false&active=false&unprocessed=false"


@dataclass(frozen=True)
class SilencesView:
    """What the last round read: the live silences (at most the limit, ``more`` left out),
    the silences muting each alert, when it was read (wall clock) and, if it failed, why."""

    alertmanager: str
    fetched_at: float | None = None
    error: str | None = None
    rows: tuple[SilenceRow, ...] = ()
    more: int = 0
    silenced: dict[LabelSet, tuple[str, ...]] = field(default_factory=dict)


class SilenceReader:
    """Reads ``target``'s silences every ``interval`` seconds (:meth:`run`); :attr:`view` is
    the last round's."""

    def __init__(
        self, target: HttpTarget, interval: float, max_answer_bytes: int, max_silences: int
    ) -> None:
        self._target = target
        self._interval = interval
        self._limit = max_answer_bytes
        self._max_silences = max_silences
        self._client = HttpClient(target.http)
        self.view = SilencesView(target.label)

    async def run(self) -> None:
        """Read now and every ``interval`` seconds, forever (cancel to stop)."""
        try:
            while True:
                await self.read()
                await asyncio.sleep(self._interval)
        finally:
            await self.close()

    async def close(self) -> None:
        """Close the connection pool."""
        await self._client.close()

    async def read(self) -> None:
        """One round: :attr:`view` becomes what it read, or its error."""
        try:
            rows, more = live_silences(await self._get("/api/v2/silences"), self._max_silences)
            silenced = silenced_alerts(await self._get(SILENCED_ALERTS))
        except Exception as exc:  # nothing an Alertmanager answers may stop the reader
            error = str(exc) or type(exc).__name__
            if self.view.error != error:
                log.warning("silences_read_failed", alertmanager=self._target.label, error=error)
            self.view = SilencesView(self._target.label, self.view.fetched_at, error)
            return
        self.view = SilencesView(self._target.label, time.time(), None, tuple(rows), more, silenced)

    async def _get(self, path: str) -> Any:
        base = self._target.url.rstrip("/")
        answer = await self._client.request(
            "GET", f"{base}{path}", self._target.timeout, limit=self._limit
        )
        what = f"GET {path.split('?')[0]}"
        if answer.status != 200:
            raise HttpError(f"{what} answered {answer.status}", answer.status)
        try:
            return json.loads(answer.body)
        except ValueError:
            raise ValueError(f"{what} did not answer JSON") from None
