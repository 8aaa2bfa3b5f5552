"""Asterisk AMI events to events v1. Events are written as main/manager_channels.c,
main/rtp_engine.c and apps/app_queue.c write them (docs/adapters-asterisk-ami.md), raw or as
a bridge's JSON object; every event made goes through the real decoder, so it is valid v1."""

from __future__ import annotations

import json

import pytest

from callpulse.adapters import records
from callpulse.adapters.ami_trunk_state import MAX_CONTACTS, MAX_ENDPOINTS
from callpulse.adapters.asterisk_ami import MAX_CHANNELS, AsteriskAmi, AsteriskAmiOptions
from callpulse.adapters.base import AdapterError
from callpulse.core.ingest import DecodeError, RawRecord

from .adapters import body, only, statuses, translated

T0 = 1_764_000_000.0
TRUNK = "SIP/carrier-000000bb"
QOS = (
    "ssrc=737561271;themssrc=737890746;lp=5;rxjitter=0.000000;rxcount=995;"
    "txjitter=0.006167;txcount=900;rlp=0;rtt=0.020187;rxmes=88.0;txmes=91.5"
)


def raw(event: str, at: float = T0, **headers: str) -> bytes:
    """An AMI event as manager.c writes it on the socket, with ``timestampevents = yes``."""
    lines = [f"Event: {event}", "Privilege: call,all", f"Timestamp: {at:.6f}"]
    lines += [f"{k}: {v}" for k, v in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def as_json(event: str, at: float = T0, **headers: str) -> bytes:
    """The same event as an AMI-to-Kafka bridge publishes it: one JSON object."""
    return json.dumps({"Event": event, "Timestamp": str(at), **headers}).encode()


def chan(channel: str = TRUNK, uid: str = "1764000000.1", **more: str) -> dict[str, str]:
    return {"Channel": channel, "Uniqueid": uid, "Linkedid": "1764000000.1", **more}


def dest(channel: str, uid: str) -> dict[str, str]:
    return {"DestChannel": channel, "DestUniqueid": uid}


def ami(**options: list[str]) -> AsteriskAmi:
    return AsteriskAmi(AsteriskAmiOptions(site="lon1", **options))


# Setups ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "code"),
    [("ANSWER", 200), ("BUSY", 486), ("NOANSWER", 480), ("CANCEL", 480),
     ("CONGESTION", 503), ("CHANUNAVAIL", 500)],
)  # fmt: skip
def test_each_dial_status_is_the_code_its_cdr_disposition_stands_for(
    status: str, code: int
) -> None:
    caller = chan("PJSIP/1001-00000001", "1764000000.1")
    record = raw("DialEnd", **caller, **dest("PJSIP/carrier-00000002", "1764000000.2"),
                 DialStatus=status)  # fmt: skip
    setup = only(translated(ami(), record), "call.setup")
    assert (setup["trunk_id"], setup["call_id"], setup["sip_code"]) == (
        "carrier", "1764000000.2", code,
    )  # fmt: skip


def test_a_dial_to_a_phone_or_with_no_outcome_yields_nothing() -> None:
    adapter = ami()
    phone = raw("DialEnd", **chan(), **dest("SIP/777-000000bc", "2"), DialStatus="ANSWER")
    moved = raw("DialEnd", **chan(), **dest("SIP/carrier-01", "3"), DialStatus="FORWARDED")
    assert translated(adapter, phone, moved) == []
    assert dict(adapter.ignored) == {"not_trunk": 1, "DialEnd:no_outcome": 1}


def test_an_unknown_dial_status_is_rejected() -> None:
    record = raw("DialEnd", **chan(), **dest("SIP/carrier-01", "3"), DialStatus="MAYBE")
    with pytest.raises(AdapterError, match="DialStatus 'MAYBE' is none of"):
        ami().translate(record)


def test_an_inbound_trunk_leg_is_set_up_when_it_comes_up() -> None:
    adapter = ami()
    events = translated(
        adapter,
        raw("Newchannel", **chan(ChannelState="0")),
        raw("Newstate", **chan(ChannelState="4")),
        raw("Newstate", T0 + 2, **chan(ChannelState="6")),
        raw("Hangup", T0 + 60, **chan(Cause="16")),
    )
    setups = [e for e in events if e["type"] == "call.setup"]
    assert [(e["sip_code"], e["occurred_at"]) for e in setups] == [
        (200, "2025-11-24T16:00:02.000Z")
    ]


def test_an_inbound_leg_hung_up_before_an_answer_maps_its_q850_cause() -> None:
    def failed(cause: str) -> int:
        adapter = ami()
        translated(adapter, raw("Newchannel", **chan()))
        events = translated(adapter, raw("Hangup", **chan(Cause=cause)))
        return int(only(events, "call.setup")["sip_code"])

    # RFC 3398 §7.2.4.1; 16 before an answer is the caller's CANCEL; unlisted 500.
    assert [failed(c) for c in ("17", "34", "16", "1", "99")] == [486, 503, 487, 404, 500]


def test_a_dialled_trunk_leg_is_counted_once_at_its_dial_end() -> None:
    adapter = ami()
    leg = chan("SIP/carrier-02", "1764000000.2")
    events = translated(
        adapter,
        raw("Newchannel", **leg),
        raw("DialBegin", **chan("SIP/1001-01"), **dest("SIP/carrier-02", "1764000000.2")),
        raw("Newstate", **leg, ChannelState="6"),
        raw("DialEnd", **chan("SIP/1001-01"), **dest("SIP/carrier-02", "1764000000.2"),
            DialStatus="ANSWER"),
        raw("Hangup", **leg, Cause="16"),
    )  # fmt: skip
    assert [e["sip_code"] for e in events if e["type"] == "call.setup"] == [200]
    # The leg held a channel of the trunk from its Newchannel to its Hangup.
    assert statuses(events) == [("carrier", 1), ("carrier", 0)]


# Media ----------------------------------------------------------------------------------


def test_rtpaudioqos_gives_what_asterisk_received() -> None:
    record = raw("VarSet", **chan(), Variable="RTPAUDIOQOS", Value=QOS)
    media = only(translated(ami(), record), "media.quality")
    assert media["trunk_id"] == "carrier"
    assert media["packet_loss_ratio"] == 5 / (995 + 5)  # lp / (rxcount + lp)
    assert media["jitter_ms"] == pytest.approx(6.167)  # txjitter: Asterisk's own measure
    assert media["rtt_ms"] == pytest.approx(20.187)
    assert (media["score"], media["score_kind"]) == (91.5, "asterisk_mes")  # txmes
    assert media.get("mos") is None


@pytest.mark.parametrize("garbage", ["inf", "nan", "1e83", "-0.5", "x"])
def test_garbage_in_rtpaudioqos_leaves_that_measure_out(garbage: str) -> None:
    value = QOS.replace("txjitter=0.006167", f"txjitter={garbage}").replace(
        "txmes=91.5", f"txmes={garbage}"
    )
    media = only(translated(ami(), raw("VarSet", **chan(), Variable="RTPAUDIOQOS", Value=value)),
                 "media.quality")  # fmt: skip
    assert media.get("jitter_ms") is None
    assert media.get("score") is None
    assert media["packet_loss_ratio"] == 0.005


def test_a_wrapped_loss_count_or_nothing_received_is_no_measure() -> None:
    adapter = ami()
    wrapped = QOS.replace("lp=5", "lp=4294967295").replace("txjitter=0.006167", "txjitter=inf")
    wrapped = wrapped.replace("txmes=91.5", "txmes=1e83").replace("rtt=0.020187", "rtt=0")
    silent = QOS.replace("rxcount=995", "rxcount=0")
    events = translated(
        adapter,
        raw("VarSet", **chan(), Variable="RTPAUDIOQOS", Value=wrapped),
        raw("VarSet", **chan(), Variable="RTPAUDIOQOS", Value=silent),
    )
    assert events == []
    assert dict(adapter.ignored) == {"media:no_measure": 2}


def test_rtpaudioqos_in_a_hangups_chanvariable_and_its_varset_are_one_report() -> None:
    varset = raw("VarSet", **chan(), Variable="RTPAUDIOQOS", Value=QOS)
    # main/manager.c, append_channel_vars: "ChanVariable(<channel>): NAME=value".
    hangup = raw(
        "Hangup", T0 + 1, **chan(Cause="16"), **{f"ChanVariable({TRUNK})": f"RTPAUDIOQOS={QOS}"}
    )
    first, second = (only(translated(ami(), r), "media.quality") for r in (varset, hangup))
    assert first["event_id"] == second["event_id"]


def test_rtcp_sent_gives_the_fraction_lost_and_mes_and_no_jitter() -> None:
    record = raw("RTCPSent", **chan(), **{"PT": "200(SR)", "ReportCount": "1",
                 "Report0FractionLost": "64", "Report0IAJitter": "54", "MES": "87.5"})  # fmt: skip
    media = only(translated(ami(), record), "media.quality")
    assert (media["packet_loss_ratio"], media["score"]) == (0.25, 87.5)
    assert media.get("jitter_ms") is None  # IAJitter is in RTP units, and no rate is given


def test_media_on_a_phone_is_not_a_trunks() -> None:
    adapter = ami()
    assert translated(adapter, raw("VarSet", **chan("SIP/777-01"), Variable="RTPAUDIOQOS",
                                   Value=QOS)) == []  # fmt: skip
    assert dict(adapter.ignored) == {"not_trunk": 1}


# IVR ------------------------------------------------------------------------------------


def exten(at: float, context: str, ext: str = "s", app: str = "Playback", **c: str) -> bytes:
    return raw("Newexten", at, **chan(**c), Context=context, Exten=ext, Application=app)


def test_no_ivr_context_configured_means_no_session() -> None:
    assert translated(ami(), exten(T0, "ivr-main")) == []


def test_an_ivr_session_transferred_to_a_queue() -> None:
    adapter = ami(ivr_contexts=["ivr-main"])
    events = translated(
        adapter,
        exten(T0, "from-trunk"),
        exten(T0 + 1, "ivr-main"),
        exten(T0 + 2, "ivr-main", app="Read"),
        raw("QueueCallerJoin", T0 + 12.5, **chan(), Queue="sales"),
        exten(T0 + 30, "ivr-main", ext="h"),  # after the hangup: no new session
        raw("Hangup", T0 + 30, **chan(Cause="16")),
    )
    assert [e["type"] for e in events] == ["ivr.session_started", "ivr.session_ended"]
    ended = events[1]
    assert (ended["outcome"], ended["duration_seconds"], ended["application"]) == (
        "transferred", 11.5, "ivr-main",
    )  # fmt: skip


def test_an_ivr_that_hangs_up_itself_contained_one_the_caller_leaves_hangup() -> None:
    served, left = ami(ivr_contexts=["ivr-main"]), ami(ivr_contexts=["ivr-main"])
    translated(served, exten(T0, "ivr-main"), exten(T0 + 9, "ivr-main", app="Hangup"))
    translated(left, exten(T0, "ivr-main"))
    outcomes = [
        only(translated(a, raw("Hangup", T0 + 10, **chan(Cause="16"))), "ivr.session_ended")
        for a in (served, left)
    ]
    assert [o["outcome"] for o in outcomes] == ["contained", "hangup"]


def test_a_dialled_phone_running_the_ivr_context_starts_no_session() -> None:
    adapter = ami(ivr_contexts=["ivr-main"])
    events = translated(
        adapter,
        raw("DialBegin", **chan(), **dest("SIP/777-02", "1764000000.2")),
        exten(T0, "ivr-main", app="DumpChan", Uniqueid="1764000000.2"),
    )
    assert events == []


def test_followed_channels_are_bounded() -> None:
    adapter = ami(ivr_contexts=["ivr"])
    for n in range(MAX_CHANNELS + 5):
        adapter.translate(exten(T0, "ivr", Uniqueid=f"{T0}.{n}"))
    assert adapter.fill()["channels"] == 1.0


# Forms and hostile input ----------------------------------------------------------------


def test_raw_and_json_forms_read_the_same_and_json_keys_case_aside() -> None:
    headers = {**chan(), **dest("SIP/carrier-02", "1764000000.2"), "DialStatus": "BUSY"}
    lower = json.dumps({k.lower(): v for k, v in {"Event": "DialEnd", "Timestamp": T0,
                                                   **headers}.items()}).encode()  # fmt: skip
    forms = (raw("DialEnd", **headers), as_json("DialEnd", **headers), lower)
    codes = [only(translated(ami(), r), "call.setup")["sip_code"] for r in forms]
    assert codes == [486, 486, 486]


@pytest.mark.parametrize(
    ("record", "says"),
    [
        (b"Event: DialEnd\r\nDialStatus: ANSWER\r\n", "no Timestamp"),
        (b"not an AMI event at all", "Key: Value"),
        (b"Privilege: call\r\nTimestamp: 1\r\n", "no Event header"),
        (b'{"Event": "Hangup", "Timestamp": "1e400"}', "finite"),
        (b'{"Event": ["Hangup"]}', "not a string"),
        (b"\xff\xfe", "UTF-8"),
        (raw("Hangup", Channel=TRUNK, Uniqueid="a\u202eb"), "U+202E"),
        (raw("DialEnd", **dest("SIP/carrier-1", "2"), DialStatus="ANSWER",
             DestUniqueid2="x").replace(b"DestUniqueid: 2", b"DestUniqueid: "), "DestUniqueid"),
    ],
)  # fmt: skip
def test_hostile_records_go_to_the_dead_letter_topic_with_a_reason(
    record: bytes, says: str
) -> None:
    translate = records.translator(ami(ivr_contexts=["ivr"]))
    with pytest.raises(DecodeError) as info:
        translate(RawRecord(record, None, "ami", 0, 0))
    assert info.value.reason == "invalid_asterisk-ami"
    assert says in info.value.detail


def test_an_inbound_hangup_with_a_bad_cause_is_rejected_and_the_leg_kept() -> None:
    adapter = ami()
    translated(adapter, raw("Newchannel", **chan()))
    with pytest.raises(AdapterError, match=r"Q\.850"):
        adapter.translate(raw("Hangup", **chan(Cause="999")))
    assert (
        only(translated(adapter, raw("Hangup", **chan(Cause="17"))), "call.setup")["sip_code"]
        == 486
    )


# Trunk state ----------------------------------------------------------------------------


def contact(status: str, at: float = T0, endpoint: str = "carrier", uri: str = "a") -> bytes:
    """A ContactStatus as main/stasis_endpoints.c writes it (contactstatus_to_ami)."""
    return raw(
        "ContactStatus", at, URI=f"sip:{uri}.carrier.example:5060", ContactStatus=status,
        AOR=endpoint, EndpointName=endpoint, RoundtripUsec="12034",
    )  # fmt: skip


def peer(status: str, name: str = "SIP/carrier", at: float = T0) -> bytes:
    """A PeerStatus as main/stasis_endpoints.c writes it (peerstatus_to_ami)."""
    tech = name.partition("/")[0]
    return raw("PeerStatus", at, ChannelType=tech, Peer=name, PeerStatus=status)


def carrier() -> AsteriskAmi:
    """An adapter told that peer ``carrier`` is a trunk."""
    return ami(trunks=["carrier"])


def states(events: list[dict[str, object]]) -> list[tuple[object, object]]:
    """(trunk, state) of each state among ``events``, each checked to carry no count: a
    qualify result says nothing of the calls up."""
    out = []
    for e in events:
        if e["type"] == "trunk.status" and e.get("state") is not None:
            assert e["channels_in_use"] is None
            out.append((e["trunk_id"], e["state"]))
    return out


@pytest.mark.parametrize(
    ("status", "state"),
    [("Reachable", "up"), ("Lagged", "up"), ("Registered", "up"), ("Unreachable", "down"),
     ("Unregistered", "down"), ("Rejected", "down")],
)  # fmt: skip
def test_a_trunk_peers_status_is_its_state(status: str, state: str) -> None:
    for name in ("SIP/carrier", "PJSIP/carrier"):  # chan_sip, and res_pjsip's endpoint
        assert states(translated(carrier(), peer(status, name))) == [("carrier", state)]


def test_a_listed_trunks_unreachable_is_down_an_unlisted_phones_unregistered_nothing() -> None:
    adapter = ami(trunks=["carrier"])
    assert states(translated(adapter, peer("Unreachable", "PJSIP/carrier"))) == [
        ("carrier", "down")
    ]
    # A softphone's registration expiring: named like a trunk, but not listed as one.
    assert translated(adapter, peer("Unregistered", "SIP/alice-desk")) == []
    assert translated(adapter, contact("Unreachable", endpoint="alice-desk")) == []
    assert dict(adapter.ignored) == {"not_trunk": 2}


def test_with_no_trunks_listed_no_qualify_result_gives_a_state() -> None:
    # The setup rule (a peer not named by digits alone is a trunk) would page for every
    # phone whose registration expires: qualify results need the trunks listed.
    adapter = ami()
    for record in (
        peer("Unregistered", "SIP/alice-desk"),
        peer("Unreachable", "PJSIP/carrier"),
        contact("Unreachable"),
    ):
        assert translated(adapter, record) == []
    assert dict(adapter.ignored) == {"qualify:trunks_not_listed": 3}
    # The same adapter still reads the trunk's setups by that rule.
    translated(adapter, raw("Newchannel", **chan("SIP/carrier-01", "1764000000.1")))
    assert adapter.channels.in_use() == {"carrier": 1}


def test_a_peer_status_that_says_nothing_of_reachability_is_skipped() -> None:
    adapter = carrier()
    assert translated(adapter, peer("Unknown")) == []
    assert translated(adapter, peer("Unreachable", "SIP/1001")) == []  # a phone
    assert dict(adapter.ignored) == {"qualify:no_state": 1, "not_trunk": 1}


def test_a_peer_name_keeps_its_dashes() -> None:
    # A peer is named without a channel's -<sequence> suffix: lon1-sip-1 is the whole name.
    [event] = translated(ami(trunks=["lon1-sip-1"]), peer("Unreachable", "PJSIP/lon1-sip-1"))
    assert event["trunk_id"] == "lon1-sip-1"


def test_a_trunk_is_down_only_when_none_of_its_contacts_is_reachable() -> None:
    adapter = carrier()
    events = translated(
        adapter,
        contact("Reachable", uri="a"),
        contact("Reachable", uri="b"),
        contact("Unreachable", uri="a"),  # the other SBC still answers: still up
        contact("Unreachable", uri="b"),
        contact("Reachable", uri="b"),
    )
    assert states(events) == [
        ("carrier", "up"), ("carrier", "up"), ("carrier", "down"), ("carrier", "up")
    ]  # fmt: skip


def test_a_removed_contact_no_longer_holds_its_trunk_up() -> None:
    adapter = carrier()
    events = translated(
        adapter,
        contact("Reachable", uri="a"),
        contact("Reachable", uri="b"),
        contact("Removed", uri="b"),
        contact("Unknown", uri="a"),  # not qualified yet: says nothing
        contact("Unreachable", uri="a"),
    )
    assert states(events) == [("carrier", "up"), ("carrier", "up"), ("carrier", "down")]


def test_a_trunks_state_leaves_its_count_to_its_channels() -> None:
    # The count stands as the channels last said it: a state with the adapter's own count
    # would reset a count another topic makes.
    adapter = carrier()
    events = translated(
        adapter,
        raw("Newchannel", **chan("SIP/carrier-01", "1764000000.1")),
        raw("Newchannel", **chan("SIP/carrier-02", "1764000000.2")),
        raw("Hangup", **chan("SIP/carrier-01", "1764000000.1", Cause="16")),
        contact("Unreachable", T0 + 1),
    )
    assert statuses([e for e in events if e.get("state") is None]) == [
        ("carrier", 1), ("carrier", 2), ("carrier", 1)
    ]  # fmt: skip
    assert states(events) == [("carrier", "down")]


def test_a_lost_hangup_frees_its_channel_after_a_call_lasts() -> None:
    adapter = carrier()
    translated(adapter, raw("Newchannel", **chan()))
    assert adapter.flush(T0 + 60) == []
    [expired] = [body(e) for e in adapter.flush(T0 + 5 * 3600)]
    assert (expired["trunk_id"], expired["channels_in_use"]) == ("carrier", 0)


def test_contacts_are_bounded() -> None:
    adapter = ami(trunks=["carrier", *(f"carrier{n}" for n in range(MAX_ENDPOINTS + 3))])
    for n in range(MAX_CONTACTS + 3):
        translated(adapter, contact("Reachable", uri=f"c{n}"))
    # Past the cap a new contact is not followed: its Unreachable says nothing.
    assert states(translated(adapter, contact("Unreachable", uri="new"))) == []
    for n in range(MAX_ENDPOINTS + 3):
        translated(adapter, contact("Reachable", endpoint=f"carrier{n}"))
    assert adapter.fill()["endpoints"] == 1.0
