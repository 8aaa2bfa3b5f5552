"""Asterisk ``queue_log`` lines to events v1.

A line is ``epoch|callid|queue|agent|event|data1|data2|...`` as ``app_queue.c`` writes it
(docs.asterisk.org, "Queue Logs"), or one of the shapes exports give it
(:mod:`callpulse.adapters.queue_log_lines`); data fields are read by position from the start
as each event's layout has them. Calls map one line to one event; agents need state, since
the log has membership, pause and call lines but no agent state: this adapter keeps, per
agent, the queues it is a member of (and whether it is paused in each), its calls in progress
and its wrap-up, and writes an ``agent.state`` whenever what it derives changes.

What the log cannot carry: hold time (none is logged: ``hold_seconds`` is 0) and wrap-up (a
per-queue setting in ``queues.conf``, given here as ``wrapup_seconds``; default 0).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from callpulse.adapters.agent_identity import AgentIdentity, Identity
from callpulse.adapters.base import V1, AdapterError, Writer
from callpulse.adapters.bounds import Ignored, checked_name, non_negative
from callpulse.adapters.derived_agents import Derived, DerivedAgents
from callpulse.adapters.queue_log_lines import LineReader

FORMAT = "asterisk-queue-log"
MAX_AGENTS = 10_000  # like every tracker, bounded: the oldest agent is forgotten past it
MAX_QUEUES_PER_AGENT = 256
MAX_MEMBERSHIPS = 100_000  # (agent, queue) pairs over all agents: each keeps a queue name

# The kinds docs.asterisk.org ("Queue Logs") and app_queue.c write that v1 has no use for,
# and FreePBX's DID; any other kind is counted as _other.
IGNORED_KINDS = frozenset(
    {
        "AGENTDUMP", "CONFIGRELOAD", "DID", "HEADER", "PENALTY", "QUEUESTART", "RINGCANCELED",
        "RINGINUSE", "RINGNOANSWER", "SYSCOMPAT",
    }
)  # fmt: skip

_ABANDONS = {"ABANDON", "EXITEMPTY", "EXITWITHTIMEOUT", "EXITWITHKEY", "WITHDRAW"}
_COMPLETES = {"COMPLETECALLER", "COMPLETEAGENT"}
_LOGINS = {"AGENTLOGIN", "AGENTCALLBACKLOGIN"}
_LOGOFFS = {"AGENTLOGOFF", "AGENTCALLBACKLOGOFF"}
# Where a call's calltime is, per kind ending it (holdtime is the field before):
# COMPLETE*: holdtime|calltime|origposition; TRANSFER (1.4-11): extension|context|holdtime|
# calltime[|origposition]; BLINDTRANSFER (12+): extension|context|holdtime|calltime|
# origposition; ATTENDEDTRANSFER (12+): BRIDGE|bridge, APP|app, or LINK|channel|channel,
# then holdtime|calltime|origposition.
_CALLTIME = {"COMPLETECALLER": 2, "COMPLETEAGENT": 2, "TRANSFER": 4, "BLINDTRANSFER": 4}
_ATTENDED_CALLTIME = {"BRIDGE": 4, "APP": 4, "LINK": 5}
_TRANSFERS = {"TRANSFER", "BLINDTRANSFER", "ATTENDEDTRANSFER"}
_WAIT_FIELD = {  # which data field holds the caller's wait, per exit kind
    "ABANDON": 3,  # position|origposition|waittime
    "EXITEMPTY": 3,
    "EXITWITHTIMEOUT": 3,
    "EXITWITHKEY": 4,  # key|position|origposition|waittime
    "WITHDRAW": 3,  # position|origposition|waittime|withdrawinfo
}
_NONE = {"", "NONE"}


@dataclass(frozen=True, slots=True)
class AsteriskOptions:
    """How to read one site's ``queue_log``.

    ``agent_names`` maps an interface (``PJSIP/1001``, what ADDMEMBER writes) to the member
    name CONNECT writes, for servers without ``log_membername_as_agent``.
    ``timeouts_are_abandons``: whether a caller leaving on the queue's timeout counts as an
    abandon (true) or as leaving the queue unanswered for the dialplan's next step.
    ``agent_identity`` and ``agent_aliases``: which interfaces are one agent
    (:mod:`callpulse.adapters.agent_identity`). ``timezone``: the IANA zone of a
    ``YYYY-MM-DD HH:MM:SS`` time. ``columns``: a table export's column names, for a stream
    that does not start with its header line."""

    site: str
    wrapup_seconds: float = 0.0
    timeouts_are_abandons: bool = True
    agent_names: dict[str, str] = field(default_factory=dict)
    agent_identity: Identity = "by_interface"
    agent_aliases: dict[str, str] = field(default_factory=dict)
    timezone: str = "UTC"
    columns: str = ""


@dataclass(slots=True)
class _Agent:
    queues: dict[str, bool] = field(default_factory=dict)  # queue -> paused
    calls: int = 0
    wrapup_until: float = 0.0
    reported: tuple[str, tuple[str, ...]] | None = None
    logged_off: bool = False  # AGENTLOGOFF: offline, its queues kept for the next login

    def state(self, now: float) -> tuple[str, tuple[str, ...]]:
        members = tuple(sorted(self.queues))
        if not members or self.logged_off:
            return "offline", ()
        if self.calls > 0:
            return "on_call", members
        if now < self.wrapup_until:
            return "acw", members
        # Capacity is per queue: an agent paused in some queues serves only the others.
        serving = tuple(q for q in members if not self.queues[q])
        return ("available", serving) if serving else ("not_ready", members)


class AsteriskQueueLog(DerivedAgents[_Agent]):
    """An Adapter for Asterisk's ``queue_log``: one line per record."""

    format = FORMAT

    def __init__(self, options: AsteriskOptions) -> None:
        super().__init__(options.site, MAX_AGENTS, MAX_MEMBERSHIPS)
        self.options = options
        self.ignored = Ignored(IGNORED_KINDS)
        self._identity = AgentIdentity(
            options.agent_identity, options.agent_names, options.agent_aliases
        )
        self._lines = LineReader(ZoneInfo(options.timezone), options.columns)

    def translate(self, record: bytes) -> list[V1]:
        """The events-v1 bodies one ``queue_log`` line stands for (none for a kind v1 has no
        use for, counted in ``ignored``; none for a header line, counted as ``HEADER``).
        Raises AdapterError for a line it cannot read."""
        line = self._lines.read(record)
        if line is None:
            self.ignored.add("HEADER")
            return []
        out = Writer(record, self.options.site, line.when)
        with self._wrapups.ending(line.when, self._reporter(out), out):
            self._apply(line.kind, line.callid, line.queue, line.agent, line.data, line.when, out)
        return out.events

    def fill(self) -> Mapping[str, float]:
        """How full each cap is: agents, their queues, wrap-ups waiting to end, numbers
        whose interfaces are kept."""
        return {
            **self._caps(MAX_AGENTS),
            "agent_numbers": self._identity.fill(),
        }

    def split_agents(self) -> dict[str, tuple[str, ...]]:
        """Each number seen under interfaces counted as different agents -> the interfaces
        (``{"1127": ("Agent/1127", "Local/1127@callback-agent")}``): one person counted as
        several, which ``agent_identity: by_number`` or ``agent_aliases`` would make one."""
        return self._identity.split()

    def _apply(
        self, kind: str, callid: str, queue: str, agent: str, data: list[str], when: float,
        out: Writer,
    ) -> None:  # fmt: skip
        if kind == "ENTERQUEUE":
            out.add("call.queued", call_id=_named(callid, "callid"), queue=_named(queue, "queue"))
        elif kind == "CONNECT":
            wait = _data(data, 1, kind)
            name = self._agent_name(agent)
            out.add("call.answered", call_id=_named(callid, "callid"),
                    queue=_named(queue, "queue"), agent_id=name, wait_seconds=wait)  # fmt: skip
            member = self._agent(name)
            if queue not in member.queues:  # a static member is never ADDMEMBERed
                self._join(member, queue, False)
            member.logged_off = False
            member.calls += 1
            self._report(name, when, out)
        elif kind in _ABANDONS:
            self._left(kind, callid, queue, _data(data, _WAIT_FIELD[kind], kind), out)
        elif kind in _COMPLETES or kind in _TRANSFERS:
            talk = _calltime(kind, data)
            name = self._agent_name(agent)
            out.add("call.completed", call_id=_named(callid, "callid"),
                    queue=_named(queue, "queue"), agent_id=name, talk_seconds=talk,
                    hold_seconds=0.0, acw_seconds=self.options.wrapup_seconds)  # fmt: skip
            if kind in _TRANSFERS:
                out.add("call.transferred", call_id=callid, queue=queue)
            member = self._agent(name)
            member.calls = max(0, member.calls - 1)
            if self.options.wrapup_seconds > 0:
                member.wrapup_until = when + self.options.wrapup_seconds
                self._wrapups.start(name, member.wrapup_until)
            self._report(name, when, out)
        elif kind in {"ADDMEMBER", "REMOVEMEMBER", "PAUSE", "UNPAUSE", "PAUSEALL", "UNPAUSEALL"}:
            # PAUSEALL (or a PAUSE naming no queue) covers every queue the member is in.
            every = kind.endswith("ALL") or (kind != "ADDMEMBER" and queue in _NONE)
            named = None if every else _named(queue, "queue")
            self._membership(kind, named, self._agent_name(agent), data, when, out)
        elif kind in _LOGINS or kind in _LOGOFFS:
            # The queues come from ADDMEMBER (or CONNECT, for a static member): a login
            # brings back those it had at its logoff.
            name = self._agent_name(agent)
            if name in self._agents:  # of an agent with no queues yet, nothing to tell
                self._agents[name].logged_off = kind in _LOGOFFS
                self._report(name, when, out)
        else:
            # RINGNOANSWER, RINGCANCELED (ms of ringing: no v1 event), FreePBX's own rows
            # (DID, INFO...), PBXware's (OUTDIAL...) and kinds yet to come.
            self.ignored.add(kind)

    # --- agents ------------------------------------------------------------------------

    def _agent_name(self, agent: str) -> str:
        return self._identity.agent(_named(agent, "agent"))

    def _agent(self, name: str) -> _Agent:
        return self._kept(name, _Agent, MAX_AGENTS)

    def _join(self, member: _Agent, queue: str, paused: bool) -> None:
        """``member`` serves ``queue`` (paused in it or not), within the caps."""
        member.logged_off = False
        room = len(member.queues) < MAX_QUEUES_PER_AGENT
        if queue in member.queues or (room and self._memberships.take()):
            member.queues[queue] = paused

    def _membership(
        self, kind: str, queue: str | None, name: str, data: list[str], when: float, out: Writer
    ) -> None:
        """ADDMEMBER, REMOVEMEMBER and the pauses; ``queue`` None for every queue."""
        member = self._agent(name)
        if kind == "ADDMEMBER" and queue is not None:
            # data1 is PAUSED for a member added paused (AddQueueMember's p option).
            self._join(member, queue, data[:1] == ["PAUSED"])
        elif kind == "REMOVEMEMBER":
            if queue is not None and member.queues.pop(queue, None) is not None:
                self._memberships.give()
        else:
            paused = kind.startswith("PAUSE")
            for q in list(member.queues) if queue is None else [queue]:
                if q in member.queues:
                    member.queues[q] = paused
        self._report(name, when, out)

    def _derive(self, agent: _Agent, now: float) -> Derived:
        return agent.state(now)

    def _left(self, kind: str, callid: str, queue: str, wait: float, out: Writer) -> None:
        ids = {"call_id": _named(callid, "callid"), "queue": _named(queue, "queue")}
        if kind == "EXITWITHTIMEOUT" and not self.options.timeouts_are_abandons:
            out.add("call.transferred", **ids)
        else:
            out.add("call.abandoned", **ids, wait_seconds=wait)


def _number(text: str, what: str) -> float:
    return non_negative(FORMAT, text, what)


def _data(data: list[str], position: int, kind: str) -> float:
    if len(data) < position:
        raise AdapterError(FORMAT, f"{kind} needs data{position}, the line has {len(data)}")
    return _number(data[position - 1], f"{kind} data{position}")


def _calltime(kind: str, data: list[str]) -> float:
    """The calltime of a line ending a call, read from the start of its data fields (so
    empty padding after them does not matter)."""
    if kind == "ATTENDEDTRANSFER":
        at = _ATTENDED_CALLTIME.get(data[0] if data else "")
        if at is None:  # a method yet to come: holdtime|calltime|origposition end it
            if len(data) < 3:
                raise AdapterError(FORMAT, f"{kind} needs 3 data fields, has {len(data)}")
            return _number(data[-2], f"{kind} calltime")
    else:
        at = _CALLTIME[kind]
    return _data(data, at, kind)


def _named(text: str, what: str) -> str:
    if text in _NONE:
        raise AdapterError(FORMAT, f"{what} is missing")
    return checked_name(FORMAT, text, what)
