"""The HTTP port under a hostile client, measured from outside a running daemon.

    .venv/bin/python -m benchmarks.http_abuse [--callpulse PATH] [--only silent tls guess users]
                                              [--costs 10 12] [--seconds 30]

Each scenario starts ``callpulse run`` (its embedded simulator, default settings, a web config
file where the scenario needs one) on a free loopback port, attacks it, prints one JSON line
and stops it. Only the command line, sockets and /proc are used, so the same script measures
any commit's daemon: ``--callpulse`` names another checkout's ``.venv/bin/callpulse``.

- ``silent``: 256 connections (the default ``http.max_connections``) that send nothing,
  opened over 10 s (the default ``http.header_timeout``) and each re-opened as soon as the
  daemon closes it: about 25 a second, for good. After 11 s of that, 40 probes, one every
  0.5 s, each a new connection asking ``/healthz`` with the kubelet's 1 s timeout. Reports how
  many failed.
- ``tls``: TLS on (an openssl self-signed certificate), 1,000 TCP connections that never start
  the handshake. Reports the daemon's open file descriptors before, just after, and one second
  past ``http.header_timeout`` (10 s); and whether a TLS ``/healthz`` is answered meanwhile.
- ``guess``: basic auth with one user hashed at each ``--costs``; for ``--seconds``, 8 clients
  (a process of their own, each from its own loopback address, 127.0.0.20-27) send wrong
  passwords for that user as fast as they are answered, while this process asks ``/healthz``
  every 0.2 s. Reports the probes' median and longest time, how many took over 1 s, and what
  the guesses were answered.
- ``users``: the same daemon, one wrong password at a time for the user and for a name that
  does not exist, 20 of each in turn, each from a fresh loopback address (so no failure
  budget is spent twice). Reports the median answer time of each.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import multiprocessing
import os
import socket
import ssl
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import bcrypt

HOST = "127.0.0.1"
MAX_CONNECTIONS = 256  # the default http.max_connections
HEADER_TIMEOUT = 10.0  # the default http.header_timeout
PROBE_TIMEOUT = 1.0  # the kubelet's default timeoutSeconds


def _free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def _command(given: str | None) -> list[str]:
    if given:
        return [given]
    script = Path(sys.executable).with_name("callpulse")
    return [str(script)] if script.exists() else [sys.executable, "-m", "callpulse"]


class Daemon:
    """``callpulse run`` on a free loopback port, its log in ``workdir``."""

    def __init__(self, command: list[str], workdir: Path, web_config: str | None) -> None:
        self.port = _free_port()
        self.workdir = workdir
        args = [*command, "run"]
        if web_config is not None:
            path = workdir / "web.yml"
            path.write_text(web_config)
            args += ["--web.config.file", str(path)]
        env = {k: v for k, v in os.environ.items() if not k.startswith("CALLPULSE_")}
        env |= {
            "CALLPULSE_HTTP__HOST": HOST,
            "CALLPULSE_HTTP__PORT": str(self.port),
            "CALLPULSE_LOG__FORMAT": "json",
        }
        self.tls = web_config is not None and "tls_server_config" in web_config
        with (workdir / "callpulse.log").open("ab") as log:
            self.process = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, env=env)

    def open_fds(self) -> int:
        return len(os.listdir(f"/proc/{self.process.pid}/fd"))

    def wait_up(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"callpulse exited with {self.process.returncode}")
            if healthz(self.port, self.tls, 5.0)[0] == 200:
                return
            time.sleep(0.2)
        raise RuntimeError("callpulse did not answer /healthz")

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


@contextmanager
def daemon(args: argparse.Namespace, web_config: str | None = None) -> Iterator[Daemon]:
    with tempfile.TemporaryDirectory(prefix="http-abuse-") as workdir:
        d = Daemon(_command(args.callpulse), Path(workdir), web_config)
        try:
            d.wait_up()
            yield d
        finally:
            d.stop()


def _client_tls() -> ssl.SSLContext:
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE  # as the kubelet probes
    return context


def _status(answer: bytes) -> int:
    try:
        return int(answer.split(b" ", 2)[1])
    except (IndexError, ValueError):
        return 0


def healthz(port: int, tls: bool, timeout: float) -> tuple[int, float]:
    """``/healthz`` on a new connection: its status (0: none in time) and how long it took."""
    started = time.monotonic()
    try:
        with socket.create_connection((HOST, port), timeout=timeout) as raw:
            sock = _client_tls().wrap_socket(raw) if tls else raw
            sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            status = _status(sock.recv(4096))
    except OSError:
        status = 0
    return status, time.monotonic() - started


def request(port: int, source: str, user: str, password: str, timeout: float = 30) -> int:
    """``/metrics`` with basic auth, from the loopback address ``source``: the status."""
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    try:
        with socket.create_connection(
            (HOST, port), timeout=timeout, source_address=(source, 0)
        ) as s:
            s.sendall(
                f"GET /metrics HTTP/1.1\r\nHost: x\r\nAuthorization: Basic {token}\r\n"
                "Connection: close\r\n\r\n".encode()
            )
            return _status(s.recv(4096))
    except OSError:
        return 0


# -- silent: sockets that never speak, re-opened as they are closed -----------------------


async def _silent_attack(port: int, stop: asyncio.Event) -> int:
    """Hold MAX_CONNECTIONS silent connections, opened one after another over a header timeout
    (so about 25 a second), each re-opened as soon as the daemon closes it. Returns how many
    were re-opened."""
    reopened = 0

    async def hold(delay: float) -> None:
        nonlocal reopened
        await asyncio.sleep(delay)
        while not stop.is_set():
            try:
                reader, writer = await asyncio.open_connection(HOST, port)
            except OSError:
                await asyncio.sleep(0.01)
                continue
            closed = asyncio.create_task(reader.read())
            stopping = asyncio.create_task(stop.wait())
            await asyncio.wait({closed, stopping}, return_when=asyncio.FIRST_COMPLETED)
            closed.cancel()
            stopping.cancel()
            writer.close()
            reopened += 1

    spacing = HEADER_TIMEOUT / MAX_CONNECTIONS
    await asyncio.gather(*(hold(n * spacing) for n in range(MAX_CONNECTIONS)))
    return reopened - MAX_CONNECTIONS  # the last round was closed by the attacker itself


async def _silent(port: int) -> dict[str, Any]:
    stop = asyncio.Event()
    attack = asyncio.create_task(_silent_attack(port, stop))
    await asyncio.sleep(HEADER_TIMEOUT + 1)  # all open, the first already closed and re-opened
    results = []
    for _ in range(40):
        results.append(await asyncio.to_thread(healthz, port, False, PROBE_TIMEOUT))
        await asyncio.sleep(0.5)
    stop.set()
    reopened = await attack
    failed = sum(1 for status, _ in results if status != 200)
    return {"scenario": "silent", "probes": 40, "failed": failed, "reopened": reopened}


def silent(args: argparse.Namespace) -> dict[str, Any]:
    with daemon(args) as d:
        return asyncio.run(_silent(d.port))


# -- tls: TCP connections that never start the handshake ----------------------------------


def _certificate(directory: Path) -> tuple[Path, Path]:
    cert, key = directory / "tls.crt", directory / "tls.key"
    subprocess.run(
        [
            "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
            "-subj", "/CN=http-abuse", "-keyout", str(key), "-out", str(cert),
        ],
        check=True,
        capture_output=True,
    )  # fmt: skip
    return cert, key


def tls(args: argparse.Namespace) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="http-abuse-cert-") as certs:
        cert, key = _certificate(Path(certs))
        web = f"tls_server_config: {{cert_file: {cert}, key_file: {key}}}\n"
        with daemon(args, web) as d:
            before = d.open_fds()
            sockets = [socket.create_connection((HOST, d.port)) for _ in range(1000)]
            started = time.monotonic()
            time.sleep(0.5)
            just_after = d.open_fds()
            probe, probe_seconds = healthz(d.port, True, PROBE_TIMEOUT)
            time.sleep(max(0.0, started + HEADER_TIMEOUT + 1 - time.monotonic()))
            past_timeout = d.open_fds()
            for s in sockets:
                s.close()
    return {
        "scenario": "tls",
        "silent_sockets": 1000,
        "fds_before": before,
        "fds_after_0_5s": just_after,
        "fds_after_header_timeout": past_timeout,
        "healthz_meanwhile": probe,
        "healthz_seconds": round(probe_seconds, 3),
    }


# -- guess: eight clients guessing one user's password --------------------------------------


def _web_users(cost: int) -> str:
    digest = bcrypt.hashpw(b"the-right-one", bcrypt.gensalt(rounds=cost)).decode()
    return f"basic_auth_users: {{prometheus: '{digest}'}}\n"


def _guess_process(port: int, seconds: float, out: multiprocessing.Queue[dict[int, int]]) -> None:
    """Eight guessing clients, a thread each, answering what they were answered."""
    statuses: Counter[int] = Counter()
    deadline = time.monotonic() + seconds

    def guesser(n: int) -> None:
        source, tries = f"127.0.0.{20 + n}", 0
        while time.monotonic() < deadline:
            tries += 1
            statuses[request(port, source, "prometheus", f"{n}-{tries}")] += 1

    threads = [threading.Thread(target=guesser, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    out.put(dict(statuses))


def guess(args: argparse.Namespace, cost: int) -> dict[str, Any]:
    with daemon(args, _web_users(cost)) as d:
        out: multiprocessing.Queue[dict[int, int]] = multiprocessing.Queue()
        guessers = multiprocessing.Process(target=_guess_process, args=(d.port, args.seconds, out))
        guessers.start()
        times = []
        deadline = time.monotonic() + args.seconds
        while time.monotonic() < deadline:
            status, took = healthz(d.port, False, 30.0)
            times.append(took if status == 200 else float("inf"))
            time.sleep(0.2)
        statuses = out.get()
        guessers.join()
    return {
        "scenario": "guess",
        "cost": cost,
        "probes": len(times),
        "healthz_median_ms": round(statistics.median(times) * 1000, 1),
        "healthz_max_ms": round(max(times) * 1000, 1),
        "healthz_over_1s": sum(1 for t in times if t > PROBE_TIMEOUT),
        "guesses": {str(k): v for k, v in sorted(statuses.items())},
    }


# -- users: does the answer's time tell which names exist? ---------------------------------


def users(args: argparse.Namespace, cost: int) -> dict[str, Any]:
    times: dict[str, list[float]] = {"known": [], "unknown": []}
    with daemon(args, _web_users(cost)) as d:
        for n in range(20):
            pairs = (("known", "prometheus"), ("unknown", f"nobody{n}"))
            for kind, user in pairs if n % 2 else reversed(pairs):  # neither always first
                source = f"127.0.{1 if kind == 'known' else 2}.{10 + n}"
                started = time.monotonic()
                status = request(d.port, source, user, f"wrong-{n}")
                assert status == 401, f"{kind} user answered {status}"
                times[kind].append(time.monotonic() - started)
    return {
        "scenario": "users",
        "cost": cost,
        "known_user_median_ms": round(statistics.median(times["known"]) * 1000, 1),
        "unknown_user_median_ms": round(statistics.median(times["unknown"]) * 1000, 1),
    }


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--callpulse", help="the callpulse command to measure (default: this venv's)")
    p.add_argument("--only", nargs="+", choices=("silent", "tls", "guess", "users"), default=None)
    p.add_argument("--costs", nargs="+", type=int, default=[10, 12])
    p.add_argument("--seconds", type=float, default=30.0, help="how long the guessing lasts")
    args = p.parse_args()
    chosen = args.only or ["silent", "tls", "guess", "users"]
    if "silent" in chosen:
        print(json.dumps(silent(args)), flush=True)
    if "tls" in chosen:
        print(json.dumps(tls(args)), flush=True)
    for cost in args.costs:
        if "guess" in chosen:
            print(json.dumps(guess(args, cost)), flush=True)
        if "users" in chosen:
            print(json.dumps(users(args, cost)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
