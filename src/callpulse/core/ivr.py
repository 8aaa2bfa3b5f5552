"""IVR applications: sessions, how they end, input and backend errors, port usage."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import IntEnum

from callpulse.core import events as ev
from callpulse.core.cardinality import OVERFLOW, LabelGuard, without_sites
from callpulse.core.kpi import in_use
from callpulse.core.timegrid import TimeGrid
from callpulse.core.windows import Counters

OUTCOMES = ("contained", "transferred", "hangup", "error")


class IvrField(IntEnum):
    """Integer fields an IVR application keeps per bucket."""

    STARTED = 0
    ENDED = 1
    CONTAINED = 2
    TRANSFERRED = 3
    HANGUP = 4
    ERROR = 5
    NO_INPUT = 6
    NO_MATCH = 7
    BACKEND_ERRORS = 8


_OUTCOME_FIELD = {
    "contained": IvrField.CONTAINED,
    "transferred": IvrField.TRANSFERRED,
    "hangup": IvrField.HANGUP,
    "error": IvrField.ERROR,
}


@dataclass(frozen=True, slots=True)
class IvrWindow:
    """An application's KPIs over one window; ratios are ``None`` with no ended session."""

    window: str
    started: int
    ended: int
    containment: float | None
    transfer: float | None
    hangup: float | None
    no_input_per_session: float | None
    no_match_per_session: float | None
    backend_errors_per_session: float | None
    backend_errors: dict[str, int]


@dataclass(frozen=True, slots=True)
class IvrView:
    """Everything exposed about one IVR application."""

    site: str
    application: str
    ports_in_use: int | None
    ports_total: int | None
    outcomes_total: dict[str, int]
    windows: tuple[IvrWindow, ...]

    @property
    def ports_utilization(self) -> float | None:
        """Ports in use / ports, once ``ivr.ports`` has said both."""
        return in_use(self.ports_in_use, self.ports_total)


@dataclass(frozen=True, slots=True)
class IvrRun:
    """An application's figures over a whole run (:meth:`IvrTracker.run_kpis`): sessions
    started and ended, the ended ones by outcome, containment and transfer over the ended
    ones (``None`` with none ended), and the errors counted."""

    started: int
    ended: int
    outcomes: dict[str, int]
    containment: float | None
    transfer: float | None
    no_input: int
    no_match: int
    backend_errors: int


@dataclass(slots=True)
class _App:
    counters: Counters
    backends: dict[str, Counters] = field(default_factory=dict)
    ports: tuple[float, int, int] | None = None  # (at, in use, total)
    outcomes: dict[str, int] = field(default_factory=lambda: dict.fromkeys(OUTCOMES, 0))
    touched: float = 0.0  # when an event last named the application
    backends_touched: dict[str, float] = field(default_factory=dict)
    run: list[int] | None = None  # every IvrField summed since the start (keep_run)


class IvrTracker:
    """State and KPIs of every (site, IVR application)."""

    event_types = (
        "ivr.session_started",
        "ivr.node",
        "ivr.input_error",
        "ivr.backend_error",
        "ivr.session_ended",
        "ivr.ports",
    )

    def __init__(self, grid: TimeGrid, guard: LabelGuard) -> None:
        self._grid = grid
        self._guard = guard
        self._apps: dict[tuple[str, str], _App] = {}
        # Every application's fields since the start (keep_run), kept apart from the
        # application so that its name is released as the daemon's would be: a report's
        # alerts are the daemon's. As many as the cap admits, then one per site's overflow.
        self._runs: dict[tuple[str, str], list[int]] | None = None

    def keep_run(self) -> None:
        """Also sum every application's fields since the start, for :meth:`run_kpis` (a
        report over a whole file). Call it before the first event."""
        self._runs = {}

    def apply(
        self, event: ev.Event, ts: float, bucket: int, late: bool, replay: bool = False
    ) -> None:
        """Apply one IVR event; a late one only counts in the cumulative outcomes (and in a
        whole run's sums)."""
        # ivr.node is navigation detail: validated and counted, no KPI depends on it yet.
        if not isinstance(
            event,
            ev.IvrSessionStarted
            | ev.IvrSessionEnded
            | ev.IvrInputError
            | ev.IvrBackendError
            | ev.IvrPorts,
        ):
            return
        app = self._app(event.site, event.application)
        if isinstance(event, ev.IvrSessionEnded) and not replay:
            app.outcomes[event.outcome] += 1
        if isinstance(event, ev.IvrPorts):
            if not late and (app.ports is None or ts >= app.ports[0]):
                app.ports = (ts, event.ports_in_use, event.ports_total)
            return
        if isinstance(event, ev.IvrSessionStarted):
            values: tuple[tuple[int, int], ...] = ((IvrField.STARTED, 1),)
        elif isinstance(event, ev.IvrSessionEnded):
            values = ((IvrField.ENDED, 1), (_OUTCOME_FIELD[event.outcome], 1))
        elif isinstance(event, ev.IvrInputError):
            which = IvrField.NO_INPUT if event.kind == "no_input" else IvrField.NO_MATCH
            values = ((which, 1),)
        else:
            values = ((IvrField.BACKEND_ERRORS, 1),)
        if app.run is not None:
            for index, amount in values:
                app.run[index] += amount
        if late:
            return
        app.counters.add(bucket, values)
        if isinstance(event, ev.IvrBackendError):
            backend = self._guard.admit("backend", event.backend, event.site)
            counters = app.backends.get(backend)
            if counters is None:
                counters = app.backends[backend] = self._grid.counters(1)
            counters.advance(self._grid.head)
            counters.add(bucket, ((0, 1),))
            app.backends_touched[backend] = self._grid.now

    def _app(self, site: str, name: str) -> _App:
        name = self._guard.admit("application", name, site)
        app = self._apps.get((site, name))
        if app is None:
            app = self._apps[(site, name)] = _App(self._grid.counters(len(IvrField)))
            if self._runs is not None:
                app.run = self._run_of(site, name)
        else:
            app.counters.advance(self._grid.head)
        app.touched = self._grid.now
        return app

    def release_idle(self, before: float) -> int:
        """Forget applications, and backends, no event has named since ``before``, giving
        their names back to the label caps; return how many."""
        released = 0
        for (site, name), app in list(self._apps.items()):
            if app.touched < before:
                del self._apps[(site, name)]
                self._guard.release("application", name, site)
                for backend in app.backends:
                    self._guard.release("backend", backend, site)
                released += 1
                continue
            for backend in [b for b, t in app.backends_touched.items() if t < before]:
                del app.backends[backend], app.backends_touched[backend]
                self._guard.release("backend", backend, site)
        return released

    def forget_sites(self, sites: Iterable[str]) -> None:
        """Drop every application of ``sites``."""
        self._apps = without_sites(self._apps, sites)

    def settle(self) -> None:
        """Move every application's windows to the grid's head, as reading them would (see
        :meth:`callpulse.core.monitor.Monitor.settle`)."""
        head = self._grid.head
        for app in self._apps.values():
            app.counters.advance(head)
            for counters in app.backends.values():
                counters.advance(head)

    def views(self) -> list[IvrView]:
        """Every application's KPIs at the grid's *now*."""
        self.settle()
        out = []
        for (site, name), app in self._apps.items():
            windows = []
            for i, label in enumerate(self._grid.labels):
                s = app.counters.window(i)
                ended = s[IvrField.ENDED]
                windows.append(
                    IvrWindow(
                        window=label,
                        started=s[IvrField.STARTED],
                        ended=ended,
                        containment=_per(s[IvrField.CONTAINED], ended),
                        transfer=_per(s[IvrField.TRANSFERRED], ended),
                        hangup=_per(s[IvrField.HANGUP], ended),
                        no_input_per_session=_per(s[IvrField.NO_INPUT], ended),
                        no_match_per_session=_per(s[IvrField.NO_MATCH], ended),
                        backend_errors_per_session=_per(s[IvrField.BACKEND_ERRORS], ended),
                        backend_errors={b: c.window(i)[0] for b, c in app.backends.items()},
                    )
                )
            in_use, total = (app.ports[1], app.ports[2]) if app.ports else (None, None)
            out.append(IvrView(site, name, in_use, total, dict(app.outcomes), tuple(windows)))
        return out

    def _run_of(self, site: str, name: str) -> list[int]:
        runs = self._runs
        assert runs is not None
        run = runs.get((site, name))
        if run is None:
            if len(runs) >= self._guard.limits["application"]:
                name = OVERFLOW
            run = runs.setdefault((site, name), [0] * len(IvrField))
        return run

    def run_kpis(self) -> dict[tuple[str, str], IvrRun]:
        """Per (site, application), the figures over everything since the start
        (``keep_run``)."""
        return {key: _run_kpis(run) for key, run in (self._runs or {}).items()}


def _run_kpis(run: list[int]) -> IvrRun:
    ended = run[IvrField.ENDED]
    return IvrRun(
        started=run[IvrField.STARTED],
        ended=ended,
        outcomes={o: run[_OUTCOME_FIELD[o]] for o in OUTCOMES},
        containment=_per(run[IvrField.CONTAINED], ended),
        transfer=_per(run[IvrField.TRANSFERRED], ended),
        no_input=run[IvrField.NO_INPUT],
        no_match=run[IvrField.NO_MATCH],
        backend_errors=run[IvrField.BACKEND_ERRORS],
    )


def _per(part: int, whole: int) -> float | None:
    return part / whole if whole else None
