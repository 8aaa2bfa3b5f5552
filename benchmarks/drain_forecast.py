"""How right and how dear the Erlang A drain forecasts are.

    .venv/bin/python -m benchmarks.drain_forecast [--paths 2000]

For a few queues (agents, waiting, arrivals, handle time, give-up rate), the P10/P50/P90 of
the time to drain to 2 waiting from simulated paths, from the chain, from the moment fit,
and the fluid model's drain time; then the time per `drain_forecast` call for 5 to 200
agents and 50 to 200 waiting at 80 % load.
"""

from __future__ import annotations

import argparse
import math
import time

from tests.unit.queue_paths import simulated_drains

from callpulse.core.backlog import drain_time
from callpulse.core.erlang_a import (
    DrainForecast,
    ErlangA,
    chain_forecast,
    drain_forecast,
    moment_forecast,
)

CASES = [
    (ErlangA(5, 0.01, 300.0, 1 / 300), 20),
    (ErlangA(5, 0.01, 300.0, 0.0), 20),
    (ErlangA(5, 0.015, 300.0, 1 / 120), 30),
    (ErlangA(10, 1 / 60, 300.0, 0.0), 18),
    (ErlangA(20, 0.05, 300.0, 1 / 600), 50),
    (ErlangA(80, 0.2, 300.0, 1 / 300), 100),
    (ErlangA(200, 0.6, 300.0, 1 / 600), 200),
    (ErlangA(200, 0.6, 300.0, 0.0), 100),
]


def percent(model: float, truth: float) -> str:
    if math.isinf(model) or math.isinf(truth):
        return "same" if model == truth else "inf vs finite"
    return f"{(model / truth - 1) * 100:+.1f}"


def row(forecast: DrainForecast | tuple[float, float, float]) -> tuple[float, float, float]:
    if isinstance(forecast, DrainForecast):
        return forecast.p10, forecast.p50, forecast.p90
    return forecast


def timed(queue: ErlangA, waiting: int) -> float:
    """The fastest of three calls, in milliseconds (the machine is shared)."""
    best = math.inf
    for _ in range(3):
        started = time.perf_counter()
        drain_forecast(queue, waiting, 2)
        best = min(best, time.perf_counter() - started)
    return best * 1000


def accuracy(paths: int) -> None:
    print("queue | simulated P10/P50/P90 | chain (% off) | moment fit (% off the chain) | fluid")
    for queue, waiting in CASES:
        truth = simulated_drains(queue, waiting, 2, paths, seed=1, horizon=3600.0)
        chain = row(chain_forecast(queue, waiting, 2))
        fit = row(moment_forecast(queue, waiting, 2))
        patience = 1 / queue.abandon_rate if queue.abandon_rate else math.inf
        fluid = drain_time(waiting, 2, queue.agents / queue.aht, queue.arrivals, patience)
        print(
            f"N={queue.agents} w={waiting} arrivals={queue.arrivals:.3f}/s "
            f"theta={queue.abandon_rate:.4f} | {'/'.join(f'{v:.0f}' for v in truth)} | "
            f"{'/'.join(f'{v:.0f}' for v in chain)} "
            f"({', '.join(percent(m, t) for m, t in zip(chain, truth, strict=True))}) | "
            f"{'/'.join(f'{v:.0f}' for v in fit)} "
            f"({', '.join(percent(m, t) for m, t in zip(fit, chain, strict=True))}) | "
            f"{fluid:.0f} ({percent(fluid, truth[1])} off the simulated P50) | "
            f"{timed(queue, waiting):.1f} ms"
        )


def cost() -> None:
    for theta in (1 / 600, 0.0):
        for agents in (5, 20, 80, 200):
            queue = ErlangA(agents, 0.8 * agents / 300, 300.0, theta)
            cells = [f"w={w}: {timed(queue, w):.1f} ms" for w in (50, 100, 200)]
            print(f"theta={theta:.4f} N={agents}: " + " | ".join(cells))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--paths", type=int, default=2000)
    arguments = parser.parse_args()
    accuracy(arguments.paths)
    cost()


if __name__ == "__main__":
    main()
