"""Amazon Connect contact flow logs to events v1: the IVR's errors
(docs/adapters-amazon-connect-flow-logs.md).

A flow with a *Set logging behavior* block writes one JSON entry to CloudWatch Logs per
block a contact runs (Administrator Guide, "Data in flow logs stored in an Amazon CloudWatch
log group"): ``ContactId``, ``ContactFlowId``, ``ContactFlowName``,
``ContactFlowModuleType`` (the block), ``Identifier`` (the block's), ``Timestamp``,
``Parameters``, and for some blocks ``Results`` and ``ExternalResults``. A record is one
entry, or a CloudWatch Logs subscription's document holding many
(:mod:`callpulse.adapters.cloudwatch_logs`); an entry that cannot be read rejects only
itself (PartlyReadError).

Two kinds of block say the IVR failed a caller:

- an external resource (``InvokeExternalResource``, the *Invoke AWS Lambda function*
  block; ``InvokeLambdaFunction`` in the flow language) whose ``Results`` is an error
  message: ``ivr.backend_error``, the backend the function's name (``Parameters.FunctionArn``);
- an input block (``GetUserInput``, ``GetParticipantInput``, ``StoreUserInput``) whose
  ``Results`` is a timeout (``ivr.input_error`` ``no_input``) or input that matched no
  branch (``no_match``).

The session is the contact's: ``session_id`` is the ``ContactId`` and ``application`` the
``ivr_application`` option, as the ``amazon-connect`` adapter names the session of the
same contact (:mod:`callpulse.adapters.connect_voice`), so that errors and sessions count
together. Every other entry is counted in ``ignored`` by its block type.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from callpulse.adapters.base import V1, AdapterError, Unreadable, batch_read, parse_json, v1
from callpulse.adapters.bounds import MAX_NAME, Ignored, checked_name, shown
from callpulse.adapters.cloudwatch_logs import is_envelope, log_events
from callpulse.adapters.connect_fields import as_time, get
from callpulse.core.ingest import DecodeError

FORMAT = "amazon-connect-flow-logs"
_FAILURES_SHOWN = 3  # entries a rejection names; it says how many in all

_EXTERNAL = {"invokeexternalresource", "invokelambdafunction"}
_INPUT = {"getuserinput", "getparticipantinput", "storeuserinput"}
# What an external resource's Results says when it failed: the words AWS's own knowledge
# center query for failed Lambda invocations in flow logs filters on ("Why can't my Amazon
# Connect flow invoke my Lambda function?"), matched without case.
_FAILED = re.compile(
    r"error|fail|timeout|timed out|exception|no prompt provided|access limit|unsupported"
    r"|invalid|not found|limit reached|denied|throttl",
    re.IGNORECASE,
)
# An input block's Results, lower-cased and without punctuation: the caller gave nothing
# (the block's Timeout branch; the flow language's InputTimeLimitExceeded) or gave what no
# branch matched (Default / NoMatchingCondition; Lex's fallback intent).
_NO_INPUT = {"timeout", "inputtimelimitexceeded", "noinput"}
_NO_MATCH = {"nomatchingcondition", "nomatch", "default", "invalidinput", "fallbackintent"}
_WORD = re.compile(r"[^a-z0-9]")

# Kinds counted in ``ignored``: this adapter's own, and the blocks a flow log most often
# holds that say nothing of an error (any other block type is counted as _other).
SUCCEEDED = "EXTERNAL_RESOURCE_SUCCEEDED"  # a function that answered
UNRECOGNISED = "EXTERNAL_RESULT_UNRECOGNISED"  # Results text not known as an error
INPUT_RECEIVED = "INPUT_RECEIVED"  # a digit, an intent: the caller was understood
INPUT_OTHER = "INPUT_RESULT_OTHER"  # the block's Error branch, or an unknown Results
CONTROL = "CONTROL_MESSAGE"  # a subscription's check that its destination is reachable
IGNORED_KINDS = frozenset(
    {
        SUCCEEDED, UNRECOGNISED, INPUT_RECEIVED, INPUT_OTHER, CONTROL,
        "SetLoggingBehavior", "SetQueue", "SetAttributes", "SetVoice", "PlayPrompt",
        "CheckAttribute", "CheckHoursOfOperation", "CheckStaffing", "SetRecordingBehavior",
        "TransferContactToQueue", "TransferToFlow", "Disconnect", "Loop", "Wait",
        "SetContactFlow", "SetEventHook", "SetWorkingQueue", "InvokeFlowModule",
        "ConnectParticipantWithLexBot", "UpdateContactAttributes", "SetLoggingBehaviour",
    }
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class ConnectFlowLogOptions:
    """How to read one Amazon Connect instance's flow logs: ``site``, and
    ``ivr_application``, the application its sessions are counted under (the same as the
    instance's ``amazon-connect`` topic is given). Required: a flow log names no
    application, and errors under another name than the sessions' would count against
    none."""

    site: str
    ivr_application: str = ""


class ConnectFlowLogs:
    """An Adapter for Amazon Connect contact flow log entries (bare, or in CloudWatch Logs
    subscription documents). It keeps no state: each entry is read on its own."""

    format = FORMAT

    def __init__(self, options: ConnectFlowLogOptions) -> None:
        if not options.ivr_application:
            raise ValueError(f"format {FORMAT} needs ivr_application")
        self.options = options
        self.ignored = Ignored(IGNORED_KINDS)

    def translate(self, record: bytes) -> list[V1]:
        """The IVR errors one record stands for: none for an entry of another kind (counted
        in ``ignored``). Raises AdapterError for a record of which nothing could be read,
        PartlyReadError for a subscription document of which some entries could not."""
        doc = parse_json(FORMAT, record, "a flow log entry or a CloudWatch Logs document")
        if not isinstance(doc, dict):
            raise AdapterError(FORMAT, f"expected a JSON object, got {shown(doc)}")
        if not is_envelope(doc):
            return self._entry(record, doc, None)
        found = log_events(FORMAT, doc)
        if not found and doc.get("messageType") != "DATA_MESSAGE":
            self.ignored.add(CONTROL)
        events: list[V1] = []
        failed: list[str] = []
        for item in found:
            if isinstance(item, Unreadable):
                failed.append(f"a log event: {item.detail}")
                continue
            try:
                entry = parse_json(FORMAT, item.message, "a flow log entry (a JSON object)")
                if not isinstance(entry, dict):
                    raise AdapterError(FORMAT, f"expected a JSON object, got {shown(entry)}")
                key = item.message.encode("utf-8", "surrogatepass")
                events += self._entry(key, entry, item.timestamp)
            except DecodeError as exc:  # an AdapterError, or an event it could not make
                failed.append(f"{item.where}: {exc.detail}")
            except (ValueError, ArithmeticError, TypeError, KeyError, IndexError) as exc:
                failed.append(f"{item.where}: {type(exc).__name__}: {exc}")
        return batch_read(FORMAT, events, failed, len(found), "log events", _FAILURES_SHOWN)

    def flush(self, now: float) -> list[V1]:
        """Nothing is assumed: every error is an entry of its own."""
        return []

    def fill(self) -> dict[str, float]:
        """No caps: the adapter keeps nothing between records."""
        return {}

    def _entry(self, key: bytes, entry: dict[str, Any], logged: float | None) -> list[V1]:
        """What one flow log entry stands for; ``key`` is what its event's id is made of,
        ``logged`` CloudWatch's time of it (used only when the entry has no Timestamp)."""
        block = _text(get(entry, "ContactFlowModuleType"), "ContactFlowModuleType")
        kind = block.lower()
        if kind not in _EXTERNAL and kind not in _INPUT:
            self.ignored.add(block)
            return []
        contact = checked_name(FORMAT, _text(get(entry, "ContactId"), "ContactId"), "ContactId")
        stamp = get(entry, "Timestamp")
        if stamp is None and logged is None:
            raise AdapterError(FORMAT, "Timestamp is missing")
        when = _time(stamp) if stamp is not None else logged
        assert when is not None
        results = get(entry, "Results")
        if results is not None and not isinstance(results, str):
            raise AdapterError(FORMAT, f"Results must be text, got {shown(results)}")
        session = {"session_id": contact, "application": self.options.ivr_application}
        if kind in _EXTERNAL:
            if not results or get(entry, "ExternalResults") is not None:
                self.ignored.add(SUCCEEDED)
                return []
            if not _FAILED.search(results):
                self.ignored.add(UNRECOGNISED)
                return []
            backend = _function(entry)
            return [v1(key, 0, "ivr.backend_error", when, self.options.site, **session,
                       backend=backend, error=_message(results))]  # fmt: skip
        word = _WORD.sub("", (results or "").lower())
        error = "no_input" if word in _NO_INPUT else "no_match" if word in _NO_MATCH else None
        if error is None:
            self.ignored.add(INPUT_RECEIVED if results and word != "error" else INPUT_OTHER)
            return []
        node = get(entry, "Identifier")
        return [v1(key, 0, "ivr.input_error", when, self.options.site, **session,
                   node=_node(node), kind=error)]  # fmt: skip


def _text(value: Any, what: str) -> str:
    if not isinstance(value, str) or not value:
        raise AdapterError(FORMAT, f"{what} must be a non-empty string, got {shown(value)}")
    return value


def _time(value: Any) -> float:
    """An entry's ``Timestamp`` (ISO 8601, ``2021-04-13T00:14:31.581Z``) as epoch seconds."""
    try:
        return as_time(value, "Timestamp")
    except AdapterError as exc:  # read as Connect's other streams are, named as this format
        raise AdapterError(FORMAT, exc.detail) from None


def _function(entry: dict[str, Any]) -> str:
    """The failing function's name: the last part of ``Parameters.FunctionArn``
    (``arn:aws:lambda:REGION:ACCOUNT:function:NAME``, maybe ``:ALIAS`` after it), or of the
    flow language's ``LambdaFunctionARN``; a bare name is kept as it is."""
    params = get(entry, "Parameters")
    arn = None
    if isinstance(params, dict):
        arn = get(params, "FunctionArn") or get(params, "LambdaFunctionARN")
    if not isinstance(arn, str) or not arn:
        raise AdapterError(FORMAT, "an external resource's error without "
                           f"Parameters.FunctionArn: {shown(params)}")  # fmt: skip
    parts = arn.split(":")
    name = parts[6] if len(parts) >= 7 and parts[5] == "function" else arn
    return checked_name(FORMAT, name, "Parameters.FunctionArn's function name")


def _message(results: str) -> str:
    """``Results`` as an event's error text: itself if it is a fit name, else quoted short
    (a message is shown in logs and pages)."""
    try:
        return checked_name(FORMAT, results, "Results")
    except AdapterError:
        return shown(results)[:MAX_NAME]


def _node(value: Any) -> str | None:
    """The block's ``Identifier`` as the node, when it is a name (a flow language
    Identifier is at most 50 characters); else none rather than a rejected entry."""
    if not isinstance(value, str) or not value:
        return None
    try:
        return checked_name(FORMAT, value, "Identifier")
    except AdapterError:
        return None
