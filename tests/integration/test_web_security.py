"""The HTTP endpoints behind TLS and basic auth (the exporter-toolkit web config file), as a
real Prometheus scrapes them with scrape_config's tls_config and basic_auth."""

from __future__ import annotations

import json
import socket
import ssl
import subprocess
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from pathlib import Path
from typing import Any

import bcrypt
import pytest

from .helpers import SECRETS, Daemon, start_prometheus, wait_until

pytestmark = pytest.mark.integration


def self_signed(directory: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 and its key, made with openssl for this test."""
    cert, key = directory / "tls.crt", directory / "tls.key"
    subprocess.run(
        [
            "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
            "-subj", "/CN=callpulse-test", "-addext", "subjectAltName=IP:127.0.0.1",
            "-keyout", str(key), "-out", str(cert),
        ],
        check=True,
        capture_output=True,
        timeout=60,
    )  # fmt: skip
    return cert, key


def fetch(url: str, context: ssl.SSLContext, auth: tuple[str, str] | None = None) -> int:
    request = urllib.request.Request(url)
    if auth is not None:
        import base64

        token = base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode()
        request.add_header("Authorization", f"Basic {token}")
    try:
        with urllib.request.urlopen(request, timeout=5, context=context) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)
    except OSError:
        return 0


def test_prometheus_scrapes_over_tls_with_basic_auth_and_the_probes_stay_open(
    tmp_path: Path,
) -> None:
    secret = "scrape-" + uuid.uuid4().hex
    SECRETS.add(secret)
    cert, key = self_signed(tmp_path)
    digest = bcrypt.hashpw(secret.encode(), bcrypt.gensalt(rounds=4)).decode()
    web = tmp_path / "web.yml"
    web.write_text(
        f"tls_server_config: {{cert_file: {cert}, key_file: {key}}}\n"
        f"basic_auth_users: {{prometheus: '{digest}'}}\n"
    )
    password_file = tmp_path / "scrape-password"
    password_file.write_text(secret)
    daemon = Daemon(
        tmp_path, {"source": {"kind": "simulator"}}, args=("run", "--web.config.file", str(web))
    )
    daemon.start()
    trusted = ssl.create_default_context(cafile=str(cert))
    base = f"https://127.0.0.1:{daemon.port}"
    prometheus, api = start_prometheus(
        tmp_path,
        f"""
global: {{scrape_interval: 1s}}
scrape_configs:
  - job_name: callpulse
    scheme: https
    tls_config: {{ca_file: {cert}}}
    basic_auth: {{username: prometheus, password_file: {password_file}}}
    static_configs: [{{targets: ["127.0.0.1:{daemon.port}"]}}]
""",
    )
    try:
        wait_until(lambda: fetch(f"{base}/healthz", trusted) == 200, 30, "callpulse over TLS")

        def scraped() -> list[dict[str, Any]]:
            query = urllib.parse.urlencode({"query": 'up{job="callpulse"} == 1'})
            try:
                with urllib.request.urlopen(f"{api}/api/v1/query?{query}", timeout=5) as r:
                    return list(json.load(r)["data"]["result"])
            except OSError:
                return []

        wait_until(scraped, 60, "Prometheus to scrape callpulse over TLS with basic auth")
        # Without credentials (or with wrong ones) only the probes answer.
        assert fetch(f"{base}/metrics", trusted) == 401
        assert fetch(f"{base}/metrics", trusted, ("prometheus", "wrong")) == 401
        assert fetch(f"{base}/api/v1/status", trusted) == 401
        assert fetch(f"{base}/", trusted) == 401
        assert fetch(f"{base}/healthz", trusted) == 200
        assert fetch(f"{base}/metrics", trusted, ("prometheus", secret)) == 200
        # Plain HTTP is not served at all.
        assert fetch(f"http://127.0.0.1:{daemon.port}/healthz", trusted) != 200
        assert secret not in daemon.log_text()
    finally:
        prometheus.terminate()
        prometheus.wait(timeout=30)
        assert daemon.stop() == 0


def open_fds(daemon: Daemon) -> int:
    assert daemon.process is not None
    return len(list(Path(f"/proc/{daemon.process.pid}/fd").iterdir()))


def closed_by_server(sock: socket.socket, limit: float) -> bool:
    """Whether the server closes ``sock`` (which sends nothing) within ``limit`` seconds."""
    sock.settimeout(limit)
    try:
        return sock.recv(4096) == b""
    except ConnectionResetError:
        return True
    except TimeoutError:
        return False


def web_daemon(tmp_path: Path, web: str, **http: Any) -> Daemon:
    config = tmp_path / "web.yml"
    config.write_text(web)
    daemon = Daemon(
        tmp_path, {"source": {"kind": "simulator"}}, args=("run", "--web.config.file", str(config))
    )
    daemon.config["http"].update(http)
    return daemon.start()


def test_tls_sockets_that_never_handshake_are_held_under_the_cap_and_the_header_timeout(
    tmp_path: Path,
) -> None:
    cert, key = self_signed(tmp_path)
    daemon = web_daemon(
        tmp_path,
        f"tls_server_config: {{cert_file: {cert}, key_file: {key}}}\n",
        header_timeout="2s",
        max_connections=64,
    )
    trusted = ssl.create_default_context(cafile=str(cert))
    base = f"https://127.0.0.1:{daemon.port}"
    silent: list[socket.socket] = []
    try:
        wait_until(lambda: fetch(f"{base}/healthz", trusted) == 200, 30, "callpulse over TLS")
        before = open_fds(daemon)
        started = time.monotonic()
        silent = [socket.create_connection(("127.0.0.1", daemon.port)) for _ in range(300)]
        # A real client still gets its answer, while the daemon holds no more than the cap.
        assert fetch(f"{base}/healthz", trusted) == 200
        assert open_fds(daemon) <= before + 64 + 2
        # Every one of them is closed by the 2 s header timeout (asyncio's own is 60 s).
        assert all(closed_by_server(s, max(0.1, started + 15 - time.monotonic())) for s in silent)
        assert open_fds(daemon) <= before + 2
    finally:
        for sock in silent:
            sock.close()
        assert daemon.stop() == 0


def handshake_and_request_in_one_write(port: int, cafile: Path, request: bytes) -> bytes:
    """A TLS client whose last handshake message and request leave in one segment, so they
    reach the server in one read; the answer it reads until the server closes."""
    context = ssl.create_default_context(cafile=str(cafile))
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    tls = context.wrap_bio(incoming, outgoing, server_hostname="127.0.0.1")
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        while True:
            try:
                tls.do_handshake()
                break
            except ssl.SSLWantReadError:
                sock.sendall(outgoing.read())
                incoming.write(sock.recv(65536))
        tls.write(request)
        sock.sendall(outgoing.read())
        answer = b""
        while chunk := sock.recv(65536):
            incoming.write(chunk)
            try:
                while data := tls.read(65536):
                    answer += data
                break  # the server's TLS goodbye: the answer is complete
            except ssl.SSLWantReadError:
                pass
            except ssl.SSLZeroReturnError:
                break
    return answer


def test_a_request_that_comes_with_the_end_of_the_handshake_is_answered(tmp_path: Path) -> None:
    cert, key = self_signed(tmp_path)
    daemon = web_daemon(tmp_path, f"tls_server_config: {{cert_file: {cert}, key_file: {key}}}\n")
    trusted = ssl.create_default_context(cafile=str(cert))
    try:
        wait_until(
            lambda: fetch(f"https://127.0.0.1:{daemon.port}/healthz", trusted) == 200,
            30,
            "callpulse over TLS",
        )
        answer = handshake_and_request_in_one_write(
            daemon.port, cert, b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
        )
        assert answer.startswith(b"HTTP/1.1 200 OK")
        assert answer.endswith(b"\r\n\r\nok\n")
    finally:
        assert daemon.stop() == 0


def test_password_guessing_gets_429_past_the_budget_while_the_probes_answer(
    tmp_path: Path,
) -> None:
    digest = bcrypt.hashpw(b"right", bcrypt.gensalt(rounds=10)).decode()
    daemon = web_daemon(tmp_path, f"basic_auth_users: {{prometheus: '{digest}'}}\n")
    plain = ssl.create_default_context()  # unused over plain HTTP
    base = f"http://127.0.0.1:{daemon.port}"
    try:
        daemon.wait_ready(30)
        statuses: list[int] = []
        probes: list[tuple[int, float]] = []
        guessing = True

        def guess(client: int) -> None:
            for n in range(3):
                statuses.append(fetch(f"{base}/metrics", plain, ("prometheus", f"{client}-{n}")))

        def probe() -> None:
            while guessing:
                started = time.monotonic()
                probes.append((fetch(f"{base}/healthz", plain), time.monotonic() - started))
                time.sleep(0.05)

        prober = threading.Thread(target=probe)
        prober.start()
        started = time.monotonic()
        guessers = [threading.Thread(target=guess, args=(c,)) for c in range(8)]
        for thread in guessers:
            thread.start()
        for thread in guessers:
            thread.join()
        elapsed = time.monotonic() - started
        guessing = False
        prober.join()
        print(f"/healthz: {len(probes)} probes, slowest {max(t for _, t in probes):.3f} s")
        # http.auth_failures_per_minute is 10: ten, and a token back every 6 s meanwhile.
        assert 10 <= statuses.count(401) <= 10 + int(elapsed / 6)
        assert statuses.count(429) == 24 - statuses.count(401)
        assert {status for status, _ in probes} == {200}
        assert fetch(f"{base}/metrics", plain, ("prometheus", "right")) == 429  # this address
    finally:
        assert daemon.stop() == 0


def client_certificate(directory: Path, name: str) -> tuple[Path, Path, Path]:
    """A CA, and a client certificate and key it signed, made with openssl for this test."""
    ca_cert, ca_key = directory / f"{name}-ca.crt", directory / f"{name}-ca.key"
    cert, key, request = (directory / f"{name}.{x}" for x in ("crt", "key", "csr"))
    for command in (
        [
            "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
            "-subj", f"/CN={name}-ca", "-keyout", str(ca_key), "-out", str(ca_cert),
        ],
        [
            "openssl", "req", "-newkey", "rsa:2048", "-nodes", "-subj", f"/CN={name}",
            "-keyout", str(key), "-out", str(request),
        ],
        [
            "openssl", "x509", "-req", "-in", str(request), "-CA", str(ca_cert),
            "-CAkey", str(ca_key), "-CAcreateserial", "-days", "1", "-out", str(cert),
        ],
    ):  # fmt: skip
        subprocess.run(command, check=True, capture_output=True, timeout=60)
    return ca_cert, cert, key


def test_with_client_ca_file_the_probes_need_no_client_certificate(tmp_path: Path) -> None:
    cert, key = self_signed(tmp_path)
    ca, client_cert, client_key = client_certificate(tmp_path, "prometheus")
    _, stranger_cert, stranger_key = client_certificate(tmp_path, "stranger")
    daemon = web_daemon(
        tmp_path,
        f"tls_server_config: {{cert_file: {cert}, key_file: {key}, client_ca_file: {ca}}}\n",
    )
    # The kubelet's HTTPS probe: no client certificate, and it does not verify the server's.
    kubelet = ssl.create_default_context()
    kubelet.check_hostname = False
    kubelet.verify_mode = ssl.CERT_NONE
    anonymous = ssl.create_default_context(cafile=str(cert))
    prometheus = ssl.create_default_context(cafile=str(cert))
    prometheus.load_cert_chain(str(client_cert), str(client_key))
    stranger = ssl.create_default_context(cafile=str(cert))
    stranger.load_cert_chain(str(stranger_cert), str(stranger_key))
    base = f"https://127.0.0.1:{daemon.port}"
    try:
        wait_until(lambda: fetch(f"{base}/readyz", kubelet) == 200, 30, "/readyz over TLS")
        assert fetch(f"{base}/healthz", kubelet) == 200
        assert fetch(f"{base}/healthz", anonymous) == 200
        # Every other path needs a certificate the CA signed.
        assert fetch(f"{base}/metrics", kubelet) == 403
        assert fetch(f"{base}/api/v1/status", anonymous) == 403
        assert fetch(f"{base}/metrics", prometheus) == 200
        assert fetch(f"{base}/", prometheus) == 200
        # One the CA did not sign ends the handshake, probes included.
        assert fetch(f"{base}/metrics", stranger) == 0
        assert fetch(f"{base}/healthz", stranger) == 0
    finally:
        assert daemon.stop() == 0
