"""``callpulse status`` against a real callpulse behind TLS and basic auth, reached as promtool
reaches a Prometheus: with ``--http.config.file`` (basic_auth, tls_config), or with
``user:password@`` in ``--url``; whatever it prints holds no credential."""

from __future__ import annotations

import os
import ssl
import subprocess
import sys
import uuid
from pathlib import Path

import bcrypt
import pytest

from .helpers import SECRETS, Daemon, wait_until
from .test_web_security import fetch, self_signed

pytestmark = pytest.mark.integration


def status(url: str, http_config: Path | None = None) -> subprocess.CompletedProcess[str]:
    """``callpulse status`` as an engineer runs it, on a wide terminal."""
    args = ["--url", url] + (["--http.config.file", str(http_config)] if http_config else [])
    return subprocess.run(
        [sys.executable, "-m", "callpulse", "status", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env=os.environ | {"COLUMNS": "200"},
    )


def test_status_reads_a_callpulse_behind_tls_and_basic_auth(tmp_path: Path) -> None:
    secret = "status-" + uuid.uuid4().hex
    SECRETS.add(secret)
    cert, key = self_signed(tmp_path)  # its one name is IP:127.0.0.1
    digest = bcrypt.hashpw(secret.encode(), bcrypt.gensalt(rounds=4)).decode()
    web = tmp_path / "web.yml"
    web.write_text(
        f"tls_server_config: {{cert_file: {cert}, key_file: {key}}}\n"
        f"basic_auth_users: {{ops: '{digest}'}}\n"
    )
    (tmp_path / "password").write_text(secret + "\n")

    def client(name: str, text: str) -> Path:
        path = tmp_path / f"{name}.yml"
        path.write_text(text)
        return path

    auth = "basic_auth: {username: ops, password_file: password}\n"
    trusted = client("trusted", auth + f"tls_config: {{ca_file: {cert}}}\n")
    ca_only = client("ca-only", f"tls_config: {{ca_file: {cert}}}\n")
    named = client("named", auth + f"tls_config: {{ca_file: {cert}, server_name: 127.0.0.1}}\n")
    unchecked = client("unchecked", auth + "tls_config: {insecure_skip_verify: true}\n")
    no_ca = client("no-ca", auth)

    daemon = Daemon(
        tmp_path, {"source": {"kind": "simulator"}}, args=("run", "--web.config.file", str(web))
    ).start()
    base = f"https://127.0.0.1:{daemon.port}"
    context = ssl.create_default_context(cafile=str(cert))
    try:
        wait_until(lambda: fetch(f"{base}/healthz", context) == 200, 30, "callpulse over TLS")
        local = f"https://localhost:{daemon.port}"
        with_user = f"https://ops:{secret}@127.0.0.1:{daemon.port}/"
        runs = {
            "the file's basic_auth and CA": (status(base, trusted), base),
            "user:password@ in --url": (status(with_user, ca_only), base),
            "server_name, for a host the certificate does not name": (status(local, named), local),
            "insecure_skip_verify": (status(base, unchecked), base),
        }
        for how, (run, shown) in runs.items():
            assert run.returncode == 0, f"{how}: {run.stderr}"
            assert f"callpulse at {shown} - as of" in run.stdout, how
            assert "Queues" in run.stdout, how

        refused = {
            "no credentials": (status(base, ca_only), "answered 401"),
            "a wrong password": (
                status(f"https://ops:not-{secret}@127.0.0.1:{daemon.port}", ca_only),
                "answered 401",
            ),
            "an untrusted certificate": (status(base, no_ca), "CERTIFICATE_VERIFY_FAILED"),
            "a host the certificate does not name": (
                status(local, trusted),
                "CERTIFICATE_VERIFY_FAILED",
            ),
        }
        for how, (run, reason) in refused.items():
            assert run.returncode == 2, how
            assert reason in run.stderr, f"{how}: {run.stderr}"
        for run in [*(run for run, _ in runs.values()), *(run for run, _ in refused.values())]:
            assert secret not in run.stdout + run.stderr
    finally:
        assert daemon.stop() == 0
