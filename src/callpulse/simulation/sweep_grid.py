"""The family of contact centers the maintenance alerts are swept over.

One scenario is one draw of chance; the sweep asks the alerts to be right across contact
centers of every size, handle time, patience and window. The factors and their levels:

- ``agents`` (N): 5, 20, 80, 200;
- ``aht``: mean handle time with after-call work, 60, 300, 900 s (20 % of it wrap-up, no
  hold);
- ``lost``: the share of agents a window takes, 0.3, 0.6, 1.0;
- ``window``: 15, 30, 60 min;
- ``patience``: nobody gives up, exponential with a mean of 3 min, of 10 min;
- ``occupancy`` before the window: 0.7, 0.9 (the arrival rate that keeps N agents that busy);
- ``spread``: agents log back in over 0, 60, 120 s after the window.

The full factorial is 5,832 centers. The sweep plays 36 windows instead: an L9 orthogonal
array over the four three-level factors (aht, lost, window, patience), once per N, its
columns rotated with N so each N meets other combinations, with the spread and occupancy
cycled through it. Every level of every factor appears in at least six windows. Besides,
four normal days (no incident, 4 h) and four low-impact windows (10 % of the agents for
15 min at 70 % occupancy) on which nothing should page.

Every center has a yesterday: before its day is played, the same center's busy hours of the
day before (:data:`BUSY_OCCUPANCY` for :data:`BUSY_SPAN`, from 14:00 UTC) are, and its flow
histories are handed on as the daemon's state file hands them on across a restart. A center
open around the clock has had hours when callers waited, and the forecast, made at a quiet
hour where nobody has, learns their patience from those (`--no-history` plays without).

Everything is deterministic: the same grid, the same scenarios, every time.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from datetime import timedelta
from typing import Literal

from callpulse.simulation.scenario import Scenario

AGENTS = (5, 20, 80, 200)
AHT = (60.0, 300.0, 900.0)
LOST = (0.3, 0.6, 1.0)
WINDOW = (900.0, 1800.0, 3600.0)
PATIENCE: tuple[float | None, ...] = (None, 180.0, 600.0)
OCCUPANCY = (0.7, 0.9)
SPREAD = (0.0, 60.0, 120.0)

BEFORE = 3600.0  # traffic before a window opens: the alert's baselines and the forecast lead
# ... and at least this many mean handle times: the simulated center starts empty, and until
# it has been open a few times its longest calls, the ones that have ended are the short ones
# (after an hour, handle time reads 6 % low at an AHT of 900 s, a center open for hours
# does not), which near its load is a drain twice as fast as the truth.
WARM_HANDLES = 8
AFTER = 5400.0  # played after a window ends, for the backlog to drain
NORMAL_DAY = 4 * 3600.0
BUSY_OCCUPANCY = 0.95  # yesterday's busy hours: callers wait, and some give up
BUSY_SPAN = 7200.0  # from cold: the first hour of an empty center waits little
BUSY_BEFORE = timedelta(hours=19)  # from 14:00 the day before a day that starts at 09:00
ACW_SHARE = 0.2
SITE, QUEUE, PBX = "s1", "q", "s1-pbx-1"

Kind = Literal["window", "normal", "low"]

# The reduced sweep (CI): two windows per patience regime, each of which warrants a page,
# every N among them, one normal day and one low-impact window; one seed each. The heaviest
# centers (N=200 at AHT 60 s, the backlogs of a thousand) are left to the full sweep.
REDUCED = (
    "w04-n5",  # nobody gives up
    "w26-n80",
    "w16-n20",  # 3 min
    "w21-n80",
    "w01-n5",  # 10 min
    "w32-n200",
    "normal1-n5",
    "low2-n80",
)


@dataclass(frozen=True)
class Case:
    """One contact center of the sweep and what happens to it."""

    name: str
    kind: Kind
    index: int  # position in the grid: seeds are drawn from it
    agents: int
    aht: float
    occupancy: float
    patience: float | None
    lost: float = 0.0
    window: float = 0.0
    spread: float = 0.0

    @property
    def calls_per_hour(self) -> float:
        """The arrival rate that keeps the agents at ``occupancy`` before the window."""
        return self.occupancy * self.agents / self.aht * 3600

    @property
    def window_start(self) -> float:
        """Seconds into the scenario the window opens (none: the normal day's end)."""
        return max(BEFORE, WARM_HANDLES * self.aht) if self.kind != "normal" else NORMAL_DAY

    @property
    def window_end(self) -> float:
        """Seconds into the scenario the window closes."""
        return self.window_start + self.window

    @property
    def duration(self) -> float:
        """Simulated seconds played."""
        return NORMAL_DAY if self.kind == "normal" else self.window_end + AFTER

    @property
    def regime(self) -> str:
        """The patience regime, as the report groups it."""
        return patience_name(self.patience)

    def scenario(self, seed: int) -> Scenario:
        """The case as a scenario played with ``seed``: one site, one queue, one PBX the
        window names, the window planned (in the calendar, so the forecast is judged)."""
        queue = {
            "name": QUEUE,
            "calls_per_hour": self.calls_per_hour,
            "agents": self.agents,
            # Log-normal means: talk exp(0.6²/2) and wrap-up exp(0.4²/2) times the median.
            "talk": (1 - ACW_SHARE) * self.aht / math.exp(0.18),
            "acw": ACW_SHARE * self.aht / math.exp(0.08),
            "hold_share": 0.0,
            "patience": self.patience,
        }
        incidents = []
        if self.kind != "normal":
            incidents.append(
                {
                    "at": self.window_start,
                    "duration": self.window,
                    "kind": "maintenance",
                    "site": SITE,
                    "components": [PBX],
                    "queues": [QUEUE],
                    "agents_lost": self.lost,
                    "planned": True,
                    "return_spread": self.spread,
                }
            )
        return Scenario.model_validate(
            {
                "name": self.name,
                "description": describe(self),
                "seed": seed,
                "duration": self.duration,
                "sites": [
                    {
                        "name": SITE,
                        "queues": [queue],
                        "components": [{"id": PBX, "kind": "pbx"}],
                    }
                ],
                "incidents": incidents,
            }
        )

    def yesterday(self, seed: int) -> Scenario:
        """The same center's busy hours the day before (see the module's docstring), played
        with ``seed``: no window, the agents at :data:`BUSY_OCCUPANCY`."""
        busy = replace(self, kind="normal", occupancy=BUSY_OCCUPANCY, lost=0.0, window=0.0)
        return busy.scenario(seed).model_copy(
            update={
                "name": f"{self.name}-yesterday",
                "description": f"the day before, its busy hours: {describe(busy)}",
                "start": self.scenario(seed).start - BUSY_BEFORE,
                "duration": BUSY_SPAN,
            }
        )


def patience_name(patience: float | None) -> str:
    """``none``, ``3m``, ``10m``: a patience regime's name."""
    return "none" if patience is None else f"{patience / 60:g}m"


def describe(case: Case) -> str:
    """One line saying what the case is."""
    center = (
        f"N={case.agents}, AHT {case.aht:g}s, occupancy {case.occupancy:g}, patience {case.regime}"
    )
    if case.kind == "normal":
        return f"normal day: {center}"
    return (
        f"{case.lost:.0%} of agents for {case.window / 60:g} min, back over {case.spread:g}s: "
        f"{center}"
    )


def seed_of(case: Case, k: int) -> int:
    """The ``k``-th seed (from 0) a case is played with."""
    return 1 + case.index + 1000 * k


def grid() -> list[Case]:
    """The whole sweep: the 36 windows, then the normal days, then the low-impact windows."""
    cases: list[Case] = []
    for block, agents in enumerate(AGENTS):
        for row in range(9):
            a, b = divmod(row, 3)  # the L9 array's two generators
            i = len(cases)
            cases.append(
                Case(
                    name=f"w{i:02d}-n{agents}",
                    kind="window",
                    index=i,
                    agents=agents,
                    aht=AHT[(a + block) % 3],
                    lost=LOST[b],
                    window=WINDOW[(a + b + block) % 3],
                    patience=PATIENCE[(a + 2 * b) % 3],
                    spread=SPREAD[(2 * a + b + 2 * block) % 3],
                    occupancy=OCCUPANCY[(row + block) % 2],
                )
            )
    normal = ((5, 300.0, None, 0.9), (20, 60.0, 180.0, 0.7), (80, 900.0, 600.0, 0.9))
    for j, (agents, aht, patience, occupancy) in enumerate((*normal, (200, 300.0, 180.0, 0.9))):
        cases.append(
            Case(
                name=f"normal{j + 1}-n{agents}",
                kind="normal",
                index=len(cases),
                agents=agents,
                aht=aht,
                occupancy=occupancy,
                patience=patience,
            )
        )
    low = ((20, 300.0, 180.0, 0.0), (80, 900.0, None, 60.0), (200, 60.0, 600.0, 120.0))
    for j, (agents, aht, patience, spread) in enumerate((*low, (200, 300.0, None, 60.0))):
        cases.append(
            Case(
                name=f"low{j + 1}-n{agents}",
                kind="low",
                index=len(cases),
                agents=agents,
                aht=aht,
                occupancy=0.7,
                patience=patience,
                lost=0.1,
                window=900.0,
                spread=spread,
            )
        )
    return cases


def reduced() -> list[Case]:
    """The reduced sweep's cases (:data:`REDUCED`)."""
    return [c for c in grid() if c.name in REDUCED]
