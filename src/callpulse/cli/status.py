"""``callpulse status``: the status page in a terminal, for an engineer on a bastion host.

It reaches a callpulse behind TLS and authentication as promtool reaches a Prometheus, with
``--http.config.file`` (:mod:`callpulse.cli.http_config`); ``user:password@`` in ``--url``
is basic auth too. Nothing it prints holds the URL's user, password or query.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table
from yarl import URL

from callpulse.cli.http_config import load_http_config
from callpulse.config.errors import ConfigError
from callpulse.sinks.delivery import DeliveryError
from callpulse.sinks.http_client import Answer, HttpClient, HttpConfig
from callpulse.text import plain

TIMEOUT = 10.0


def _pct(v: float | None) -> str:
    return "-" if v is None else f"{v * 100:.1f}%"


def _secs(v: float | None) -> str:
    if v is None:
        return "-"
    return f"{v:.0f} s" if v < 90 else f"{v / 60:.0f} min"


class _Table(Table):
    def add_row(self, *cells: Any, **options: Any) -> None:
        super().add_row(*(plain(c) if isinstance(c, str) else c for c in cells), **options)


def show(url: str, http_config_file: Path | None = None) -> int:
    """Fetch ``url``/api/v1/status and print it as tables; 2 when it cannot."""
    try:
        base, http = target(url, load_http_config(http_config_file))
    except ConfigError as exc:
        return _fail(str(exc))
    shown = str(base)
    try:
        answer = asyncio.run(_get(f"{shown}/api/v1/status", http))
    except DeliveryError as exc:
        answered = f"answered {exc.status}: " if exc.status is not None else ""
        return _fail(f"cannot read {shown}/api/v1/status: {answered}{exc}")
    if answer.status != 200:
        hint = ""
        if answer.status in (401, 403):
            hint = " (credentials: --http.config.file, or user:password@ in --url)"
        return _fail(f"{shown}/api/v1/status answered {answer.status}{hint}")
    try:
        status: dict[str, Any] = json.loads(answer.body)
    except ValueError:
        return _fail(f"{shown}/api/v1/status did not answer a status document")
    # markup=False: every string comes from events; none of it is rich markup.
    render(status, shown, Console(markup=False, highlight=False))
    return 0


def target(url: str, http: HttpConfig) -> tuple[URL, HttpConfig]:
    """``url`` as it may be shown (no user, password, query or fragment, no trailing slash)
    and the client settings, with the URL's ``user:password@`` as basic auth."""
    try:
        parsed = URL(url)
        usable = parsed.scheme in ("http", "https") and bool(parsed.host)
    except ValueError:
        usable = False
    if not usable:
        # Not quoted: a password mistyped into it would be printed.
        raise ConfigError("--url: expected http://HOST:PORT or https://HOST:PORT, then a path")
    if parsed.user is not None:
        if http.username is not None or http.bearer_token or http.bearer_token_file:
            raise ConfigError(
                "--url holds a user and --http.config.file credentials too: give one of them"
            )
        http = dataclasses.replace(http, username=parsed.user, password=parsed.password)
    shown = parsed.with_user(None).with_query(None).with_fragment(None)
    return shown.with_path(shown.path.rstrip("/")), http


async def _get(url: str, http: HttpConfig) -> Answer:
    client = HttpClient(http)
    try:
        return await client.request("GET", url, TIMEOUT)
    finally:
        await client.close()


def _fail(message: str) -> int:
    print(plain(f"callpulse status: {message}"), file=sys.stderr)
    return 2


def render(status: dict[str, Any], url: str, console: Console) -> None:
    """Print a status document (the ``/api/v1/status`` answer) as tables on ``console``."""
    console.print(plain(f"callpulse at {url} - as of {status.get('now')}"), style="bold")
    source = status.get("source") or {}
    if source.get("simulated"):
        what = "REPLAYED DATA" if source.get("kind") == "replay" else "SIMULATED DATA"
        console.print(plain(f"{what} - {source['simulated']}"), style="bold yellow")
    shown_links = [f"{k}: {v}" for k, v in (status.get("links") or {}).items() if v]
    if shown_links:
        console.print(plain(", ".join(shown_links)))

    alerts = _Table(title="Alerts", title_justify="left")
    for column in ("state", "alert", "severity", "where", "summary"):
        alerts.add_column(column)
    for state in ("firing", "suppressed", "pending"):
        for a in status["alerts"][state]:
            shown = state
            if state == "pending":
                fires = a.get("firesInSeconds")
                shown = "pending" if fires is None else f"pending, fires in {_secs(fires)}"
            if a.get("suppressedBy") and state != "firing":
                shown += f" (suppressed by {a['suppressedBy']})"
            if a.get("silencedBy"):
                shown += " (silenced in Alertmanager)"
            labels = a["labels"]
            where = " / ".join(
                labels[k]
                for k in ("site", "queue", "component", "trunk", "application")
                if k in labels
            )
            alerts.add_row(
                shown,
                labels.get("alertname", ""),
                labels.get("severity", ""),
                where,
                a["annotations"].get("summary", ""),
                style="red" if state == "firing" else None,
            )
    console.print(alerts)
    _silences(status.get("silences"), console)
    _sites(status.get("sites", []), console)

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
            drain(q),
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

    upcoming = _Table(title="Maintenance coming, and its forecast", title_justify="left")
    for column in ("window", "opens in", "site", "queue", "taken", "waiting at end", "keep"):
        upcoming.add_column(column)
    for w in status.get("upcoming", []):
        if not w["forecasts"]:
            opens = _secs(w["starts_in_seconds"])
            why = "not yet" if w.get("forecast_expected") else "no agents_affected"
            upcoming.add_row(w["name"], opens, ", ".join(w["sites"]), "-", "-", why, "-")
        for f in w["forecasts"]:
            keep = f["agents_to_keep"]
            upcoming.add_row(
                w["name"],
                _secs(w["starts_in_seconds"]),
                f["site"],
                f["queue"],
                f"{f['agents_lost']} of {f['agents_serving']}",
                f"{f['peak']:.0f} ({f['peak_low']:.0f}-{f['peak_high']:.0f})",
                "all would not do" if keep is None else str(keep),
                style="yellow" if f["warning"] else None,
            )
    if upcoming.row_count:
        console.print(upcoming)


def _silences(silences: dict[str, Any] | None, console: Console) -> None:
    if silences is None:
        return
    if silences.get("error"):
        console.print(
            plain(f"Silences: cannot read {silences['alertmanager']}: {silences['error']}"),
            style="red",
        )
        return
    table = _Table(title="Silences in Alertmanager", title_justify="left")
    for column in ("state", "matchers", "created by", "comment", "ends", "callpulse's for"):
        table.add_column(column)
    for x in silences["items"]:
        table.add_row(
            x["state"],
            ", ".join(x["matchers"]),
            x["createdBy"],
            x["comment"],
            relative(x["endsAt"], silences["now"]),
            x["window"] or "",
        )
    if table.row_count:
        console.print(table)


def _sites(sites: list[dict[str, Any]], console: Console) -> None:
    table = _Table(title="Sites", title_justify="left")
    for column in ("site", "last event", "data", "consumer lag"):
        table.add_column(column)
    for x in sites:
        age = x.get("last_event_age_seconds")
        table.add_row(
            x["site"],
            "-" if age is None else f"{_secs(age)} ago",
            "stale" if x.get("stale") else "fresh",
            "-" if x.get("lag") is None else str(x["lag"]),
            style="red" if x.get("stale") else None,
        )
    if table.row_count:
        console.print(table)


def relative(iso: str, now: str) -> str:
    """``iso`` as the page shows it against ``now``: "in 25 min", "4 min ago"."""
    try:
        seconds = (datetime.fromisoformat(iso) - datetime.fromisoformat(now)).total_seconds()
    except ValueError:
        return iso
    if abs(seconds) < 1:
        return "now"
    return f"in {_secs(seconds)}" if seconds > 0 else f"{_secs(-seconds)} ago"


def drain(queue: dict[str, Any]) -> str:
    """A queue's drain ETA as the page shows it: "4 min (3 min - 6 min)", "never" or "-"."""
    if not queue["drains"]:
        return "never"
    seconds = queue["drain_eta_seconds"]
    if seconds is None:
        return "-"
    text = _secs(seconds)
    low, high = queue.get("drain_eta_low_seconds"), queue.get("drain_eta_high_seconds")
    if low is not None:
        text += f" ({_secs(low)} - {'never' if high is None else _secs(high)})"
    return text
