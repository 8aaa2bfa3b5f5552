"""The three forms a FreeSWITCH channel record reaches Kafka in, read into one view.

- An event as the event socket's ``event json`` writes it (``switch_event_serialize_json``,
  ``src/switch_event.c``): one JSON object of header -> string, channel variables as
  ``variable_<name>`` headers, values not encoded.
- An event as plain ESL text (``event plain``, ``switch_event_serialize`` with encoding on):
  ``Key: value`` lines whose values are URL-encoded. The ESL envelope (``Content-Length``,
  ``Content-Type``) may come with it. A console dump of an event (the ESL library prints
  ``RECV EVENT`` before it, and values are not encoded, so a value such as an SDP runs over
  several lines) is read too: a line that is no header continues the previous value.
- A ``mod_json_cdr`` document (``switch_ivr_generate_json_cdr``): ``{"variables": {...},
  "callflow": [...], ...}``, the variables' values URL-encoded unless ``encode-values`` is
  false; or the HTTP form body mod_json_cdr POSTs with ``encode`` on (``cdr=`` followed by
  the URL-encoded document).

URL-decoding a value that was not encoded changes it only where it holds ``%`` followed by
two hex digits, which no field read here does.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import unquote

from callpulse.adapters.base import AdapterError, parse_json
from callpulse.adapters.bounds import shown

FORMAT = "freeswitch-channel"
Form = Literal["event-json", "event-plain", "json-cdr"]
_BANNER = "RECV EVENT"  # what the ESL library's console printer writes before an event
_FORM_BODY = b"cdr="


@dataclass(frozen=True, slots=True)
class ChannelRecord:
    """One record: its form, its event headers (none for a CDR) and channel variables."""

    form: Form
    headers: dict[str, Any]
    variables: dict[str, Any]

    @property
    def encoded(self) -> bool:
        """Whether values are URL-encoded (plain ESL, and a CDR by mod_json_cdr's default)."""
        return self.form != "event-json"

    def header(self, name: str) -> str | None:
        """Event header ``name`` (a CDR has none), decoded; None if absent or empty."""
        return self._text(self.headers, name, name)

    def variable(self, name: str) -> str | None:
        """Channel variable ``name``, decoded; None if absent or empty."""
        return self._text(self.variables, name, f"variable {name}")

    def _text(self, table: dict[str, Any], name: str, what: str) -> str | None:
        value = table.get(name)
        if value is None or value == "":
            return None
        if not isinstance(value, str):
            raise AdapterError(FORMAT, f"{what} must be a string, as FreeSWITCH writes it")
        if self.encoded:
            try:
                value = unquote(value, errors="strict")
            except UnicodeDecodeError:
                raise AdapterError(
                    FORMAT, f"{what} is URL-encoded bytes that are not UTF-8: {shown(value)}"
                ) from None
        return value or None


def read(record: bytes) -> ChannelRecord:
    """``record`` in whichever of the three forms it is; AdapterError if in none."""
    body = record.lstrip()
    if body.startswith(_FORM_BODY):
        try:
            document = unquote(body[len(_FORM_BODY) :].decode(), errors="strict")
        except UnicodeDecodeError as exc:
            raise AdapterError(FORMAT, f"the cdr= form body is not UTF-8: {exc.reason}") from None
        return _json(document.encode("utf-8", "surrogatepass"))
    if body.startswith(b"{"):
        return _json(record)
    return _plain(record)


def _json(record: bytes) -> ChannelRecord:
    doc = parse_json(FORMAT, record, "a FreeSWITCH event or mod_json_cdr document")
    if not isinstance(doc, dict):
        raise AdapterError(FORMAT, "expected a JSON object")
    variables = doc.get("variables")
    if variables is not None:
        if not isinstance(variables, dict):
            raise AdapterError(FORMAT, "a mod_json_cdr document's variables must be an object")
        return ChannelRecord("json-cdr", {}, variables)
    if "Event-Name" not in doc:
        raise AdapterError(
            FORMAT,
            "expected a FreeSWITCH event (Event-Name) or a mod_json_cdr document (variables); "
            f"keys: {shown(sorted(str(k) for k in doc)[:6])}",
        )
    return ChannelRecord("event-json", doc, _variables(doc))


def _plain(record: bytes) -> ChannelRecord:
    try:
        text = record.decode()
    except UnicodeDecodeError as exc:
        raise AdapterError(FORMAT, f"not UTF-8 at byte {exc.start}") from None
    headers: dict[str, str] = {}
    last: str | None = None
    for line in text.splitlines():
        name, colon, value = line.partition(": ")
        if colon and name and " " not in name:
            headers[name] = value.strip()
            last = name
        elif last is not None:
            if line.strip():  # a value over several lines (a console dump's SDP)
                headers[last] += "\n" + line
        elif line.strip() not in {"", _BANNER}:
            raise AdapterError(
                FORMAT, f"expected `Key: value` lines of a FreeSWITCH event: {shown(line)}"
            )
    if "Event-Name" not in headers:
        raise AdapterError(FORMAT, "no Event-Name header: not a FreeSWITCH event")
    return ChannelRecord("event-plain", headers, _variables(headers))


def _variables(headers: dict[str, Any]) -> dict[str, Any]:
    """The channel variables an event carries, as ``variable_<name>`` headers."""
    return {k[9:]: v for k, v in headers.items() if k.startswith("variable_")}
