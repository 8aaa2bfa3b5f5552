"""FreeSWITCH channel records to events v1, a test per record form and per pitfall. Header and
variable names follow switch_event.c, switch_core_media.c, mod_sofia.c and mod_json_cdr.c;
every event made goes through the real decoder, so it is valid v1."""

from __future__ import annotations

import json
from urllib.parse import quote

import pytest

from callpulse.adapters import freeswitch_channel
from callpulse.adapters.base import AdapterError
from callpulse.adapters.freeswitch_channel import FreeSwitchChannel, FreeSwitchChannelOptions

from .adapters import only, translated

T = 1_764_000_000.0  # the hangup, epoch seconds
LEG = "88b4673b-ad2c-4e8b-8fd6-4ad10aeb9ab0"


def adapter() -> FreeSwitchChannel:
    return FreeSwitchChannel(FreeSwitchChannelOptions(site="lon1"))


def leg(**variables: str) -> dict[str, str]:
    """An answered inbound leg on profile ``outside``: its channel variables, overridden."""
    return {
        "uuid": LEG,
        "channel_name": "sofia/outside/15550100001@192.0.2.10",
        "hangup_cause": "NORMAL_CLEARING",
        "answer_uepoch": str(int((T - 60) * 1e6)),
        "end_uepoch": str(int(T * 1e6)),
        "progressmsec": "0",
        "progress_mediamsec": "120",
        "rtp_audio_in_media_packet_count": "2970",
        "rtp_audio_in_skip_packet_count": "30",
        "rtp_audio_in_jitter_min_variance": "6.42",
        "rtp_audio_in_jitter_max_variance": "201.51",
        "rtp_audio_in_mos": "4.20",
    } | variables


def event_headers(name: str, variables: dict[str, str], **headers: str) -> dict[str, str]:
    """An event's headers: the core ones, then the channel's, then its variables."""
    body = {
        "Event-Name": name,
        "Core-UUID": "dfdcfeb2-5c24-4b48-a0ac-a778456d3339",
        "Event-Date-Timestamp": str(int(T * 1e6)),
        "Unique-ID": variables.get("uuid", LEG),
    }
    if "channel_name" in variables:
        body["Channel-Name"] = variables["channel_name"]
    if "hangup_cause" in variables:
        body["Hangup-Cause"] = variables["hangup_cause"]
    body |= {k.replace("_", "-"): v for k, v in headers.items()}
    return body | {f"variable_{k}": v for k, v in variables.items()}


def as_json(name: str, variables: dict[str, str], **headers: str) -> bytes:
    """The event as ``event json`` writes it: values as they are."""
    return json.dumps(event_headers(name, variables, **headers)).encode()


def as_plain(name: str, variables: dict[str, str], **headers: str) -> bytes:
    """The event as ``event plain`` writes it: ``Key: value`` lines, values URL-encoded,
    after the ESL envelope."""
    lines = [
        f"{k}: {quote(v, safe='')}" for k, v in event_headers(name, variables, **headers).items()
    ]
    body = "\n".join(lines) + "\n\n"
    envelope = f"Content-Length: {len(body)}\nContent-Type: text/event-plain\n\n"
    return (envelope + body).encode()


def as_cdr(variables: dict[str, str], encode: bool = True) -> bytes:
    """A mod_json_cdr document; values URL-encoded by default (encode-values)."""
    values = {k: quote(v, safe="") if encode else v for k, v in variables.items()}
    return json.dumps(
        {
            "core-uuid": "eb8bcdd2-d9eb-4f8f-80c3-1a4042aabe31",
            "switchname": "fs1",
            "channel_data": {"state": "CS_REPORTING", "direction": "inbound"},
            "variables": values,
            "callflow": [{"dialplan": "XML", "caller_profile": {"uuid": LEG}}],
        }
    ).encode()


def hangup(**variables: str) -> bytes:
    return as_json("CHANNEL_HANGUP_COMPLETE", leg(**variables))


# --- the three forms -------------------------------------------------------------------


@pytest.mark.parametrize(
    "record",
    [
        as_json("CHANNEL_HANGUP_COMPLETE", leg()),
        as_plain("CHANNEL_HANGUP_COMPLETE", leg()),
        as_cdr(leg()),
        as_cdr(leg(), encode=False),
        b"cdr=" + quote(as_cdr(leg()).decode(), safe="").encode(),  # mod_json_cdr's POST body
    ],
    ids=["event-json", "event-plain", "json-cdr", "json-cdr-unencoded", "json-cdr-form-body"],
)
def test_every_form_of_a_hangup_gives_the_same_setup_and_media(record: bytes) -> None:
    events = translated(adapter(), record)
    setup = only(events, "call.setup")
    assert (setup["trunk_id"], setup["call_id"], setup["sip_code"]) == ("outside", LEG, 200)
    assert setup["post_dial_delay_ms"] == 120.0
    assert setup["occurred_at"] == "2025-11-24T16:00:00.000Z"
    media = only(events, "media.quality")
    assert media["packet_loss_ratio"] == pytest.approx(30 / 3000)
    assert (media["score"], media["score_kind"]) == (4.2, "freeswitch_flaws")


def test_one_leg_read_in_two_forms_is_one_leg_to_the_ingest() -> None:
    from callpulse.core.ingest import Ingest, RawRecord
    from callpulse.core.monitor import Monitor, MonitorConfig

    as_event, as_document = hangup(), as_cdr(leg())
    ids = [[e["event_id"] for e in translated(adapter(), r)] for r in (as_event, as_document)]
    assert len(ids[0]) == 2
    assert ids[0] == ids[1]
    ingest = Ingest(Monitor(MonitorConfig(), now=T + 1))
    for record in (as_event, as_document):
        events = adapter().translate(record)
        carried = [RawRecord(None, b"lon1", "fs", 0, event=e) for e in events]
        assert ingest.process(carried, translated=True) == []
    [view] = ingest.monitor.trunk_views()
    assert view.setups_total["2xx"] == 1  # the second reading is a duplicate


def test_url_encoded_values_are_decoded() -> None:
    # A gateway name with a space and a slash, as plain ESL and encode-values write it.
    variables = leg(sip_gateway_name="carrier a/1")
    for record in (as_plain("CHANNEL_HANGUP_COMPLETE", variables), as_cdr(variables)):
        assert b"carrier%20a%2F1" in record
        assert only(translated(adapter(), record), "call.setup")["trunk_id"] == "carrier a/1"


def test_a_console_dump_of_a_plain_event_is_read() -> None:
    # What the ESL library prints: a banner, values not encoded, an SDP over several lines.
    text = (
        "RECV EVENT\nEvent-Name: CHANNEL_HANGUP_COMPLETE\nEvent-Date-Timestamp: 1764000000000000\n"
        f"Channel-Name: sofia/outside/1@192.0.2.10\nUnique-ID: {LEG}\n"
        "variable_switch_m_sdp: v=0\no=root 1 1 IN IP4 192.0.2.10\na=ptime:20\n\n"
        "variable_answer_uepoch: 1763999990000000\nvariable_progressmsec: 80\n"
    )
    setup = only(translated(adapter(), text.encode()), "call.setup")
    assert (setup["trunk_id"], setup["sip_code"], setup["post_dial_delay_ms"]) == (
        "outside",
        200,
        80.0,
    )


# --- trunk -----------------------------------------------------------------------------


def test_the_gateway_is_the_trunk_before_the_profile() -> None:
    record = hangup(channel_name="sofia/gateway/15550100002", sip_gateway_name="pbxtcp")
    assert only(translated(adapter(), record), "call.setup")["trunk_id"] == "pbxtcp"


def test_without_a_gateway_the_profile_is_the_trunk() -> None:
    record = hangup(channel_name="sofia/internal/1002@10.0.0.5:5060")
    assert only(translated(adapter(), record), "call.setup")["trunk_id"] == "internal"


def test_a_leg_that_is_not_sip_yields_nothing_and_is_counted() -> None:
    target = adapter()
    assert translated(target, hangup(channel_name="loopback/1000-a")) == []
    assert dict(target.ignored) == {freeswitch_channel.NOT_SIP: 1}


# --- final code ------------------------------------------------------------------------


def unanswered(**variables: str) -> dict[str, str]:
    return leg(answer_uepoch="0", **variables)


@pytest.mark.parametrize(
    ("variables", "code"),
    [
        # A caller who hangs up while it rings: CANCEL, answered 487.
        ({"hangup_cause": "ORIGINATOR_CANCEL", "sip_invite_failure_status": "487"}, 487),
        ({"hangup_cause": "ORIGINATOR_CANCEL"}, 487),  # mod_sofia's own mapping
        ({"proto_specific_hangup_cause": "sip:487"}, 487),
        ({"sip_term_status": "503", "proto_specific_hangup_cause": "sip:486"}, 503),
        ({"last_bridge_proto_specific_hangup_cause": "sip:404"}, 404),
        ({"hangup_cause": "USER_BUSY"}, 486),
        ({"hangup_cause": "NO_ANSWER"}, 480),
        ({"hangup_cause": "GATEWAY_DOWN"}, 503),
        ({"hangup_cause": "NORMAL_CLEARING"}, 480),  # not in hangup_cause_to_sip: its default
    ],
)
def test_an_unanswered_legs_final_code(variables: dict[str, str], code: int) -> None:
    events = translated(adapter(), as_json("CHANNEL_HANGUP_COMPLETE", unanswered(**variables)))
    assert only(events, "call.setup")["sip_code"] == code


def test_an_unanswered_leg_gets_no_media() -> None:
    # Early media can leave packet counts on a leg that was never answered.
    events = translated(adapter(), as_json("CHANNEL_HANGUP_COMPLETE", unanswered()))
    assert [e["type"] for e in events] == ["call.setup"]


def test_an_answered_leg_is_a_2xx_whatever_ended_it() -> None:
    # sip_term_status can be the BYE's answer; the INVITE was answered with a 2xx.
    assert (
        only(translated(adapter(), hangup(sip_term_status="481")), "call.setup")["sip_code"] == 200
    )
    assert (
        only(translated(adapter(), hangup(sip_term_status="202")), "call.setup")["sip_code"] == 202
    )


# --- post-dial delay -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("progress", "media", "pdd"),
    [
        ("60", "3420", 60.0),  # both: the earlier, never their sum
        ("3420", "60", 60.0),
        ("0", "60", 60.0),  # zero is "never happened"
        ("250", "0", 250.0),
        ("0", "0", None),
    ],
)
def test_post_dial_delay_is_the_earlier_progress(progress: str, media: str, pdd: float) -> None:
    record = hangup(progressmsec=progress, progress_mediamsec=media)
    setup = only(translated(adapter(), record), "call.setup")
    assert setup.get("post_dial_delay_ms") == pdd


# --- media -----------------------------------------------------------------------------


def test_the_flaws_score_is_no_mos_and_the_variance_no_jitter() -> None:
    media = only(translated(adapter(), hangup()), "media.quality")
    assert media["mos"] is None
    assert media["jitter_ms"] is None  # rtp_audio_in_jitter_*_variance are ms², not jitter


def test_a_leg_that_received_nothing_has_loss_but_no_score() -> None:
    # One-way audio: every packet made up. The score is still its starting 4.5.
    record = hangup(rtp_audio_in_media_packet_count="0", rtp_audio_in_skip_packet_count="400",
                    rtp_audio_in_mos="4.50")  # fmt: skip
    media = only(translated(adapter(), record), "media.quality")
    assert (media["packet_loss_ratio"], media["score"]) == (1.0, None)


def test_a_leg_with_no_media_counts_gets_no_media_event() -> None:
    variables = {k: v for k, v in leg().items() if not k.startswith("rtp_")}
    events = translated(adapter(), as_json("CHANNEL_HANGUP_COMPLETE", variables))
    assert [e["type"] for e in events] == ["call.setup"]


def rtcp(leg_id: str = LEG, **headers: str) -> bytes:
    body = {
        "Event-Name": "RECV_RTCP_MESSAGE",
        "Event-Date-Timestamp": str(int((T - 30) * 1e6)),
        "Unique-ID": leg_id,
        "SSRC": "f8a1b2c3",
        "RTP-Rate": "8000",
        "Source0-SSRC": "01020304",
        "Source0-Fraction": "13",
        "Source0-Lost": "40",
        "Source0-Jitter": "160",
    } | {k.replace("_", "-"): v for k, v in headers.items()}
    return json.dumps(body).encode()


def test_rtcp_reports_give_loss_and_jitter_on_the_trunk_a_channel_event_named() -> None:
    target = adapter()
    answer = as_json("CHANNEL_ANSWER", {"uuid": LEG, "sip_gateway_name": "carrier-a"})
    [media] = translated(target, answer, rtcp())
    assert media["type"] == "media.quality"
    assert (media["trunk_id"], media["call_id"]) == ("carrier-a", LEG)
    assert media["packet_loss_ratio"] == pytest.approx(13 / 256)
    assert media["jitter_ms"] == pytest.approx(20.0)  # 160 / 8000 Hz
    assert media["score"] is None
    # The leg's hangup forgets it: a late report is counted, not guessed.
    translated(target, hangup())
    assert translated(target, rtcp()) == []
    assert target.ignored[freeswitch_channel.UNKNOWN_LEG] == 1


def test_a_report_with_no_block_is_counted() -> None:
    target = adapter()
    body = json.loads(rtcp())
    del body["Source0-Fraction"]
    assert translated(target, json.dumps(body).encode()) == []
    assert target.ignored[freeswitch_channel.NO_REPORT] == 1


def test_other_events_are_counted_by_name() -> None:
    target = adapter()
    assert translated(target, as_json("HEARTBEAT", {}), as_json("MADE_UP", {})) == []
    assert dict(target.ignored) == {"HEARTBEAT": 1, "_other": 1}


def test_the_legs_kept_for_rtcp_are_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(freeswitch_channel, "MAX_LEGS", 3)
    target = adapter()
    for n in range(10):
        created = {"uuid": f"leg-{n}", "channel_name": "sofia/outside/1"}
        target.translate(as_json("CHANNEL_CREATE", created))
    assert target.fill()["legs"] == 1.0
    assert translated(target, rtcp("leg-9"))[0]["trunk_id"] == "outside"
    assert translated(target, rtcp("leg-0")) == []  # the oldest went first


# --- hostile values --------------------------------------------------------------------


@pytest.mark.parametrize(
    "variables",
    [
        {"rtp_audio_in_skip_packet_count": "-5"},
        {"rtp_audio_in_media_packet_count": "inf"},
        {"rtp_audio_in_media_packet_count": "1e83"},
        {"rtp_audio_in_media_packet_count": "9" * 25},
        {"rtp_audio_in_mos": "inf"},
        {"rtp_audio_in_mos": "nan"},
        {"rtp_audio_in_mos": "4.7"},  # above FreeSWITCH's 4.5
        {"rtp_audio_in_mos": "0.5"},
        {"progressmsec": "-1"},
        {"progress_mediamsec": "1e300"},
        {"answer_uepoch": "soon"},
        {"end_uepoch": "1e30"},
        {"uuid": "a\x1b[2Jb"},
        {"sip_gateway_name": "x" * 300},
        {"sip_gateway_name": "%FF%FE"},  # URL-encoded bytes that are no UTF-8
    ],
)
def test_a_hostile_value_rejects_the_record(variables: dict[str, str]) -> None:
    if "end_uepoch" in variables:  # a CDR's own time
        record = as_cdr(leg(**variables), encode=False)
    else:
        record = as_plain("CHANNEL_HANGUP_COMPLETE", leg(**variables))
        if "%" in str(variables):
            record = record.replace(b"%25FF%25FE", b"%FF%FE")
    with pytest.raises(AdapterError) as info:
        adapter().translate(record)
    assert info.value.reason == "invalid_freeswitch-channel"
    assert info.value.detail.isprintable()


@pytest.mark.parametrize(
    "variables",
    [
        {"answer_uepoch": "0", "sip_term_status": "99999"},
        {"answer_uepoch": "0", "sip_term_status": "183"},  # provisional: no final code
        {"answer_uepoch": "0", "sip_invite_failure_status": "abc"},
        {"answer_uepoch": "0", "hangup_cause": "drop table"},
    ],
)
def test_a_code_that_is_no_final_response_rejects_the_record(variables: dict[str, str]) -> None:
    with pytest.raises(AdapterError, match=r"final SIP code|cause name"):
        adapter().translate(hangup(**variables))


@pytest.mark.parametrize(
    "record",
    [
        b"",
        b"\xff\xfe",
        b"[1, 2]",
        b'{"Event-Name": ["CHANNEL_HANGUP_COMPLETE"]}',
        b'{"variables": "x"}',
        b'{"hello": 1}',
        b"just some text",
        b'{"Event-Name": "RECV_RTCP_MESSAGE", "Unique-ID": "u", "Source0-Fraction": "300",'
        b' "Event-Date-Timestamp": "1764000000000000"}',
        b'{"Event-Name": "CHANNEL_HANGUP_COMPLETE", "Event-Date-Timestamp": "1"}',  # no leg
        b"cdr=%FF",
    ],
)
def test_records_of_no_known_form_are_rejected_with_a_reason(record: bytes) -> None:
    with pytest.raises(AdapterError) as info:
        adapter().translate(record)
    assert info.value.reason == "invalid_freeswitch-channel"


def test_a_rejected_hangup_leaves_the_legs_trunk_for_its_reports() -> None:
    target = adapter()
    target.translate(as_json("CHANNEL_ANSWER", {"uuid": LEG, "sip_gateway_name": "gw"}))
    with pytest.raises(AdapterError):
        target.translate(hangup(sip_gateway_name="gw", rtp_audio_in_mos="9"))
    assert translated(target, rtcp())[0]["trunk_id"] == "gw"
