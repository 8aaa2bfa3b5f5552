"""A hostile producer's records, generated: what the suite sends callpulse to show that no
record can stop, bloat or mislead it.

Each record is built from a valid one of its format (``docs/examples``) and broken one way:
nested 10^3, 10^5 and 10^6 deep, a huge string or number, NaN and Infinity, bad UTF-8 and lone
surrogates, empty values, a wrong type in each field, an unknown type. Every record but an
unknown platform kind must be rejected (dead-lettered, with a reason); a platform kind events
v1 has no use for is counted as ignored instead.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

EXAMPLES = Path(__file__).resolve().parents[1] / "docs" / "examples"
DEPTHS = (1_000, 100_000, 1_000_000)
HUGE_STRING = 200_000  # characters: under the test's max_record_bytes, far over any name
HUGE_DIGITS = 100_000  # digits of one number

Fate = Literal["rejected", "ignored"]
JSON_FORMATS = ("events-v1", "amazon-connect", "twilio-taskrouter", "freeswitch-callcenter")
FORMATS = (*JSON_FORMATS, "asterisk-queue-log", "asterisk-cdr")


@dataclass(frozen=True)
class Hostile:
    """One record and what must become of it."""

    name: str
    value: bytes | None
    fate: Fate = "rejected"


def deep(depth: int, kind: str) -> str:
    """JSON nested ``depth`` levels deep: arrays (``[]``) or objects (``{}``)."""
    if kind == "[]":
        return "[" * depth + "]" * depth
    return '{"a":' * depth + "0" + "}" * depth


def corpus(fmt: str, now: float, site: str = "lon1") -> list[Hostile]:
    """The hostile records of format ``fmt``, at about ``now``."""
    if fmt == "asterisk-queue-log":
        return list(_queue_log(now))
    if fmt == "asterisk-cdr":
        return list(_cdr(now))
    template = template_of(fmt, now, site)
    return list(_json(fmt, template))


def template_of(fmt: str, now: float, site: str) -> dict[str, Any]:
    """A valid record of ``fmt`` (the first of its shipped sample; a call.queued in v1)."""
    if fmt == "events-v1":
        stamp = _rfc3339(now)
        return {
            "schema_version": 1,
            "event_id": "hostile-template",
            "type": "call.answered",
            "occurred_at": stamp,
            "site": site,
            "call_id": "c-hostile",
            "queue": "billing",
            "agent_id": "a-hostile",
            "wait_seconds": 1.5,
        }
    sample = (
        EXAMPLES
        / {
            "amazon-connect": "amazon-connect.jsonl",
            "twilio-taskrouter": "twilio-taskrouter.jsonl",
            "freeswitch-callcenter": "freeswitch-callcenter.jsonl",
        }[fmt]
    )
    first: dict[str, Any] = json.loads(sample.read_text().splitlines()[0])
    return first


def _json(fmt: str, template: dict[str, Any]) -> Iterator[Hostile]:
    def encode(body: Any) -> bytes:
        return json.dumps(body).encode()

    def with_raw(path: tuple[str, ...], raw: bytes) -> bytes:
        """The template with the field at ``path`` set to ``raw`` bytes, written as they are."""
        return encode(_set(template, path, "@@")).replace(b'"@@"', raw)

    for depth in DEPTHS:
        for kind in ("[]", "{}"):
            nested = deep(depth, kind).encode()
            yield Hostile(f"deep{kind}-{depth}-whole", nested)
            yield Hostile(f"deep{kind}-{depth}-in-a-field", with_raw(("x",), nested))
    name = _name_field(fmt)
    yield Hostile("huge-string", encode(_set(template, name, "q" * HUGE_STRING)))
    yield Hostile("huge-integer", with_raw(("x",), b"9" * HUGE_DIGITS))
    for token in (b"NaN", b"Infinity", b"-Infinity"):
        yield Hostile(f"{token.decode()}-token", with_raw(("x",), token))
    yield Hostile("bad-utf8", with_raw(name, b'"q' + bytes([0xFF, 0xFE]) + b'"'))
    yield Hostile("surrogate-escaped", with_raw(name, b'"q\\ud800"'))
    yield Hostile("surrogate-raw", with_raw(name, b'"q' + bytes([0xED, 0xA0, 0x80]) + b'"'))
    yield Hostile("tombstone", None)
    for empty in (b"", b"{}", b"null", b'""', b"0", b"true"):
        yield Hostile(f"empty-{empty.decode() or 'bytes'}", empty)
    unnamed = _set(template, name, "")
    if fmt == "twilio-taskrouter":  # a worker without a name goes by its SID: take both
        unnamed = _set(unnamed, ("data", "payload", "worker_sid"), "")
    yield Hostile("empty-name", encode(unnamed))
    yield Hostile("truncated", encode(template)[:-7])
    yield Hostile("control-in-name", encode(_set(template, name, "bill\x1b[2Jing\x07")))
    yield Hostile("c1-in-name", with_raw(name, '"bill\x9b2Jing"'.encode()))
    yield Hostile("bidi-in-name", with_raw(name, '"q\u202egnp.exe"'.encode()))
    yield Hostile("c1-escaped-in-name", encode(_set(template, name, "bill\x9bing")))
    yield Hostile("bidi-escaped-in-name", encode(_set(template, name, "q\u2067x")))
    if fmt == "events-v1":
        yield Hostile("empty-array", b"[]")
        yield Hostile("huge-wait", with_raw(("wait_seconds",), b"9" * HUGE_DIGITS))
        yield Hostile("overflowing-wait", with_raw(("wait_seconds",), b"1e400"))
        yield Hostile("nan-wait", with_raw(("wait_seconds",), b"NaN"))
        yield from _v1_wrong_types(template)
        yield Hostile("unknown-type", encode(template | {"type": "call.teleported"}))
    else:
        yield Hostile("not-an-object", b'"a string"')
        yield Hostile("unknown-kind", encode(_kind(fmt, template, "x.teleported")), "ignored")


def _set(body: dict[str, Any], path: tuple[str, ...], value: Any) -> dict[str, Any]:
    """A copy of ``body`` with the field at ``path`` set to ``value``."""
    head, *rest = path
    inner = _set(body[head], tuple(rest), value) if rest else value
    return body | {head: inner}


def _v1_wrong_types(template: dict[str, Any]) -> Iterator[Hostile]:
    """Each field of ``template`` with a value of every JSON type it is not."""
    values: dict[str, Any] = {
        "string": "12",
        "integer": 12,
        "float": 1.5,
        "bool": True,
        "null": None,
        "array": ["x"],
        "object": {"x": 1},
    }
    for key, value in template.items():
        own = _json_type(value)
        for name, wrong in values.items():
            compatible = {own} | ({"integer"} if own == "float" else set())
            if name in compatible or (key == "type" and name == "string"):
                continue
            yield Hostile(f"wrong-type-{key}-{name}", json.dumps(template | {key: wrong}).encode())


def _json_type(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "float"
    if isinstance(value, str):
        return "string"
    return "null" if value is None else type(value).__name__


def _name_field(fmt: str) -> tuple[str, ...]:
    """Where a record of ``fmt`` names something its adapter keeps (an agent, a queue)."""
    return {
        "events-v1": ("queue",),
        "amazon-connect": ("AgentARN",),
        "twilio-taskrouter": ("data", "payload", "worker_name"),
        "freeswitch-callcenter": ("CC-Agent",),
    }[fmt]


def _kind(fmt: str, template: dict[str, Any], kind: str) -> dict[str, Any]:
    """``template`` as a record of a kind its format has never had."""
    if fmt == "amazon-connect":
        return template | {"EventType": kind.upper()}
    if fmt == "twilio-taskrouter":
        return template | {"type": f"com.twilio.taskrouter.{kind}"}
    return template | {"CC-Action": kind}


def _queue_log(now: float) -> Iterator[Hostile]:
    stamp = str(int(now))

    def line(*fields: str) -> bytes:
        return "|".join(fields).encode("utf-8", "surrogatepass")

    for depth in DEPTHS:
        yield Hostile(f"deep-{depth}", deep(depth, "[]").encode())
    yield Hostile(
        "huge-callid",
        line(stamp, "c" * HUGE_STRING, "billing", "NONE", "ENTERQUEUE", "", "5551234", "1"),
    )
    yield Hostile(
        "huge-queue",
        line(stamp, "1.1", "q" * HUGE_STRING, "NONE", "ENTERQUEUE", "", "5551234", "1"),
    )
    yield Hostile(
        "huge-epoch", line("9" * HUGE_DIGITS, "1.1", "billing", "NONE", "ENTERQUEUE", "", "1", "1")
    )
    for token in ("nan", "inf", "-1", "1e400"):
        yield Hostile(
            f"epoch-{token}", line(token, "1.2", "billing", "NONE", "ENTERQUEUE", "", "1", "1")
        )
    yield Hostile(
        "wait-nan", line(stamp, "1.3", "billing", "PJSIP/1001", "CONNECT", "nan", "1.3", "1")
    )
    yield Hostile(
        "bad-utf8",
        line(stamp, "1.4", "bill", "NONE", "ENTERQUEUE").replace(b"bill", b"bi\xff\xfel"),
    )
    yield Hostile(
        "control-in-queue", line(stamp, "1.5", "bill\x1b[2Jing", "NONE", "ENTERQUEUE", "", "1", "1")
    )
    yield Hostile(
        "c1-in-queue", line(stamp, "1.6", "bill\x9bing", "NONE", "ENTERQUEUE", "", "1", "1")
    )
    yield Hostile(
        "bidi-in-queue", line(stamp, "1.7", "q\u202egnp.exe", "NONE", "ENTERQUEUE", "", "1", "1")
    )
    yield Hostile("tombstone", None)
    yield Hostile("empty", b"")
    yield Hostile("one-field", b"x")
    yield Hostile("missing-fields", line(stamp, "1.8", "billing"))
    yield Hostile("empty-fields", line("", "", "", "", ""))
    yield Hostile(
        "unknown-kind", line(stamp, "1.9", "billing", "NONE", "TELEPORTED", "x"), "ignored"
    )


def _cdr(now: float) -> Iterator[Hostile]:
    """Master.csv rows (cdr_csv.c's 18 columns with uniqueid and userfield), each broken one
    way; a row with no trunk leg is a well-formed one of no use, ignored."""
    from datetime import UTC, datetime

    stamp = datetime.fromtimestamp(int(now) - 60, UTC).strftime("%Y-%m-%d %H:%M:%S")
    good = {"channel": "PJSIP/1001-01", "dstchannel": "PJSIP/carrier-02", "start": stamp,
            "answer": stamp, "end": stamp, "disposition": "ANSWERED"}  # fmt: skip

    def row(**fields: str) -> bytes:
        given = good | fields
        head = ["", "1001", "4420", "from-internal", "<1001>"]  # accountcode..clid
        legs = [given["channel"], given["dstchannel"], "Dial", "x"]  # ..lastdata
        times = [given["start"], given["answer"], given["end"], "0", "0"]  # ..billsec
        cells = [*head, *legs, *times, given["disposition"], "DOCUMENTATION", "1.1", ""]
        return ",".join(f'"{c}"' for c in cells).encode("utf-8", "surrogatepass")

    for depth in DEPTHS:
        yield Hostile(f"deep-{depth}", deep(depth, "[]").encode())
        yield Hostile(f"deep-object-{depth}", deep(depth, "{}").encode())
    yield Hostile("huge-dstchannel", row(dstchannel="PJSIP/" + "c" * HUGE_STRING + "-01"))
    yield Hostile("long-peer", row(dstchannel="PJSIP/" + "c" * 300 + "-01"))
    yield Hostile("huge-start", row(start="9" * HUGE_DIGITS))
    for token in ("nan", "inf", "-1", "1e400", "yesterday", "1401-09-11 09:57:53"):
        yield Hostile(f"start-{token}", row(start=token))
    yield Hostile("answer-after-end", row(answer="9999-12-31 23:59:59"))
    yield Hostile("bad-utf8", row(dstchannel="PJSIP/car\udcffrier-02"))
    yield Hostile("control-in-peer", row(dstchannel="PJSIP/car\x1b[2Jrier-02"))
    yield Hostile("c1-in-peer", row(dstchannel="PJSIP/car\x9brier-02"))
    yield Hostile("bidi-in-peer", row(dstchannel="PJSIP/q\u202egnp.exe-02"))
    yield Hostile("unknown-disposition", row(disposition="TELEPORTED"))
    yield Hostile("quote-left-open", row()[:-5])
    yield Hostile("tombstone", None)
    yield Hostile("empty", b"")
    yield Hostile("one-field", b"x")
    yield Hostile("missing-columns", b'"","1001","4420"')
    yield Hostile("empty-columns", b"," * 15)
    yield Hostile("json-array", b"[1, 2]")
    yield Hostile("json-wrong-type", b'{"channel": ["x"], "dstchannel": "SIP/c-1"}')
    yield Hostile("no-trunk-leg", row(dstchannel="PJSIP/1002-02"), "ignored")


def _rfc3339(ts: float) -> str:
    from datetime import UTC, datetime

    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
