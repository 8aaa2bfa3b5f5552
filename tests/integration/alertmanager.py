"""A real Prometheus Alertmanager (Debian's package) on a loopback port, for one test."""

from __future__ import annotations

import base64
import json
import subprocess
import urllib.request
from pathlib import Path
from typing import Any

from .helpers import free_port, wait_until

CONFIG = """
route:
  receiver: nowhere
  group_by: [alertname]
receivers:
  - name: nowhere
"""


class Alertmanager:
    def __init__(
        self, workdir: Path, basic_auth: tuple[str, str] | None = None, config: str = CONFIG
    ) -> None:
        """``basic_auth``: (user, password) it demands, through its exporter-toolkit web config
        file (a bcrypt hash of the password, as operators write it). ``config``: its
        alertmanager.yml (routes and receivers); by default one receiver that goes nowhere."""
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._dir = workdir / f"alertmanager-{self.port}"
        self._dir.mkdir()
        (self._dir / "alertmanager.yml").write_text(config)
        self.process: subprocess.Popen[bytes] | None = None
        self._auth: dict[str, str] = {}
        self._web: list[str] = []
        if basic_auth is not None:
            import bcrypt

            user, password = basic_auth
            digest = bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds=4)).decode()
            (self._dir / "web.yml").write_text(f"basic_auth_users:\n  {user}: '{digest}'\n")
            self._web = [f"--web.config.file={self._dir / 'web.yml'}"]
            token = base64.b64encode(f"{user}:{password}".encode()).decode()
            self._auth = {"Authorization": f"Basic {token}"}

    def get(self, path: str) -> Any:
        """GET ``path`` as the test (with the credentials, if any); the response object."""
        request = urllib.request.Request(f"{self.url}{path}", headers=self._auth)
        return urllib.request.urlopen(request, timeout=5)

    def start(self) -> Alertmanager:
        log = (self._dir / "alertmanager.log").open("ab")
        self.process = subprocess.Popen(
            [
                "prometheus-alertmanager",
                f"--config.file={self._dir / 'alertmanager.yml'}",
                f"--storage.path={self._dir / 'data'}",
                f"--web.listen-address=127.0.0.1:{self.port}",
                "--cluster.listen-address=",
                *self._web,
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        wait_until(self._ready, 30, "Alertmanager to be ready")
        return self

    def _ready(self) -> bool:
        try:
            with self.get("/-/ready") as response:
                return bool(response.status == 200)
        except OSError:
            return False

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=30)

    def alerts(self) -> list[dict[str, Any]]:
        """Alertmanager's own view: GET /api/v2/alerts (active, silenced and inhibited)."""
        with self.get("/api/v2/alerts") as response:
            return list(json.load(response))
