"""Basic-auth checks that a client guessing passwords cannot turn against the server.

bcrypt is slow on purpose (about 0.1 s at cost 10, 0.35 s at cost 12). On the event loop, a
few clients guessing passwords held up the probes, the scrapes and ingest for seconds. So:

- a check runs on a thread of its own (bcrypt releases the GIL), one at a time, with at most
  ``max_pending`` queued or running: past that the request is answered 503 with Retry-After,
  unhashed, so a flood cannot queue unbounded work;
- each client address has a failure budget (:mod:`callpulse.web.budget`): past it, 429 with
  Retry-After, unhashed;
- a user name that does not exist is checked against a dummy hash of the users' cost, so the
  time an answer takes does not tell which names exist;
- credentials that passed are remembered by their SHA-256, so that a scrape every few seconds
  costs one check, not one per scrape.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import math
from collections.abc import Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass

import bcrypt

from callpulse.web.budget import FailureBudget

OPEN_PATHS = ("/healthz", "/readyz")

# bcrypt reads no more of a password than this; bcrypt >= 5 refuses longer ones, which
# htpasswd and exporter-toolkit's Go bcrypt compare on their first 72 bytes.
_BCRYPT_MAX_PASSWORD = 72
_REMEMBERED = 1000  # passed credentials kept; a hash of each, never the password


@dataclass(frozen=True)
class Denied:
    """Why a request is not served: 401 (no or wrong credentials), 429 (the address's failure
    budget is spent) or 503 (too many checks pending); ``retry_after`` in seconds for the last
    two."""

    status: int
    retry_after: int | None = None


def bcrypt_cost(digest: bytes) -> int:
    """The cost of a bcrypt hash (``$2b$12$...`` -> 12)."""
    return int(digest[4:6])


class Authenticator:
    """Checks requests against ``users`` (name -> bcrypt hash); see the module."""

    def __init__(
        self,
        users: Mapping[str, bytes],
        failures_per_minute: int = 10,
        max_addresses: int = 10_000,
        max_pending: int = 16,
    ) -> None:
        self._users = dict(users)
        cost = max((bcrypt_cost(h) for h in self._users.values()), default=4)
        # A valid salt and a hash part no password produces: costs a check, never matches.
        self._dummy = bcrypt.gensalt(rounds=cost) + b"." * 31
        self._budget = FailureBudget(failures_per_minute, max_addresses)
        self._max_pending = max_pending
        self._pending = 0
        self._passed: dict[bytes, None] = {}
        self._executor: ThreadPoolExecutor | None = None

    @property
    def pending(self) -> int:
        """Checks queued or running."""
        return self._pending

    def fill(self) -> dict[str, float]:
        """How full its caps are: addresses with a failure count, checks pending."""
        return {
            "http_auth_addresses": self._budget.fill(),
            "http_auth_pending": self._pending / self._max_pending,
        }

    async def check(
        self, path: str, address: str, user: str | None, password: str | None
    ) -> Denied | None:
        """None when a request for ``path`` from ``address`` with these credentials may be
        served, else why not."""
        if not self._users or path in OPEN_PATHS:
            return None
        if user is None or password is None:
            return Denied(401)
        remembered = hashlib.sha256(f"{user}\0{password}".encode()).digest()
        if remembered in self._passed:
            return None
        wait = self._budget.take(address)
        if wait > 0:
            return Denied(429, retry_after=math.ceil(wait))
        if self._pending >= self._max_pending:
            self._budget.give_back(address)
            return Denied(503, retry_after=1)
        digest = self._users.get(user, self._dummy)
        matched = await self._checkpw(password.encode()[:_BCRYPT_MAX_PASSWORD], digest)
        if not (matched and user in self._users):
            return Denied(401)
        self._budget.give_back(address)
        if len(self._passed) >= _REMEMBERED:
            self._passed.clear()
        self._passed[remembered] = None
        return None

    def close(self) -> None:
        """Stop the checking thread; checks still queued are dropped."""
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)
            self._executor = None

    async def _checkpw(self, password: bytes, digest: bytes) -> bool:
        loop = asyncio.get_running_loop()
        if self._executor is None:
            self._executor = ThreadPoolExecutor(1, thread_name_prefix="callpulse-bcrypt")
        self._pending += 1
        job = self._executor.submit(bcrypt.checkpw, password, digest)

        def done(_: Future[bool]) -> None:
            # Counted down when the work is over, not when the request goes away: a client
            # that hangs up leaves its check running (or dropped from the queue, if not begun).
            with contextlib.suppress(RuntimeError):  # a closed loop counts nothing any more
                loop.call_soon_threadsafe(self._done)

        job.add_done_callback(done)
        return await asyncio.wrap_future(job)

    def _done(self) -> None:
        self._pending -= 1


__all__ = ["OPEN_PATHS", "Authenticator", "Denied", "bcrypt_cost"]
