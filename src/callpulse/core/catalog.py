"""The catalogue of KPI families: names, help, labels, and their samples from the monitor.

One table for everything that reads KPIs: the Prometheus exposition renders these families,
and alert rules name them (without the ``callpulse_`` prefix) and match on their labels. A
value of ``None`` (a zero denominator) is no sample at all.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Literal

from callpulse.core.components import STATUSES
from callpulse.core.events import AGENT_STATES
from callpulse.core.ivr import OUTCOMES
from callpulse.core.monitor import Monitor
from callpulse.core.trunks import CODE_CLASSES

PREFIX = "callpulse_"
Domain = Literal["queue", "ivr", "trunk", "component", "maintenance"]
DOMAINS: tuple[Domain, ...] = ("queue", "ivr", "trunk", "component", "maintenance")
LabelValues = tuple[str, ...]


@dataclass(frozen=True)
class Family:
    """A metric family. Counters are named without ``_total`` (the exposition adds it)."""

    name: str
    help: str
    labels: tuple[str, ...]
    domain: Domain
    kind: Literal["gauge", "counter"] = "gauge"

    @property
    def kpi(self) -> str:
        """The name alert rules use: without the ``callpulse_`` prefix."""
        return self.name.removeprefix(PREFIX)


@dataclass
class Samples:
    """A family and its samples: (label values in the family's order, value)."""

    family: Family
    samples: list[tuple[LabelValues, float]] = field(default_factory=list)


# Windowed families read an attribute of a window dataclass; instant ones of the view itself.
_Attr = tuple[str, str, str]  # (name, help, attribute)

_QUEUE_WINDOWED: tuple[_Attr, ...] = (
    ("callpulse_queue_offered_calls", "call.queued events in the window.", "offered"),
    ("callpulse_queue_answered_calls", "call.answered events in the window.", "answered"),
    ("callpulse_queue_abandoned_calls", "Calls abandoned after S, in the window.", "abandoned"),
    (
        "callpulse_queue_service_level_ratio",
        "Answered within T / (answered + abandoned after S).",
        "service_level",
    ),
    (
        "callpulse_queue_abandon_ratio",
        "Abandoned after S / (answered + abandoned after S).",
        "abandon_ratio",
    ),
    ("callpulse_queue_asa_seconds", "Mean queue wait of answered calls.", "asa_seconds"),
    ("callpulse_queue_aht_seconds", "Mean talk + hold + acw of completed calls.", "aht_seconds"),
    (
        "callpulse_queue_occupancy_ratio",
        "Agents' handle time / (handle time + available time).",
        "occupancy",
    ),
)
_QUEUE_INSTANT: tuple[_Attr, ...] = (
    ("callpulse_queue_calls_waiting", "Calls waiting in the queue now.", "calls_waiting"),
    (
        "callpulse_queue_oldest_wait_seconds",
        "Age of the oldest waiting call now (0 when none).",
        "oldest_wait_seconds",
    ),
    (
        "callpulse_queue_calls_waiting_no_agent_available",
        "Calls waiting while no agent serving the queue is available (0 otherwise).",
        "calls_waiting_no_agent_available",
    ),
    (
        "callpulse_queue_predicted_service_level_ratio",
        "Erlang C service level at the current arrival rate, AHT and agents (N > A only).",
        "predicted_service_level",
    ),
    (
        "callpulse_queue_agents_required",
        "Erlang C agents needed for the target service level at the current load.",
        "agents_required",
    ),
    (
        "callpulse_queue_drain_eta_seconds",
        "Time to work off the waiting calls at current staffing; +Inf when it cannot drain.",
        "drain_eta_seconds",
    ),
)
_QUEUE_TOTALS: tuple[_Attr, ...] = (
    ("callpulse_queue_calls_offered", "call.queued events, cumulative.", "offered"),
    ("callpulse_queue_calls_answered", "call.answered events, cumulative.", "answered"),
    ("callpulse_queue_calls_abandoned", "Calls abandoned after S, cumulative.", "abandoned"),
    (
        "callpulse_queue_calls_answered_within_threshold",
        "Calls answered within T, cumulative.",
        "answered_within_threshold",
    ),
)
_IVR_WINDOWED: tuple[_Attr, ...] = (
    ("callpulse_ivr_sessions_started", "IVR sessions started in the window.", "started"),
    ("callpulse_ivr_sessions_ended", "IVR sessions ended in the window.", "ended"),
    ("callpulse_ivr_containment_ratio", "Sessions contained / ended.", "containment"),
    ("callpulse_ivr_transfer_ratio", "Sessions transferred to an agent / ended.", "transfer"),
    ("callpulse_ivr_hangup_ratio", "Sessions the caller hung up / ended.", "hangup"),
    (
        "callpulse_ivr_no_input_per_session",
        "No-input errors per ended session.",
        "no_input_per_session",
    ),
    (
        "callpulse_ivr_no_match_per_session",
        "No-match errors per ended session.",
        "no_match_per_session",
    ),
    (
        "callpulse_ivr_backend_errors_per_session",
        "Backend errors per ended session.",
        "backend_errors_per_session",
    ),
)
_IVR_INSTANT: tuple[_Attr, ...] = (
    ("callpulse_ivr_ports_in_use", "IVR ports in use (last ivr.ports).", "ports_in_use"),
    ("callpulse_ivr_ports", "IVR ports in all (last ivr.ports).", "ports_total"),
    (
        "callpulse_ivr_ports_utilization_ratio",
        "IVR ports in use / ports.",
        "ports_utilization",
    ),
)
_TRUNK_WINDOWED: tuple[_Attr, ...] = (
    ("callpulse_trunk_call_setups", "call.setup final responses in the window.", "setups"),
    ("callpulse_trunk_asr_ratio", "Answer-seizure ratio: 2xx / setups.", "asr"),
    ("callpulse_trunk_ser_ratio", "RFC 6076 SER: 2xx / (setups - 3xx).", "ser"),
    (
        "callpulse_trunk_ner_ratio",
        "RFC 6076 SEER: (2xx + 480, 486, 600, 603) / (setups - 3xx).",
        "ner",
    ),
    (
        "callpulse_trunk_post_dial_delay_p50_seconds",
        "Median post-dial delay (within 2 %).",
        "post_dial_delay_p50",
    ),
    (
        "callpulse_trunk_post_dial_delay_p95_seconds",
        "95th percentile post-dial delay (within 2 %).",
        "post_dial_delay_p95",
    ),
    ("callpulse_trunk_mos_mean", "Mean MOS of media.quality samples.", "mos_mean"),
    ("callpulse_trunk_mos_p5", "5th percentile MOS, the worst 5 % (within 0.005).", "mos_p5"),
    ("callpulse_trunk_jitter_mean_seconds", "Mean jitter.", "jitter_mean"),
    ("callpulse_trunk_jitter_p95_seconds", "95th percentile jitter (within 2 %).", "jitter_p95"),
    ("callpulse_trunk_packet_loss_mean_ratio", "Mean packet loss.", "packet_loss_mean"),
    (
        "callpulse_trunk_packet_loss_p95_ratio",
        "95th percentile packet loss (within 2 %).",
        "packet_loss_p95",
    ),
)
_TRUNK_INSTANT: tuple[_Attr, ...] = (
    ("callpulse_trunk_up", "1 when the trunk is up (last trunk.status).", "up_value"),
    (
        "callpulse_trunk_channels_in_use",
        "Channels in use (last trunk.status).",
        "channels_in_use",
    ),
    ("callpulse_trunk_channels", "Channels in all (last trunk.status).", "channels_total"),
    ("callpulse_trunk_utilization_ratio", "Channels in use / channels.", "utilization"),
)

_Q, _I, _T = ("site", "queue"), ("site", "application"), ("site", "trunk")
_C = ("site", "component", "kind")


def _families() -> dict[str, Family]:
    out: list[Family] = []
    out += [Family(n, h, _Q, "queue") for n, h, _ in _QUEUE_INSTANT]
    out.append(
        Family(
            "callpulse_queue_agents", "Agents serving the queue, by state.", (*_Q, "state"), "queue"
        )
    )
    out += [Family(n, h, _Q, "queue", "counter") for n, h, _ in _QUEUE_TOTALS]
    out += [Family(n, h, (*_Q, "window"), "queue") for n, h, _ in _QUEUE_WINDOWED]
    out += [Family(n, h, (*_I, "window"), "ivr") for n, h, _ in _IVR_WINDOWED]
    out += [Family(n, h, _I, "ivr") for n, h, _ in _IVR_INSTANT]
    out.append(
        Family(
            "callpulse_ivr_backend_errors",
            "ivr.backend_error events in the window, by failing backend.",
            (*_I, "backend", "window"),
            "ivr",
        )
    )
    out.append(
        Family(
            "callpulse_ivr_sessions",
            "IVR sessions ended, by outcome, cumulative.",
            (*_I, "outcome"),
            "ivr",
            "counter",
        )
    )
    out += [Family(n, h, (*_T, "window"), "trunk") for n, h, _ in _TRUNK_WINDOWED]
    out += [Family(n, h, _T, "trunk") for n, h, _ in _TRUNK_INSTANT]
    out.append(
        Family(
            "callpulse_trunk_setup_responses",
            "call.setup final responses by SIP class, cumulative.",
            (*_T, "class"),
            "trunk",
            "counter",
        )
    )
    out.append(
        Family(
            "callpulse_component_status",
            "1 for the component's effective status (down when stale), 0 for the others.",
            (*_C, "status"),
            "component",
        )
    )
    out.append(
        Family(
            "callpulse_component_heartbeat_age_seconds",
            "Time since the component's last component.health event.",
            _C,
            "component",
        )
    )
    out.append(
        Family(
            "callpulse_component_stale",
            "1 when the component has been silent longer than component_stale_after.",
            _C,
            "component",
        )
    )
    affected = (*_Q, "maintenance")
    out += [
        Family(
            "callpulse_maintenance_active",
            "1 while the maintenance window is open at the site.",
            ("site", "maintenance"),
            "maintenance",
        ),
        Family(
            "callpulse_maintenance_backlog_calls",
            "Calls waiting in a queue the window affects, during it and its grace period.",
            affected,
            "maintenance",
        ),
        Family(
            "callpulse_maintenance_baseline_calls",
            "Mean calls waiting in the queue before the window opened.",
            affected,
            "maintenance",
        ),
        Family(
            "callpulse_maintenance_backlog_drain_eta_seconds",
            "Time until the backlog is back to normal: staffing as now until the window "
            "ends, then as before it; +Inf when it will not drain.",
            affected,
            "maintenance",
        ),
        Family(
            "callpulse_maintenance_forecast_peak_calls",
            "Calls expected waiting when a planned window that has not opened yet ends.",
            affected,
            "maintenance",
        ),
        Family(
            "callpulse_maintenance_forecast_drain_seconds",
            "Time a planned window's expected backlog takes to drain after it ends.",
            affected,
            "maintenance",
        ),
        Family(
            "callpulse_maintenance_forecast_agents_lost",
            "Agents the planned window takes off the queue (its agents_affected).",
            affected,
            "maintenance",
        ),
    ]
    return {f.name: f for f in out}


FAMILIES: dict[str, Family] = _families()
KPIS: dict[str, Family] = {f.kpi: f for f in FAMILIES.values() if f.kind == "gauge"}


def collect(monitor: Monitor, domains: Iterable[Domain] | None = None) -> list[Samples]:
    """Samples of every family (or only those of ``domains``) at the monitor's *now*."""
    wanted = set(domains) if domains is not None else set(DOMAINS)
    out: dict[str, Samples] = {
        name: Samples(f) for name, f in FAMILIES.items() if f.domain in wanted
    }
    add: Callable[[str, LabelValues, Any], None] = _adder(out)
    if "queue" in wanted:
        for v in monitor.queue_views():
            key = (v.site, v.queue)
            _rows(add, _QUEUE_INSTANT, key, v)
            for state in AGENT_STATES:
                add("callpulse_queue_agents", (*key, state), v.agents[state])
            for name, _, attr in _QUEUE_TOTALS:
                add(name, key, v.totals[attr])
            for w in v.windows:
                _rows(add, _QUEUE_WINDOWED, (*key, w.window), w)
    if "ivr" in wanted:
        for iv in monitor.ivr_views():
            key = (iv.site, iv.application)
            _rows(add, _IVR_INSTANT, key, iv)
            for outcome in OUTCOMES:
                add("callpulse_ivr_sessions", (*key, outcome), iv.outcomes_total[outcome])
            for iw in iv.windows:
                _rows(add, _IVR_WINDOWED, (*key, iw.window), iw)
                for backend, count in iw.backend_errors.items():
                    add("callpulse_ivr_backend_errors", (*key, backend, iw.window), count)
    if "trunk" in wanted:
        for tv in monitor.trunk_views():
            key = (tv.site, tv.trunk)
            _rows(add, _TRUNK_INSTANT, key, tv)
            for code_class in CODE_CLASSES:
                add(
                    "callpulse_trunk_setup_responses",
                    (*key, code_class),
                    tv.setups_total[code_class],
                )
            for tw in tv.windows:
                _rows(add, _TRUNK_WINDOWED, (*key, tw.window), tw)
    if "component" in wanted:
        for cv in monitor.component_views():
            ckey = (cv.site, cv.component, cv.kind)
            for status in STATUSES:
                add(
                    "callpulse_component_status",
                    (*ckey, status),
                    1.0 if cv.status == status else 0.0,
                )
            add("callpulse_component_heartbeat_age_seconds", ckey, cv.heartbeat_age_seconds)
            add("callpulse_component_stale", ckey, 1.0 if cv.stale else 0.0)
    if "maintenance" in wanted:
        tracker, now = monitor.maintenance, monitor.now
        for window in tracker.windows(now):
            for site in window.sites:
                add("callpulse_maintenance_active", (site, window.name), 1.0)
        # As the last alert evaluation judged them: reading must not move alert state.
        for b in tracker.backlogs:
            bkey = (b.site, b.queue, b.maintenance)
            add("callpulse_maintenance_backlog_calls", bkey, b.waiting)
            add("callpulse_maintenance_baseline_calls", bkey, b.baseline)
            add("callpulse_maintenance_backlog_drain_eta_seconds", bkey, b.drain_eta)
        for f in tracker.forecasts:
            fkey = (f.site, f.queue, f.maintenance)
            add("callpulse_maintenance_forecast_peak_calls", fkey, f.peak)
            add("callpulse_maintenance_forecast_drain_seconds", fkey, f.drain_after)
            add("callpulse_maintenance_forecast_agents_lost", fkey, f.agents_lost)
    return list(out.values())


def _adder(out: dict[str, Samples]) -> Callable[[str, LabelValues, Any], None]:
    def add(name: str, labels: LabelValues, value: Any) -> None:
        if value is not None:
            out[name].samples.append((labels, float(value)))

    return add


def _rows(
    add: Callable[[str, LabelValues, Any], None],
    rows: tuple[_Attr, ...],
    labels: LabelValues,
    view: object,
) -> None:
    for name, _, attr in rows:
        add(name, labels, getattr(view, attr))
