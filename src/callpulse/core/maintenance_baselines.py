"""What the affected queues were like before a window: each queue's recent samples and flow
history, and the baseline frozen for each window at its start (the backlog model's arrivals
and handle time, and the level a backlog is measured against)."""

from __future__ import annotations

import math
from array import array
from collections.abc import Iterable
from dataclasses import replace

from callpulse.core.calendar import Occurrence
from callpulse.core.cardinality import without_sites
from callpulse.core.flow_history import SPAN as FLOW_SPAN
from callpulse.core.flow_history import FlowHistory, drop_rows_before
from callpulse.core.maintenance_judge import reading_of
from callpulse.core.maintenance_state import Baseline, QueueReading, Sample
from callpulse.core.steps import Steps, finish

SAMPLE_EVERY = 60.0
"""Seconds between two baseline samples, whether an alert evaluation or the event-time clock
asks (see :meth:`Baselines.sample_due`)."""

SAMPLE_STEP = 500
"""Queues sampled between two yields of :meth:`Baselines.sample_in_steps`: about 2 ms, and
7 ms the first time, when each queue's series and flow history are made (2,000 had held the
loop 27 ms then, compiled)."""

MAX_RESTORED = 100_000
"""Queues whose flow history a state file may bring back (a few kB each)."""


class SampleSeries:
    """One queue's baseline samples, oldest first, in one array of doubles (six a sample:
    aht NaN when unknown, settled 0 or 1). A deque of NamedTuples took about 4 KB a queue
    for half an hour of samples a minute (40 MB at 10k queues), this 1.5 KB."""

    __slots__ = ("_values",)

    def __init__(self) -> None:
        self._values = array("d")

    def append(self, sample: Sample) -> None:
        """One more sample, newer than every one kept."""
        aht = math.nan if sample.aht is None else sample.aht
        self._values.extend(
            (
                sample.at,
                sample.waiting,
                sample.serving,
                sample.arrivals,
                aht,
                1.0 if sample.settled else 0.0,
            )
        )

    def drop_before(self, oldest: float) -> None:
        """Forget the samples taken before ``oldest``."""
        drop_rows_before(self._values, _WIDTH, oldest)

    def rows(self, start: float = -math.inf, end: float = math.inf) -> list[Sample]:
        """The samples taken from ``start`` to ``end``, both included, oldest first."""
        values = self._values
        out = []
        for i in range(0, len(values), _WIDTH):
            at = values[i]
            if start <= at <= end:
                aht = values[i + 4]
                out.append(
                    Sample(
                        at,
                        int(values[i + 1]),
                        int(values[i + 2]),
                        values[i + 3],
                        None if math.isnan(aht) else aht,
                        values[i + 5] != 0.0,
                    )
                )
        return out

    def __len__(self) -> int:
        return len(self._values) // _WIDTH

    def __eq__(self, other: object) -> bool:
        # By the samples (an unknown aht is NaN in the array, and NaN equals nothing).
        return isinstance(other, SampleSeries) and self.rows() == other.rows()

    __hash__ = None  # type: ignore[assignment]  # mutable: no hash, as a deque


_WIDTH = 6  # doubles a sample


class Baselines:
    """Samples, flow histories and frozen baselines of the queues; ``span``: the seconds
    before a window its baseline averages (``maintenance.backlog.baseline``)."""

    def __init__(self, span: float) -> None:
        self.span = span
        # Calls waiting, agents serving and AHT per queue, sampled every SAMPLE_EVERY.
        self._samples: dict[tuple[str, str], SampleSeries] = {}
        self._history: dict[tuple[str, str], FlowHistory] = {}
        # Histories read back from the state file are kept this long for queues not seen yet
        # (their events may not have come since the restart), then released with the rest.
        self._restored_until = -math.inf
        self._sampled_at = -math.inf
        self._frozen: dict[tuple[tuple[str, float], str, str], Baseline] = {}

    def history(self, site: str, queue: str) -> FlowHistory | None:
        """The queue's flow history, if it has one."""
        return self._history.get((site, queue))

    def forget_sites(self, gone: set[str]) -> None:
        """Drop the samples of the sites ``gone``."""
        self._samples = without_sites(self._samples, gone)

    def keep_windows(self, live: set[tuple[str, float]]) -> None:
        """Forget the frozen baselines of windows not in ``live``."""
        self._frozen = {k: v for k, v in self._frozen.items() if k[0] in live}

    def sample(
        self, now: float, queues: Iterable[QueueReading], windows: Iterable[Occurrence]
    ) -> None:
        """:meth:`sample_in_steps` at once."""
        finish(self.sample_in_steps(now, queues, windows))

    def sample_in_steps(
        self, now: float, queues: Iterable[QueueReading], windows: Iterable[Occurrence]
    ) -> Steps[None]:
        """Freeze the baselines of ``windows`` (open now, or in their grace period); then,
        when :meth:`sample_due`, record each queue's calls waiting and agents serving at
        ``now``.

        One sample a minute at most, whoever asks more often (an evaluation every 5 s): a
        baseline is the mean of half an hour, which 30 samples make as well as 360, and at
        10k queues every 5 s they held 600 MB and 3.6M objects."""
        # A window's baseline is frozen before the samples it needs age out: on a replay's
        # fast clock the first assessment may come long after the window opened.
        for occurrence in windows:
            for site, queue in self._samples:
                if occurrence.covers_queue(site, queue):
                    self.baseline(occurrence, site, queue)
        if not self.sample_due(now):
            return
        self._sampled_at = now
        oldest = now - self.span
        present = set()
        for n, view in enumerate(queues, 1):
            if n % SAMPLE_STEP == 0:
                yield
            key = (view.site, view.queue)
            present.add(key)
            # Built only when missing: setdefault builds its default (here a series, below a
            # FlowHistory's deque and array) for every queue at every sample.
            series = self._samples.get(key)
            if series is None:
                series = self._samples[key] = SampleSeries()
            flow = view.flow
            series.append(
                Sample(
                    now,
                    view.calls_waiting,
                    view.agents_serving,
                    flow.arrivals_per_second,
                    flow.aht_seconds,
                    flow.settled,
                )
            )
            series.drop_before(oldest)
            history = self._history.get(key)
            if history is None:
                history = self._history[key] = FlowHistory()
            if history.due(now):  # most samples come sooner than a reading is kept
                history.add(reading_of(now, flow))
        for key in [k for k in self._samples if k not in present]:
            del self._samples[key]
            self._history.pop(key, None)
        if now >= self._restored_until and len(self._history) > len(present):
            for key in [k for k in self._history if k not in present]:
                del self._history[key]

    def export_history(self) -> list[list[object]]:
        """Each queue's flow history as plain data, ``[site, queue, history]`` (for the
        state file: the callers' patience by hour of the day takes days to learn)."""
        return [[site, queue, h.export()] for (site, queue), h in self._history.items()]

    def restore_history(self, rows: object, now: float) -> int:
        """Take back :meth:`export_history`'s rows, at most :data:`MAX_RESTORED` queues;
        return how many. Raises ValueError (nothing taken) when they are not such rows."""
        if not isinstance(rows, list) or len(rows) > MAX_RESTORED:
            raise ValueError(f"flow history: a list of at most {MAX_RESTORED} queues")
        restored: dict[tuple[str, str], FlowHistory] = {}
        for row in rows:
            if not (
                isinstance(row, list)
                and len(row) == 3
                and isinstance(row[0], str)
                and isinstance(row[1], str)
            ):
                raise ValueError("flow history: each queue is [site, queue, history]")
            history = FlowHistory.restore(row[2])
            history.forget_before(now - FLOW_SPAN)
            restored[(row[0], row[1])] = history
        self._history.update(restored)
        self._restored_until = now + FLOW_SPAN
        return len(restored)

    def sample_due(self, now: float) -> bool:
        """Whether :data:`SAMPLE_EVERY` has passed since the last sample.

        Alert evaluations sample on the wall clock. On an event-time clock that runs faster
        (a replay at full speed reads hours a second) they land minutes or hours of event
        time apart, and the half hour before a window may hold none: the clock then samples
        as it goes."""
        # A clock that went back (a replay started over) samples again at once.
        return now >= self._sampled_at + SAMPLE_EVERY or now < self._sampled_at

    def baseline(self, occurrence: Occurrence, site: str, queue: str) -> Baseline | None:
        """Mean calls waiting and agents serving in the ``baseline`` period before the window,
        frozen at its start.

        None when nothing was sampled before the window (callpulse started during it): the
        baseline is unknown rather than zero, and only the absolute limits apply.
        """
        key = (occurrence.key, site, queue)
        if key not in self._frozen:
            start = occurrence.start
            series = self._samples.get((site, queue))
            before = series.rows(start - self.span, start) if series is not None else []
            if not before:
                return None
            base = Baseline.of(before)
            # Handle time from enough calls: a small queue's one window holds a handful.
            history = self._history.get((site, queue))
            handle = history.handle_time(start) if history is not None else None
            if handle is not None:
                base = replace(base, aht=handle.value, aht_calls=handle.count)
            self._frozen[key] = base
        return self._frozen[key]

    def recent(self, site: str, queue: str) -> Baseline | None:
        """The baseline of the period up to now (for a window still to come)."""
        series = self._samples.get((site, queue))
        return Baseline.of(series.rows()) if series else None
