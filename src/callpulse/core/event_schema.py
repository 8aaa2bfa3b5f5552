"""The JSON Schema of events v1 (docs/events-v1.schema.json), derived from the Structs of
:mod:`callpulse.core.events`."""

from __future__ import annotations

from typing import Any

import msgspec

from callpulse.core.events import Event

TITLE = "callpulse event, schema version 1"


def json_schema() -> dict[str, Any]:
    """Return the JSON Schema of events v1, generated from the Structs.

    msgspec's schema, with what it says put the way the published one always has: exactly
    one type matches (``oneOf``; the tags are distinct, so ``anyOf`` meant the same), a
    single allowed value is a ``const`` of its JSON type, and the document names its draft
    and itself."""
    schema: dict[str, Any] = _tidy(msgspec.json.schema(Event))
    schema["oneOf"] = schema.pop("anyOf")
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = TITLE
    return schema


def _tidy(node: Any) -> Any:
    if isinstance(node, list):
        return [_tidy(each) for each in node]
    if not isinstance(node, dict):
        return node
    tidied = {key: _tidy(value) for key, value in node.items()}
    if list(tidied) == ["enum"] and len(tidied["enum"]) == 1:
        [value] = tidied["enum"]
        return {"const": value, "type": "integer" if isinstance(value, int) else "string"}
    if (
        "enum" in tidied
        and "type" not in tidied
        and all(isinstance(v, str) for v in tidied["enum"])
    ):
        tidied["type"] = "string"
    return tidied
