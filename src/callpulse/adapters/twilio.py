"""Twilio TaskRouter events to events v1.

TaskRouter logs an event for every change of a Task, Reservation, Worker and Workflow
(twilio.com/docs/taskrouter/api/event/reference, "TaskRouter Events reference"), delivered
by Event Streams as CloudEvents or by the Workspace's ``EventCallbackUrl`` form-encoded; a
record is read into those events by :mod:`callpulse.adapters.twilio_records`, and what their
fields mean is :mod:`callpulse.adapters.twilio_fields`.

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

from collections.abc import Mapping
from dataclasses import dataclass, field

from callpulse.adapters.base import V1, AdapterError, Writer, entry
from callpulse.adapters.bounds import Budget, Ignored, digest
from callpulse.adapters.derived_agents import report
from callpulse.adapters.twilio_fields import activity_state, age, named, priority
from callpulse.adapters.twilio_records import FORMAT, KINDS, TaskRouterEvent, read

MAX_TASKS = 100_000  # tasks live minutes; the oldest is forgotten past this
MAX_WORKERS = 10_000
MAX_QUEUES_PER_WORKER = 256
MAX_MEMBERSHIPS = 100_000  # (worker, queue) pairs over all workers: each keeps a queue name

_CALL_ENDS = {"task.canceled", "workflow.timeout", "workflow.skipped", "task.wrapup",
              "reservation.wrapup", "task.completed", "reservation.completed"}  # fmt: skip
_USED = _CALL_ENDS | {"task-queue.entered", "reservation.accepted", "task-queue.timeout",
                      "task-queue.moved", "worker.activity.update"}  # fmt: skip
_OTHER_CHANNELS = {"chat", "sms", "video", "email"}  # Twilio's TaskChannels that are no call
# What is counted in ``ignored`` by name: the types v1 has no use for, a task of another
# channel by its channel, and an end of a task not seen (or forgotten); any other kind (an
# unknown type, another product's CloudEvent, a channel of your own) as _other.
IGNORED_KINDS = (KINDS - _USED) | _OTHER_CHANNELS | {f"{k} (unknown task)" for k in _CALL_ENDS}
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
        events = read(record)  # all readable, or the record is rejected
        out = Writer(record, self.options.site, 0.0)
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

    def _apply(self, event: TaskRouterEvent, out: Writer) -> None:
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

    def _entered(self, event: TaskRouterEvent, out: Writer) -> None:
        sid = event.sid()
        queue = self._queue(event)
        if queue is None:
            raise AdapterError(FORMAT, "task-queue.entered has no TaskQueueSid or TaskQueueName")
        rank = priority(event)
        task = self._task(event)
        if task.done or task.accepted is not None or (task.waiting and task.queue == queue):
            return  # late, or the same wait read again
        if task.waiting and task.queue is not None:
            out.add("call.transferred", call_id=sid, queue=task.queue, to_queue=queue)
        task.queue, task.entered, task.waiting = queue, event.when, True
        out.add("call.queued", call_id=sid, queue=queue, priority=rank)

    def _accepted(self, event: TaskRouterEvent, out: Writer) -> None:
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
            wait = age(event)
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

    def _left(self, event: TaskRouterEvent, out: Writer) -> None:
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
            queue, wait = found, age(event)
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

    def _wrapup(self, event: TaskRouterEvent, out: Writer) -> None:
        sid = event.sid()
        task = self._task(event)
        if task.done or task.wrapup is not None:
            return
        if task.accepted is None or task.worker is None:
            self.ignored.add(f"{event.kind} (unknown task)")
            return
        task.wrapup = event.when
        self._talk_ends(task.worker, sid, True, out)

    def _completed(self, event: TaskRouterEvent, out: Writer) -> None:
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
        self._talk_ends(task.worker, sid, False, out)

    def _talk_ends(self, name: str, sid: str, wrapping: bool, out: Writer) -> None:
        """Worker ``name`` is no longer talking on task ``sid``: it is wrapping it up, or
        (``wrapping`` false) done with it."""
        worker = self._worker(name)
        key = digest(sid)
        worker.talking.discard(key)
        if wrapping:
            worker.wrapping.add(key)
        else:
            worker.wrapping.discard(key)
        self._report(name, out)

    # --- state ---------------------------------------------------------------------------

    def _task(self, event: TaskRouterEvent) -> _Task:
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

    def _agent(self, event: TaskRouterEvent) -> str:
        """The agent an event names: ``agent_names`` of its SID or name, else its friendly
        name, else the name an earlier event gave its SID, else the SID."""
        sid, name = event.text("workersid"), event.text("workername")
        found = named(sid, name, self.options.agent_names, self._worker_names, MAX_WORKERS)
        if found is None:
            raise AdapterError(FORMAT, f"{event.kind} has no WorkerSid or WorkerName")
        return found

    def _queue(self, event: TaskRouterEvent) -> str | None:
        sid, name = event.text("taskqueuesid"), event.text("taskqueuename")
        return named(sid, name, self.options.queue_names, self._queue_names, MAX_WORKERS)

    def _activity(self, name: str, event: TaskRouterEvent) -> None:
        state = activity_state(event, self.options.activity_states)
        if state is not None:  # else the event says nothing of it
            self._worker(name).activity = state

    def _report(self, name: str, out: Writer) -> None:
        worker = self._workers[name]
        report(out, name, worker, worker.state())
