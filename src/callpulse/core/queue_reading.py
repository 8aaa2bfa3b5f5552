"""Reading a queue's state into what is exposed: its KPIs per window, its traffic, and the
Erlang C and drain outlook at the current load (:func:`view`); or only what a maintenance
baseline samples (:func:`load`).

Reading changes nothing later events compute: agent time since the last change is read,
not stored, and the only thing kept is the drain model's last run, for its inputs.
"""

from __future__ import annotations

from callpulse.core import drain, erlang
from callpulse.core import events as ev
from callpulse.core.kpi import (
    AbandonPolicy,
    QueueField,
    abandon_ratio,
    average_handle_time,
    average_speed_of_answer,
    occupancy,
    service_level,
)
from callpulse.core.patience import estimate_patience
from callpulse.core.queue_state import QueueState, busy_available
from callpulse.core.queues import TOTALS, QueueFlow, QueueLoad, QueueView, QueueWindow
from callpulse.core.timegrid import TimeGrid


def window_kpis(
    label: str, sums: list[int], abandons: AbandonPolicy, occupied: float | None
) -> QueueWindow:
    """The KPIs of one window's (or the whole run's) summed fields ``sums``."""
    return QueueWindow(
        window=label,
        offered=sums[QueueField.OFFERED],
        answered=sums[QueueField.ANSWERED],
        abandoned=sums[QueueField.ABANDONED],
        service_level=service_level(sums, abandons),
        abandon_ratio=abandon_ratio(sums),
        asa_seconds=average_speed_of_answer(sums),
        aht_seconds=average_handle_time(sums),
        occupancy=occupied,
    )


def view(
    grid: TimeGrid,
    site: str,
    name: str,
    q: QueueState,
    erlang_window: int,
    patience: float,
) -> QueueView:
    """Queue ``name`` of ``site`` at the grid's *now*: its windows over ``grid``, the Erlang C
    outlook over window ``erlang_window``, and ``patience`` the callers' mean patience (s)
    until their give-ups say."""
    now = grid.now
    q.counters.advance(grid.head)
    busy_now, available_now = busy_available(q.agents)
    windows = []
    every = q.counters.windows()
    for i, label in enumerate(grid.labels):
        sums = every[i]
        # Agent time since the last change is read, not stored: reading must not change
        # what later events compute.
        open_ms = max(0.0, now - max(q.accrued, grid.window_start(i))) * 1000
        busy = sums[QueueField.AGENT_BUSY_MS] + busy_now * open_ms
        available = sums[QueueField.AGENT_AVAILABLE_MS] + available_now * open_ms
        occupied = occupancy(round(busy), round(available)) if q.described else None
        windows.append(window_kpis(label, sums, q.policy.abandons, occupied))
    oldest = min(q.waiting.values(), default=None)
    waited = _waited(q, now)
    steady = flow(grid, q, erlang_window, every[erlang_window], waited)
    longest = flow(grid, q, len(every) - 1, every[-1], waited)
    prediction = outlook(q, len(q.waiting), steady, longest, patience)
    if not q.described:  # no agent stream: agents are unknown, not zero
        prediction = (None, prediction[1], None)
    return QueueView(
        site=site,
        queue=name,
        calls_waiting=len(q.waiting),
        oldest_wait_seconds=0.0 if oldest is None else max(0.0, now - oldest),
        agents=_named(ev.AGENT_STATES, q.agents),
        totals=_named(TOTALS, q.totals),
        windows=tuple(windows),
        predicted_service_level=prediction[0],
        agents_required=prediction[1],
        drain_eta_seconds=prediction[2],
        arrivals_per_second=steady.arrivals_per_second,
        aht_seconds=steady.aht_seconds,
        flow=longest,
        agents_known=q.described,
    )


def load(grid: TimeGrid, site: str, name: str, q: QueueState) -> QueueLoad:
    """What :func:`view` reads of queue ``name`` of ``site`` for a maintenance baseline:
    calls waiting, agents and the flow over the longest window, the same values at a
    fraction of the work (on event time the clock samples every minute of the file, and a
    view reads every window and runs the outlook)."""
    q.counters.advance(grid.head)
    longest = len(grid.labels) - 1
    return QueueLoad(
        site=site,
        queue=name,
        calls_waiting=len(q.waiting),
        agents=_named(ev.AGENT_STATES, q.agents),
        flow=flow(grid, q, longest, q.counters.window(longest), _waited(q, grid.now)),
        agents_known=q.described,
    )


def _named(names: tuple[str, ...], values: list[int]) -> dict[str, int]:
    """``values`` by the name at the same place in ``names`` (as many of each): built by
    a loop that compiles to one, where ``dict(zip(...))`` is a generic call (8 % of a view)."""
    if len(names) != len(values):
        raise ValueError(f"{len(values)} values for {len(names)} names")
    named = {}
    for index, name in enumerate(names):
        named[name] = values[index]
    return named


def _waited(q: QueueState, now: float) -> float:
    """Seconds the calls waiting now have waited so far, together: summed one by one in
    the order they are held (the same sum as ``sum()`` of floats up to Python 3.11; 3.12
    compensates its rounding, which may differ in the last bits)."""
    waited = 0.0
    for queued_at in q.waiting.values():
        if now > queued_at:
            waited += now - queued_at
    return waited


def flow(grid: TimeGrid, q: QueueState, index: int, sums: list[int], waited: float) -> QueueFlow:
    """Traffic over window ``index`` (whose ``sums`` are given), per second of the span it
    really covers; ``waited``: what the calls waiting now have waited so far, together."""
    # A window spans from the start of its oldest bucket to now (up to a bucket more than
    # its length), and never further back than the grid's first bucket.
    start = grid.window_start(index)
    span = grid.now - max(start, grid.origin)
    return QueueFlow(
        arrivals_per_second=sums[QueueField.OFFERED] / span if span > 0 else 0.0,
        aht_seconds=average_handle_time(sums),
        reneged=sums[QueueField.RENEGED],
        exposure_seconds=(sums[QueueField.WAIT_MS] + sums[QueueField.RENEGED_WAIT_MS]) / 1000
        + waited,
        settled=grid.origin <= start,
        arrivals=sums[QueueField.OFFERED],
        window=grid.labels[index],
        span=span,
        completed=sums[QueueField.COMPLETED],
        still_waiting_seconds=waited,
    )


def outlook(
    q: QueueState, backlog: int, steady: QueueFlow, longest: QueueFlow, patience: float
) -> tuple[float | None, int | None, float | None]:
    """Erlang C service level, agents required, and drain ETA at the current load.

    The drain ETA is the mean of the backlog model (:mod:`callpulse.core.drain`) at the
    current staffing, down to no call waiting, with the callers' patience estimated over
    the longest window (which holds the most give-ups and waiting): read for every queue
    with a caller waiting, it must be cheap, and the mean is exact in under a millisecond
    where the quantiles take up to tens."""
    agents = sum(busy_available(q.agents))
    aht = steady.aht_seconds
    arrivals = steady.arrivals_per_second
    eta = None
    if backlog > 0:
        estimate = estimate_patience(longest.reneged, longest.exposure_seconds, patience)
        # Every queue with a caller waiting is read at every evaluation and scrape: the
        # model is run again only once its inputs have moved.
        inputs = (backlog, agents, *(_rounded(x) for x in (arrivals, aht or 0, estimate.rate)))
        if q.drain is None or q.drain[0] != inputs:
            q.drain = (inputs, drain.mean(backlog, agents, arrivals, aht, estimate.rate))
        eta = q.drain[1]
    elif aht is not None:
        eta = 0.0
    if aht is None:
        return None, None, eta
    load = arrivals * aht
    policy = q.policy
    predicted = erlang.service_level(load, agents, aht, policy.threshold) if agents else None
    required = erlang.agents_required(load, aht, policy.threshold, policy.target)
    return predicted, required, eta


def _rounded(value: float) -> float:
    """``value`` to 3 significant digits: a 0.5 % move in a rate is not a new forecast."""
    return float(f"{value:.3g}")
