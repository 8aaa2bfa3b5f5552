"""Events v1 written as Twilio TaskRouter events: Event Streams CloudEvents, one per record,
the TaskRouter fields in ``data.payload`` (the inverse of ``callpulse.adapters.twilio``).

A call is a Task on the ``voice`` channel: queued is ``task.created`` and
``task-queue.entered``; answered is ``reservation.created`` and ``reservation.accepted``;
an abandon is ``task.canceled`` (reason ``hangup``), a callback request ``task.canceled``
(reason ``Callback requested``); the agent's ``acw`` is ``task.wrapup`` and the completion
``task.completed``. An agent is a Worker named by its id, whose Activity is Available,
Break (``not_ready``) or Offline; ``on_call`` and ``acw`` are not activities but the
worker's task, so they write nothing of their own.

What TaskRouter cannot carry: hold time (inside the talk time), the queues an agent serves
(learned from its tasks), transfers without a routing step, and every other v1 type.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from types import MappingProxyType
from typing import Any

from callpulse.core.timefmt import rfc3339
from callpulse.simulation.emitters.base import ACD_TYPES

FORMAT = "twilio-taskrouter"
_ACTIVITIES = {"available": "Available", "not_ready": "Break", "offline": "Offline"}
_NAMES = {  # the WDSEvent ``name`` of each event type
    "task.created": "TaskCreated",
    "task-queue.entered": "TaskQueueEntered",
    "reservation.created": "ReservationCreated",
    "reservation.accepted": "ReservationAccepted",
    "task.canceled": "TaskCanceled",
    "task.wrapup": "TaskWrapup",
    "task.completed": "TaskCompleted",
    "worker.activity.update": "WorkerActivityUpdate",
}


def _sid(prefix: str, *parts: str) -> str:
    """A Twilio-shaped SID (two letters, 32 hex digits), stable for the same parts."""
    return prefix + hashlib.md5("|".join(parts).encode(), usedforsecurity=False).hexdigest()


def task_sid(site: str, call_id: str) -> str:
    """The TaskSid a call is written with (the adapter's ``call_id`` for it)."""
    return _sid("WT", site, call_id)


@dataclass(slots=True)
class _Call:
    queue: str
    created: float
    agent: str | None = None


class TwilioEmitter:
    """Writes v1 ACD events as TaskRouter CloudEvents; stateful where TaskRouter is (a
    task's queue and worker, a worker's activity and current task)."""

    format = FORMAT
    carries = ACD_TYPES

    merges: Mapping[str, str] = MappingProxyType({})  # a callback comes back as one
    acw_carried = True
    whole_seconds = False

    def __init__(self, max_calls: int = 100_000) -> None:
        self._calls: dict[tuple[str, str], _Call] = {}
        self._activity: dict[tuple[str, str], str] = {}
        self._current: dict[tuple[str, str], str] = {}  # agent -> its call in progress
        self._max_calls = max_calls
        self._count = 0

    def emit(self, event: Mapping[str, Any]) -> list[bytes]:
        """The TaskRouter events ``event`` becomes: zero or more CloudEvents."""
        site, kind = str(event["site"]), str(event["type"])
        when = datetime.fromisoformat(str(event["occurred_at"]).replace("Z", "+00:00"))
        at = when.timestamp()
        if kind == "call.queued":
            call = _Call(str(event["queue"]), at)
            self._remember((site, str(event["call_id"])), call)
            task = self._task(site, str(event["call_id"]), call, at)
            task["task_priority"] = int(event.get("priority", 0))
            return [
                self._event(
                    "task.created",
                    site,
                    at,
                    {**task, "task_queue_sid": None, "task_queue_name": None},
                ),
                self._event("task-queue.entered", site, at, task),
            ]
        if kind == "call.answered":
            key = (site, str(event["call_id"]))
            call = self._calls.get(key) or _Call(str(event["queue"]), at - event["wait_seconds"])
            agent = str(event["agent_id"])
            call.agent = agent
            self._remember(key, call)
            self._current[(site, agent)] = key[1]
            fields = {
                **self._task(site, key[1], call, at),
                **self._worker(site, agent),
                "reservation_sid": _sid("WR", site, key[1], agent),
            }
            return [
                self._event("reservation.created", site, at, fields),
                self._event("reservation.accepted", site, at, fields),
            ]
        if kind in {"call.abandoned", "call.callback_requested"}:
            key = (site, str(event["call_id"]))
            call = (
                self._calls.pop(key)
                if key in self._calls
                else _Call(str(event["queue"]), at - event["wait_seconds"])
            )
            reason = "hangup" if kind == "call.abandoned" else "Callback requested"
            fields = {
                **self._task(site, key[1], call, at),
                "task_canceled_reason": reason,
                "reason": reason,
                "task_assignment_status": "canceled",
            }
            return [self._event("task.canceled", site, at, fields)]
        if kind == "call.completed":
            key = (site, str(event["call_id"]))
            call = self._calls.pop(key) if key in self._calls else _Call(str(event["queue"]), at)
            agent = str(event["agent_id"])
            if self._current.get((site, agent)) == key[1]:
                del self._current[(site, agent)]
            fields = {
                **self._task(site, key[1], call, at),
                **self._worker(site, agent),
                "task_assignment_status": "completed",
                "task_completed_reason": "call ended",
            }
            return [self._event("task.completed", site, at, fields)]
        if kind == "agent.state":
            return self._agent_state(site, str(event["agent_id"]), str(event["state"]), at)
        return []

    def _agent_state(self, site: str, agent: str, state: str, at: float) -> list[bytes]:
        if state == "acw":
            call_id = self._current.get((site, agent))
            call = self._calls.get((site, call_id)) if call_id is not None else None
            if call is None or call_id is None:
                return []
            fields = {
                **self._task(site, call_id, call, at),
                **self._worker(site, agent),
                "task_assignment_status": "wrapping",
            }
            return [self._event("task.wrapup", site, at, fields)]
        activity = _ACTIVITIES.get(state)
        if activity is None or self._activity.get((site, agent)) == activity:
            return []  # on_call is the accepted task; an unchanged activity is no event
        previous = self._activity.get((site, agent), "Offline")
        self._activity[(site, agent)] = activity
        fields = {
            **self._worker(site, agent),
            "worker_previous_activity_sid": _sid("WA", site, previous),
            "worker_previous_activity_name": previous,
        }
        return [self._event("worker.activity.update", site, at, fields)]

    def _remember(self, key: tuple[str, str], call: _Call) -> None:
        self._calls.pop(key, None)
        if len(self._calls) >= self._max_calls:
            del self._calls[next(iter(self._calls))]
        self._calls[key] = call

    def _task(self, site: str, call_id: str, call: _Call, at: float) -> dict[str, Any]:
        return {
            "task_sid": task_sid(site, call_id),
            "task_attributes": json.dumps({"call_sid": call_id, "direction": "inbound"}),
            "task_age": max(0, round(at - call.created)),
            "task_date_created": _iso(call.created),
            "task_assignment_status": "pending",
            "task_channel_unique_name": "voice",
            "task_queue_sid": _sid("WQ", site, call.queue),
            "task_queue_name": call.queue,
        }

    def _worker(self, site: str, agent: str) -> dict[str, Any]:
        activity = self._activity.get((site, agent), "Available")
        return {
            "worker_sid": _sid("WK", site, agent),
            "worker_name": agent,
            "worker_activity_sid": _sid("WA", site, activity),
            "worker_activity_name": activity,
        }

    def _event(self, kind: str, site: str, at: float, payload: dict[str, Any]) -> bytes:
        self._count += 1
        sid = _sid("EV", site, str(self._count))
        when = _iso(at)
        body = {k: v for k, v in payload.items() if v is not None}
        return json.dumps(
            {
                "specversion": "1.0",
                "type": f"com.twilio.taskrouter.{kind}",
                "source": f"/v1/Workspaces/{_sid('WS', site)}",
                "id": sid,
                "dataschema": "https://events-schemas.twilio.com/TaskRouter.WDSEvent/4",
                "datacontenttype": "application/json",
                "time": when,
                "data": {
                    "sid": sid,
                    "name": _NAMES[kind],
                    "timestamp": when,
                    "product_name": "TaskRouter",
                    "payload_type": "application/json",
                    "payload": {
                        "sid": sid,
                        "eventtype": kind,
                        "timestamp": when,
                        "workspace_sid": _sid("WS", site),
                        "workspace_name": site,
                        **body,
                    },
                },
            },
            separators=(",", ":"),
        ).encode()


def _iso(at: float) -> str:
    """Epoch seconds as Twilio writes an instant: ISO 8601 in UTC, milliseconds, Z."""
    return rfc3339(at)
