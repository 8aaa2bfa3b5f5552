"""What a hostile producer can make an adapter keep, per format.

- ``kinds``: ``--kinds`` records of distinct unknown kinds: the series of
  ``callpulse_adapter_events_ignored_total`` they make and their bytes in ``/metrics``;
- ``ids``: for each kind of id an adapter keeps, one record whose id is ``--id-bytes`` long:
  whether it is rejected, and the bytes still held after it (tracemalloc);
- ``caps`` (``--caps``): every table filled to its cap, each name a new one at the length
  limit (ASCII, then 4-byte characters): the bytes the adapter holds then, its worst case.

    .venv/bin/python -m benchmarks.adapter_state [--kinds 200000] [--id-bytes 100000] [--caps]
"""

from __future__ import annotations

import argparse
import gc
import tracemalloc
from collections.abc import Callable, Iterable, Iterator

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily
from prometheus_client.registry import Collector
from tests.unit.adapter_records import (
    FREESWITCH,
    FREESWITCH_CHANNEL,
    IDS,
    INSTANCE,
    KINDS,
    Records,
    T,
    adapter,
    connect_agent_event,
    connect_contact_event,
    connect_record,
    freeswitch_event,
    queue_log_line,
    twilio_event,
)

from callpulse.adapters import (
    agent_identity,
    amazon_connect,
    freeswitch,
    freeswitch_channel,
    trunk_channels,
    twilio,
)
from callpulse.adapters.base import AdapterError
from callpulse.protocols import Adapter
from callpulse.web.exposition import ignored_by_format

NAME_LIMIT = 256  # characters, as an events-v1 name


def feed(target: Adapter, records: Iterable[bytes]) -> int:
    """Translate ``records``, dropping the events; return how many were rejected."""
    rejected = 0
    for record in records:
        try:
            target.translate(record)
        except AdapterError:
            rejected += 1
    return rejected


def held(make: Callable[[], Adapter], records: Callable[[Adapter], None]) -> tuple[Adapter, int]:
    """An adapter from ``make`` after ``records(adapter)``, and the bytes it holds then
    beyond a fresh one."""
    gc.collect()
    tracemalloc.start()
    target = make()
    before = tracemalloc.get_traced_memory()[0]
    records(target)
    gc.collect()
    after = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    return target, after - before


class _Ignored(Collector):
    def __init__(self, adapters: list[Adapter]) -> None:
        self.adapters = adapters

    def collect(self) -> Iterable[CounterMetricFamily]:
        family = CounterMetricFamily(
            "callpulse_adapter_events_ignored", "Ignored.", labels=["format", "kind"]
        )
        for (fmt, kind), count in sorted(ignored_by_format(self.adapters).items()):
            family.add_metric([fmt, kind], count)
        yield family


def kinds(count: int) -> None:
    print(f"{count:,} records of distinct unknown kinds, and one of each with ESC, BEL, NUL, CR")
    for fmt, record in KINDS.items():
        target = adapter(fmt)
        feed(target, (record(f"KIND{n}", n) for n in range(count)))
        feed(target, (record(f"X{c}Y", count) for c in "\x1b\x07\x00\r"))
        registry = CollectorRegistry()
        registry.register(_Ignored([target]))
        body = generate_latest(registry)
        raw = any(c in kind for kind in target.ignored for c in "\x1b\x07\x00\r")
        series = sum(1 for line in body.splitlines() if line.startswith(b"callpulse_adapter"))
        print(f"  {fmt:22} {series:>9,} series  {len(body) / 2**20:8.2f} MiB of /metrics  "
              f"raw control characters in a label: {'yes' if raw else 'no'}")  # fmt: skip


def ids(size: int) -> None:
    print(f"one record with an id of {size:,} bytes, per kind of id")
    for fmt, builders in IDS.items():
        for what, records in builders.items():
            long = "i" * size
            rejected = 0

            def play(target: Adapter, records: Records = records, long: str = long) -> None:
                nonlocal rejected
                rejected = feed(target, records(long, 0))

            _, retained = held(lambda fmt=fmt: adapter(fmt), play)
            outcome = f"{rejected} rejected" if rejected else "accepted"
            print(f"  {fmt:22} {what:26} {outcome:12} {retained:>10,} bytes held")


Namer = Callable[[str, int], str]  # a name for a tag and a number


def worst(fmt: str, name: Namer) -> Iterator[bytes]:
    """Records that fill every cap of ``fmt``'s adapter, each name a new one from ``name``:
    10,000 agents in 10 queues each, every table of calls, contacts or tasks full, and a
    wrap-up clock at its limit."""
    agents, queues_each = 10_000, 10
    if fmt == "asterisk-queue-log":
        for a in range(agents):
            for q in range(queues_each):
                yield queue_log_line(T, "NONE", name("q", a * 10 + q), name("a", a), "ADDMEMBER")
        for i in range(2 * agents):  # each earlier than the last: none comes due
            yield queue_log_line(T + 1e8 - i, f"c{i}", "billing", name("a", i % agents),
                                 "COMPLETECALLER", 1, 60, 1)  # fmt: skip
        for n in range(agent_identity.MAX_NUMBERS):  # numbers, each under several interfaces
            for tech in range(agent_identity.MAX_INTERFACES):
                interface = f"T{tech}/{name('n', n)}"[: agent_identity.MAX_NOTED]
                yield queue_log_line(T, "NONE", "NONE", interface, "AGENTLOGIN")
    elif fmt == "freeswitch-callcenter":
        for c in range(freeswitch.MAX_CALLS):
            yield from FREESWITCH["call"](name("c", c), c)
        for a in range(agents):
            for q in range(queues_each):
                yield freeswitch_event(T, "agent-offering", CC_Agent=name("a", a),
                                       CC_Queue=name("q", a * 10 + q))  # fmt: skip
        for i in range(2 * agents):
            headers = {"CC_Agent": name("a", i % agents), "CC_Queue": "q",
                       "CC_Member_Session_UUID": f"c{i}", "CC_Agent_Answered_Time": str(T),
                       "CC_Bridge_Terminated_Time": str(T)}  # fmt: skip
            yield freeswitch_event(T + 1e8 - i, "bridge-agent-end", **headers)
    elif fmt == "freeswitch-channel":
        # Each leg on a trunk of its own, enough to fill both tables of legs.
        for n in range(max(freeswitch_channel.MAX_LEGS, trunk_channels.MAX_LEGS)):
            yield from FREESWITCH_CHANNEL["gateway"](name("g", n), n)
    elif fmt == "amazon-connect":
        for a in range(agents):
            arns = [f"{INSTANCE}/queue/{name('q', a * 10 + q)}" for q in range(queues_each)]
            yield connect_agent_event(f"{INSTANCE}/agent/{name('a', a)}", arns, 0)
        for c in range(amazon_connect.MAX_CONTACTS):
            yield connect_contact_event(name("c", c), f"{INSTANCE}/queue/{name('q', c)}", c)
            yield connect_record(name("r", c), f"{INSTANCE}/queue/{name('q', c)}",
                                 f"{INSTANCE}/agent/{name('a', c)}", c)  # fmt: skip
    else:
        for t in range(twilio.MAX_TASKS):  # each worker accepts tasks of 10 queues
            task = {
                "task_sid": name("t", t),
                "task_queue_sid": name("Q", t),
                "task_queue_name": name("q", t),
                "task_channel_unique_name": "voice",
            }
            worker = {"worker_sid": name("W", t // 10), "worker_name": name("w", t // 10)}
            yield twilio_event("task-queue.entered", T + t, **task)
            yield twilio_event("reservation.accepted", T + t, **task, **worker)  # fmt: skip


def caps() -> None:
    print(f"every cap filled, every name a new one at the limit ({NAME_LIMIT} characters)")
    for alphabet, char in (("ASCII", "a"), ("4-byte", "\U0001f600")):
        for fmt in IDS:

            def name(tag: str, n: int, char: str = char) -> str:
                prefix = f"{tag}{n}-"
                return prefix + char * (NAME_LIMIT - len(prefix))

            def fill(
                target: Adapter, fmt: str = fmt, name: Callable[[str, int], str] = name
            ) -> None:
                feed(target, worst(fmt, name))

            target, retained = held(lambda fmt=fmt: adapter(fmt), fill)
            filled = getattr(target, "fill", dict)()
            shown = ", ".join(f"{cap} {ratio:.2f}" for cap, ratio in filled.items())
            print(f"  {alphabet:7} {fmt:22} {retained / 2**20:8.1f} MiB  ({shown})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--kinds", type=int, default=200_000)
    parser.add_argument("--id-bytes", type=int, default=100_000)
    parser.add_argument("--caps", action="store_true", help="fill every cap (slow)")
    args = parser.parse_args()
    kinds(args.kinds)
    ids(args.id_bytes)
    if args.caps:
        caps()


if __name__ == "__main__":
    main()
