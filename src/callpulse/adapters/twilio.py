"""Twilio TaskRouter events to events v1.

TaskRouter logs an event for every change of a Task, Reservation, Worker and Workflow
(twilio.com/docs/taskrouter/api/event/reference, "TaskRouter Events reference"). Event Streams
delivers them as CloudEvents (twilio.com/docs/events/event-types/taskrouter/...): ``type`` is
``com.twilio.taskrouter.<event>``, and the TaskRouter fields, in snake case (``task_sid``,
``task_queue_name``, ``worker_activity_name``...), sit in ``data.payload`` (the WDSEvent
schema of Twilio's examples and of public consumers such as Flex real-time adapters). The
sources disagree on the nesting: a CloudEvent whose ``data`` holds the fields itself is read
too. The Kinesis sink writes one CloudEvent per Kinesis record; the webhook sink may batch
them in a JSON array (``batch_events``): a record may be either.

The Workspace's own ``EventCallbackUrl`` POSTs the same events form-encoded
(``application/x-www-form-urlencoded``), in Pascal case (``EventType``, ``TaskSid``,
``TaskQueueSid``, ``WorkerActivityName``...). A record holding such a body, as a bridge
forwards it, is read as it is (:func:`_form`), and so is one the bridge turned into a JSON
object: field names are compared without case or underscores, so ``TaskQueueSid`` and
``task_queue_sid`` are one field.

Calls need state, since no single event carries a whole call: the adapter keeps, per task,
its queue and when its wait began, who accepted it and when, and when its wrap-up began; per
worker, its activity, its tasks and the queues it has taken tasks from. All of it bounded.

- ``task-queue.entered`` is the offer (``call.queued``): ``task.created`` names no queue.
  Entering another queue while waiting moves the wait (``call.transferred`` with
  ``to_queue``, then ``call.queued``); ``task-queue.timeout`` and ``task-queue.moved`` say
  nothing on their own: the next event of the task does.
- ``reservation.accepted`` answers (``call.answered``), the wait measured from the queue entry
  (else ``TaskAge``, else ``TaskDateCreated``); the worker goes ``on_call``.
- ``task.canceled`` while waiting is an abandon (``call.callback_requested`` when the cancel
  reason names a callback, a convention of Flex callback plugins); ``workflow.timeout`` is a
  timeout (``timeouts_are_abandons``), ``workflow.skipped`` an abandon.
- ``task.wrapup`` ends the talk (the worker goes ``acw``); ``task.completed`` ends the
  wrap-up and writes ``call.completed`` (talk = wrap-up - accepted, ACW = completed -
  wrap-up). ``reservation.wrapup`` / ``reservation.completed`` do the same for whoever
  subscribes to those instead; the first of each pair counts.
- ``worker.activity.update`` sets the worker's activity: ``activity_states`` by activity name
  or SID, else Twilio's default activities (Available, Idle, Unavailable, Break, Busy,
  Offline), else the availability flag when the event has one, else ``not_ready``.

What the events cannot carry: hold time (``hold_seconds`` is 0; held time is inside the talk
time) and the queues a worker serves (a TaskQueue selects workers by an expression over their
attributes): a worker serves the queues it has accepted tasks from, so a worker shows in a
queue's agent counts from its first call there on.
"""

from __future__ import annotations

import contextlib
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl

from callpulse.adapters.base import LAST_INSTANT, V1, AdapterError, entry, parse_json, v1
from callpulse.adapters.bounds import Budget, Ignored, checked_name, digest, shown

FORMAT = "twilio-taskrouter"
PREFIX = "com.twilio.taskrouter."
MAX_TASKS = 100_000  # tasks live minutes; the oldest is forgotten past this
MAX_WORKERS = 10_000
MAX_QUEUES_PER_WORKER = 256
MAX_MEMBERSHIPS = 100_000  # (worker, queue) pairs over all workers: each keeps a queue name
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
_CALL_ENDS = {"task.canceled", "workflow.timeout", "workflow.skipped", "task.wrapup",
              "reservation.wrapup", "task.completed", "reservation.completed"}  # fmt: skip
_USED = _CALL_ENDS | {"task-queue.entered", "reservation.accepted", "task-queue.timeout",
                      "task-queue.moved", "worker.activity.update"}  # fmt: skip
_OTHER_CHANNELS = {"chat", "sms", "video", "email"}  # Twilio's TaskChannels that are no call
# What is counted in ``ignored`` by name: the types v1 has no use for, a task of another
# channel by its channel, and an end of a task not seen (or forgotten); any other kind (an
# unknown type, another product's CloudEvent, a channel of your own) as _other.
IGNORED_KINDS = (KINDS - _USED) | _OTHER_CHANNELS | {f"{k} (unknown task)" for k in _CALL_ENDS}
_PRIORITY = re.compile(r"-?[0-9]{1,18}")  # an integer a 64-bit field holds
# The fields that name a task, a worker or a queue (normalized keys), checked as names.
_NAMES = {"tasksid": "TaskSid", "workersid": "WorkerSid", "workername": "WorkerName",
          "taskqueuesid": "TaskQueueSid", "taskqueuename": "TaskQueueName"}  # fmt: skip

# Twilio's default activities (a new Workspace's, and Flex's) and what they mean.
_ACTIVITIES = {
    "available": "available",
    "idle": "available",
    "unavailable": "not_ready",
    "break": "not_ready",
    "busy": "not_ready",
    "reserved": "not_ready",
    "offline": "offline",
}
_VOICE_CHANNELS = {"voice", "default"}  # a task on any other channel is no call
_WAIT_ENDS = {"workflow.timeout", "workflow.skipped"}


@dataclass(frozen=True, slots=True)
class TwilioOptions:
    """How to read one Workspace's events.

    ``agent_names`` maps a WorkerSid (or a worker's friendly name) to the agent name to report;
    by default a worker is its friendly name, else its SID. ``queue_names`` maps a TaskQueueSid
    to a queue name; by default the TaskQueue's name in the event, else its SID.
    ``activity_states`` maps an activity name or SID to the agent state it means.
    ``timeouts_are_abandons``: whether a task leaving the workflow on its timeout counts as an
    abandon (true) or leaves its queue unanswered (a ``call.transferred``)."""

    site: str
    timeouts_are_abandons: bool = True
    agent_names: dict[str, str] = field(default_factory=dict)
    queue_names: dict[str, str] = field(default_factory=dict)
    activity_states: dict[str, str] = field(default_factory=dict)


@dataclass(slots=True)
class _Task:
    queue: str | None = None
    entered: float | None = None  # when the current wait began
    waiting: bool = False
    worker: str | None = None
    accepted: float | None = None
    wrapup: float | None = None
    done: bool = False  # completed, canceled or out of the workflow: later events are late


@dataclass(slots=True)
class _Worker:
    activity: str | None = None  # None: never told (available once its tasks end)
    queues: dict[str, None] = field(default_factory=dict)  # an ordered set
    talking: set[bytes] = field(default_factory=set)  # tasks, by the digest of their SID
    wrapping: set[bytes] = field(default_factory=set)
    reported: tuple[str, tuple[str, ...]] | None = None

    def state(self) -> tuple[str, tuple[str, ...]]:
        queues = tuple(sorted(self.queues))
        if self.talking:
            return "on_call", queues
        if self.wrapping:
            return "acw", queues
        return self.activity or "available", queues


@dataclass(slots=True)
class _Event:
    kind: str  # the TaskRouter event type, e.g. task-queue.entered
    when: float
    fields: dict[str, Any]  # keys lower case without underscores: tasksid, taskqueuename...

    def text(self, *keys: str) -> str | None:
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


class TwilioTaskRouter:
    """An Adapter for TaskRouter events (Event Streams CloudEvents, or event callbacks as
    JSON): one event, or a JSON array of them, per record."""

    format = FORMAT

    def __init__(self, options: TwilioOptions) -> None:
        self.options = options
        self.ignored = Ignored(IGNORED_KINDS)
        self.tasks_dropped = 0
        self.workers_dropped = 0
        self._tasks: dict[bytes, _Task] = {}  # by the digest of the TaskSid
        self._workers: dict[str, _Worker] = {}
        self._memberships = Budget(MAX_MEMBERSHIPS)
        self._worker_names: dict[str, str] = {}  # WorkerSid -> name, for events with no name
        self._queue_names: dict[str, str] = {}  # TaskQueueSid -> name, likewise

    def translate(self, record: bytes) -> list[V1]:
        """The events-v1 bodies one record stands for (none for a kind v1 has no use for,
        counted in ``ignored``). Raises AdapterError for a record it cannot read."""
        if _FORM_START.match(record):
            items: list[Any] = [_form(record)]
        else:
            document = parse_json(FORMAT, record, "a JSON CloudEvent")
            items = document if isinstance(document, list) else [document]
        if len(items) > MAX_BATCH:
            raise AdapterError(FORMAT, f"a batch of {len(items)} events; at most {MAX_BATCH}")
        events = [_parse(item) for item in items]  # all readable, or the record is rejected
        out = _Writer(record, self.options.site)
        for event in events:
            if isinstance(event, str):
                self.ignored.add(event)  # another product's CloudEvent, or an unknown type
                continue
            out.at = event.when
            self._apply(event, out)
        return out.events

    def flush(self, now: float) -> list[V1]:
        """Nothing is assumed: every state change is an event of its own."""
        return []

    def fill(self) -> Mapping[str, float]:
        """How full each cap is: tasks, workers, their queues, and the names remembered
        for worker and queue SIDs."""
        return {
            "tasks": len(self._tasks) / MAX_TASKS,
            "workers": len(self._workers) / MAX_WORKERS,
            "memberships": self._memberships.fill(),
            "worker_sids": len(self._worker_names) / MAX_WORKERS,
            "queue_sids": len(self._queue_names) / MAX_WORKERS,
        }

    # --- events --------------------------------------------------------------------------

    def _apply(self, event: _Event, out: _Writer) -> None:
        kind = event.kind
        channel = event.text("taskchanneluniquename")
        if channel is not None and channel.lower() not in _VOICE_CHANNELS:
            self.ignored.add(channel.lower())  # a chat or SMS task is no call
            return
        if kind == "task-queue.entered":
            self._entered(event, out)
        elif kind == "reservation.accepted":
            self._accepted(event, out)
        elif kind == "task.canceled" or kind in _WAIT_ENDS:
            self._left(event, out)
        elif kind in {"task-queue.timeout", "task-queue.moved"}:
            self._task(event)  # the task's next event says where it went
        elif kind in {"task.wrapup", "reservation.wrapup"}:
            self._wrapup(event, out)
        elif kind in {"task.completed", "reservation.completed"}:
            self._completed(event, out)
        elif kind == "worker.activity.update":
            name = self._agent(event)
            self._activity(name, event)
            if name in self._workers:  # an update naming no activity leaves an unknown worker
                self._report(name, out)
        else:
            # task.created (no queue yet), reservation.created/rejected/timeout/canceled/
            # rescinded (offers to one worker, not to the caller), workflow.entered/
            # target-matched, worker.attributes.update...
            self.ignored.add(kind)

    def _entered(self, event: _Event, out: _Writer) -> None:
        sid = event.sid()
        queue = self._queue(event)
        if queue is None:
            raise AdapterError(FORMAT, "task-queue.entered has no TaskQueueSid or TaskQueueName")
        priority = _priority(event)
        task = self._task(event)
        if task.done or task.accepted is not None or (task.waiting and task.queue == queue):
            return  # late, or the same wait read again
        if task.waiting and task.queue is not None:
            out.add("call.transferred", call_id=sid, queue=task.queue, to_queue=queue)
        task.queue, task.entered, task.waiting = queue, event.when, True
        out.add("call.queued", call_id=sid, queue=queue, priority=priority)

    def _accepted(self, event: _Event, out: _Writer) -> None:
        sid = event.sid()
        name = self._agent(event)
        task = self._task(event)
        if task.accepted is not None or task.done:
            return  # read again
        queue = task.queue if task.waiting else (self._queue(event) or task.queue)
        if queue is None:
            raise AdapterError(FORMAT, "reservation.accepted has no TaskQueueSid or TaskQueueName")
        if task.waiting and task.entered is not None:
            wait = event.when - task.entered
        else:
            wait = _age(event)
        out.add("call.answered", call_id=sid, queue=queue, agent_id=name,
                wait_seconds=round(max(0.0, wait), 3))  # fmt: skip
        task.queue, task.waiting, task.worker, task.accepted = queue, False, name, event.when
        worker = self._worker(name)
        if (
            queue not in worker.queues
            and len(worker.queues) < MAX_QUEUES_PER_WORKER
            and self._memberships.take()
        ):
            worker.queues[queue] = None
        worker.talking.add(digest(sid))
        self._activity(name, event)
        self._report(name, out)

    def _left(self, event: _Event, out: _Writer) -> None:
        sid = event.sid()
        task = self._task(event)
        if task.done or task.accepted is not None:
            task.done = True  # an answered task canceled later: its call is the agent's
            return
        if task.waiting and task.queue is not None and task.entered is not None:
            queue, wait = task.queue, event.when - task.entered
        else:
            found = self._queue(event)
            if found is None:  # never seen waiting (or forgotten), and no queue named
                self.ignored.add(f"{event.kind} (unknown task)")
                return
            queue, wait = found, _age(event)
        task.waiting, task.done = False, True
        ids = {"call_id": sid, "queue": queue}
        wait = round(max(0.0, wait), 3)
        reason = event.text("taskcanceledreason", "reason") or ""
        if event.kind == "task.canceled" and "callback" in reason.lower():
            out.add("call.callback_requested", **ids, wait_seconds=wait)
        elif event.kind == "workflow.timeout" and not self.options.timeouts_are_abandons:
            out.add("call.transferred", **ids)
        else:
            out.add("call.abandoned", **ids, wait_seconds=wait)

    def _wrapup(self, event: _Event, out: _Writer) -> None:
        sid = event.sid()
        task = self._task(event)
        if task.done or task.wrapup is not None:
            return
        if task.accepted is None or task.worker is None:
            self.ignored.add(f"{event.kind} (unknown task)")
            return
        task.wrapup = event.when
        worker = self._worker(task.worker)
        key = digest(sid)
        worker.talking.discard(key)
        worker.wrapping.add(key)
        self._report(task.worker, out)

    def _completed(self, event: _Event, out: _Writer) -> None:
        sid = event.sid()
        task = self._task(event)
        if task.done:
            return
        if task.accepted is None or task.worker is None or task.queue is None:
            if task.waiting and task.queue is not None:
                # Completed from the queue by the application (voicemail, an API call):
                # the wait ends, neither answered nor abandoned.
                task.waiting, task.done = False, True
                out.add("call.transferred", call_id=sid, queue=task.queue)
            else:
                self.ignored.add(f"{event.kind} (unknown task)")
            return
        task.done = True
        talk_ends = task.wrapup if task.wrapup is not None else event.when
        acw = event.when - task.wrapup if task.wrapup is not None else 0.0
        out.add("call.completed", call_id=sid, queue=task.queue, agent_id=task.worker,
                talk_seconds=round(max(0.0, talk_ends - task.accepted), 3), hold_seconds=0.0,
                acw_seconds=round(max(0.0, acw), 3))  # fmt: skip
        worker = self._worker(task.worker)
        key = digest(sid)
        worker.talking.discard(key)
        worker.wrapping.discard(key)
        self._report(task.worker, out)

    # --- state ---------------------------------------------------------------------------

    def _task(self, event: _Event) -> _Task:
        key = digest(event.sid())
        task = self._tasks.get(key)
        if task is None:
            if len(self._tasks) >= MAX_TASKS:
                oldest = next(iter(self._tasks))
                gone = self._tasks.pop(oldest)
                self.tasks_dropped += 1
                # Its end will not be recognised: its worker must not stay on it forever.
                worker = self._workers.get(gone.worker) if gone.worker else None
                if worker is not None:
                    worker.talking.discard(oldest)
                    worker.wrapping.discard(oldest)
            task = self._tasks[key] = _Task()
        return task

    def _worker(self, name: str) -> _Worker:
        worker, forgotten = entry(self._workers, name, _Worker, MAX_WORKERS)
        if forgotten is not None:
            self.workers_dropped += 1
            self._memberships.give(len(forgotten.queues))
        return worker

    def _agent(self, event: _Event) -> str:
        """The agent an event names: ``agent_names`` of its SID or name, else its friendly
        name, else the name an earlier event gave its SID, else the SID."""
        sid, name = event.text("workersid"), event.text("workername")
        if sid is None and name is None:
            raise AdapterError(FORMAT, f"{event.kind} has no WorkerSid or WorkerName")
        names = self.options.agent_names
        if sid is not None and sid in names:
            return names[sid]
        if name is not None:
            if sid is not None:
                _remember(self._worker_names, sid, name, MAX_WORKERS)
            return names.get(name, name)
        assert sid is not None
        return self._worker_names.get(sid, sid)

    def _queue(self, event: _Event) -> str | None:
        sid, name = event.text("taskqueuesid"), event.text("taskqueuename")
        names = self.options.queue_names
        if sid is not None and sid in names:
            return names[sid]
        if name is not None:
            if sid is not None:
                _remember(self._queue_names, sid, name, MAX_WORKERS)
            return names.get(name, name)
        if sid is not None:
            return self._queue_names.get(sid, sid)
        return None

    def _activity(self, name: str, event: _Event) -> None:
        activity, sid = event.text("workeractivityname"), event.text("workeractivitysid")
        if activity is None and sid is None:
            return  # the event says nothing of it
        states = self.options.activity_states
        if activity is not None and activity in states:
            state = states[activity]
        elif sid is not None and sid in states:
            state = states[sid]
        elif activity is not None and activity.lower() in _ACTIVITIES:
            state = _ACTIVITIES[activity.lower()]
        else:
            available = _flag(event, "workeravailable", "workeractivityavailable", "available")
            state = "available" if available else "not_ready"
        self._worker(name).activity = state

    def _report(self, name: str, out: _Writer) -> None:
        worker = self._workers[name]
        state = worker.state()
        if state != worker.reported:
            worker.reported = state
            out.add("agent.state", agent_id=name, state=state[0], queues=list(state[1]))


class _Writer:
    """Collects the events one record yields, each with its own id and time."""

    def __init__(self, record: bytes, site: str) -> None:
        self.record, self.site, self.at = record, site, 0.0
        self.events: list[V1] = []

    def add(self, event_type: str, **fields: Any) -> None:
        index = len(self.events)
        self.events.append(v1(self.record, index, event_type, self.at, self.site, **fields))


def _parse(item: Any) -> _Event | str:
    """One event of a record: an _Event, the type of another product's CloudEvent (to count
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
        return _Event(kind[len(PREFIX) :], _when(kind, outer), fields)
    callback = item.get("EventType")
    if isinstance(callback, str) and callback:
        if callback not in KINDS:
            return callback
        fields = _normalized(item)
        when = _when(callback, [fields.get("timestampms"), fields.get("timestamp")])
        return _Event(callback, when, fields)
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
        when = _instant(value, kind)
        when = when / 1000 if position == 0 else when
        if when > LAST_INSTANT:
            raise AdapterError(FORMAT, f"{kind}: the time is after the year 9999: {shown(value)}")
        return when
    raise AdapterError(FORMAT, f"{kind} has no time (timestamp, or the CloudEvent's time)")


def _instant(value: Any, kind: str) -> float:
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


def _age(event: _Event) -> float:
    """A task's wait when its queue entry was not seen: TaskAge (seconds), else the time since
    TaskDateCreated, else 0."""
    age = event.fields.get("taskage")
    seconds = None
    if isinstance(age, int | float) and not isinstance(age, bool):
        seconds = float(age)
    elif isinstance(age, str):
        with contextlib.suppress(ValueError):  # not a number: TaskDateCreated may say
            seconds = float(age)
    if seconds is not None:
        if not math.isfinite(seconds):
            raise AdapterError(FORMAT, f"{event.kind}: TaskAge is not finite: {shown(age)}")
        return seconds
    created = event.fields.get("taskdatecreated")
    if created not in (None, ""):
        return event.when - _instant(created, event.kind)
    return 0.0


def _priority(event: _Event) -> int:
    """TaskPriority, a whole number (0 when absent or not a number); one out of a 64-bit
    range is refused, as the events-v1 decoder would refuse it."""
    value = event.fields.get("taskpriority")
    if isinstance(value, str) and _PRIORITY.fullmatch(value.strip()):
        value = int(value)
    elif isinstance(value, str) and value.strip().lstrip("-").isdigit():
        message = f"TaskPriority is not a whole number of at most 18 digits: {shown(value)}"
        raise AdapterError(FORMAT, message)
    if not isinstance(value, int) or isinstance(value, bool):
        return 0
    if not -(2**63) <= value < 2**63:
        raise AdapterError(FORMAT, f"TaskPriority is out of range: {shown(value)}")
    return value


def _flag(event: _Event, *keys: str) -> bool:
    for key in keys:
        value = event.fields.get(key)
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in {"true", "false"}:
            return value.lower() == "true"
    return False


def _remember(names: dict[str, str], sid: str, name: str, cap: int) -> None:
    if names.get(sid) != name:
        names.pop(sid, None)
        if len(names) >= cap:
            del names[next(iter(names))]
        names[sid] = name
