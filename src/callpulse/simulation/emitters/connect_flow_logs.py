"""The simulator's IVR errors written as Amazon Connect contact flow logs: the inverse of
``callpulse.adapters.connect_flow_logs`` (docs/adapters-amazon-connect-flow-logs.md).

Each ``ivr.backend_error`` is the entry of an *Invoke AWS Lambda function* block
(``InvokeExternalResource``) whose ``Results`` is the error AWS's documentation shows,
the backend the function of ``Parameters.FunctionArn``; each ``ivr.input_error`` the entry
of a *Get customer input* block (``GetUserInput``) whose ``Results`` is ``Timeout`` or
``NoMatchingCondition``, the node its ``Identifier``. The sessions and the queues stay
events v1, as an instance's contact records would give them on a topic of their own.

What the format cannot carry: the error's own text (Connect writes its message, not the
backend's), and an input error without a node (every entry names its block).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from types import MappingProxyType
from typing import Any

from callpulse.adapters.connect_flow_logs import FORMAT

APPLICATION = "connect-flows"  # the option the adapter must be given (the runner may rename)
LAMBDA_ERROR = "The Lambda Function Returned An Error."  # the admin guide's example Results
INPUT_BLOCK = "Get customer input"  # the Identifier of an input error without a node
_ACCOUNT = "arn:aws:connect:eu-west-2:111122223333:instance/11111111-2222-3333-4444-555555555555"
_RESULTS = {"no_input": "Timeout", "no_match": "NoMatchingCondition"}


class ConnectFlowLogEmitter:
    """An Emitter writing the IVR's errors as contact flow log entries, one JSON entry a
    record (as a connector that splits CloudWatch Logs subscription documents writes them)."""

    format = FORMAT
    carries = frozenset({"ivr.backend_error", "ivr.input_error"})
    merges: Mapping[str, str] = MappingProxyType({})
    acw_carried = True  # the queues stay events v1: nothing of theirs is lost
    whole_seconds = False  # Timestamp is written to the millisecond
    adapter_options: Mapping[str, Any] = MappingProxyType({"ivr_application": APPLICATION})
    watches: frozenset[str] = frozenset()

    def emit(self, event: Mapping[str, Any]) -> list[bytes]:
        """The flow log entry of the IVR error ``event``."""
        entry: dict[str, Any] = {
            "ContactId": event["session_id"],
            "ContactFlowId": f"{_ACCOUNT}/contact-flow/{event['application']}",
            "ContactFlowName": event["application"],
            "Timestamp": _stamp(event["occurred_at"]),
        }
        if event["type"] == "ivr.backend_error":
            function = f"arn:aws:lambda:eu-west-2:111122223333:function:{event['backend']}"
            entry |= {
                "ContactFlowModuleType": "InvokeExternalResource",
                "Identifier": f"Invoke {event['backend']}",
                "Results": LAMBDA_ERROR,
                "Parameters": {"FunctionArn": function, "TimeLimit": "8000"},
            }
        else:
            entry |= {
                "ContactFlowModuleType": "GetUserInput",
                "Identifier": event.get("node") or INPUT_BLOCK,
                "Results": _RESULTS[event["kind"]],
                "Parameters": {"Text": "Press 1 for billing, 2 for support.", "Timeout": "5"},
            }
        return [json.dumps(entry, separators=(",", ":")).encode()]

    def as_kept(self, event: dict[str, Any]) -> list[dict[str, Any]]:
        """An IVR error as its entry gives it back: Connect's message for the error, the
        block for a node that was not named, the time to the millisecond."""
        if event.get("type") == "ivr.backend_error":
            return [event | {"error": LAMBDA_ERROR, "occurred_at": _stamp(event["occurred_at"])}]
        if event.get("type") == "ivr.input_error":
            node = event.get("node") or INPUT_BLOCK
            return [event | {"node": node, "occurred_at": _stamp(event["occurred_at"])}]
        return [event]


def _stamp(occurred_at: str) -> str:
    """A v1 time as a flow log writes it, to the millisecond (``2021-04-13T00:14:31.581Z``),
    as the adapter gives it back."""
    moment = datetime.fromisoformat(occurred_at)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")
