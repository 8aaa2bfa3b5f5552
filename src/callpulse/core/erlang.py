"""Erlang C staffing math and the backlog drain ETA.

Erlang C models a queue with Poisson arrivals, exponential handle times, ``N`` identical agents
and callers who never abandon. Offered load ``A = arrival rate x AHT`` (Erlangs). It only has a
steady state when ``N > A``; with ``N <= A`` the queue grows without bound, and every function
here says so by returning ``None`` instead of a misleading number.
"""

from __future__ import annotations

import math
from collections.abc import Iterator

MAX_AGENTS = 100_000


def _erlang_c(load: float, limit: int) -> Iterator[tuple[int, float]]:
    """``(N, chance of waiting)`` for N = 1, 2, ... up to ``limit``, wherever N > ``load``.

    Erlang B by its recurrence (stable for thousands of agents), then B -> C: one pass gives
    every N in O(N), which is what a search for the fewest agents needs.
    """
    blocking = 1.0
    for agents in range(1, limit + 1):
        blocking = load * blocking / (agents + load * blocking)
        if agents > load:
            yield agents, agents * blocking / (agents - load * (1 - blocking))


def probability_of_waiting(load: float, agents: int) -> float | None:
    """Erlang C: the chance a caller has to wait, or ``None`` when ``agents <= load``."""
    if agents <= 0 or load < 0 or agents <= load:
        return None
    if load == 0:
        return 0.0
    *_, (_, waiting) = _erlang_c(load, agents)
    return waiting


def service_level(load: float, agents: int, aht: float, threshold: float) -> float | None:
    """Predicted share of calls answered within ``threshold`` seconds."""
    waiting = probability_of_waiting(load, agents)
    if waiting is None or aht <= 0:
        return None
    return 1.0 - waiting * math.exp(-(agents - load) * threshold / aht)


def average_speed_of_answer(load: float, agents: int, aht: float) -> float | None:
    """Predicted mean wait in seconds over all calls."""
    waiting = probability_of_waiting(load, agents)
    if waiting is None:
        return None
    return waiting * aht / (agents - load)


def agents_required(load: float, aht: float, threshold: float, target: float) -> int | None:
    """The fewest agents whose predicted service level meets ``target`` (0..1)."""
    if aht <= 0 or not 0 < target < 1 or load < 0:
        return None
    if load == 0:
        return 1
    for agents, waiting in _erlang_c(load, MAX_AGENTS):
        if 1.0 - waiting * math.exp(-(agents - load) * threshold / aht) >= target:
            return agents
    return None
