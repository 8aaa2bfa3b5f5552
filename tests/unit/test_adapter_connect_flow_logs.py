"""Amazon Connect contact flow logs: entries written as the Administrator Guide's example
and AWS's Lambda-integration pages show them, alone and in CloudWatch Logs subscription
documents, and each pitfall of the format (docs/adapters-amazon-connect-flow-logs.md)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from callpulse.adapters.base import AdapterError, PartlyReadError
from callpulse.adapters.cloudwatch_logs import MAX_LOG_EVENTS
from callpulse.adapters.connect_flow_logs import (
    INPUT_OTHER,
    INPUT_RECEIVED,
    SUCCEEDED,
    UNRECOGNISED,
    ConnectFlowLogOptions,
    ConnectFlowLogs,
)
from callpulse.adapters.connect_voice import ContactVoice
from callpulse.config import FormatSettings

from .adapters import body, translated

CONTACT = "fba006bc-e6ed-4f17-b7a1-4ab1c2d3e4f5"
FLOW = "arn:aws:connect:eu-west-2:111122223333:instance/i-1/contact-flow/f-1"
FUNCTION = "arn:aws:lambda:eu-west-2:111122223333:function:crm-lookup"


def adapter() -> ConnectFlowLogs:
    return ConnectFlowLogs(ConnectFlowLogOptions(site="lon1", ivr_application="flows"))


def entry(block: str, **fields: Any) -> dict[str, Any]:
    """A flow log entry of ``block``, as the admin guide's example lays one out."""
    return {
        "ContactId": CONTACT,
        "ContactFlowId": FLOW,
        "ContactFlowName": "Main IVR",
        "ContactFlowModuleType": block,
        "Identifier": "0c51520c-6249-4ff9-9feb-3e4f5a6b7c8d",
        "Timestamp": "2024-05-15T11:40:34.056Z",
        **fields,
    }


def lambda_entry(**fields: Any) -> dict[str, Any]:
    params = {"FunctionArn": FUNCTION, "ResponseValidation": "ResponseType=STRING_MAP"}
    return entry("InvokeExternalResource", **({"Parameters": params} | fields))


def raw(doc: dict[str, Any]) -> bytes:
    return json.dumps(doc).encode()


def envelope(*messages: str, kind: str = "DATA_MESSAGE") -> bytes:
    """A CloudWatch Logs subscription document, as delivered after gunzip."""
    events = [{"id": str(i), "timestamp": 1715773234056, "message": m} for i, m in
              enumerate(messages)]  # fmt: skip
    return raw({"messageType": kind, "owner": "111122223333", "logGroup": "/aws/connect/x",
                "logStream": "2024/05/15/i-1", "subscriptionFilters": ["callpulse"],
                "logEvents": events})  # fmt: skip


def test_a_lambda_error_is_a_backend_error_of_the_contacts_session() -> None:
    a = adapter()
    [event] = translated(a, raw(lambda_entry(Results="The Lambda Function Returned An Error.")))
    assert event == event | {
        "type": "ivr.backend_error", "site": "lon1", "session_id": CONTACT,
        "application": "flows", "backend": "crm-lookup",
        "error": "The Lambda Function Returned An Error.",
        "occurred_at": "2024-05-15T11:40:34.056Z",
    }  # fmt: skip


def test_the_session_is_the_one_contact_records_give_the_same_contact() -> None:
    from callpulse.adapters.bounds import Ignored

    voice = ContactVoice("lon1", Ignored(()), 10, "flows")
    record = {
        "ContactId": CONTACT, "InitiationMethod": "INBOUND",
        "InitiationTimestamp": "2024-05-15T11:40:30Z",
        "ConnectedToSystemTimestamp": "2024-05-15T11:40:31Z",
        "DisconnectTimestamp": "2024-05-15T11:41:00Z", "DisconnectReason": "CUSTOMER_DISCONNECT",
    }  # fmt: skip
    started = [body(e) for e in voice.events(record, CONTACT) if e.type == "ivr.session_started"]
    [error] = translated(adapter(), raw(lambda_entry(Results="Error")))
    assert (error["session_id"], error["application"]) == (
        started[0]["session_id"],
        started[0]["application"],
    )


def test_an_alias_and_a_bare_name_give_the_function() -> None:
    a = adapter()
    aliased = lambda_entry(Results="Error", Parameters={"FunctionArn": FUNCTION + ":live"})
    bare = lambda_entry(Results="Error", Parameters={"LambdaFunctionARN": "crm-lookup"})
    assert [e["backend"] for e in translated(a, raw(aliased), raw(bare))] == ["crm-lookup"] * 2


def test_a_lambda_that_answered_is_counted_not_an_error() -> None:
    a = adapter()
    ok = lambda_entry(ExternalResults={"customerName": "Arnav", "accountType": "Gold"})
    assert translated(a, raw(ok), raw(lambda_entry())) == []
    assert dict(a.ignored) == {SUCCEEDED: 2}


@pytest.mark.parametrize(
    "results",
    ["Status Code: 403; Error Code: AccessDeniedException", "Timeout",
     "Instance has reached concurrent Lambda thread access limit"],
)  # fmt: skip
def test_every_failure_aws_lists_is_an_error(results: str) -> None:
    [event] = translated(adapter(), raw(lambda_entry(Results=results)))
    assert event["error"] == results


def test_a_result_not_known_as_an_error_is_counted_not_paged() -> None:
    a = adapter()
    assert translated(a, raw(lambda_entry(Results="Success"))) == []
    assert dict(a.ignored) == {UNRECOGNISED: 1}


@pytest.mark.parametrize(
    ("block", "results", "kind"),
    [("GetUserInput", "Timeout", "no_input"),
     ("GetParticipantInput", "InputTimeLimitExceeded", "no_input"),
     ("StoreUserInput", "Timeout", "no_input"),
     ("GetUserInput", "NoMatchingCondition", "no_match"),
     ("GetUserInput", "Default", "no_match")],
)  # fmt: skip
def test_a_timeout_is_no_input_and_no_branch_is_no_match(
    block: str, results: str, kind: str
) -> None:
    e = entry(block, Identifier="Main menu", Results=results, Parameters={"Timeout": "5"})
    [event] = translated(adapter(), raw(e))
    assert event == event | {"type": "ivr.input_error", "kind": kind, "node": "Main menu",
                             "session_id": CONTACT, "application": "flows"}  # fmt: skip


def test_input_understood_or_failed_otherwise_is_counted() -> None:
    a = adapter()
    records = [raw(entry("GetUserInput", Results=r)) for r in ("1", "Error")]
    assert translated(a, *records) == []
    assert dict(a.ignored) == {INPUT_RECEIVED: 1, INPUT_OTHER: 1}


def test_other_blocks_are_counted_by_type_and_unknown_ones_as_other() -> None:
    a = adapter()
    queue = "arn:aws:connect:us-west-2:0123456789012:instance/i/queue/q"
    records = [raw(entry("SetQueue", Parameters={"Queue": queue})), raw(entry("NewBlock"))]
    assert translated(a, *records) == []
    assert dict(a.ignored) == {"SetQueue": 1, "_other": 1}


def test_a_subscription_document_gives_each_entry_and_the_same_ids() -> None:
    a = adapter()
    error = json.dumps(lambda_entry(Results="Error"))
    timeout = json.dumps(entry("GetUserInput", Results="Timeout"))
    events = translated(a, envelope(error, timeout, json.dumps(entry("PlayPrompt"))))
    assert [e["type"] for e in events] == ["ivr.backend_error", "ivr.input_error"]
    # The same entry split out by a connector: the same event, so it is read once.
    [alone] = translated(a, error.encode())
    assert alone["event_id"] == events[0]["event_id"]


def test_an_entry_without_a_timestamp_takes_cloudwatchs() -> None:
    e = lambda_entry(Results="Error")
    del e["Timestamp"]
    [event] = translated(adapter(), envelope(json.dumps(e)))
    assert event["occurred_at"] == "2024-05-15T11:40:34.056Z"
    with pytest.raises(AdapterError, match="Timestamp is missing"):
        adapter().translate(raw(e))


def test_a_control_message_is_counted() -> None:
    a = adapter()
    assert (
        translated(a, envelope("CWL CONTROL MESSAGE: Checking health", kind="CONTROL_MESSAGE"))
        == []
    )
    assert dict(a.ignored) == {"CONTROL_MESSAGE": 1}


def test_a_bad_entry_rejects_only_itself() -> None:
    good = json.dumps(lambda_entry(Results="Error"))
    no_contact = lambda_entry(Results="Error")
    del no_contact["ContactId"]
    with pytest.raises(PartlyReadError) as caught:
        adapter().translate(envelope(good, "{not json", json.dumps(no_contact)))
    assert [e.type for e in caught.value.events] == ["ivr.backend_error"]
    assert caught.value.reason == "invalid_amazon-connect-flow-logs"
    assert "2 of 3 log events not read" in caught.value.detail
    assert "ContactId must be a non-empty string" in caught.value.detail


@pytest.mark.parametrize(
    ("doc", "message"),
    [({"ContactId": CONTACT}, "ContactFlowModuleType must be"),
     (lambda_entry(Results="Error", Parameters={}), "without Parameters.FunctionArn"),
     (lambda_entry(Results="Error", Timestamp="yesterday"), "Timestamp is not an ISO 8601"),
     (lambda_entry(Results=["Error"]), "Results must be text"),
     (lambda_entry(Results="Error", ContactId="c" * 300), "ContactId is 300 characters"),
     (lambda_entry(Results="Error", ContactId="a\u202eb"), "U+202E")],
)  # fmt: skip
def test_a_record_missing_what_it_needs_is_dead_lettered_with_the_reason(
    doc: dict[str, Any], message: str
) -> None:
    with pytest.raises(AdapterError, match="invalid_amazon-connect-flow-logs") as caught:
        adapter().translate(raw(doc))
    assert message in caught.value.detail


def test_hostile_documents_are_refused_whole() -> None:
    a = adapter()
    too_many = raw({"messageType": "DATA_MESSAGE", "logEvents": [{}] * (MAX_LOG_EVENTS + 1)})
    with pytest.raises(AdapterError, match="10,001 log events"):
        a.translate(too_many)
    with pytest.raises(AdapterError, match="nested deeper"):
        a.translate(b"[" * 100_000)
    with pytest.raises(AdapterError, match="not UTF-8"):
        a.translate(b'{"ContactId": "\xff"}')
    with pytest.raises(AdapterError, match="messageType must be"):
        a.translate(raw({"messageType": "OTHER", "logEvents": []}))


def test_hostile_text_in_a_result_becomes_a_short_printable_error() -> None:
    [event] = translated(adapter(), raw(lambda_entry(Results="Error\x1b[31m" + "x" * 10_000)))
    assert len(event["error"]) <= 256
    assert "\x1b" not in event["error"]


def test_the_format_needs_its_application() -> None:
    with pytest.raises(ValueError, match="give ivr_application"):
        FormatSettings(format="amazon-connect-flow-logs", site="lon1")
    settings = FormatSettings(format="amazon-connect-flow-logs", site="lon1", ivr_application="f")
    assert settings.ivr_application == "f"
