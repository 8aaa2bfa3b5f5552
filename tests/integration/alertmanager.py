"""A real Prometheus Alertmanager (Debian's package) on a loopback port, for one test."""

from __future__ import annotations

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
    def __init__(self, workdir: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._dir = workdir / f"alertmanager-{self.port}"
        self._dir.mkdir()
        (self._dir / "alertmanager.yml").write_text(CONFIG)
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> Alertmanager:
        log = (self._dir / "alertmanager.log").open("ab")
        self.process = subprocess.Popen(
            [
                "prometheus-alertmanager",
                f"--config.file={self._dir / 'alertmanager.yml'}",
                f"--storage.path={self._dir / 'data'}",
                f"--web.listen-address=127.0.0.1:{self.port}",
                "--cluster.listen-address=",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        wait_until(self._ready, 30, "Alertmanager to be ready")
        return self

    def _ready(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.url}/-/ready", timeout=2) as response:
                return bool(response.status == 200)
        except OSError:
            return False

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=30)

    def alerts(self) -> list[dict[str, Any]]:
        """Alertmanager's own view: GET /api/v2/alerts (active, silenced and inhibited)."""
        with urllib.request.urlopen(f"{self.url}/api/v2/alerts", timeout=5) as response:
            return list(json.load(response))
