"""Asterisk CDRs to events v1. Rows follow cdr/cdr_csv.c's Master.csv column order and the
JSON keys CDR bridges write (docs/adapters-asterisk-cdr.md); every event made goes through
the real decoder, so it is valid v1."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from callpulse.adapters.asterisk_cdr import AsteriskCdr, AsteriskCdrOptions, peer
from callpulse.adapters.base import AdapterError
from callpulse.core.ingest import decode
from callpulse.core.monitor import Monitor

from .adapters import translated

# A Master.csv row's columns, as cdr_csv.c writes them with loguniqueid and loguserfield.
COLUMNS = (
    "accountcode", "src", "dst", "dcontext", "clid", "channel", "dstchannel", "lastapp",
    "lastdata", "start", "answer", "end", "duration", "billsec", "disposition", "amaflags",
    "uniqueid", "userfield",
)  # fmt: skip


def row(**given: object) -> dict[str, object]:
    """A PBX's outbound call on trunk ``carrier``, answered, with ``given`` changed."""
    fields: dict[str, object] = {
        "accountcode": "", "src": "1001", "dst": "442071234567", "dcontext": "from-internal",
        "clid": '"Alice" <1001>', "channel": "PJSIP/1001-00000012",
        "dstchannel": "PJSIP/carrier-00000013", "lastapp": "Dial",
        "lastdata": "PJSIP/442071234567@carrier,60,T", "start": "2025-11-24 16:00:00",
        "answer": "2025-11-24 16:00:07", "end": "2025-11-24 16:02:07", "duration": 127,
        "billsec": 120, "disposition": "ANSWERED", "amaflags": "DOCUMENTATION",
        "uniqueid": "1764000000.42", "userfield": "",
    }  # fmt: skip
    fields.update(given)
    return fields


def csv_line(fields: dict[str, object], columns: tuple[str, ...] = COLUMNS) -> bytes:
    """``fields`` as cdr_csv.c writes them: strings quoted (a quote doubled), numbers bare,
    an empty time as nothing."""

    def cell(name: str) -> str:
        value = fields[name]
        if isinstance(value, int):
            return str(value)
        if name in {"answer", "start", "end"} and value == "":
            return ""
        return '"' + str(value).replace('"', '""') + '"'

    return ",".join(cell(name) for name in columns).encode()


def read(adapter: AsteriskCdr, *records: bytes) -> list[dict[str, Any]]:
    return translated(adapter, *records)


@pytest.fixture
def cdr() -> AsteriskCdr:
    return AsteriskCdr(AsteriskCdrOptions(site="lon1"))


def test_an_answered_call_on_a_trunk_is_a_200_setup_at_its_answer(cdr: AsteriskCdr) -> None:
    [event] = read(cdr, csv_line(row()))
    assert event["type"] == "call.setup"
    assert (event["trunk_id"], event["call_id"], event["sip_code"]) == (
        "carrier", "1764000000.42", 200,
    )  # fmt: skip
    assert event["occurred_at"] == "2025-11-24T16:00:07.000Z"  # the answer, UTC by default
    assert "post_dial_delay_ms" not in event or event["post_dial_delay_ms"] is None


@pytest.mark.parametrize(
    ("disposition", "code"),
    [
        ("ANSWERED", 200),
        ("BUSY", 486),
        ("NO ANSWER", 480),
        ("CANCEL", 480),
        ("CONGESTION", 503),
        ("FAILED", 500),
    ],
)
def test_every_disposition_has_its_sip_code_at_the_end_unless_answered(
    cdr: AsteriskCdr, disposition: str, code: int
) -> None:
    answer = "2025-11-24 16:00:07" if code == 200 else ""
    [event] = read(cdr, csv_line(row(disposition=disposition, answer=answer, billsec=0)))
    assert event["sip_code"] == code
    when = "16:00:07" if code == 200 else "16:02:07"
    assert event["occurred_at"] == f"2025-11-24T{when}.000Z"


def test_the_dispositions_give_rfc_6076_ratios(make_monitor: Callable[..., Monitor]) -> None:
    """One call of each disposition on one trunk, 30 s apart: answered 1 of 6 (ASR); busy,
    no answer and the caller's cancel are the network working (NER 4/6); congestion and
    failure are not."""
    cdr = AsteriskCdr(AsteriskCdrOptions(site="lon1"))
    m = make_monitor()
    base = m.grid.now - 300  # every call within the last 5 minutes
    dispositions = ("ANSWERED", "BUSY", "NO ANSWER", "CANCEL", "CONGESTION", "FAILED")
    for i, disposition in enumerate(dispositions):
        start, end = base + 30 * i, base + 30 * i + 20
        record = {"channel": "PJSIP/1001-0000001", "dstchannel": f"SIP/carrier-0000{i}",
                  "disposition": disposition, "start": start, "end": end,
                  "answer": start + 5 if disposition == "ANSWERED" else None}  # fmt: skip
        for body in read(cdr, json.dumps(record).encode()):
            m.apply(decode(json.dumps(body).encode(), max_bytes=1 << 20))
    [view] = m.trunk_views()
    [w] = [w for w in view.windows if w.window == "15m"]
    assert view.trunk == "carrier"
    assert w.setups == 6
    assert w.asr == pytest.approx(1 / 6)
    assert w.ner == pytest.approx(4 / 6)
    assert w.post_dial_delay_p50 is None  # a CDR has no provisional response time
    assert view.setups_total == {"1xx": 0, "2xx": 1, "3xx": 0, "4xx": 3, "5xx": 2, "6xx": 0}


def test_an_unknown_disposition_is_rejected_by_name(cdr: AsteriskCdr) -> None:
    with pytest.raises(AdapterError, match="disposition 'UNKNOWN' is none of ANSWERED"):
        cdr.translate(csv_line(row(disposition="UNKNOWN")))


@pytest.mark.parametrize(
    ("channel", "found"),
    [
        ("SIP/KTTK-000009ae", ("SIP", "KTTK")),
        ("PJSIP/my-carrier-0000001b", ("PJSIP", "my-carrier")),  # a peer's own dash kept
        ("OOH323/avayaG700-1919", ("OOH323", "avayaG700")),
        ("IAX2/peer-123", ("IAX2", "peer")),
        ("DAHDI/1-1", ("DAHDI", "1")),
        ("DAHDI/i1/5551234-5", ("DAHDI", "i1")),  # an ISDN span, then the number dialled
        ("Local/300@ivr-00000a05;1", ("Local", "300@ivr")),
        ("SIP/KTTK-000009ae<ZOMBIE>", ("SIP", "KTTK")),  # a masqueraded channel
        ("", None),
        ("nothing", None),
    ],
)
def test_the_trunk_is_the_peer_without_the_channel_suffix(
    channel: str, found: tuple[str, str] | None
) -> None:
    assert peer(channel) == found


@pytest.mark.parametrize(
    ("channel", "dstchannel", "kind"),
    [
        ("SIP/KTTK-000009ae", "SIP/2001-00000a10", "inbound"),  # the carrier's call, to a phone
        ("SIP/2002-00000a01", "Local/4420@outbound-00000a02;1", "no_trunk"),
        ("SIP/2003-00000a03", "SIP/2004-00000a04", "no_trunk"),  # phone to phone
        ("SIP/KTTK-000009ae", "", "inbound"),  # the carrier's call, into the IVR
        ("PJSIP/carrier-01", "Local/200@queues-00000001;2", "inbound"),
    ],
)
def test_a_row_whose_dialled_channel_is_no_trunk_yields_nothing_and_is_counted(
    cdr: AsteriskCdr, channel: str, dstchannel: str, kind: str
) -> None:
    assert read(cdr, csv_line(row(channel=channel, dstchannel=dstchannel))) == []
    assert dict(cdr.ignored) == {kind: 1}


def test_listed_trunks_are_the_only_trunks() -> None:
    cdr = AsteriskCdr(AsteriskCdrOptions(site="lon1", trunks=["KTTK", "1"]))
    assert read(cdr, csv_line(row())) == []  # carrier is not listed
    [dahdi] = read(cdr, csv_line(row(dstchannel="DAHDI/1-1")))
    [kttk] = read(cdr, csv_line(row(dstchannel="SIP/KTTK-000009ae")))
    assert (dahdi["trunk_id"], kttk["trunk_id"]) == ("1", "KTTK")


def test_a_local_time_is_read_in_the_zone_given() -> None:
    cdr = AsteriskCdr(AsteriskCdrOptions(site="lon1", timezone="Europe/Moscow"))
    [event] = read(cdr, csv_line(row()))
    assert event["occurred_at"] == "2025-11-24T13:00:07.000Z"  # UTC+3


def test_quoted_fields_with_commas_and_quotes_stay_one_field(cdr: AsteriskCdr) -> None:
    line = csv_line(row(clid='"Smith, John" <1001>', lastdata="PJSIP/4420@carrier,60,tT"))
    assert b'"""Smith, John"" <1001>"' in line
    [event] = read(cdr, line)
    assert event["trunk_id"] == "carrier"


@pytest.mark.parametrize("width", [16, 17, 18, 21])
def test_every_master_csv_width_reads_by_position(cdr: AsteriskCdr, width: int) -> None:
    extra = {"peeraccount": "", "linkedid": "1764000000.42", "sequence": 7}
    fields = row(**extra)
    columns = (*COLUMNS, "peeraccount", "linkedid", "sequence")[:width]
    [event] = read(cdr, csv_line(fields, columns))
    assert event["call_id"] == ("1764000000.42" if width > 16 else None)


def test_a_header_line_names_the_columns_of_the_rows_after_it(cdr: AsteriskCdr) -> None:
    # A SQL cdr table exported with its header: calldate for start, no answer or end
    # columns (they come from duration and billsec), another column order.
    header = b"calldate,clid,src,dst,dcontext,channel,dstchannel,lastapp,lastdata,duration,"
    header += b"billsec,disposition,amaflags,accountcode,uniqueid,userfield"
    line = (
        b'2025-11-24 16:00:00,"""Alice"" <1001>",1001,4420,from-internal,'
        b"PJSIP/1001-01,PJSIP/carrier-02,Dial,x,127,120,ANSWERED,3,,1764000000.42,"
    )
    assert read(cdr, header) == []
    [event] = read(cdr, line)
    assert cdr.ignored == {"HEADER": 1}
    assert event["occurred_at"] == "2025-11-24T16:00:07.000Z"  # end 16:02:07 less 120 s
    with pytest.raises(AdapterError, match="a row has 17 columns, its header 16"):
        cdr.translate(line + b",x")


def test_the_columns_option_is_a_header_no_stream_line_changes() -> None:
    names = "start,channel,dstchannel,disposition,end"
    cdr = AsteriskCdr(AsteriskCdrOptions(site="lon1", columns=names))
    read(cdr, b"end,disposition,dstchannel,channel,start")  # a header in the stream
    [event] = read(cdr, b"2025-11-24 16:00:00,PJSIP/1-1,SIP/carrier-2,BUSY,2025-11-24 16:00:09")
    assert (event["sip_code"], event["occurred_at"]) == (486, "2025-11-24T16:00:09.000Z")


def test_json_with_the_cdr_variable_names(cdr: AsteriskCdr) -> None:
    record = {k: str(v) for k, v in row().items()}  # a bridge writing every value as text
    [event] = read(cdr, json.dumps(record).encode())
    assert (event["trunk_id"], event["sip_code"]) == ("carrier", 200)


def test_json_with_the_ami_cdr_event_names(cdr: AsteriskCdr) -> None:
    # cdr_manager's Cdr event, and Kafka backends that reuse its keys.
    record = {
        "AccountCode": "", "Source": "1001", "Destination": "4420",
        "DestinationContext": "from-internal", "CallerID": "<1001>",
        "Channel": "PJSIP/1001-01", "DestinationChannel": "IAX2/hq-7", "LastApplication": "Dial",
        "LastData": "IAX2/hq/4420", "StartTime": "2025-11-24 16:00:00", "AnswerTime": "",
        "EndTime": "2025-11-24 16:00:30", "Duration": 30, "Billsec": 0,
        "Disposition": "NO ANSWER", "AMAFlags": "DOCUMENTATION", "UniqueID": "1764000000.7",
    }  # fmt: skip
    [event] = read(cdr, json.dumps(record).encode())
    assert (event["trunk_id"], event["sip_code"], event["call_id"]) == ("hq", 480, "1764000000.7")
    assert event["occurred_at"] == "2025-11-24T16:00:30.000Z"


def test_a_time_with_an_offset_keeps_its_offset() -> None:
    cdr = AsteriskCdr(AsteriskCdrOptions(site="lon1", timezone="America/New_York"))
    record = row(start="2025-11-24T16:00:00+00:00", answer="2025-11-24T16:00:07Z",
                 end="2025-11-24T16:02:07+00:00")  # fmt: skip
    [event] = read(cdr, json.dumps(record).encode())
    assert event["occurred_at"] == "2025-11-24T16:00:07.000Z"


@pytest.mark.parametrize(
    ("record", "message"),
    [
        (b'"","1001","4420"', "a Master.csv row has 16 to 21 columns"),
        (
            b'2018-09-07 11:05:20","2018-09-07 11:05:20",0,0,"ANSWERED","DOCUMENTATION"',
            "this one 6",
        ),  # a row cut at its start, as a real export has one
        (csv_line(row(start="yesterday")), "start 'yesterday' is neither YYYY-MM-DD"),
        (csv_line(row(start="1401-09-11 09:57:53")), "before 1970"),  # a Persian calendar
        (csv_line(row(end="2025-13-45 99:00:00")), "end '2025-13-45 99:00:00' is neither"),
        (csv_line(row(answer="2025-11-24 18:00:00")), "out of order"),
        (csv_line(row(disposition="")), "disposition is missing"),
        (csv_line(row(dstchannel="PJSIP/" + "c" * 300 + "-01")), "300 characters long"),
        (csv_line(row(dstchannel="PJSIP/car\u202erier-01")), "U\\+202E"),
        (b'"unterminated,' + b"x" * 10, "not a CSV row"),
        (b'"' + b"x" * 200_000 + b'"', "not a CSV row: field larger than field limit"),
        (b"\xff\xfe", "not UTF-8 at byte 0"),
        (b"[1, 2]", "expected a CDR as a JSON object"),
        (b'{"channel": "PJSIP/1-1", "disposition": "BUSY", "start": 1e400}', "after 9999"),
        (json.dumps(row(start=True)).encode(), "start is not a string or a number: True"),
        (json.dumps(row(dstchannel=["SIP/c-1"])).encode(), "dstchannel is not a string"),
        (json.dumps(row(start=1e300)).encode(), "before 1970 or after 9999"),
        (json.dumps(row(start=-5)).encode(), "before 1970 or after 9999"),
        (b'{"a":' * 200 + b"1" + b"}" * 200, "nested deeper"),
    ],
)
def test_a_hostile_record_is_rejected_with_a_clear_reason(
    cdr: AsteriskCdr, record: bytes, message: str
) -> None:
    with pytest.raises(AdapterError, match=message) as info:
        cdr.translate(record)
    assert info.value.reason == "invalid_asterisk-cdr"
    assert len(info.value.detail) < 400  # what it quotes of the record is cut short
    # ...and the next record is read as if nothing had happened.
    assert [e.type for e in cdr.translate(csv_line(row()))] == ["call.setup"]


def test_the_hostile_producers_rows_are_each_rejected_or_ignored_never_raised() -> None:
    # The corpus the integration suite sends through Kafka, here through the adapter as the
    # ingest wraps it: every record is a DecodeError with a reason, or yields nothing.
    from callpulse.adapters import records
    from callpulse.core.ingest import DecodeError, RawRecord
    from tests.hostile import corpus

    cdr = AsteriskCdr(AsteriskCdrOptions(site="lon1"))
    translate = records.translator(cdr)
    for hostile in corpus("asterisk-cdr", 1_764_000_000):
        record = RawRecord(hostile.value, None, "pbx", 0, 0)
        if hostile.fate == "ignored":
            assert translate(record) == [], hostile.name
            continue
        with pytest.raises(DecodeError) as info:
            translate(record)
        assert info.value.reason == "invalid_asterisk-cdr", hostile.name
    assert dict(cdr.ignored) == {"no_trunk": 1}


def test_a_header_in_the_stream_cannot_make_the_pbxs_own_rows_unreadable(
    cdr: AsteriskCdr,
) -> None:
    # Whoever can write to the topic can write a header line; a row of Master.csv's shape
    # (a disposition in its 15th column) is still read by position after it.
    assert read(cdr, b"disposition,dstchannel,channel,start") == []
    [event] = read(cdr, csv_line(row(disposition="BUSY")))
    assert (event["trunk_id"], event["sip_code"]) == ("carrier", 486)
    # Rows of the header's own shape are read by it.
    [event] = read(cdr, b"NO ANSWER,IAX2/hq-7,PJSIP/1001-1,2025-11-24 16:00:00")
    assert (event["trunk_id"], event["sip_code"]) == ("hq", 480)


def test_every_disposition_asterisk_writes_has_a_sip_code() -> None:
    from callpulse.adapters.asterisk_cdr import SIP_CODES
    from callpulse.adapters.cdr_rows import DISPOSITIONS

    assert set(SIP_CODES) == DISPOSITIONS


def test_the_columns_setting_is_checked_as_a_cdr_header_at_load() -> None:
    from callpulse.config import FormatSettings

    FormatSettings(
        format="asterisk-cdr", site="lon1", columns="calldate,channel,dstchannel,disposition"
    )
    with pytest.raises(
        ValueError, match=r"columns: .* names no disposition, channel and dstchannel"
    ):
        FormatSettings(format="asterisk-cdr", site="lon1", columns="time,callid,queuename,event")
