"""``callpulse status``: the status page in a terminal, for an engineer on a bastion host."""

from __future__ import annotations

import json
import sys
import urllib.error
import urllib.request
from typing import Any

from rich.console import Console
from rich.table import Table

from callpulse.text import plain


def _pct(v: float | None) -> str:
    return "-" if v is None else f"{v * 100:.1f}%"


def _secs(v: float | None) -> str:
    if v is None:
        return "-"
    return f"{v:.0f} s" if v < 90 else f"{v / 60:.0f} min"


class _Table(Table):
    def add_row(self, *cells: Any, **options: Any) -> None:
        super().add_row(*(plain(c) if isinstance(c, str) else c for c in cells), **options)


def show(url: str) -> int:
    """Fetch ``url``/api/v1/status and print it as tables."""
    target = url.rstrip("/") + "/api/v1/status"
    try:
        with urllib.request.urlopen(target, timeout=10) as response:
            status: dict[str, Any] = json.load(response)
    except (urllib.error.URLError, OSError, ValueError) as exc:
        print(f"callpulse: cannot read {target}: {exc}", file=sys.stderr)
        return 2
    # markup=False: every string comes from events; none of it is rich markup.
    render(status, url, Console(markup=False, highlight=False))
    return 0


def render(status: dict[str, Any], url: str, console: Console) -> None:
    """Print a status document (the ``/api/v1/status`` answer) as tables on ``console``."""
    console.print(plain(f"callpulse at {url} - as of {status.get('now')}"), style="bold")

    alerts = _Table(title="Alerts", title_justify="left")
    for column in ("state", "alert", "severity", "where", "summary"):
        alerts.add_column(column)
    for state in ("firing", "suppressed", "pending"):
        for a in status["alerts"][state]:
            labels = a["labels"]
            where = " / ".join(
                labels[k]
                for k in ("site", "queue", "component", "trunk", "application")
                if k in labels
            )
            alerts.add_row(
                state,
                labels.get("alertname", ""),
                labels.get("severity", ""),
                where,
                a["annotations"].get("summary", ""),
                style="red" if state == "firing" else None,
            )
    console.print(alerts)

    queues = _Table(title="Queues", title_justify="left")
    for column in (
        "site",
        "queue",
        "waiting",
        "oldest",
        plain(f"SL {status['windows']['short']}"),
        plain(f"abandon {status['windows']['short']}"),
        "avail/on call",
        "drains in",
    ):
        queues.add_column(column, justify="right" if column not in ("site", "queue") else "left")
    for q in status["queues"]:
        queues.add_row(
            q["site"],
            q["queue"],
            str(q["calls_waiting"]),
            _secs(q["oldest_wait_seconds"]),
            _pct(q["service_level"]),
            _pct(q["abandon_ratio"]),
            f"{q['agents']['available']}/{q['agents']['on_call']}",
            _secs(q["drain_eta_seconds"]) if q["drains"] else "never",
        )
    console.print(queues)

    components = _Table(title="Components and maintenance", title_justify="left")
    for column in ("site", "component", "kind", "status"):
        components.add_column(column)
    for c in status["components"]:
        components.add_row(
            c["site"],
            c["component"],
            c["kind"],
            c["status"] + (" (silent)" if c["stale"] else ""),
            style=None if c["status"] == "up" else "red",
        )
    for w in status["maintenance"]:
        components.add_row(
            ", ".join(w["sites"]),
            ", ".join(w["components"]),
            "maintenance",
            f"{w['name']} since {w['start']}",
            style="yellow",
        )
    console.print(components)
