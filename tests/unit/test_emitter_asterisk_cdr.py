"""The simulator's call setups written as cdr_csv writes Master.csv: the carrier's calls
into the contact center, which a CDR names with the trunk as the calling channel."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from callpulse.adapters.asterisk_cdr import AsteriskCdr, AsteriskCdrOptions, peer
from callpulse.adapters.cdr_rows import RowReader
from callpulse.simulation.emitters.asterisk_cdr import AsteriskCdrEmitter

from .adapters import translated
from .test_emitter_sip_acc import setup


def test_an_answered_setup_is_a_master_csv_row_with_the_trunk_as_the_caller() -> None:
    [record] = AsteriskCdrEmitter().emit(setup(200))
    text = record.decode()
    # cdr_csv.c: every string quoted, duration and billsec (append_int) bare; 17 columns
    # with loguniqueid.
    assert text.startswith('"","+44200000001","s","from-trunk",""""" <+44200000001>",')
    assert '"2025-11-24 16:00:31",0,0,"ANSWERED","DOCUMENTATION","1764000031.1"' in text
    row = RowReader(ZoneInfo("UTC")).read(record)
    assert row is not None
    assert peer(row.channel) == ("PJSIP", "carrier-a")
    assert row.dstchannel == ""
    assert row.disposition == "ANSWERED"
    assert row.answer == datetime(2025, 11, 24, 16, 0, 31, tzinfo=UTC).timestamp()


def test_a_refused_setup_leaves_no_cdr() -> None:
    # The carrier's INVITE refused (trunk down, or full) never became a channel.
    emitter = AsteriskCdrEmitter()
    assert emitter.emit(setup(503)) == []
    assert emitter.emit(setup(486)) == []


def test_the_adapter_counts_the_rows_as_inbound_and_the_format_keeps_no_setup() -> None:
    emitter = AsteriskCdrEmitter()
    adapter = AsteriskCdr(AsteriskCdrOptions(site="lon1"))
    rows = [r for code in (200, 200, 503) for r in emitter.emit(setup(code))]
    assert translated(adapter, *rows) == []
    assert adapter.ignored == {"inbound": 2}
    assert emitter.as_kept(setup(200)) == []
