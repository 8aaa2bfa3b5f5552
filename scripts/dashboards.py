"""Generate the Grafana dashboards shipped in helm/callpulse/dashboards/ (run to refresh them).

    .venv/bin/python scripts/dashboards.py

A test regenerates them and fails if the committed files differ, and checks every metric a
panel queries against a live /metrics scrape.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

OUT = Path(__file__).resolve().parents[1] / "helm" / "callpulse" / "dashboards"
DS = {"type": "prometheus", "uid": "${datasource}"}


def panel(
    title: str,
    exprs: list[tuple[str, str]],
    unit: str,
    x: int,
    y: int,
    w: int = 12,
    h: int = 8,
    kind: str = "timeseries",
    max_value: float | None = None,
) -> dict[str, Any]:
    defaults: dict[str, Any] = {"unit": unit}
    if max_value is not None:
        defaults["max"] = max_value
    return {
        "type": kind,
        "title": title,
        "datasource": DS,
        "gridPos": {"x": x, "y": y, "w": w, "h": h},
        "fieldConfig": {"defaults": defaults, "overrides": []},
        "targets": [
            {"refId": chr(65 + i), "datasource": DS, "expr": expr, "legendFormat": legend}
            for i, (expr, legend) in enumerate(exprs)
        ],
    }


def variable(name: str, label: str, query: str) -> dict[str, Any]:
    """A query variable, all values by default, several selectable."""
    return {
        "name": name,
        "type": "query",
        "datasource": DS,
        "label": label,
        "query": query,
        "refresh": 2,
        "includeAll": True,
        "allValue": ".*",  # All matches series without the label too (an alert with no site)
        "multi": True,
        "current": {"text": "All", "value": "$__all"},
    }


# Every query is narrowed to the chosen Prometheus job and instances (two callpulse
# deployments, or replicas, in one Prometheus), and where it has sites, to the chosen sites.
J = 'job=~"$job", instance=~"$instance"'
S = f'{J}, site=~"$site"'


def dashboard(
    uid: str,
    title: str,
    panels: list[dict[str, Any]],
    annotations: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    for i, p in enumerate(panels, start=1):
        p["id"] = i
    return {
        "uid": uid,
        "title": title,
        "tags": ["callpulse"],
        "timezone": "browser",
        "schemaVersion": 39,
        "version": 1,
        "refresh": "30s",
        "time": {"from": "now-6h", "to": "now"},
        "templating": {
            "list": [
                {
                    "name": "datasource",
                    "type": "datasource",
                    "query": "prometheus",
                    "label": "Data source",
                },
                variable("job", "Job", "label_values(callpulse_build_info, job)"),
                variable(
                    "instance",
                    "Instance",
                    'label_values(callpulse_build_info{job=~"$job"}, instance)',
                ),
                variable(
                    "site",
                    "Site",
                    f"label_values(callpulse_site_last_event_timestamp_seconds{{{J}}}, site)",
                ),
            ]
        },
        "annotations": {"list": annotations or []},
        "panels": panels,
    }


maintenance_annotation = {
    "name": "Maintenance",
    "datasource": DS,
    "enable": True,
    "iconColor": "orange",
    "expr": f"callpulse_maintenance_active{{{S}}} == 1",
    "titleFormat": "{{maintenance}}",
    "textFormat": "maintenance at {{site}}",
    "step": "60s",
}

overview = dashboard(
    "callpulse-overview",
    "callpulse / Contact center overview",
    [
        panel(
            "Service level (5m)",
            [(f'callpulse_queue_service_level_ratio{{{S}, window="5m"}}', "{{site}} {{queue}}")],
            "percentunit",
            0,
            0,
            max_value=1,
        ),
        panel(
            "Calls waiting",
            [(f"callpulse_queue_calls_waiting{{{S}}}", "{{site}} {{queue}}")],
            "short",
            12,
            0,
        ),
        panel(
            "Oldest wait",
            [(f"callpulse_queue_oldest_wait_seconds{{{S}}}", "{{site}} {{queue}}")],
            "s",
            0,
            8,
        ),
        panel(
            "Abandon rate (15m)",
            [(f'callpulse_queue_abandon_ratio{{{S}, window="15m"}}', "{{site}} {{queue}}")],
            "percentunit",
            12,
            8,
            max_value=1,
        ),
        panel(
            "Agents by state",
            [(f"sum by (site, state) (callpulse_queue_agents{{{S}}})", "{{site}} {{state}}")],
            "short",
            0,
            16,
        ),
        panel(
            "Backlog drain ETA and Erlang C outlook",
            [
                (f"callpulse_queue_drain_eta_seconds{{{S}}}", "{{site}} {{queue}} drain"),
                (f"callpulse_queue_agents_required{{{S}}}", "{{site}} {{queue}} agents required"),
            ],
            "s",
            12,
            16,
        ),
        panel(
            "Maintenance: backlog, baseline and forecast",
            [
                (f"callpulse_maintenance_backlog_calls{{{S}}}", "{{site}} {{queue}} backlog"),
                (f"callpulse_maintenance_baseline_calls{{{S}}}", "{{site}} {{queue}} baseline"),
                (
                    f"callpulse_maintenance_forecast_peak_calls{{{S}}}",
                    "{{site}} {{queue}} forecast at the end of {{maintenance}}",
                ),
            ],
            "short",
            0,
            24,
        ),
        panel(
            "Maintenance: drain ETA and forecast drain",
            [
                # The one drain ETA (docs/metrics.md), where a window's backlog is assessed:
                # the queues with a range are those.
                (
                    f"callpulse_queue_drain_eta_seconds{{{S}}}"
                    " and on (site, queue) callpulse_queue_drain_eta_low_seconds",
                    "{{site}} {{queue}} drains in",
                ),
                (f"callpulse_queue_drain_eta_low_seconds{{{S}}}", "{{site}} {{queue}} P10"),
                (f"callpulse_queue_drain_eta_high_seconds{{{S}}}", "{{site}} {{queue}} P90"),
                (
                    f"callpulse_maintenance_forecast_drain_seconds{{{S}}}",
                    "{{site}} {{queue}} forecast drain after {{maintenance}}",
                ),
            ],
            "s",
            12,
            24,
        ),
        panel(
            "Alerts firing",
            [
                # Those that notify: an alert a window suppresses is listed apart, as the
                # status page and Alertmanager have it (docs/metrics.md).
                (
                    "sum by (alertname, severity) "
                    f'(callpulse_alerts{{alertstate="firing", suppressed_by="", {S}}})',
                    "{{alertname}} ({{severity}})",
                ),
                (
                    "sum by (alertname, suppressed_by) "
                    f'(callpulse_alerts{{alertstate="firing", suppressed_by!="", {S}}})',
                    "{{alertname}} suppressed by {{suppressed_by}}",
                ),
            ],
            "short",
            0,
            32,
            w=24,
            kind="table",
        ),
    ],
    annotations=[maintenance_annotation],
)

infrastructure = dashboard(
    "callpulse-infrastructure",
    "callpulse / Voice infrastructure",
    [
        panel(
            "Trunk utilization",
            [(f"callpulse_trunk_utilization_ratio{{{S}}}", "{{site}} {{trunk}}")],
            "percentunit",
            0,
            0,
            max_value=1,
        ),
        panel("Trunk up", [(f"callpulse_trunk_up{{{S}}}", "{{site}} {{trunk}}")], "short", 12, 0),
        panel(
            "ASR / NER (15m)",
            [
                (f'callpulse_trunk_asr_ratio{{{S}, window="15m"}}', "{{site}} {{trunk}} ASR"),
                (f'callpulse_trunk_ner_ratio{{{S}, window="15m"}}', "{{site}} {{trunk}} NER"),
            ],
            "percentunit",
            0,
            8,
            max_value=1,
        ),
        panel(
            "Post-dial delay p95 (5m)",
            [
                (
                    f'callpulse_trunk_post_dial_delay_p95_seconds{{{S}, window="5m"}}',
                    "{{site}} {{trunk}}",
                )
            ],
            "s",
            12,
            8,
        ),
        panel(
            "MOS mean and worst 5 % (5m)",
            [
                (f'callpulse_trunk_mos_mean{{{S}, window="5m"}}', "{{site}} {{trunk}} mean"),
                (f'callpulse_trunk_mos_p5{{{S}, window="5m"}}', "{{site}} {{trunk}} p5"),
            ],
            "short",
            0,
            16,
        ),
        panel(
            "Jitter p95 and packet loss p95 (5m)",
            [
                (
                    f'callpulse_trunk_jitter_p95_seconds{{{S}, window="5m"}}',
                    "{{site}} {{trunk}} jitter",
                ),
                (
                    f'callpulse_trunk_packet_loss_p95_ratio{{{S}, window="5m"}}',
                    "{{site}} {{trunk}} loss",
                ),
            ],
            "short",
            12,
            16,
        ),
        panel(
            "Components down",
            [(f'callpulse_component_status{{{S}, status="down"}} == 1', "{{site}} {{component}}")],
            "short",
            0,
            24,
        ),
        panel(
            "IVR containment and backend errors",
            [
                (
                    f'callpulse_ivr_containment_ratio{{{S}, window="15m"}}',
                    "{{site}} {{application}} containment",
                ),
                (
                    f'callpulse_ivr_backend_errors_per_session{{{S}, window="5m"}}',
                    "{{site}} {{application}} backend errors",
                ),
            ],
            "percentunit",
            12,
            24,
        ),
        panel(
            "Platform media scores, each on its own scale (5m; not MOS)",
            [
                (
                    f'callpulse_trunk_media_score_mean{{{S}, window="5m"}}',
                    "{{site}} {{trunk}} {{kind}}",
                ),
            ],
            "short",
            0,
            32,
            w=24,
        ),
        panel(
            "Maintenance backlog vs baseline",
            [
                (f"callpulse_maintenance_backlog_calls{{{S}}}", "{{site}} {{queue}} backlog"),
                (f"callpulse_maintenance_baseline_calls{{{S}}}", "{{site}} {{queue}} baseline"),
            ],
            "short",
            0,
            40,
            w=24,
        ),
    ],
    annotations=[maintenance_annotation],
)

health = dashboard(
    "callpulse-health",
    "callpulse / callpulse itself",
    [
        panel(
            "Scrape health (up)",
            [
                (f"up{{{J}}}", "{{instance}} up"),
                (f"scrape_duration_seconds{{{J}}}", "{{instance}} scrape seconds"),
            ],
            "short",
            0,
            0,
        ),
        panel(
            "Data freshness by site (age of the newest event)",
            [
                (
                    f"time() - callpulse_site_last_event_timestamp_seconds{{{S}}}",
                    "{{instance}} {{site}}",
                )
            ],
            "s",
            12,
            0,
        ),
        panel(
            "Events applied / s",
            [(f"sum by (instance) (rate(callpulse_events_total{{{J}}}[1m]))", "{{instance}}")],
            "ops",
            0,
            8,
        ),
        panel(
            "Invalid and dead-lettered / s",
            [
                (
                    f"sum by (reason) (rate(callpulse_events_invalid_total{{{J}}}[5m]))",
                    "{{reason}}",
                ),
                (f"sum(rate(callpulse_dead_letter_records_total{{{J}}}[5m]))", "dead-lettered"),
            ],
            "ops",
            12,
            8,
        ),
        panel(
            "Consumer lag",
            [
                (
                    f"sum by (instance, topic) (callpulse_consumer_lag_records{{{J}}})",
                    "{{instance}} {{topic}}",
                )
            ],
            "short",
            0,
            16,
        ),
        panel(
            "Event-time lag",
            [(f"callpulse_event_time_lag_seconds{{{J}}}", "{{instance}}")],
            "s",
            12,
            16,
        ),
        panel(
            "Scrape cost",
            [(f"callpulse_collect_duration_seconds{{{J}}}", "{{instance}}")],
            "s",
            0,
            24,
        ),
        panel(
            "Alert notifications / s",
            [
                (
                    f"sum by (sink, result) (rate(callpulse_alert_notifications_total{{{J}}}[5m]))",
                    "{{sink}} {{result}}",
                )
            ],
            "ops",
            12,
            24,
        ),
        panel("Ready", [(f"callpulse_ready{{{J}}}", "{{instance}}")], "short", 0, 32),
        panel(
            "Memory",
            [(f"process_resident_memory_bytes{{{J}}}", "{{instance}}")],
            "bytes",
            12,
            32,
        ),
    ],
)


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    for name, board in (
        ("overview", overview),
        ("infrastructure", infrastructure),
        ("health", health),
    ):
        (OUT / f"callpulse-{name}.json").write_text(json.dumps(board, indent=2) + "\n")


if __name__ == "__main__":
    main()
