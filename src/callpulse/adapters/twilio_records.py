"""Reading a Twilio TaskRouter record into its events.

Event Streams delivers TaskRouter events as CloudEvents (twilio.com/docs/events/event-types/
taskrouter/...): ``type`` is ``com.twilio.taskrouter.<event>``, and the TaskRouter fields, in
snake case (``task_sid``, ``task_queue_name``, ``worker_activity_name``...), sit in
``data.payload`` (the WDSEvent schema of Twilio's examples and of public consumers such as
Flex real-time adapters). The sources disagree on the nesting: a CloudEvent whose ``data``
holds the fields itself is read too. The Kinesis sink writes one CloudEvent per Kinesis
record; the webhook sink may batch them in a JSON array (``batch_events``): a record may be
either.

The Workspace's own ``EventCallbackUrl`` POSTs the same events form-encoded
(``application/x-www-form-urlencoded``), in Pascal case (``EventType``, ``TaskSid``,
``TaskQueueSid``, ``WorkerActivityName``...). A record holding such a body, as a bridge
forwards it, is read as it is (:func:`_form`), and so is one the bridge turned into a JSON
object: field names are compared without case or underscores, so ``TaskQueueSid`` and
``task_queue_sid`` are one field.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl

from callpulse.adapters.base import LAST_INSTANT, AdapterError, parse_json
from callpulse.adapters.bounds import checked_name, shown

FORMAT = "twilio-taskrouter"
PREFIX = "com.twilio.taskrouter."
MAX_BATCH = 10_000  # events in one record (a webhook batch)
MAX_FORM_FIELDS = 1_000  # in one form-encoded callback (Twilio sends a few dozen)
_FORM_START = re.compile(rb"\s*[A-Za-z0-9%]")  # a field name, where JSON has { or [

# Every TaskRouter event type of the events reference; another is counted as _other unread.
KINDS = frozenset(
    {
        "activity.created", "activity.updated", "activity.deleted", "reservation.created",
        "reservation.accepted", "reservation.rejected", "reservation.timeout",
        "reservation.canceled", "reservation.rescinded", "reservation.completed",
        "reservation.failed", "reservation.wrapup", "task.created", "task.updated",
        "task.canceled", "task.wrapup", "task.completed", "task.deleted", "task.system-deleted",
        "task.transfer-initiated", "task.transfer-attempt-failed", "task.transfer-failed",
        "task.transfer-canceled", "task.transfer-completed", "task-channel.created",
        "task-channel.updated", "task-channel.deleted", "task-queue.created", "task-queue.deleted",
        "task-queue.entered", "task-queue.timeout", "task-queue.moved",
        "task-queue.expression.updated", "worker.created", "worker.activity.update",
        "worker.attributes.update", "worker.capacity.update", "worker.channel.availability.update",
        "worker.deleted", "workflow.created", "workflow.updated", "workflow.deleted",
        "workflow.target-matched", "workflow.entered", "workflow.timeout", "workflow.skipped",
        "workspace.created", "workspace.updated", "workspace.deleted",
    }
)  # fmt: skip
# The fields that name a task, a worker or a queue (normalized keys), checked as names.
_NAMES = {"tasksid": "TaskSid", "workersid": "WorkerSid", "workername": "WorkerName",
          "taskqueuesid": "TaskQueueSid", "taskqueuename": "TaskQueueName"}  # fmt: skip


@dataclass(slots=True)
class TaskRouterEvent:
    """One TaskRouter event, whichever way it came: its type, time and fields."""

    kind: str  # the TaskRouter event type, e.g. task-queue.entered
    when: float
    fields: dict[str, Any]  # keys lower case without underscores: tasksid, taskqueuename...

    def text(self, *keys: str) -> str | None:
        """The first of ``keys`` (normalized) that holds a non-blank string, stripped."""
        for key in keys:
            value = self.fields.get(key)
            if isinstance(value, str) and value.strip():
                return value.strip()
        return None

    def sid(self) -> str:
        """The TaskSid, which every task event has."""
        value = self.text("tasksid")
        if value is None:
            raise AdapterError(FORMAT, f"{self.kind} has no TaskSid")
        return value


def read(record: bytes) -> list[TaskRouterEvent | str]:
    """The events one record holds (a CloudEvent, a JSON array of them, an event callback as
    JSON or form-encoded), each a TaskRouterEvent or, for another product's CloudEvent or an
    unknown type, its type (to count as ignored). Raises AdapterError if any of them cannot
    be read: a batch is read whole before any of it is applied."""
    if _FORM_START.match(record):
        items: list[Any] = [_form(record)]
    else:
        document = parse_json(FORMAT, record, "a JSON CloudEvent")
        items = document if isinstance(document, list) else [document]
    if len(items) > MAX_BATCH:
        raise AdapterError(FORMAT, f"a batch of {len(items)} events; at most {MAX_BATCH}")
    return [_parse(item) for item in items]


def _parse(item: Any) -> TaskRouterEvent | str:
    """One event of a record: an TaskRouterEvent, the type of another product's CloudEvent (to count
    as ignored), or raises AdapterError."""
    if not isinstance(item, dict):
        raise AdapterError(FORMAT, f"expected a JSON object per event, got {type(item).__name__}")
    if "specversion" in item or ("type" in item and "data" in item):
        kind = item.get("type")
        if not isinstance(kind, str) or not kind:
            raise AdapterError(FORMAT, "a CloudEvent without a type")
        if not kind.startswith(PREFIX) or kind[len(PREFIX) :] not in KINDS:
            return kind  # another product's, or a type yet to come: not read further
        data = item.get("data")
        if not isinstance(data, dict):
            raise AdapterError(FORMAT, f"{kind}: data is not an object")
        payload = data.get("payload", data)
        if isinstance(payload, str):  # a payload sent as JSON text
            payload = parse_json(FORMAT, payload, f"{kind}: data.payload as JSON")
        if not isinstance(payload, dict):
            raise AdapterError(FORMAT, f"{kind}: data.payload is not an object")
        fields = _normalized(payload)
        outer = [fields.get("timestampms"), fields.get("timestamp"), item.get("time"),
                 data.get("timestamp")]  # fmt: skip
        return TaskRouterEvent(kind[len(PREFIX) :], _when(kind, outer), fields)
    callback = item.get("EventType")
    if isinstance(callback, str) and callback:
        if callback not in KINDS:
            return callback
        fields = _normalized(item)
        when = _when(callback, [fields.get("timestampms"), fields.get("timestamp")])
        return TaskRouterEvent(callback, when, fields)
    raise AdapterError(
        FORMAT,
        "expected a CloudEvent {specversion, type: com.twilio.taskrouter.*, data} or an event "
        f"callback {{EventType, ...}}; keys: {', '.join(shown(k) for k in sorted(item)[:8])}",
    )


def _form(record: bytes) -> dict[str, str]:
    """An event callback as TaskRouter POSTs it, ``application/x-www-form-urlencoded``
    (``EventType=task-queue.entered&TaskSid=WT...``): its fields, each value a string as
    the JSON a bridge would make of it carries them; a field given twice keeps the last."""
    try:
        text = record.decode("ascii").strip()  # percent-encoding leaves nothing else
        pairs = parse_qsl(text, keep_blank_values=True, strict_parsing=True,
                          errors="strict", max_num_fields=MAX_FORM_FIELDS)  # fmt: skip
    except UnicodeDecodeError as exc:
        message = f"expected a JSON CloudEvent or a form-encoded callback: byte {exc.start}"
        raise AdapterError(FORMAT, f"{message} is not ASCII") from None
    except ValueError as exc:
        raise AdapterError(FORMAT, f"expected a form-encoded callback: {shown(str(exc))}") from None
    return dict(pairs)


def _normalized(fields: dict[str, Any]) -> dict[str, Any]:
    """``fields`` by key without case or underscores; the names checked (a batch's events
    are all read before any is applied)."""
    normalized = {str(k).replace("_", "").lower(): v for k, v in fields.items()}
    for key, what in _NAMES.items():
        value = normalized.get(key)
        if isinstance(value, str) and value.strip():
            checked_name(FORMAT, value.strip(), what)
    return normalized


def _when(kind: str, candidates: list[Any]) -> float:
    """The event time: the first of ``candidates`` given (epoch milliseconds for the first,
    then epoch seconds or ISO 8601)."""
    for position, value in enumerate(candidates):
        if value is None or value == "":
            continue
        when = instant(value, kind)
        when = when / 1000 if position == 0 else when
        if when > LAST_INSTANT:
            raise AdapterError(FORMAT, f"{kind}: the time is after the year 9999: {shown(value)}")
        return when
    raise AdapterError(FORMAT, f"{kind} has no time (timestamp, or the CloudEvent's time)")


def instant(value: Any, kind: str) -> float:
    """A time in epoch seconds (or milliseconds: the caller divides) or ISO 8601, as epoch
    seconds; one without an offset is UTC."""
    if isinstance(value, bool):
        raise AdapterError(FORMAT, f"{kind}: the time is not a time: {shown(value)}")
    if isinstance(value, int | float):
        number = float(value)
    elif isinstance(value, str):
        try:
            number = float(value)
        except ValueError:
            try:
                moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
            except ValueError:
                message = f"{kind}: the time is not ISO 8601: {shown(value)}"
                raise AdapterError(FORMAT, message) from None
            if moment.tzinfo is None:
                moment = moment.replace(tzinfo=UTC)  # Twilio writes GMT
            try:
                number = moment.timestamp()
            except (OverflowError, ValueError):  # an offset that takes it past 1..9999
                number = -1.0
    else:
        raise AdapterError(FORMAT, f"{kind}: the time is not a time: {shown(value)}")
    if not math.isfinite(number) or number < 0:
        raise AdapterError(FORMAT, f"{kind}: the time must be finite and >= 0: {shown(value)}")
    return number
