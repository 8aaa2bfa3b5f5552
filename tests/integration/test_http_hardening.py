"""One hostile client against the real daemon's HTTP port, with the default limits: slow and
idle connections are closed on time, a full connection table still answers the probe, a
request body is refused unread, and memory stays flat."""

from __future__ import annotations

import socket
import time
from pathlib import Path

import pytest

from .helpers import Daemon

pytestmark = pytest.mark.integration


def rss_mib(daemon: Daemon) -> float:
    assert daemon.process is not None
    status = Path(f"/proc/{daemon.process.pid}/status").read_text()
    [line] = [x for x in status.splitlines() if x.startswith("VmRSS:")]
    return int(line.split()[1]) / 1024


def seconds_until_closed(sock: socket.socket, limit: float) -> float:
    started = time.monotonic()
    sock.settimeout(limit)
    while sock.recv(4096):
        pass
    return time.monotonic() - started


def test_slow_idle_and_greedy_clients_cannot_hold_the_daemon(tmp_path: Path) -> None:
    daemon = Daemon(tmp_path, {"source": {"kind": "simulator"}})
    daemon.config["http"]["max_connections"] = 50  # beside the host and port the helper sets
    daemon.start()
    try:
        daemon.wait_ready(30)
        before = rss_mib(daemon)
        port = daemon.port

        # A half-sent header (the default header_timeout is 10 s).
        slow = socket.create_connection(("127.0.0.1", port))
        slow.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\nX-Slow: ")
        # An idle keep-alive connection after one request (keepalive_timeout 15 s).
        idle = socket.create_connection(("127.0.0.1", port))
        idle.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        assert b"200 OK" in idle.recv(4096)
        idle_since = time.monotonic()
        took = seconds_until_closed(slow, 20)
        assert 9 < took < 12
        seconds_until_closed(idle, 20)
        assert 14 < time.monotonic() - idle_since < 17

        # Fill the connection table with idle clients: a new one still gets /healthz at once.
        crowd = []
        for _ in range(50):
            c = socket.create_connection(("127.0.0.1", port))
            c.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            c.recv(4096)
            crowd.append(c)
        started = time.monotonic()
        probe = socket.create_connection(("127.0.0.1", port))
        probe.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        assert b"200 OK" in probe.recv(4096)
        assert time.monotonic() - started < 1.0
        probe.close()

        # A 96 MiB body is refused without being read.
        greedy = socket.create_connection(("127.0.0.1", port))
        greedy.sendall(
            b"GET /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 100663296\r\n\r\n" + b"a" * 65536
        )
        assert greedy.recv(4096).startswith(b"HTTP/1.1 413")
        greedy.close()
        for c in crowd:
            c.close()
        after = rss_mib(daemon)
        print(f"RSS {before:.1f} MiB before, {after:.1f} MiB after the hostile clients")
        assert after - before < 15
    finally:
        assert daemon.stop() == 0


def probe(port: int) -> bytes:
    """The status line /healthz gets on a new connection, or b"" when it gets none."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
            sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            return sock.recv(4096).split(b"\r\n")[0]
    except OSError:
        return b""


def test_silent_sockets_filling_the_cap_cannot_keep_the_probes_out(tmp_path: Path) -> None:
    """256 connections that send nothing (the default cap), re-opened as they are closed: every
    probe still gets its answer."""
    daemon = Daemon(tmp_path, {"source": {"kind": "simulator"}}).start()
    silent: list[socket.socket] = []
    try:
        daemon.wait_ready(30)
        silent = [socket.create_connection(("127.0.0.1", daemon.port)) for _ in range(256)]
        time.sleep(0.5)  # all accepted: the table is full of connections that never speak
        answers = []
        for _ in range(20):
            answers.append(probe(daemon.port))
            silent.append(socket.create_connection(("127.0.0.1", daemon.port)))
        assert answers == [b"HTTP/1.1 200 OK"] * 20
        daemon.assert_running()
    finally:
        for sock in silent:
            sock.close()
        assert daemon.stop() == 0
