"""Alertmanager silences for the maintenance calendar: the HTTP side of
:mod:`callpulse.core.planned_silences`.

Each evaluation hands the silences it wants to :meth:`SilenceKeeper.submit`, which never
waits. A worker syncs an Alertmanager when what is wanted changes, and every
:data:`RESYNC` seconds otherwise: it reads ``GET /api/v2/silences`` (at most
``max_answer_bytes``), works out what to change, and makes those changes (``POST
/api/v2/silences`` to create or update, ``DELETE /api/v2/silence/{id}`` to expire). Reading
first is what makes it idempotent and lets a restarted callpulse find its own silences again.
A failed sync is retried with exponential backoff and jitter, and counted.

Several Alertmanagers: when they form one cluster (the default), silences are gossiped
between them, so each silence goes to one of them, the first in the list that answers; a
silence written to each would be one per Alertmanager in all of them. Separate
Alertmanagers (``cluster: false``) each get their own.
"""

from __future__ import annotations

import asyncio
import json
import random
import time
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, field
from urllib.parse import quote

import structlog

from callpulse.core.planned_silences import Change, Held, OccurrenceKey, Wanted, held, reconcile
from callpulse.sinks.delivery import DeliveryError
from callpulse.sinks.http_client import HttpClient, HttpError, HttpTarget

log = structlog.get_logger("callpulse.alerts")

RESYNC = 30.0
"""Seconds between two syncs of an Alertmanager while what is wanted stays the same: an
overrun's silence is extended with minutes to spare, and a silence expired or deleted by
hand is seen this soon."""

RECHECK = 5.0
"""Seconds after a sync that created a silence before the next: replicas that created one
each for the same occurrence at once keep one of them this soon."""

RETRY_MIN, RETRY_MAX = 1.0, 60.0
MAX_CHANGES = 50
"""Requests one sync makes at most: an Alertmanager that answers with thousands of silences
tagged as callpulse's gets them expired a batch at a time, not all in one go."""


@dataclass
class SilenceStats:
    """What one Alertmanager holds of callpulse's silences after the last sync, by state;
    the changes made, by kind; and the failed syncs."""

    held: dict[str, int] = field(default_factory=lambda: {"active": 0, "pending": 0})
    changes: dict[str, int] = field(
        default_factory=lambda: {"created": 0, "updated": 0, "expired": 0}
    )
    errors: int = 0


@dataclass(frozen=True)
class _Plan:
    wanted: tuple[Wanted, ...]
    windows: frozenset[str]

    @property
    def signature(self) -> object:
        """What a sync must follow at once: occurrences, matchers, windows. An end that
        moves on (an overrun's) is followed when the silence needs it (see ``_Group``)."""
        return (
            frozenset((w.key, w.matchers, w.only_if_held) for w in self.wanted),
            self.windows,
        )


@dataclass(frozen=True)
class _Synced:
    ends: dict[OccurrenceKey, float]  # when callpulse's silences end now
    complete: bool  # every change wanted was made (else the rest follow soon)
    created: bool


@dataclass
class _Group:
    targets: list[HttpTarget]
    synced: object = None  # the signature of the plan last synced
    ends: dict[OccurrenceKey, float] = field(default_factory=dict)  # as the last sync left them
    next_at: float = 0.0  # time.monotonic() of the next sync
    delay: float = RETRY_MIN
    backoff_until: float = 0.0


class SilenceKeeper:
    """Keeps each Alertmanager's silences for the calendar as the last :meth:`submit` wants."""

    def __init__(
        self,
        targets: Sequence[HttpTarget],
        cluster: bool,
        max_answer_bytes: int,
        retry: tuple[float, float] = (RETRY_MIN, RETRY_MAX),
    ) -> None:
        """``retry``: the first and the longest delay before a failed sync is tried again."""
        self._retry = retry
        groups = [list(targets)] if cluster else [[t] for t in targets]
        self._groups = [_Group(g, delay=retry[0]) for g in groups if g]
        self._clients = {t.label: HttpClient(t.http) for t in targets}
        self._limit = max_answer_bytes
        self._plan: _Plan | None = None
        self._wakeup = asyncio.Event()
        self.stats = {t.label: SilenceStats() for t in targets}

    def submit(self, wanted: Iterable[Wanted], windows: Collection[str]) -> None:
        """The silences wanted now, and the calendar's window names (only silences of these
        are ever expired); never blocks."""
        self._plan = _Plan(tuple(wanted), frozenset(windows))
        self._wakeup.set()  # the worker judges what is due: cheap, and no request unless so

    @property
    def wanted(self) -> tuple[Wanted, ...]:
        """The silences the last :meth:`submit` wanted (none before the first)."""
        return () if self._plan is None else self._plan.wanted

    async def run(self) -> None:
        """The worker: sync each Alertmanager when due, forever (cancel to stop)."""
        while True:
            self._wakeup.clear()
            plan = self._plan
            timeout: float | None = None
            if plan is not None:
                for group in self._groups:
                    now = time.monotonic()
                    changed = group.synced != plan.signature or _renewing(group, plan)
                    if (changed and now >= group.backoff_until) or now >= group.next_at:
                        await self._sync_group(group, plan)
                timeout = max(0.0, min(g.next_at for g in self._groups) - time.monotonic())
            try:
                async with asyncio.timeout(timeout):
                    await self._wakeup.wait()
            except TimeoutError:
                pass

    async def close(self) -> None:
        """Close the connections (silences stay: they end by themselves)."""
        for client in self._clients.values():
            await client.close()

    async def _sync_group(self, group: _Group, plan: _Plan) -> None:
        for target in group.targets:
            try:
                synced = await self._sync(target, plan)
            except Exception as exc:  # nothing an Alertmanager answers may stop the worker
                self.stats[target.label].errors += 1
                log.warning(
                    "silence_sync_failed",
                    alertmanager=target.label,
                    error=_describe(exc),
                    **_status(exc),
                )
                continue
            now = time.monotonic()
            group.delay, group.ends = self._retry[0], synced.ends
            if synced.complete:
                group.synced, group.backoff_until = plan.signature, 0.0
                group.next_at = now + (RECHECK if synced.created else RESYNC)
            else:  # more to change than one sync makes: the rest soon, not at once
                group.next_at = group.backoff_until = now + self._retry[0]
            return
        wait = group.delay * random.uniform(0.5, 1.5)
        group.next_at = group.backoff_until = time.monotonic() + wait
        group.delay = min(group.delay * 2, self._retry[1])
        log.warning(
            "silence_retry",
            alertmanagers=[t.label for t in group.targets],
            retry_in=round(wait, 2),
        )

    async def _sync(self, target: HttpTarget, plan: _Plan) -> _Synced:
        """One sync of ``target``. Raises when the Alertmanager cannot be read, or a change
        fails."""
        client = self._clients[target.label]
        base = target.url.rstrip("/")
        answer = await client.request(
            "GET", f"{base}/api/v2/silences", target.timeout, limit=self._limit
        )
        if answer.status != 200:
            raise HttpError(f"GET /api/v2/silences answered {answer.status}", answer.status)
        entries = json.loads(answer.body)
        del answer
        if not isinstance(entries, list):
            raise ValueError("GET /api/v2/silences did not answer a list of silences")
        found = [h for h in (held(e) for e in entries) if h is not None]
        del entries
        changes = reconcile(plan.wanted, found, plan.windows)
        stats = self.stats[target.label]
        failed: list[str] = []
        for change in changes[:MAX_CHANGES]:
            try:
                await self._change(client, base, target, change)
            except DeliveryError as exc:
                if exc.status is None:
                    raise  # no answer: the next would find none either
                failed.append(_describe(exc))
        stats.held, ends = _after(found, changes[:MAX_CHANGES], time.time())
        if failed:
            raise HttpError(f"{len(failed)} of {len(changes)} changes failed: {failed[0]}")
        made = changes[:MAX_CHANGES]
        return _Synced(ends, len(changes) <= MAX_CHANGES, any(c.kind == "create" for c in made))

    async def _change(
        self, client: HttpClient, base: str, target: HttpTarget, change: Change
    ) -> None:
        stats = self.stats[target.label]
        body = change.body()
        silenced = change.wanted or change.held
        assert silenced is not None  # a change names what it silences
        where = {"maintenance": silenced.key[0], "occurrence": silenced.key[1]}
        if body is None:
            assert change.held is not None  # an expiry names its silence
            sid = change.held.id
            answer = await client.request(
                "DELETE",
                f"{base}/api/v2/silence/{quote(sid, safe='')}",
                target.timeout,
                limit=self._limit,
            )
            _check(answer.status, "DELETE /api/v2/silence")
            stats.changes["expired"] += 1
            log.info("silence_expired", alertmanager=target.label, silence_id=sid, **where)
            return
        answer = await client.request(
            "POST",
            f"{base}/api/v2/silences",
            target.timeout,
            json.dumps(body).encode(),
            {"Content-Type": "application/json"},
            limit=self._limit,
        )
        _check(answer.status, "POST /api/v2/silences")
        kind = "created" if change.kind == "create" else "updated"
        stats.changes[kind] += 1
        log.info(f"silence_{kind}", alertmanager=target.label, ends=body["endsAt"], **where)


def _check(status: int, what: str) -> None:
    if status // 100 != 2:
        raise HttpError(f"{what} answered {status}", status)


def _after(
    found: Sequence[Held], changes: Sequence[Change], now: float
) -> tuple[dict[str, int], dict[OccurrenceKey, float]]:
    """callpulse's live silences by state once ``changes`` are made, and when each ends."""
    gone = {c.held.id for c in changes if c.kind == "expire" and c.held is not None}
    live: dict[OccurrenceKey, tuple[str, float]] = {
        h.key: (h.state, h.ends_at) for h in found if h.live and h.id not in gone
    }
    for c in changes:
        if c.kind in ("create", "update") and c.wanted is not None:
            state = "pending" if c.wanted.starts_at > now else "active"
            live[c.wanted.key] = (state, c.wanted.ends_at)
    counts = {"active": 0, "pending": 0}
    for state, _ in live.values():
        counts[state] += 1
    return counts, {key: ends for key, (_, ends) in live.items()}


def _renewing(group: _Group, plan: _Plan) -> bool:
    """Whether a silence the last sync left must be extended (or cut back) now."""
    return any(w.key in group.ends and not w.fits(group.ends[w.key]) for w in plan.wanted)


def _describe(exc: BaseException) -> str:
    return str(exc) or type(exc).__name__


def _status(exc: BaseException) -> dict[str, int]:
    status = exc.status if isinstance(exc, DeliveryError) else None
    return {} if status is None else {"status": status}
