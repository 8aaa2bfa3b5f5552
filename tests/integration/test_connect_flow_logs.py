"""Amazon Connect contact flow logs through a real broker: one CloudWatch Logs subscription
document (as a connector delivers it, gunzipped) on the flow-log topic, and the same
contacts' contact records on the instance's amazon-connect topic, both produced by kcat.
The errors of the flow logs and the sessions of the contact records count together, per
session, under one application: exact IVR error KPIs on /metrics. The entries are written
from the Administrator Guide's example entry and AWS's Lambda-integration pages."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from .helpers import Samples, kcat_produce
from .platforms import check_dead_letter, ignored_kinds, platform_daemon, settled_on

pytestmark = pytest.mark.integration
FLOW = "arn:aws:connect:eu-west-2:111122223333:instance/i-1/contact-flow/f-1"
FUNCTION = "arn:aws:lambda:eu-west-2:111122223333:function:crm-lookup"
C1, C2 = "11111111-2222-3333-4444-000000000001", "11111111-2222-3333-4444-000000000002"


@pytest.fixture
async def records_topic(kafka_bootstrap: str) -> AsyncIterator[str]:
    """The instance's contact-record topic, beside the flow-log one."""
    name = f"connect-{uuid.uuid4().hex[:10]}"
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(name, num_partitions=1, replication_factor=1)])
        yield name
        await admin.delete_topics([name])
    finally:
        await admin.close()


def iso(t: float) -> str:
    moment = datetime.fromtimestamp(t, UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def contact_record(contact: str, t: float) -> bytes:
    """An inbound voice contact that ran the flow for 40 s and hung up in it."""
    return json.dumps({
        "AWSContactTraceRecordFormatVersion": "2017-03-10", "ContactId": contact,
        "Channel": "VOICE", "InitiationMethod": "INBOUND", "InitiationTimestamp": iso(t),
        "ConnectedToSystemTimestamp": iso(t + 1), "DisconnectTimestamp": iso(t + 40),
        "DisconnectReason": "CUSTOMER_DISCONNECT", "LastUpdateTimestamp": iso(t + 45),
    }).encode()  # fmt: skip


def entry(contact: str, block: str, t: float, **fields: Any) -> str:
    return json.dumps({
        "ContactId": contact, "ContactFlowId": FLOW, "ContactFlowName": "Main IVR",
        "ContactFlowModuleType": block, "Identifier": "Main menu", "Timestamp": iso(t),
        **fields,
    })  # fmt: skip


def test_flow_log_errors_and_contact_sessions_give_exact_ivr_error_kpis(
    kafka_bootstrap: str, topics: tuple[str, str], records_topic: str, tmp_path: Path
) -> None:
    now = time.time()
    t1, t2 = now - 300, now - 200
    failed = {"Results": "The Lambda Function Returned An Error.",
              "Parameters": {"FunctionArn": FUNCTION, "TimeLimit": "3000"}}  # fmt: skip
    answered = {"ExternalResults": {"accountType": "Gold"}, "Parameters": {"FunctionArn": FUNCTION}}
    messages = [
        entry(C1, "SetLoggingBehavior", t1 + 2, Parameters={"LoggingBehavior": "Enable"}),
        entry(C1, "InvokeExternalResource", t1 + 3, **failed),
        entry(C1, "GetUserInput", t1 + 10, Results="Timeout"),
        entry(C2, "InvokeExternalResource", t2 + 3, **answered),
        entry(C2, "GetUserInput", t2 + 10, Results="NoMatchingCondition"),
        entry(C2, "InvokeExternalResource", t2 + 15, **failed),
        '{"ContactId": "truncated by a broken bridge',
    ]
    document = json.dumps({
        "messageType": "DATA_MESSAGE", "owner": "111122223333",
        "logGroup": "/aws/connect/example", "logStream": "2024/05/15/i-1",
        "subscriptionFilters": ["callpulse"],
        "logEvents": [{"id": str(i), "timestamp": int(now * 1000), "message": m}
                      for i, m in enumerate(messages)],
    }).encode()  # fmt: skip
    kcat_produce(kafka_bootstrap, records_topic,
                 [("lon1", contact_record(C1, t1)), ("lon1", contact_record(C2, t2))],
                 tmp_path)  # fmt: skip
    flow_topic, dlq = topics
    both = {"format": "amazon-connect", "site": "lon1", "ivr_application": "flows"}
    logs = {"format": "amazon-connect-flow-logs", "site": "lon1", "ivr_application": "flows"}
    kafka = {
        "bootstrap_servers": kafka_bootstrap, "topics": [flow_topic, records_topic],
        "group_id": f"g-{uuid.uuid4().hex}", "dead_letter_topic": dlq,
        "formats": {flow_topic: logs, records_topic: both},
    }  # fmt: skip
    settings = {"source": {"kind": "kafka", "kafka": kafka}}
    with platform_daemon(kafka_bootstrap, topics, tmp_path, [document], logs,
                         settings=settings) as daemon:  # fmt: skip
        # By hand: two sessions (C1, C2) ended in the flow; the flow logs say the CRM
        # Lambda failed once in each, C1 timed out at the menu and C2 matched no branch.
        # So 2 backend errors (1 per session), 1 no-input and 1 no-match (0.5 per session).
        flows = frozenset({"site": "lon1", "application": "flows", "window": "15m"}.items())
        crm = frozenset(
            {"site": "lon1", "application": "flows", "backend": "crm-lookup",
             "window": "15m"}.items()
        )  # fmt: skip

        def ivr(samples: Samples) -> dict[str, float | None]:
            return {
                "ended": samples.get(("callpulse_ivr_sessions_ended", flows)),
                "errors": samples.get(("callpulse_ivr_backend_errors_per_session", flows)),
                "crm": samples.get(("callpulse_ivr_backend_errors", crm)),
                "no_input": samples.get(("callpulse_ivr_no_input_per_session", flows)),
                "no_match": samples.get(("callpulse_ivr_no_match_per_session", flows)),
            }

        expected = {"ended": 2.0, "errors": 1.0, "crm": 2.0, "no_input": 0.5, "no_match": 0.5}
        s = settled_on(daemon, ivr, expected)
        # The flow logs' other entries; the contact records of callers who never queued.
        assert ignored_kinds(s) == {
            "SetLoggingBehavior": 1, "EXTERNAL_RESOURCE_SUCCEEDED": 1,
            "CONTACT_RECORD_NOT_QUEUED": 2,
        }  # fmt: skip
        check_dead_letter(kafka_bootstrap, dlq, s, "amazon-connect-flow-logs", document,
                          "1 of 7 log events not read: logEvents[6]")  # fmt: skip
