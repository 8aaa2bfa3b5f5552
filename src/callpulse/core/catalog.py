"""The catalogue of KPI families: names, help, labels, and which value of a view each reads.

One table for everything that reads KPIs: the Prometheus exposition renders these families
and alert rules name them (without the ``callpulse_`` prefix) and match on their labels.
:mod:`callpulse.core.readings` takes their samples from the monitor.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal, TypeVar

from callpulse.core.ivr import IvrView, IvrWindow
from callpulse.core.queues import QueueView, QueueWindow
from callpulse.core.trunk_views import TrunkView, TrunkWindow

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

    @property
    def sample_name(self) -> str:
        """The name its samples are written with: a counter's with ``_total``."""
        return f"{self.name}_total" if self.kind == "counter" else self.name


@dataclass
class Samples:
    """A family and its samples: (label values in the family's order, value); or, where
    they were read for a scrape's writer (:func:`callpulse.core.readings.collect` with
    ``lines``), its sample lines as the Prometheus text formats write them instead, as
    pieces of text that join into them (a line's parts, or many lines)."""

    family: Family
    samples: list[tuple[LabelValues, float]] = field(default_factory=list)
    lines: list[str] = field(default_factory=list)


# Windowed families read a window of a view; instant ones the view itself; totals a key of
# the view's totals.
V = TypeVar("V")
Reader = tuple[str, str, Callable[[V], float | int | bool | None]]  # (name, help, reader)
Keyed = tuple[str, str, str]  # (name, help, key)

QUEUE_WINDOWED: tuple[Reader[QueueWindow], ...] = (
    ("callpulse_queue_offered_calls", "call.queued events in the window.", lambda v: v.offered),
    ("callpulse_queue_answered_calls", "call.answered events in the window.", lambda v: v.answered),
    (
        "callpulse_queue_abandoned_calls",
        "Calls abandoned after S, in the window.",
        lambda v: v.abandoned,
    ),
    (
        "callpulse_queue_service_level_ratio",
        "Answered within T / (answered + abandoned after S).",
        lambda v: v.service_level,
    ),
    (
        "callpulse_queue_abandon_ratio",
        "Abandoned after S / (answered + abandoned after S).",
        lambda v: v.abandon_ratio,
    ),
    ("callpulse_queue_asa_seconds", "Mean queue wait of answered calls.", lambda v: v.asa_seconds),
    (
        "callpulse_queue_aht_seconds",
        "Mean talk + hold + acw of completed calls.",
        lambda v: v.aht_seconds,
    ),
    (
        "callpulse_queue_occupancy_ratio",
        "Agents' handle time / (handle time + available time).",
        lambda v: v.occupancy,
    ),
)
QUEUE_INSTANT: tuple[Reader[QueueView], ...] = (
    ("callpulse_queue_calls_waiting", "Calls waiting in the queue now.", lambda v: v.calls_waiting),
    (
        "callpulse_queue_oldest_wait_seconds",
        "Age of the oldest waiting call now (0 when none).",
        lambda v: v.oldest_wait_seconds,
    ),
    (
        "callpulse_queue_calls_waiting_no_agent_available",
        "Calls waiting while no agent serving the queue is available (0 otherwise).",
        lambda v: v.calls_waiting_no_agent_available,
    ),
    (
        "callpulse_queue_predicted_service_level_ratio",
        "Erlang C service level at the current arrival rate, AHT and agents (N > A only).",
        lambda v: v.predicted_service_level,
    ),
    (
        "callpulse_queue_agents_required",
        "Erlang C agents needed for the target service level at the current load.",
        lambda v: v.agents_required,
    ),
)
QUEUE_DRAIN_ETA: tuple[tuple[str, str], ...] = (
    (
        "callpulse_queue_drain_eta_seconds",
        "Time until the waiting calls are worked off (the Erlang A backlog model, callers "
        "giving up at their estimated rate): while a maintenance window's backlog is assessed, "
        "the median MaintenanceBacklog pages on, staff the window took coming back; otherwise "
        "the mean at current staffing. +Inf when it cannot drain.",
    ),
    (
        "callpulse_queue_drain_eta_low_seconds",
        "P10 of that time, where a range is computed (a maintenance window's backlog).",
    ),
    (
        "callpulse_queue_drain_eta_high_seconds",
        "P90 of that time, where a range is computed (+Inf: beyond four hours or never).",
    ),
)
"""The drain ETA and its range, read by :mod:`callpulse.core.drain_eta` (one value for the
gauge, the alert, the status page and ``callpulse status``)."""
QUEUE_TOTALS: tuple[Keyed, ...] = (
    ("callpulse_queue_calls_offered", "call.queued events, cumulative.", "offered"),
    ("callpulse_queue_calls_answered", "call.answered events, cumulative.", "answered"),
    ("callpulse_queue_calls_abandoned", "Calls abandoned after S, cumulative.", "abandoned"),
    (
        "callpulse_queue_calls_answered_within_threshold",
        "Calls answered within T, cumulative.",
        "answered_within_threshold",
    ),
)
IVR_WINDOWED: tuple[Reader[IvrWindow], ...] = (
    ("callpulse_ivr_sessions_started", "IVR sessions started in the window.", lambda v: v.started),
    ("callpulse_ivr_sessions_ended", "IVR sessions ended in the window.", lambda v: v.ended),
    ("callpulse_ivr_containment_ratio", "Sessions contained / ended.", lambda v: v.containment),
    (
        "callpulse_ivr_transfer_ratio",
        "Sessions transferred to an agent / ended.",
        lambda v: v.transfer,
    ),
    ("callpulse_ivr_hangup_ratio", "Sessions the caller hung up / ended.", lambda v: v.hangup),
    (
        "callpulse_ivr_no_input_per_session",
        "No-input errors per ended session.",
        lambda v: v.no_input_per_session,
    ),
    (
        "callpulse_ivr_no_match_per_session",
        "No-match errors per ended session.",
        lambda v: v.no_match_per_session,
    ),
    (
        "callpulse_ivr_backend_errors_per_session",
        "Backend errors per ended session.",
        lambda v: v.backend_errors_per_session,
    ),
)
IVR_INSTANT: tuple[Reader[IvrView], ...] = (
    ("callpulse_ivr_ports_in_use", "IVR ports in use (last ivr.ports).", lambda v: v.ports_in_use),
    ("callpulse_ivr_ports", "IVR ports in all (last ivr.ports).", lambda v: v.ports_total),
    (
        "callpulse_ivr_ports_utilization_ratio",
        "IVR ports in use / ports.",
        lambda v: v.ports_utilization,
    ),
)
TRUNK_WINDOWED: tuple[Reader[TrunkWindow], ...] = (
    (
        "callpulse_trunk_call_setups",
        "call.setup final responses in the window.",
        lambda v: v.setups,
    ),
    ("callpulse_trunk_asr_ratio", "Answer-seizure ratio: 2xx / setups.", lambda v: v.asr),
    ("callpulse_trunk_ser_ratio", "RFC 6076 SER: 2xx / (setups - 3xx).", lambda v: v.ser),
    (
        "callpulse_trunk_ner_ratio",
        "RFC 6076 SEER: (2xx + 480, 486, 600, 603) / (setups - 3xx).",
        lambda v: v.ner,
    ),
    (
        "callpulse_trunk_post_dial_delay_p50_seconds",
        "Median post-dial delay (within 2 %).",
        lambda v: v.post_dial_delay_p50,
    ),
    (
        "callpulse_trunk_post_dial_delay_p95_seconds",
        "95th percentile post-dial delay (within 2 %).",
        lambda v: v.post_dial_delay_p95,
    ),
    (
        "callpulse_trunk_mos_mean",
        "Mean E-model MOS of the media.quality samples that carry one.",
        lambda v: v.mos_mean,
    ),
    (
        "callpulse_trunk_mos_p5",
        "5th percentile MOS, the worst 5 % (within 0.005).",
        lambda v: v.mos_p5,
    ),
    ("callpulse_trunk_jitter_mean_seconds", "Mean jitter.", lambda v: v.jitter_mean),
    (
        "callpulse_trunk_jitter_p95_seconds",
        "95th percentile jitter (within 2 %).",
        lambda v: v.jitter_p95,
    ),
    ("callpulse_trunk_packet_loss_mean_ratio", "Mean packet loss.", lambda v: v.packet_loss_mean),
    (
        "callpulse_trunk_packet_loss_p95_ratio",
        "95th percentile packet loss (within 2 %).",
        lambda v: v.packet_loss_p95,
    ),
)
TRUNK_INSTANT: tuple[Reader[TrunkView], ...] = (
    (
        "callpulse_trunk_up",
        "1 when the trunk is up (last trunk.status with a state).",
        lambda v: v.up_value,
    ),
    (
        "callpulse_trunk_channels_in_use",
        "Channels in use (last trunk.status).",
        lambda v: v.channels_in_use,
    ),
    (
        "callpulse_trunk_channels",
        "Channels in all (last trunk.status, else kpi.trunk_channels).",
        lambda v: v.channels_total,
    ),
    ("callpulse_trunk_utilization_ratio", "Channels in use / channels.", lambda v: v.utilization),
)

GROWS_WITHOUT_EVENTS = frozenset(
    {
        "queue_oldest_wait_seconds",
        "component_status",
        "component_heartbeat_age_seconds",
        "component_stale",
    }
)
"""KPIs whose value changes with the wall clock alone, no event coming: a caller's wait, a
heartbeat's age and the staleness it makes (a component silent past ``stale_after`` is down)."""

QUEUE_LABELS: tuple[str, ...] = ("site", "queue")
"""The labels of a queue's families; some have one more after them (``state``,
``window``)."""
_Q, _I, _T = QUEUE_LABELS, ("site", "application"), ("site", "trunk")
_C = ("site", "component", "kind")


def _families() -> dict[str, Family]:
    out: list[Family] = []
    out += [Family(n, h, _Q, "queue") for n, h, _ in QUEUE_INSTANT]
    out += [Family(n, h, _Q, "queue") for n, h in QUEUE_DRAIN_ETA]
    out.append(
        Family(
            "callpulse_queue_agents", "Agents serving the queue, by state.", (*_Q, "state"), "queue"
        )
    )
    out += [Family(n, h, _Q, "queue", "counter") for n, h, _ in QUEUE_TOTALS]
    out += [Family(n, h, (*_Q, "window"), "queue") for n, h, _ in QUEUE_WINDOWED]
    out += [Family(n, h, (*_I, "window"), "ivr") for n, h, _ in IVR_WINDOWED]
    out += [Family(n, h, _I, "ivr") for n, h, _ in IVR_INSTANT]
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
    out += [Family(n, h, (*_T, "window"), "trunk") for n, h, _ in TRUNK_WINDOWED]
    out += [Family(n, h, _T, "trunk") for n, h, _ in TRUNK_INSTANT]
    out.append(
        Family(
            "callpulse_trunk_media_score_mean",
            "Mean of a platform's own media score, by kind (never a MOS, never mixed).",
            (*_T, "kind", "window"),
            "trunk",
        )
    )
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
            "Deprecated, removed in the next release: read callpulse_queue_drain_eta_seconds, "
            "the same value. Median time until the window's backlog is back to normal.",
            affected,
            "maintenance",
        ),
        Family(
            "callpulse_maintenance_backlog_drain_eta_low_seconds",
            "Deprecated, removed in the next release: read "
            "callpulse_queue_drain_eta_low_seconds, the same value (P10).",
            affected,
            "maintenance",
        ),
        Family(
            "callpulse_maintenance_backlog_drain_eta_high_seconds",
            "Deprecated, removed in the next release: read "
            "callpulse_queue_drain_eta_high_seconds, the same value (P90).",
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
            "callpulse_maintenance_forecast_peak_low_calls",
            "P10 of the calls waiting as that window ends (chance and the callers' patience).",
            affected,
            "maintenance",
        ),
        Family(
            "callpulse_maintenance_forecast_peak_high_calls",
            "P90 of the calls waiting as that window ends.",
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
