"""Rendering /metrics (and the status API's document) in a forked child, so that a scrape
never holds up ingest.

Rendering the exposition is pure Python over every series: tens of milliseconds at a few
thousand series, over a second at tens of thousands. On the event loop that is time no
record is applied; in a thread it is the same time, since the renderer holds the GIL.

``fork()`` gives a copy-on-write snapshot of the whole process in about a millisecond per
hundred MiB of it (the page tables are copied, not the pages). It is taken on the event loop
between two batches (``Ingest.process`` is synchronous), so the child sees the monitor
exactly as after one batch and before the next: never half a batch. The child renders on the
other core, writes the bytes to a pipe and exits without running any cleanup; the parent
reads the pipe without blocking and goes on consuming meanwhile. This is how Redis writes
its snapshots.

What the child must not do: touch the event loop, the sockets or the locks it inherited (it
only reads Python objects and writes its own pipe), or answer a signal meant for the parent
(Ctrl-C reaches the whole process group): signals are blocked around the fork and the child
takes the default action. The ``process_*`` families describe the parent, so they are
collected in the parent just before the fork.

Where fork is not available or the child fails, the scrape is rendered on the event loop as
before: slower for ingest, never missing. A child that does not answer within the timeout is
killed and the scrape answered 503: rendering on the loop would stall ingest for longer. So
is a scrape whose child something else killed (the kernel, out of memory: the child asks to
go first): rendering it in the daemon would take the same memory, from the daemon.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import gc
import os
import signal
import time
from collections.abc import Callable, Iterable
from typing import NoReturn

import structlog
from prometheus_client import CollectorRegistry

from callpulse.web.exposition import FrozenInParent

log = structlog.get_logger(__name__)

_SIGNALS = {signal.SIGINT, signal.SIGTERM, signal.SIGHUP}
_CHUNK = 1 << 20


class ForkedRenderer:
    """Renders a registry, or other work on the state, in a forked child; one child at a
    time, concurrent renders queue."""

    def __init__(
        self,
        registry: CollectorRegistry,
        timeout: float = 10.0,
        enabled: bool = True,
    ) -> None:
        self._registry = registry
        self._timeout = timeout
        self._enabled = enabled and hasattr(os, "fork")
        self._lock = asyncio.Lock()
        self.forked = 0  # renders a child made
        self.inline = 0  # renders made on the event loop (fork off, failed or too slow)
        self.fork_seconds = 0.0  # the longest time a fork held the event loop
        self.timeouts = 0  # renders given up on
        self.killed = 0  # children killed from outside (out of memory)

    async def render(self, write: Callable[[CollectorRegistry], Iterable[bytes]]) -> bytes:
        """The parts of ``write(registry)``, computed in a child of this moment's process
        (see :meth:`in_child`)."""
        registry = self._registry
        return await self.in_child(lambda: write(registry), "/metrics")

    async def in_child(self, work: Callable[[], Iterable[bytes]], what: str) -> bytes:
        """The parts of ``work()``, the rendering of ``what`` (a path, for the messages),
        computed in a child of this moment's process, which sends each as it comes: the
        body's bytes are never whole in the child, only here.

        Raises :class:`RenderTimeoutError` when the child takes longer than the timeout:
        rendering the same on the event loop would then stall ingest for longer still, and
        Prometheus has given up on the scrape by then (its default scrape_timeout is 10 s);
        :class:`RenderKilledError` when something else killed it.
        """
        async with self._lock:
            if self._enabled:
                try:
                    body = await self._forked(work, what)
                except (OSError, RenderError) as exc:
                    log.warning("render_fork_failed", path=what, error=str(exc))
                else:
                    self.forked += 1
                    return body
            self.inline += 1
            return b"".join(work())

    async def _forked(self, work: Callable[[], Iterable[bytes]], what: str) -> bytes:
        read_end, write_end = os.pipe()
        _widen(write_end)
        began = time.perf_counter()
        FrozenInParent.freeze_all()
        old_mask = signal.pthread_sigmask(signal.SIG_BLOCK, _SIGNALS)
        try:
            pid = os.fork()
        except OSError:
            FrozenInParent.thaw_all()
            signal.pthread_sigmask(signal.SIG_SETMASK, old_mask)
            os.close(read_end)
            os.close(write_end)
            raise
        if pid == 0:  # the child: render, write, leave without cleanup
            _child(work, read_end, write_end)
        FrozenInParent.thaw_all()
        signal.pthread_sigmask(signal.SIG_SETMASK, old_mask)
        self.fork_seconds = max(self.fork_seconds, time.perf_counter() - began)
        os.close(write_end)
        try:
            body = await asyncio.wait_for(_read_all(read_end), self._timeout)
        except BaseException as exc:  # too slow, or the scrape itself was cancelled
            os.kill(pid, signal.SIGKILL)
            if isinstance(exc, TimeoutError):
                self.timeouts += 1
                raise RenderTimeoutError(
                    f"rendering {what} took longer than {self._timeout:g} s"
                ) from None
            raise
        finally:
            os.close(read_end)
            status = await _reap(pid)
        code = os.waitstatus_to_exitcode(status)
        if code == -signal.SIGKILL:
            self.killed += 1
            log.warning("render_killed", path=what, pid=pid)
            raise RenderKilledError(f"the {what} render was killed (out of memory?)")
        if code != 0:
            raise RenderError(f"the render exited with {code}")
        return body


class RenderError(RuntimeError):
    """The forked render gave no exposition (it failed or was killed): render on the loop."""


class RenderGivenUpError(Exception):
    """The forked render gave no exposition, and rendering it on the event loop would be
    worse: the scrape is answered 503."""


class RenderTimeoutError(RenderGivenUpError):
    """The forked render took longer than its timeout and was killed."""


class RenderKilledError(RenderGivenUpError):
    """The forked render was killed from outside (SIGKILL: the kernel, short of memory)."""


def _child(work: Callable[[], Iterable[bytes]], read_end: int, write_end: int) -> NoReturn:
    code = 1
    try:
        # A collection would touch every object's header and copy most pages of the
        # parent for nothing: the child lives for one render.
        gc.disable()
        _first_to_go()
        signal.set_wakeup_fd(-1)  # the parent's loop listens on it: not ours to write
        for sig in _SIGNALS:
            signal.signal(sig, signal.SIG_DFL)
        signal.pthread_sigmask(signal.SIG_UNBLOCK, _SIGNALS)
        os.close(read_end)
        for part in work():
            body = memoryview(part)
            while body:
                body = body[os.write(write_end, body[:_CHUNK]) :]
        code = 0
    finally:
        os._exit(code)


def _widen(fd: int) -> None:
    """Make the pipe hold up to :data:`_CHUNK` (Linux's default is 64 KiB): the child
    writes the body as it renders it, and waits whenever the pipe is full until the
    daemon's loop, busy with a batch, gets to read it. Where the system allows less, or
    has no such call, the pipe stays as it is."""
    with contextlib.suppress(AttributeError, OSError):
        fcntl.fcntl(fd, fcntl.F_SETPIPE_SZ, _CHUNK)


def _first_to_go() -> None:
    """Ask the kernel to kill this process first when memory runs out: a render child holds
    its own copy of what it writes (1.5 GB at 50k queues), and in a pod's memory limit the
    choice is between one scrape and the daemon's state. Raising one's own oom_score_adj
    needs no privilege; where there is no /proc, nothing is done."""
    try:
        with open("/proc/self/oom_score_adj", "w") as adj:
            adj.write("1000")
    except OSError:
        pass


async def _reap(pid: int) -> int:
    """Wait for the child's exit status without a thread (threads and fork do not mix):
    the child has closed its pipe or been killed, so it is already exiting."""
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)  # noqa: ASYNC222 (never blocks)
        if done:
            return status
        await asyncio.sleep(0.001)


async def _read_all(fd: int) -> bytes:
    loop = asyncio.get_running_loop()
    os.set_blocking(fd, False)
    done: asyncio.Future[bytes] = loop.create_future()
    chunks: list[bytes] = []

    def readable() -> None:
        try:
            chunk = os.read(fd, _CHUNK)
        except BlockingIOError:
            return
        except OSError as exc:
            loop.remove_reader(fd)
            if not done.done():
                done.set_exception(exc)
            return
        if chunk:
            chunks.append(chunk)
            return
        loop.remove_reader(fd)
        if not done.done():
            done.set_result(b"".join(chunks))

    loop.add_reader(fd, readable)
    try:
        return await done
    finally:
        loop.remove_reader(fd)
