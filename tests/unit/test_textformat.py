"""callpulse's /metrics writer against prometheus_client's: the same bytes, in both formats
Prometheus asks for, on the daemon's own registry and on families built to reach every
branch (escapes, special values, the text format's moved samples, the families left to the
library)."""

from __future__ import annotations

import math
import re
import time
from collections.abc import Iterable

import pytest
from hypothesis import example, given
from hypothesis import strategies as st
from prometheus_client import exposition, openmetrics
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeHistogramMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    InfoMetricFamily,
    StateSetMetricFamily,
    SummaryMetricFamily,
)
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector, CollectorRegistry
from prometheus_client.samples import Exemplar
from prometheus_client.utils import floatToGoString

from callpulse.core import readings
from callpulse.core.catalog import FAMILIES
from callpulse.core.ingest import Ingest, RawRecord
from callpulse.core.monitor import Monitor, MonitorConfig
from callpulse.protocols import DeadLetterStats
from callpulse.simulation import scenario as scenarios
from callpulse.simulation.model import ContactCenter
from callpulse.web.exposition import CallpulseCollector, SourceMetrics, build_registry
from callpulse.web.textformat import RowFamily, fast_encoder, fast_writer, go_float

from .events import raw

# What Prometheus sends (3.x: OpenMetrics first; 2.x: the text format first) and what a
# browser or curl sends.
PROMETHEUS_ACCEPTS = [
    "application/openmetrics-text;version=1.0.0;q=0.5,application/openmetrics-text;"
    "version=0.0.1;q=0.4,text/plain;version=1.0.0;escaping=underscores;q=0.3,"
    "text/plain;version=0.0.4;q=0.2,*/*;q=0.1",
    "application/openmetrics-text; version=1.0.0,text/plain;version=0.0.4;q=0.5",
    "text/plain;version=0.0.4;q=1,*/*;q=0.1",
    "",
    "*/*",
]


class Fixed(Collector):
    """The same families on every collect, so that two writers see one scrape."""

    def __init__(self, families: Iterable[Metric]) -> None:
        self.families = list(families)

    def collect(self) -> Iterable[Metric]:
        return self.families


def both(accept: str, registry: Collector) -> tuple[bytes, bytes]:
    library, _ = exposition.choose_encoder(accept)
    return fast_encoder(library)(registry), library(registry)


def daemon_collector() -> CallpulseCollector:
    """The daemon's collector after 20 simulated minutes of a normal day, and a few calls
    to queues whose names the label values must escape."""
    start = time.time() - 1200
    ingest = Ingest(Monitor(MonitorConfig(), now=start))
    center = ContactCenter(scenarios.load("normal-day"), start)
    for minute in range(1, 21):
        ingest.monitor.tick(start + minute * 60)
        ingest.process(center.records(start + minute * 60))
    for n, queue in enumerate(['say "hi"', "back\\slash", "é ☎"]):
        call = f"escaped-{n}"
        ingest.process(
            [
                RawRecord(raw("call.queued", start + 1190, call_id=call, queue=queue)),
                RawRecord(raw("call.answered", start + 1195, call_id=call, queue=queue)),
            ]
        )
    return CallpulseCollector(
        ingest,
        SourceMetrics(lag=lambda: {("events", 0): 3}, dead_letters=DeadLetterStats(2, 0)),
        ready=lambda: True,
        wall_clock=lambda: start + 1200,
    )


def daemon_registry() -> Fixed:
    """The daemon's registry, collected once."""
    return Fixed(build_registry(daemon_collector()).collect())


@pytest.fixture(scope="module")
def registry() -> Fixed:
    return daemon_registry()


@pytest.mark.parametrize("accept", PROMETHEUS_ACCEPTS)
def test_the_daemons_registry_is_written_byte_for_byte_as_the_library_writes_it(
    registry: Fixed, accept: str
) -> None:
    ours, library = both(accept, registry)
    assert len(library.splitlines()) > 500  # a registry worth comparing
    assert ours == library


@pytest.mark.parametrize("accept", PROMETHEUS_ACCEPTS)
def test_the_kpi_lines_written_as_read_are_the_lines_the_library_writes_of_their_values(
    accept: str,
) -> None:
    # Collected for this writer, the KPI families come as lines written as each value is
    # read; collected for the library's, as values. The collect's own duration differs.
    registry = CollectorRegistry(auto_describe=True)
    registry.register(daemon_collector())
    ours, library = both(accept, registry)

    def timeless(body: bytes) -> list[bytes]:
        return [line for line in body.splitlines() if b"collect_duration_seconds " not in line]

    assert len(library.splitlines()) > 500
    assert b'queue="say \\"hi\\""' in library
    assert b'queue="back\\\\slash"' in library
    assert timeless(ours) == timeless(library)


def test_the_kpi_lines_joined_into_pieces_as_collected_are_the_same_lines(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The collect joins the lines so far every SERIES_A_STEP queues (500): here every 2.
    monkeypatch.setattr(readings, "SERIES_A_STEP", 2)
    seen = Seen(daemon_collector())
    ours, library = both("text/plain;version=0.0.4", seen)

    def timeless(body: bytes) -> list[bytes]:
        return [line for line in body.splitlines() if b"collect_duration_seconds " not in line]

    assert timeless(ours) == timeless(library)
    rows = [f for f in seen.families if isinstance(f, RowFamily) and f.lines]
    assert any(len(f.lines) < "".join(f.lines).count("\n") for f in rows)


class Seen(Collector):
    """``inner``'s families, as they are collected, kept."""

    def __init__(self, inner: Collector) -> None:
        self.inner = inner
        self.families: list[Metric] = []

    def collect(self) -> Iterable[Metric]:
        for family in self.inner.collect():
            self.families.append(family)
            yield family


@pytest.mark.parametrize("accept", PROMETHEUS_ACCEPTS)
def test_this_writer_is_given_the_kpi_families_as_lines(accept: str) -> None:
    seen = Seen(daemon_collector())
    library, _ = exposition.choose_encoder(accept)
    fast_encoder(library)(seen)
    rows = [f for f in seen.families if isinstance(f, RowFamily)]
    assert len(rows) == len(FAMILIES)
    assert all(f.lines is not None and not f.rows for f in rows)


def test_the_kpi_families_need_no_writer_of_the_librarys_in_either_format() -> None:
    # Their lines are written once for both formats: OpenMetrics' underscore escaping of
    # names must leave them as they are, and the library must never be needed for them.
    for family in FAMILIES.values():
        assert re.fullmatch(r"[a-z_][a-z0-9_]*", family.sample_name), family.name
        for label in family.labels:
            assert re.fullmatch(r"[a-z_][a-z0-9_]*", label), (family.name, label)


def test_lines_are_only_written_for_this_writer() -> None:
    families = list(daemon_collector().collect())
    rows = [f for f in families if isinstance(f, RowFamily)]
    assert rows
    assert all(f.lines is None for f in rows)
    assert any(f.rows for f in rows)


def crafted() -> Fixed:
    doc = 'Calls.\nSecond line \\ with "quotes"'
    counter = CounterMetricFamily("calls", doc, labels=["z", "a"])
    counter.add_metric(["x\\y", 'say "hi"\nbye'], 3, created=1_700_000_000.5)
    counter.add_metric(["é ☎", ""], 0.0, timestamp=1_700_000_001.25)
    counter.add_metric(['only "quotes"', "only \\ a backslash"], 1)
    gauge = GaugeMetricFamily("temperature", "Heat.", labels=["room"], unit="celsius")
    values = [math.nan, math.inf, -math.inf, -0.0, 1e22, 123456789.0, 1e-7, 1234567.5]
    for room, value in enumerate(values):
        gauge.add_metric([str(room)], value)
    unlabelled = GaugeMetricFamily("up_since", 'No labels, "quoted".', value=12)
    colon = GaugeMetricFamily("job:calls:rate5m", "A recording rule's name.", value=0.5)
    histogram = HistogramMetricFamily("wait_seconds", "Waits.", labels=["queue"])
    histogram.add_metric(["billing"], [("0.5", 1), ("1.0", 4), ("+Inf", 5)], sum_value=3.5)
    gauge_histogram = GaugeHistogramMetricFamily("backlog", "Backlog.", labels=["q"])
    gauge_histogram.add_metric(["b"], [("10.0", 2), ("+Inf", 3)], gsum_value=17)
    summary = SummaryMetricFamily("handle_seconds", "Handle.", count_value=4, sum_value=480)
    info = InfoMetricFamily("build", "Build.", value={"version": "1.2.3", "commit": "abc"})
    states = StateSetMetricFamily("mode", "Mode.", value={"live": True, "replay": False})
    unknown = Metric("mystery", "Untyped.", "unknown")
    unknown.add_sample("mystery", {}, 7)
    exemplar = CounterMetricFamily("traced", "With an exemplar.", labels=["a"])
    exemplar.add_metric(["1"], 2)
    exemplar.samples[0] = exemplar.samples[0]._replace(exemplar=Exemplar({"trace_id": "t"}, 1.0))
    odd_label = GaugeMetricFamily("odd_label", "A label name the library escapes.")
    odd_label.add_sample("odd_label", {"bad-name": "x"}, 1)
    odd_name = GaugeMetricFamily("odd.name", "A metric name the library escapes.", value=1)
    rows_counter = RowFamily("rows", "Rows, counted.", "counter", ["site", "queue"],
                             [(("a", 'q "1"\\'), 3.0), (("b", "q\n2"), 0.5)])  # fmt: skip
    rows_gauge = RowFamily("rows_gauge", "Rows, no labels.", "gauge", [], [((), 7)])
    # One tuple of label values in families of other label names (the writer remembers a
    # tuple's labels per set of names), in other orders, and labels given as a list.
    shared = ("lon1", 'b"x')
    by_queue = RowFamily("by_queue", "Q.", "gauge", ["site", "queue"], [(shared, 1.0)])
    by_app = RowFamily("by_app", "A.", "gauge", ["site", "application"], [(shared, 2.0)])
    reversed_names = RowFamily("rev", "R.", "counter", ["queue", "site"], [(shared, 3.0)])
    again = RowFamily("again", "Q again.", "gauge", ["site", "queue"],
                      [(shared, 4.0), (("lon1", 'b"x'), 5.0), (["nyc1", "c"], 6.0)])  # fmt: skip
    newline = GaugeMetricFamily("newline", "A sample name ending in a newline.")
    newline.add_sample("newline\n", {}, 1)
    return Fixed([counter, gauge, unlabelled, colon, histogram, gauge_histogram, summary, info,
                  states, unknown, exemplar, odd_label, odd_name, newline, rows_counter,
                  rows_gauge, by_queue, by_app, reversed_names, again])  # fmt: skip


@pytest.mark.parametrize("accept", PROMETHEUS_ACCEPTS)
def test_every_branch_is_written_as_the_library_writes_it(accept: str) -> None:
    ours, library = both(accept, crafted())
    assert ours == library


@pytest.mark.parametrize(
    "accept",
    [
        "application/openmetrics-text;version=1.0.0;escaping=allow-utf-8",
        "application/openmetrics-text;version=2.0.0",
        "text/plain;version=1.0.0;escaping=values",
    ],
)
def test_other_negotiations_are_left_to_the_library(accept: str) -> None:
    library, _ = exposition.choose_encoder(accept)
    assert fast_encoder(library) is library


def test_the_two_formats_prometheus_asks_for_are_written_here() -> None:
    for accept, encoder in [
        ("application/openmetrics-text; version=1.0.0", openmetrics.exposition.generate_latest),
        ("text/plain;version=0.0.4", exposition.generate_latest),
    ]:
        library, _ = exposition.choose_encoder(accept)
        assert getattr(library, "func", library) is encoder
        assert fast_encoder(library) is not library


@given(st.floats(allow_nan=True, allow_infinity=True) | st.integers(-(10**20), 10**20))
@example(-0.0)
@example(0.0)
@example(999_999.0)
@example(1_000_000.0)
@example(-999_999_999_999_999.0)
@example(-1e15)
@example(2.0**53)
@example(0.5)
def test_numbers_are_written_as_go_writes_them(value: float) -> None:
    assert go_float(value) == floatToGoString(value)


def test_small_counts_written_from_the_table_are_written_as_go_writes_them() -> None:
    for whole in range(-3, 1100):  # the table holds 0 to 1023
        assert go_float(float(whole)) == floatToGoString(float(whole)), whole
        assert go_float(whole) == floatToGoString(whole), whole


def test_a_row_family_reads_as_the_families_prometheus_client_builds() -> None:
    rows = [(("lon1", "billing"), 3.0), (("nyc1", "sales"), 0.0)]
    for kind, built in [
        ("counter", CounterMetricFamily("calls", "Calls.", labels=["site", "queue"])),
        ("gauge", GaugeMetricFamily("calls", "Calls.", labels=["site", "queue"])),
    ]:
        for labels, value in rows:
            built.add_metric(list(labels), value)
        assert RowFamily("calls", "Calls.", kind, ["site", "queue"], rows) == built


@pytest.mark.parametrize("accept", PROMETHEUS_ACCEPTS[1:3])
def test_a_large_row_family_is_sent_in_parts_of_the_same_bytes(accept: str) -> None:
    # 20,000 lines (1.2 MB): given as lines one by one and in joined pieces, as the
    # collect gives them, sent in parts far smaller than the family.
    rows = [((f"site{n % 7}", f"queue {n}"), float(n % 13) / 4) for n in range(20_000)]
    lines = [f'big{{queue="queue {n}",site="site{n % 7}"}} {go_float(v)}\n'
             for n, ((_, _), v) in enumerate(rows)]  # fmt: skip
    pieces = [*lines[:3], *("".join(lines[n : n + 1000]) for n in range(3, 20_000, 1000))]
    library, _ = exposition.choose_encoder(accept)
    small = GaugeMetricFamily("small", "After it.", value=1)

    def registry(family: RowFamily) -> Fixed:
        return Fixed([small, family, small])

    by_rows = RowFamily("big", "Big.", "gauge", ["site", "queue"], rows)
    by_lines = RowFamily("big", "Big.", "gauge", ["site", "queue"], [], pieces)
    parts = list(fast_writer(library)(registry(by_lines)))
    assert b"".join(parts) == library(registry(by_rows))
    assert len(parts) > 10
    assert max(map(len, parts)) < 200_000  # the family is 1.2 MB: never sent whole
