"""FreeSWITCH ``mod_callcenter`` events to events v1.

A record is one FreeSWITCH event serialized as JSON, the way ``switch_event_serialize_json``
writes it (``src/switch_event.c``) for the event socket's ``event json`` command, ``mod_amqp``
and the third-party ``mod_event_kafka``: one flat object of header name -> string, every
value a string (a multi-valued header is an array of strings). The events used are
``Event-Name: CUSTOM`` with ``Event-Subclass: callcenter::info``, told apart by ``CC-Action``;
their headers are those ``src/mod/applications/mod_callcenter/mod_callcenter.c`` adds:

- ``member-queue-start`` (and ``member-queue-resume``, a caller taking back an abandoned
  place): ``CC-Queue``, ``CC-Member-UUID``, ``CC-Member-Session-UUID``. No time of its own:
  the event's ``Event-Date-Timestamp`` (microseconds, added to every fired event) is used.
- ``bridge-agent-start``: ``CC-Agent``, ``CC-Agent-Answered-Time``, ``CC-Member-Joined-Time``
  (epoch seconds) -> ``call.answered``; ``bridge-agent-end``: ``CC-Bridge-Terminated-Time``,
  ``CC-Agent-Bridged`` -> ``call.completed``.
- ``member-queue-end``: ``CC-Cause`` ``Terminated`` (after an agent: already told by
  ``bridge-agent-end``) or ``Cancel`` with ``CC-Cancel-Reason`` ``TIMEOUT``,
  ``NO_AGENT_TIMEOUT``, ``BREAK_OUT`` (the caller hung up or was taken out), ``EXIT_WITH_KEY``
  or ``NONE``, and ``CC-Member-Joined-Time`` / ``CC-Member-Leaving-Time``.
- A wait is timed from the caller's ``member-queue-start`` to the answer or the leaving by
  their ``Event-Date-Timestamp`` (microseconds): the ``CC-*-Time`` headers are whole seconds,
  and their difference can put a 4.6 s abandon past a 5 s short-abandon threshold. The
  headers serve when the join was not read.
- ``agent-status-change`` (``CC-Agent-Status``: ``Logged Out``, ``Available``,
  ``Available (On Demand)``, ``On Break``) and ``agent-state-change`` (``CC-Agent-State``:
  ``Waiting``, ``Receiving``, ``In a queue call``, ``Idle``, ``Reserved``).
- ``agent-offering`` and ``bridge-agent-fail`` name an agent and a queue: the only sign, in
  the stream, of the tiers that bind agents to queues (tiers have no event).

Sources: ``mod_callcenter.c`` and ``switch_event.c`` (github.com/signalwire/freeswitch); the
mod_callcenter page of the FreeSWITCH documentation (freeswitch.org, "mod_callcenter":
Events, agent Status and State, ``wrap-up-time``); the mod_event_socket page (``event json``).
The documentation's example names ``CC-Cause-Reason`` where the source writes
``CC-Cancel-Reason``: both are read.

What the stream cannot carry: hold time (``hold_seconds`` is 0: the talk time is the whole
bridge), how long each wrap-up lasts (no event: the agent's ``wrap-up-time`` is given as
``wrapup_seconds``, the same for every agent and call), a callback request (a caller
leaving by key is an abandon), and an agent's queues before its first offer (no event
names a tier).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from callpulse.adapters import freeswitch_headers as headers
from callpulse.adapters.base import V1, AdapterError, Writer, parse_json
from callpulse.adapters.bounds import Ignored, digest, shown
from callpulse.adapters.derived_agents import Derived, DerivedAgents
from callpulse.adapters.freeswitch_agent import IN_A_QUEUE_CALL, STATES, STATUSES, Agent
from callpulse.adapters.freeswitch_headers import FORMAT
from callpulse.core.events import AgentStateName

T = TypeVar("T")
SUBCLASS = "callcenter::info"
MAX_AGENTS = 10_000  # like every tracker, bounded: the oldest agent is forgotten past it
MAX_QUEUES_PER_AGENT = 256
MAX_MEMBERSHIPS = 100_000  # (agent, queue) pairs over all agents: each keeps a queue name
MAX_CALLS = 10_000  # calls (queued, or answered) whose member-queue-end is still to come

# The CC-Actions mod_callcenter.c writes that v1 has no use for, this adapter's own two
# kinds of member-queue-end, and FreeSWITCH's other events (switch_event.c, EVENT_NAMES)
# by name, a CUSTOM of another subclass as CUSTOM; any other kind is counted as _other.
IGNORED_KINDS = frozenset(
    {
        "members-count", "agent-max-no-answer", "agent-add", "agent-contact-change",
        "agent-status-get", "agent-state-get", "agent-uuid-get", "member-queue-end:Terminated",
        "member-queue-end:answered", "CUSTOM", "CLONE", "CHANNEL_CREATE", "CHANNEL_DESTROY",
        "CHANNEL_STATE", "CHANNEL_CALLSTATE", "CHANNEL_ANSWER", "CHANNEL_HANGUP",
        "CHANNEL_HANGUP_COMPLETE", "CHANNEL_EXECUTE", "CHANNEL_EXECUTE_COMPLETE", "CHANNEL_HOLD",
        "CHANNEL_UNHOLD", "CHANNEL_BRIDGE", "CHANNEL_UNBRIDGE", "CHANNEL_PROGRESS",
        "CHANNEL_PROGRESS_MEDIA", "CHANNEL_OUTGOING", "CHANNEL_PARK", "CHANNEL_UNPARK",
        "CHANNEL_APPLICATION", "CHANNEL_ORIGINATE", "CHANNEL_UUID", "API", "LOG", "INBOUND_CHAN",
        "OUTBOUND_CHAN", "STARTUP", "SHUTDOWN", "PUBLISH", "UNPUBLISH", "TALK", "NOTALK",
        "SESSION_CRASH", "MODULE_LOAD", "MODULE_UNLOAD", "DTMF", "MESSAGE", "PRESENCE_IN",
        "NOTIFY_IN", "PRESENCE_OUT", "PRESENCE_PROBE", "MESSAGE_WAITING", "MESSAGE_QUERY",
        "ROSTER", "CODEC", "BACKGROUND_JOB", "DETECTED_SPEECH", "DETECTED_TONE", "PRIVATE_COMMAND",
        "HEARTBEAT", "TRAP", "ADD_SCHEDULE", "DEL_SCHEDULE", "EXE_SCHEDULE", "RE_SCHEDULE",
        "RELOADXML", "NOTIFY", "PHONE_FEATURE", "PHONE_FEATURE_SUBSCRIBE", "SEND_MESSAGE",
        "RECV_MESSAGE", "REQUEST_PARAMS", "CHANNEL_DATA", "GENERAL", "COMMAND",
        "SESSION_HEARTBEAT", "CLIENT_DISCONNECTED", "SERVER_DISCONNECTED", "SEND_INFO",
        "RECV_INFO", "RECV_RTCP_MESSAGE", "SEND_RTCP_MESSAGE", "CALL_SECURE", "NAT",
        "RECORD_START", "RECORD_STOP", "PLAYBACK_START", "PLAYBACK_STOP", "CALL_UPDATE", "FAILURE",
        "SOCKET_DATA", "MEDIA_BUG_START", "MEDIA_BUG_STOP", "CONFERENCE_DATA_QUERY",
        "CONFERENCE_DATA", "CALL_SETUP_REQ", "CALL_SETUP_RESULT", "CALL_DETAIL", "DEVICE_STATE",
        "TEXT", "SHUTDOWN_REQUESTED", "CERT_RELOAD",
    }
)  # fmt: skip

_TIMEOUTS = {"TIMEOUT", "NO_AGENT_TIMEOUT"}


@dataclass(frozen=True, slots=True)
class FreeSwitchOptions:
    """How to read one site's ``callcenter::info`` events.

    ``agent_names`` and ``queue_names`` map FreeSWITCH's names (``1000@default``,
    ``support@default``) to the names to report. ``activity_states`` maps an agent status (or
    state) name to the v1 state it means, over the defaults. ``timeouts_are_abandons``:
    whether a caller leaving on ``max-wait-time`` (or ``max-wait-time-with-no-agent``) counts
    as an abandon (true) or as leaving the queue unanswered for the dialplan's next step."""

    site: str
    wrapup_seconds: float = 0.0
    timeouts_are_abandons: bool = True
    agent_names: dict[str, str] = field(default_factory=dict)
    queue_names: dict[str, str] = field(default_factory=dict)
    activity_states: dict[str, AgentStateName] = field(default_factory=dict)


class FreeSwitchCallcenter(DerivedAgents[Agent]):
    """An Adapter for FreeSWITCH ``mod_callcenter`` events, one JSON event per record."""

    format = FORMAT

    def __init__(self, options: FreeSwitchOptions) -> None:
        super().__init__(options.site, MAX_AGENTS, MAX_MEMBERSHIPS)
        self.options = options
        self.ignored = Ignored(IGNORED_KINDS)
        # Calls by the digest of (call, queue): answered, and not yet ended.
        self._answered: dict[bytes, None] = {}
        # Calls by the digest of (call, queue) -> its member-queue-start's
        # Event-Date-Timestamp (microseconds).
        self._joined: dict[bytes, int] = {}

    def translate(self, record: bytes) -> list[V1]:
        """The events-v1 bodies one FreeSWITCH event stands for (none for a kind v1 has no use
        for, counted in ``ignored``). Raises AdapterError for a record it cannot read."""
        event = parse_json(FORMAT, record, "a FreeSWITCH event as JSON")
        if not isinstance(event, dict):
            raise AdapterError(FORMAT, "expected a FreeSWITCH event as a JSON object of headers")
        name = headers.text(event, "Event-Name")
        if name != "CUSTOM" or event.get("Event-Subclass") != SUBCLASS:
            # Other events (CHANNEL_*, HEARTBEAT, other modules' CUSTOM) share the stream
            # when the bridge subscribes to more than callcenter::info.
            self.ignored.add(name)
            return []
        action = headers.text(event, "CC-Action")
        out = Writer(record, self.options.site, headers.when(event, action))
        with self._wrapups.ending(out.when, self._reporter(out), out):
            self._apply(action, event, out)
        return out.events

    def fill(self) -> Mapping[str, float]:
        """How full each cap is: agents, their queues, wrap-ups waiting to end, calls
        waiting and answered."""
        return {
            **self._caps(MAX_AGENTS),
            "waiting_calls": len(self._joined) / MAX_CALLS,
            "answered_calls": len(self._answered) / MAX_CALLS,
        }

    def _apply(self, action: str, event: dict[str, Any], out: Writer) -> None:
        if action in {"member-queue-start", "member-queue-resume"}:
            call, queue = self._call(event), self._queue(event)
            out.add("call.queued", call_id=call, queue=queue)
            micros = headers.micros(event)
            if micros is not None:
                _remember(self._joined, digest(call, queue), micros)
        elif action == "bridge-agent-start":
            self._answer(event, out)
        elif action == "bridge-agent-end":
            self._bridge_end(event, out)
        elif action == "member-queue-end":
            self._queue_end(event, out)
        elif action in {"agent-offering", "bridge-agent-fail"}:
            # The agent serves this queue: a tier the stream has no other sign of.
            name = self._agent_name(event)
            self._serves(name, self._queue(event))
            self._report(name, out.when, out)
        elif action == "agent-status-change":
            status = headers.text(event, "CC-Agent-Status")
            if status not in STATUSES and status not in self.options.activity_states:
                raise headers.unknown("CC-Agent-Status", status, STATUSES)
            name = self._agent_name(event)
            self._agent(name).status = status
            self._report(name, out.when, out)
        elif action == "agent-state-change":
            state = headers.text(event, "CC-Agent-State")
            if state not in STATES and state not in self.options.activity_states:
                raise headers.unknown("CC-Agent-State", state, sorted(STATES))
            name = self._agent_name(event)
            self._agent(name).state = state
            self._report(name, out.when, out)
        else:
            # members-count (a waiting count without the oldest wait or agents: not a
            # snapshot), agent-max-no-answer (its status change follows), agent-add,
            # agent-contact-change, the agent-*-get answers, and actions yet to come.
            self.ignored.add(action)

    # --- calls ---------------------------------------------------------------------------

    def _answer(self, event: dict[str, Any], out: Writer) -> None:
        call, queue, name = self._call(event), self._queue(event), self._agent_name(event)
        key = digest(call, queue)
        wait = headers.wait(event, self._joined.get(key), "CC-Agent-Answered-Time")
        out.add("call.answered", call_id=call, queue=queue, agent_id=name, wait_seconds=wait)
        _remember(self._answered, key, None)
        self._serves(name, queue)
        self._agent(name).state = IN_A_QUEUE_CALL  # its agent-state-change follows
        self._report(name, out.when, out)

    def _bridge_end(self, event: dict[str, Any], out: Writer) -> None:
        call, queue, name = self._call(event), self._queue(event), self._agent_name(event)
        # CC-Agent-Bridged false: the caller hung up as the agent answered, no talk at all;
        # the answer is told, the member-queue-end that follows is no abandon.
        bridged = event.get("CC-Agent-Bridged", "true") != "false"
        if bridged:
            ended = headers.number(event, "CC-Bridge-Terminated-Time")
            talk = ended - headers.number(event, "CC-Agent-Answered-Time")
        member = self._agent(name)
        if member.state == IN_A_QUEUE_CALL:
            member.state = "Waiting"  # its agent-state-change (Waiting, or Idle) follows
        if bridged:
            wrapup = self.options.wrapup_seconds
            out.add("call.completed", call_id=call, queue=queue, agent_id=name,
                    talk_seconds=max(0.0, talk), hold_seconds=0.0,
                    acw_seconds=float(wrapup))  # fmt: skip
            if wrapup > 0:
                # From the event's own time (microseconds): the header is whole seconds.
                member.wrapup_until = out.when + wrapup
                self._wrapups.start(name, member.wrapup_until)
        self._report(name, out.when, out)

    def _queue_end(self, event: dict[str, Any], out: Writer) -> None:
        call, queue = self._call(event), self._queue(event)
        key = digest(call, queue)
        cause = headers.text(event, "CC-Cause")
        if cause not in {"Terminated", "Cancel"}:
            raise AdapterError(FORMAT, f"CC-Cause must be Terminated or Cancel: {shown(cause)}")
        reason = event.get("CC-Cancel-Reason", event.get("CC-Cause-Reason", "NONE"))
        if not isinstance(reason, str):
            raise AdapterError(FORMAT, "CC-Cancel-Reason must be a string")
        answered = key in self._answered
        if cause == "Cancel" and not answered:
            wait = headers.wait(event, self._joined.get(key), "CC-Member-Leaving-Time")
        # The record is read: only now is the call forgotten.
        self._answered.pop(key, None)
        self._joined.pop(key, None)
        if cause == "Terminated":
            self.ignored.add("member-queue-end:Terminated")  # bridge-agent-end told it
            return
        if answered:
            self.ignored.add("member-queue-end:answered")
            return
        if reason in _TIMEOUTS and not self.options.timeouts_are_abandons:
            out.add("call.transferred", call_id=call, queue=queue)
        else:
            out.add("call.abandoned", call_id=call, queue=queue, wait_seconds=wait)

    def _call(self, event: dict[str, Any]) -> str:
        # The caller's channel: what CDRs and the other channel events name.
        return headers.name(event, "CC-Member-Session-UUID")

    def _queue(self, event: dict[str, Any]) -> str:
        queue = headers.name(event, "CC-Queue")
        return self.options.queue_names.get(queue, queue)

    # --- agents ------------------------------------------------------------------------

    def _agent_name(self, event: dict[str, Any]) -> str:
        name = headers.name(event, "CC-Agent")
        return self.options.agent_names.get(name, name)

    def _agent(self, name: str) -> Agent:
        return self._kept(name, Agent, MAX_AGENTS)

    def _serves(self, name: str, queue: str) -> None:
        queues = self._agent(name).queues
        if queue in queues or len(queues) >= MAX_QUEUES_PER_AGENT:
            return
        if self._memberships.take():
            queues[queue] = None

    def _derive(self, agent: Agent, now: float) -> Derived:
        return agent.derive(now, self.options.activity_states)


def _remember(calls: dict[bytes, T], key: bytes, value: T) -> None:
    """``calls[key] = value``, the oldest call forgotten past MAX_CALLS."""
    if key not in calls and len(calls) >= MAX_CALLS:
        del calls[next(iter(calls))]
    calls[key] = value
