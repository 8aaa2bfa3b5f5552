"""The HTTP endpoints behind TLS and basic auth (the exporter-toolkit web config file), as a
real Prometheus scrapes them with scrape_config's tls_config and basic_auth."""

from __future__ import annotations

import json
import ssl
import subprocess
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
