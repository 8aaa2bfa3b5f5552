"""A topic configured with a platform format: its records go through the adapter, then the
same decoder and monitor as events v1; what the adapter cannot read is rejected with
invalid_<format>, and the records around it are applied."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from callpulse.adapters import records
from callpulse.adapters.base import v1
from callpulse.config import FormatSettings, Settings
from callpulse.config.errors import ConfigError
from callpulse.core.clock import WALL_TIME
from callpulse.core.events import CallQueued, Event
from callpulse.core.ingest import RawRecord
from callpulse.pipeline import build
from callpulse.web.exposition import ignored_by_format

from .conftest import NOW


def settings(**formats: dict[str, object]) -> Settings:
    return Settings.model_validate(
        {"source": {"kind": "kafka", "kafka": {"topics": ["events", "pbx"], "formats": formats}}}
    )


def test_a_topic_with_a_format_goes_through_its_adapter() -> None:
    parts = build(
        settings(pbx={"format": "asterisk-queue-log", "site": "lon1"}),
        now=NOW,
        clock=WALL_TIME,
    )
    t = int(NOW) - 20
    lines = [
        f"{t}|c1|billing|NONE|ENTERQUEUE||123|1",
        "not a queue_log line",
        f"{t + 1}|c2|billing|NONE|ENTERQUEUE||124|2",
        f"{t + 2}|c1|billing|NONE|DID|2071234567",
        f"{t + 9}|c1|billing|NONE|ABANDON|1|1|8",
    ]
    records = [RawRecord(line.encode(), None, "pbx", 0, i) for i, line in enumerate(lines)]
    rejected = parts.ingest.process(records)
    assert [(r.reason, r.record.offset) for r in rejected] == [("invalid_asterisk-queue-log", 1)]
    assert rejected[0].record.value == b"not a queue_log line"  # the platform's own record
    assert "expected time|callid|queue|agent|event" in rejected[0].detail
    assert parts.ingest.invalid["invalid_asterisk-queue-log"] == 1
    [view] = parts.monitor.queue_views()
    assert (view.site, view.totals["offered"], view.totals["abandoned"]) == ("lon1", 2, 1)
    assert view.calls_waiting == 1
    assert ignored_by_format(parts.adapters.values()) == {("asterisk-queue-log", "DID"): 1}


def test_other_topics_stay_events_v1() -> None:
    parts = build(
        settings(pbx={"format": "asterisk-queue-log", "site": "lon1"}),
        now=NOW,
        clock=WALL_TIME,
    )
    [rejected] = parts.ingest.process([RawRecord(b"1|c1|q|NONE|ENTERQUEUE", None, "events")])
    assert rejected.reason == "invalid_json"


def test_a_format_without_a_site_is_a_config_error() -> None:
    with pytest.raises((ConfigError, ValueError), match="carries no site"):
        settings(pbx={"format": "asterisk-queue-log"})


def test_formats_must_name_a_consumed_topic() -> None:
    with pytest.raises((ConfigError, ValueError), match="not in topics: elsewhere"):
        settings(elsewhere={"format": "asterisk-queue-log", "site": "lon1"})


def test_an_assumed_wrapup_ends_on_the_clock_with_no_line() -> None:
    parts = build(
        settings(pbx={"format": "asterisk-queue-log", "site": "lon1", "wrapup_seconds": 30}),
        now=NOW,
        clock=WALL_TIME,
    )
    t = int(NOW) - 100
    lines = [
        f"{t}|NONE|billing|Alice|ADDMEMBER|",
        f"{t + 1}|c1|billing|NONE|ENTERQUEUE||123|1",
        f"{t + 5}|c1|billing|Alice|CONNECT|4|c1.2|1",
        f"{t + 60}|c1|billing|Alice|COMPLETECALLER|4|55|1",
    ]
    parts.ingest.process([RawRecord(x.encode(), None, "pbx", 0, i) for i, x in enumerate(lines)])

    def agents() -> dict[str, int]:
        [view] = parts.monitor.queue_views()
        return {state: n for state, n in view.agents.items() if n}

    assert agents() == {"acw": 1}
    [adapter] = parts.adapters.values()
    assert records.flushed(adapter, t + 89, "pbx") == []  # the wrap-up ends at t + 90
    flushed = records.flushed(adapter, t + 95, "pbx")
    # Already events v1: applied as they are, though the topic has a translator.
    assert parts.ingest.process(flushed, translated=True) == []
    assert agents() == {"available": 1}


def test_a_platform_file_is_paced_on_its_own_times(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import asyncio

    from callpulse.config import FormatSettings, ReplaySettings
    from callpulse.sources import replay

    t = 1_764_000_000
    path = tmp_path / "queue_log"
    path.write_text(
        f"{t}|c1|billing|NONE|ENTERQUEUE||1|1\n"
        "not a queue_log line\n"  # no time: read at once
        f"{t + 30}|c2|billing|NONE|ENTERQUEUE||2|1\n"
        f"{t + 60}|c3|billing|NONE|ENTERQUEUE||3|1\n"
    )
    fmt = FormatSettings(format="asterisk-queue-log", site="lon1")
    assert records.clock(FormatSettings()) is None  # events v1 lines carry their time
    clock = records.clock(fmt)
    assert clock is not None
    assert clock(f"{t + 30}|c2|billing|NONE|ENTERQUEUE||2|1".encode()) == t + 30
    assert clock(b"not a queue_log line") is None

    slept: list[float] = []

    async def sleep(delay: float) -> None:  # the clock stands still: only the asks count
        slept.append(delay)

    monkeypatch.setattr(replay.asyncio, "sleep", sleep)

    async def play() -> list[int]:
        source = replay.ReplaySource(ReplaySettings(path=path, speed=10, format=fmt), clock)
        await source.start()
        sizes = []
        while not source.exhausted():
            sizes.append(len((await source.fetch()).records))
        await source.stop()
        return sizes

    sizes = asyncio.run(play())
    assert sum(sizes) == 4
    # 30 s and 60 s of the log's time at 10x: due 3 s and 6 s after the first line.
    assert slept == [pytest.approx(3, abs=0.5), pytest.approx(6, abs=0.5)]


def test_an_oversize_platform_record_is_refused_before_its_adapter_reads_it() -> None:
    parts = build(
        settings(pbx={"format": "asterisk-queue-log", "site": "lon1"}),
        now=NOW,
        clock=WALL_TIME,
    )
    t = int(NOW) - 10
    big = f"{t}|NONE|billing|Alice|ADDMEMBER|".encode() + b"x" * (256 * 1024)
    [rejected] = parts.ingest.process([RawRecord(big, None, "pbx", 0, 1)])
    assert rejected.reason == "oversize"
    # Read, it would have made Alice a member of billing (a small agent.state).
    assert parts.monitor.queue_views() == []


def test_every_platform_format_builds_its_adapter_with_its_options() -> None:
    from typing import get_args

    from callpulse.config import FormatSettings

    formats = get_args(FormatSettings.model_fields["format"].annotation)
    names = {"PJSIP/1": "alice"}
    for fmt in formats:
        # ivr_application: amazon-connect-flow-logs needs one; the others ignore it.
        settings = FormatSettings(
            format=fmt, site="lon1", agent_names=names, ivr_application="flows"
        )
        adapter = records.build(settings)
        if fmt == "events-v1":
            assert adapter is None
            continue
        assert adapter is not None
        assert adapter.format == fmt
        options = adapter.options  # type: ignore[attr-defined]
        assert options.site == "lon1"
        if fmt == "asterisk-cdr":  # a CDR names no agents: its trunks are its own copy
            assert options.trunks == []
            assert options.trunks is not settings.trunks
        if fmt in {"kamailio-acc", "opensips-acc"}:  # a proxy names no agents, only trunks
            assert options.default_trunk == "proxy"
        if hasattr(options, "agent_names"):  # a format of trunks and media names no agent
            assert options.agent_names == names
            assert options.agent_names is not settings.agent_names  # its own copy


def test_an_adapter_hands_the_ingest_its_events_not_json_to_read_again() -> None:
    adapter = records.build(FormatSettings(format="asterisk-queue-log", site="lon1"))
    assert adapter is not None
    t = int(NOW) - 20
    platform = RawRecord(f"{t}|c1|billing|NONE|ENTERQUEUE||123|1".encode(), None, "pbx", 3, 7)
    [out] = records.translator(adapter)(platform)
    assert isinstance(out.event, CallQueued)
    assert (out.value, out.key, out.partition, out.offset) == (None, b"lon1", 3, 7)
    assert out.event.occurred_at == datetime.fromtimestamp(t, UTC)


def test_an_event_an_adapter_could_not_make_rejects_its_record() -> None:
    # An adapter is callpulse's own code: a defect that would write an invalid event is
    # caught as the event is made, and the platform record is dead-lettered with the reason
    # a producer's record would get.
    class Careless:
        format = "careless"

        def translate(self, record: bytes) -> list[Event]:
            return [v1(record, 0, "call.abandoned", NOW, "lon1", call_id="c", queue="q",
                       wait_seconds=-1.0)]  # fmt: skip

    parts = build(settings(), now=NOW, clock=WALL_TIME)
    parts.ingest.translators["pbx"] = records.translator(Careless())  # type: ignore[arg-type]
    [rejected] = parts.ingest.process([RawRecord(b"anything", None, "pbx", 0, 0)])
    assert (rejected.reason, rejected.record.value) == ("invalid_schema", b"anything")
    assert "$.wait_seconds" in rejected.detail
