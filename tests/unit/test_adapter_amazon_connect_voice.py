"""What Amazon Connect contact records say about the IVR, the telephony and the media: the
IVR session of each inbound contact, its setup on the instance's one trunk, and the
QualityScore of each leg. The records follow the Administrator Guide's "Contact records
data model"; every event goes through the real decoder."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from callpulse.adapters import amazon_connect
from callpulse.adapters.amazon_connect import AmazonConnect, AmazonConnectOptions
from callpulse.adapters.base import AdapterError
from callpulse.adapters.connect_voice import TRUNK
from callpulse.core.ingest import decode
from callpulse.core.monitor import Monitor
from callpulse.core.trunks import NO_TRUNK

from .adapters import translated
from .test_adapter_amazon_connect import (
    AGENTS,
    QUEUES,
    VOICE_TYPES,
    at,
    contact_event,
    contact_record,
    queue_info,
)

NO_AGENT: dict[str, Any] = {"Queue": None, "Agent": None}
APPLICATION = "connect-flows"


def fresh(ivr_application: str = APPLICATION) -> AmazonConnect:
    """An adapter that counts the flows' IVR sessions under ``ivr_application``."""
    options = AmazonConnectOptions(
        site="lon1", agent_names=AGENTS, queue_names=QUEUES, ivr_application=ivr_application
    )
    return AmazonConnect(options)


def test_without_an_ivr_application_a_contact_gives_its_setup_and_no_session() -> None:
    # Most flows route every caller to an agent: their containment is not counted unless
    # the site says under which application it is worth watching.
    events = voice(fresh(""), contact_record(DisconnectReason="CUSTOMER_DISCONNECT", **NO_AGENT))
    assert [e["type"] for e in events] == ["call.setup"]


def voice(adapter: AmazonConnect, *docs: dict[str, Any]) -> list[dict[str, Any]]:
    """The IVR, setup and media events of ``docs``."""
    events = translated(adapter, *(json.dumps(doc).encode() for doc in docs))
    return [e for e in events if e["type"] in VOICE_TYPES]


def of(events: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [e for e in events if e["type"] == kind]


def quality(agent: Any = 4.2, customer: Any = 2.1) -> dict[str, Any]:
    """QualityMetrics as the data model writes it, one score per leg."""
    return {
        "Agent": {"Audio": {"QualityScore": agent, "PotentialQualityIssues": []}},
        "Customer": {
            "Audio": {"QualityScore": customer, "PotentialQualityIssues": ["HighPacketLoss"]}
        },
    }


@pytest.mark.parametrize("reason", ["CONTACT_FLOW_DISCONNECT", "CUSTOMER_DISCONNECT"])
def test_a_contact_that_ends_in_the_flow_is_contained(reason: str) -> None:
    events = voice(fresh(), contact_record(DisconnectReason=reason, **NO_AGENT))
    [setup] = of(events, "call.setup")
    assert (setup["trunk_id"], setup["sip_code"], setup["call_id"]) == (TRUNK, 200, "c-1")
    [started] = of(events, "ivr.session_started")
    assert started["occurred_at"] == at(-30)  # InitiationTimestamp
    assert (started["session_id"], started["application"]) == ("c-1", APPLICATION)
    [ended] = of(events, "ivr.session_ended")
    assert ended["outcome"] == "contained"
    assert ended["duration_seconds"] == 230  # initiated at -30, disconnected at 200
    assert ended["occurred_at"] == at(200)


def test_a_contact_that_reached_a_queue_opted_out_to_an_agent() -> None:
    events = voice(fresh(), contact_record(DisconnectReason="CUSTOMER_DISCONNECT"))
    [ended] = of(events, "ivr.session_ended")
    assert ended["outcome"] == "transferred"
    assert ended["duration_seconds"] == 30  # the flow ran until the enqueue, at 0


@pytest.mark.parametrize(
    "fields",
    [
        {"TransferredToEndpoint": {"Address": "+15550100", "Type": "TELEPHONE_NUMBER"},
         "TransferCompletedTimestamp": at(60)},
        {"NextContactId": "c-2", "TransferCompletedTimestamp": at(60)},
    ],
)  # fmt: skip
def test_a_contact_sent_out_of_the_flow_is_transferred(fields: dict[str, Any]) -> None:
    record = contact_record(DisconnectReason="THIRD_PARTY_DISCONNECT", **NO_AGENT, **fields)
    [ended] = of(voice(fresh(), record), "ivr.session_ended")
    assert (ended["outcome"], ended["duration_seconds"]) == ("transferred", 90)


@pytest.mark.parametrize("method", ["TRANSFER", "QUEUE_TRANSFER", "CALLBACK", "OUTBOUND", "API"])
def test_only_a_caller_coming_in_is_a_setup_and_a_session(method: str) -> None:
    # The contact a transfer makes is the same caller, already counted on the first one; a
    # callback or an outbound call is Connect dialling out.
    assert voice(fresh(), contact_record(InitiationMethod=method)) == []


def test_a_telecom_problem_is_a_failed_setup() -> None:
    before = contact_record(DisconnectReason="TELECOM_PROBLEM", ConnectedToSystemTimestamp=None,
                            **NO_AGENT)  # fmt: skip
    events = voice(fresh(), before)
    assert [(e["type"], e["sip_code"]) for e in events] == [("call.setup", 503)]
    # Dropped by the telephony once in the flow: the session ends in error.
    during = contact_record(DisconnectReason="TELECOM_PROBLEM", **NO_AGENT)
    events = voice(fresh(), during)
    assert [e["sip_code"] for e in of(events, "call.setup")] == [503]
    assert [e["outcome"] for e in of(events, "ivr.session_ended")] == ["error"]


def test_an_ending_the_data_model_does_not_explain_is_not_guessed() -> None:
    connect = fresh()
    events = voice(connect, contact_record(**NO_AGENT))  # no DisconnectReason, as in 2019
    assert [e["type"] for e in events] == ["call.setup"]
    assert connect.ignored["IVR_OUTCOME_UNKNOWN"] == 1


def test_each_legs_quality_score_is_a_connect_score_never_a_mos() -> None:
    events = of(voice(fresh(), contact_record(QualityMetrics=quality())), "media.quality")
    assert [(e["trunk_id"], e["score"], e["score_kind"]) for e in events] == [
        (None, 4.2, "connect_quality"),  # the agent's softphone is on no trunk
        (TRUNK, 2.1, "connect_quality"),
    ]
    assert all(e["mos"] is None and e["jitter_ms"] is None for e in events)
    assert all(e["packet_loss_ratio"] is None for e in events)


def test_a_leg_without_a_score_gives_nothing() -> None:
    metrics = {"Agent": {"Audio": {"QualityScore": 3.0}}}  # no customer leg
    events = of(voice(fresh(), contact_record(QualityMetrics=metrics)), "media.quality")
    assert [e["score"] for e in events] == [3.0]


def test_a_chat_gives_no_session_setup_or_media() -> None:
    connect = fresh()
    chat = contact_record(Channel="CHAT", QualityMetrics=quality(), **NO_AGENT)
    assert translated(connect, json.dumps(chat).encode()) == []
    assert connect.ignored == {"CHAT": 1}


def test_a_record_updated_three_times_counts_its_caller_once() -> None:
    connect = fresh()
    copies = [contact_record(updated=300 + n, QualityMetrics=quality()) for n in range(3)]
    events = voice(connect, *copies)
    assert sorted(e["type"] for e in events) == sorted(
        ["call.setup", "ivr.session_started", "ivr.session_ended"] + ["media.quality"] * 2
    )


@pytest.mark.parametrize("bad", [0, 7, "x", True, -1.5, 1e308, "4" * 100_000])
def test_a_score_out_of_its_range_loses_that_leg_only_and_is_counted(bad: Any) -> None:
    connect = fresh()
    events = voice(connect, contact_record(QualityMetrics=quality(agent=bad)))
    assert [e["score"] for e in of(events, "media.quality")] == [2.1]
    assert len(of(events, "call.setup")) == 1  # the call's other facts stand
    assert connect.ignored["QUALITY_SCORE_INVALID"] == 1


@pytest.mark.parametrize(
    "metrics", [None, [], "x", {"Agent": None, "Customer": []}, {"Agent": {"Audio": "x"}}]
)
def test_quality_metrics_of_another_shape_give_no_media(metrics: Any) -> None:
    events = voice(fresh(), contact_record(QualityMetrics=metrics))
    assert of(events, "media.quality") == []
    assert len(of(events, "ivr.session_ended")) == 1


def test_huge_strings_are_no_crash() -> None:
    huge = "X" * 1_000_000
    issues = {"Audio": {"QualityScore": 4.0, "PotentialQualityIssues": [huge]}}
    record = contact_record(DisconnectReason=huge, QualityMetrics={"Agent": issues}, **NO_AGENT)
    events = voice(fresh(), record)  # an unknown reason: no session; the rest stands
    assert sorted(e["type"] for e in events) == ["call.setup", "media.quality"]
    assert voice(fresh(), contact_record(InitiationMethod=huge)) == []  # not INBOUND


@pytest.mark.parametrize(
    ("field", "fields"),
    [
        ("InitiationTimestamp", {}),
        ("TransferCompletedTimestamp", {"NextContactId": "c-2", **NO_AGENT}),
        ("DisconnectTimestamp", {"DisconnectReason": "CUSTOMER_DISCONNECT", **NO_AGENT}),
    ],
)
def test_an_unreadable_time_rejects_the_record_naming_its_field(
    field: str, fields: dict[str, Any]
) -> None:
    connect = fresh()
    record = contact_record(**fields) | {field: "yesterday"}
    with pytest.raises(AdapterError, match=f"{field} is not an ISO 8601 time"):
        connect.translate(json.dumps(record).encode())
    # Nothing of it was remembered: the corrected copy gives the caller.
    assert of(voice(connect, contact_record(**fields)), "call.setup")


def filled(monkeypatch: pytest.MonkeyPatch, doc: Callable[..., dict[str, Any]]) -> AmazonConnect:
    """An adapter whose contacts are capped at 3, after ``doc`` of contacts c-0 to c-4."""
    monkeypatch.setattr(amazon_connect, "MAX_CONTACTS", 3)  # a cap is taken when it is made
    connect = fresh()
    for n in range(5):
        voice(connect, doc(contact=f"c-{n}"))
    return connect


def test_the_contacts_remembered_are_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    connect = filled(monkeypatch, contact_record)
    assert connect.fill()["voice_contacts"] == 1.0
    # The oldest was forgotten: a copy of it, much later, counts its caller again.
    assert of(voice(connect, contact_record(contact="c-0", updated=9_000)), "call.setup")


def test_contact_records_give_the_monitor_exact_ivr_and_trunk_kpis(
    make_monitor: Callable[..., Monitor], now: float
) -> None:
    """Five inbound contacts in the last minute: c-1 contained, c-2 opted out to a queue,
    c-3 transferred out, c-4 dropped by the telephony in the flow, c-5 never connected
    (TELECOM_PROBLEM); c-2's record arrives three times. By hand: sessions ended 4,
    contained 1 (0.25), transferred 2 (0.5); setups 5, answered 3 (ASR 0.6)."""
    from .test_adapter_amazon_connect import T

    s = now - 50 - T

    def record(contact: str, **fields: Any) -> dict[str, Any]:
        base = contact_record(contact=contact, updated=s + 45,
                              InitiationTimestamp=at(s), ConnectedToSystemTimestamp=at(s),
                              DisconnectTimestamp=at(s + 40), **NO_AGENT)  # fmt: skip
        return base | fields

    queued = {"ARN": contact_record()["Queue"]["ARN"], "EnqueueTimestamp": at(s + 10)}
    docs = [
        record("c-1", DisconnectReason="CONTACT_FLOW_DISCONNECT", QualityMetrics=quality()),
        *[record("c-2", DisconnectReason="CUSTOMER_DISCONNECT", Queue=queued,
                 LastUpdateTimestamp=at(s + 45 + n)) for n in range(3)],
        record("c-3", TransferredToEndpoint={"Address": "+15550100"},
               TransferCompletedTimestamp=at(s + 20), DisconnectReason="THIRD_PARTY_DISCONNECT"),
        record("c-4", DisconnectReason="TELECOM_PROBLEM"),
        record("c-5", DisconnectReason="TELECOM_PROBLEM", ConnectedToSystemTimestamp=None),
    ]  # fmt: skip
    m = make_monitor()
    for body in translated(fresh(), *(json.dumps(d).encode() for d in docs)):
        m.apply(decode(json.dumps(body).encode(), max_bytes=1 << 20))
    [ivr] = m.ivr_views()
    assert ivr.application == APPLICATION
    [iw] = [w for w in ivr.windows if w.window == "1m"]
    assert (iw.started, iw.ended) == (4, 4)
    assert iw.containment == pytest.approx(0.25)
    assert iw.transfer == pytest.approx(0.5)
    trunks = {t.trunk: t for t in m.trunk_views()}
    assert set(trunks) == {TRUNK, NO_TRUNK}  # the agent's leg: media on no trunk
    trunk = trunks[TRUNK]
    [tw] = [w for w in trunk.windows if w.window == "1m"]
    assert tw.setups == 5
    assert tw.asr == pytest.approx(0.6)
    assert tw.mos_mean is None  # a Connect score is never a MOS
    assert tw.score_means == {"connect_quality": pytest.approx(2.1)}


# --- the session of a queued caller, from its QUEUED contact event ----------------------


def queued(contact: str = "c-1", **detail: Any) -> dict[str, Any]:
    """The QUEUED contact event of a caller who came in at -30 and was queued at 0, as the
    contact events data model writes it."""
    fields = {"initiationTimestamp": at(-30), "queueInfo": queue_info(0)} | detail
    return contact_event("QUEUED", contact, **fields)


def sessions(events: list[dict[str, Any]]) -> list[tuple[str, str, str, Any]]:
    """(type, when, id, outcome) of each IVR event among ``events``."""
    return [
        (e["type"], e["occurred_at"], e["event_id"], e.get("outcome"))
        for e in events
        if e["type"].startswith("ivr.")
    ]


def test_a_queued_caller_s_session_ends_at_the_queue_time_and_its_record_adds_none() -> None:
    # The record comes after the talk and the after-contact work (at 300 here): counted
    # from it alone, the transferred caller would reach the containment window minutes
    # after the contained ones did.
    connect = fresh()
    first = voice(connect, queued())
    assert [(kind, when, outcome) for kind, when, _, outcome in sessions(first)] == [
        ("ivr.session_started", at(-30), None),  # initiationTimestamp
        ("ivr.session_ended", at(0), "transferred"),  # queueInfo.enqueueTimestamp
    ]
    assert of(first, "ivr.session_ended")[0]["duration_seconds"] == 30
    assert connect.fill()["queued_sessions"] > 0
    then = voice(connect, contact_record(QualityMetrics=quality()))
    assert sessions(then) == []  # told already
    assert len(of(then, "call.setup")) == 1
    assert len(of(then, "media.quality")) == 2
    assert connect.fill()["queued_sessions"] == 0  # released: the record is remembered
    # The ids are the record's: a consumer de-duplicating on event_id sees one session.
    assert [e[2] for e in sessions(first)] == [
        e[2] for e in sessions(voice(fresh(), contact_record()))
    ]


def test_a_queued_event_after_the_record_starts_no_second_session() -> None:
    connect = fresh()
    assert len(of(voice(connect, contact_record()), "ivr.session_ended")) == 1
    assert sessions(voice(connect, queued())) == []


def test_a_second_queued_event_starts_no_second_session() -> None:
    # A transfer to another queue queues the same contact again; EventBridge may also
    # deliver an event twice.
    connect = fresh()
    assert len(sessions(voice(connect, queued()))) == 2
    assert sessions(voice(connect, queued(queueInfo=queue_info(50)))) == []


def test_a_contained_caller_has_no_queued_event_and_keeps_its_record_s_session() -> None:
    connect = fresh()
    events = voice(connect, contact_record(DisconnectReason="CONTACT_FLOW_DISCONNECT", **NO_AGENT))
    assert [outcome for *_, outcome in sessions(events)] == [None, "contained"]


@pytest.mark.parametrize(
    "detail",
    [
        {"initiationTimestamp": None},  # when it began: the record says
        {"initiationMethod": "TRANSFER"},  # the same caller, counted on the first contact
        {"initiationMethod": "X" * 100_000},
        {"initiationMethod": None},
    ],
)
def test_a_queued_event_that_cannot_say_the_session_leaves_it_to_the_record(
    detail: dict[str, Any],
) -> None:
    connect = fresh()
    first = translated(connect, json.dumps(queued(**detail)).encode())
    assert [e["type"] for e in first] == ["call.queued"]  # the wait stands
    assert connect.fill()["queued_sessions"] == 0
    assert len(of(voice(connect, contact_record()), "ivr.session_ended")) == 1


def test_without_an_ivr_application_a_queued_event_gives_no_session() -> None:
    assert sessions(translated(fresh(""), json.dumps(queued()).encode())) == []


def test_a_queued_event_started_at_connection_when_it_has_no_initiation_time() -> None:
    event = queued(initiationTimestamp=None, connectedToSystemTimestamp=at(-20))
    [started, _] = sessions(voice(fresh(), event))
    assert started[1] == at(-20)


@pytest.mark.parametrize("bad", ["yesterday", 1e308, "9" * 100_000, {"x": 1}, True])
def test_a_hostile_initiation_time_leaves_the_session_to_the_record(bad: Any) -> None:
    # A session field must not cost the queue its event: the wait stands, the session
    # comes from the record (late, but counted), and nothing else is kept.
    connect = fresh()
    events = translated(connect, json.dumps(queued(initiationTimestamp=bad)).encode())
    assert [e["type"] for e in events] == ["call.queued"]
    assert connect.fill()["queued_sessions"] == 0
    assert connect.ignored["QUEUED_START_UNREADABLE"] == 1
    assert len(of(voice(connect, contact_record()), "ivr.session_ended")) == 1


@pytest.mark.parametrize("later", [at(5), "9999-12-31T23:59:59Z"])
def test_a_session_started_after_its_queue_time_lasts_nothing(later: str) -> None:
    # Clocks that disagree: the session starts and ends at the queueing, never in the
    # future (where the ingest would refuse it, and the record would not give it again).
    [start, end] = [
        e for e in voice(fresh(), queued(initiationTimestamp=later)) if "ivr" in e["type"]
    ]
    assert (start["occurred_at"], end["occurred_at"]) == (at(0), at(0))
    assert end["duration_seconds"] == 0


def test_the_sessions_given_when_queued_are_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    connect = filled(monkeypatch, queued)
    assert connect.fill()["queued_sessions"] == 1.0
    # c-0 and c-1 were forgotten: their records give their sessions (late, but counted);
    # c-4's record, still remembered, gives none.
    assert len(of(voice(connect, contact_record(contact="c-0")), "ivr.session_ended")) == 1
    assert of(voice(connect, contact_record(contact="c-4")), "ivr.session_ended") == []
