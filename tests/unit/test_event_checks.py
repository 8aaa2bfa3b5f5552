"""Making an event from its fields: every constraint of its Struct is checked, the two the
decoder runs apart from msgspec included, so an adapter cannot yield an invalid event."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from callpulse.core.event_checks import InvalidEventError, make
from callpulse.core.events import CallAbandoned, MaintenanceStarted


def fields(**changes: Any) -> dict[str, Any]:
    return {
        "schema_version": 1,
        "event_id": "e-1",
        "type": "call.abandoned",
        "occurred_at": datetime(2026, 11, 22, 14, 0, tzinfo=UTC),
        "site": "lon1",
        "call_id": "c-1",
        "queue": "billing",
        "wait_seconds": 12.5,
    } | changes


def detail(**changes: Any) -> str:
    with pytest.raises(InvalidEventError) as info:
        make(fields(**changes))
    assert info.value.reason == "invalid_schema"
    return info.value.detail


def test_valid_fields_make_their_struct() -> None:
    event = make(fields())
    assert isinstance(event, CallAbandoned)
    assert (event.queue, event.wait_seconds) == ("billing", 12.5)


@pytest.mark.parametrize(
    ("changes", "named"),
    [
        ({"wait_seconds": -1}, "$.wait_seconds"),
        ({"wait_seconds": "12"}, "$.wait_seconds"),
        ({"queue": ""}, "$.queue"),
        ({"queue": "q" * 257}, "$.queue"),
        ({"occurred_at": datetime(2026, 11, 22, 14, 0)}, "$.occurred_at"),  # no offset
        ({"schema_version": 2}, "$.schema_version"),
        ({"type": "call.teleported"}, "call.teleported"),
        ({"queue": "bill\x1b[31ming"}, "queue"),  # the printable rule
        ({"queue": "gnp\u202eexe"}, "queue"),
        ({"event_id": "e\n1"}, "event_id"),
        ({"site": "lon 1"}, "site"),
        ({"reason": "abandon"}, "no field reason"),  # nothing would ever read it
    ],
)
def test_every_constraint_is_checked_and_the_field_named(
    changes: dict[str, Any], named: str
) -> None:
    assert named in detail(**changes)


def test_a_list_of_names_is_checked_name_by_name() -> None:
    body = fields(type="maintenance.started", maintenance_id="m-1", components=["sbc-1"])
    for key in ("call_id", "queue", "wait_seconds"):
        del body[key]
    assert isinstance(make(body), MaintenanceStarted)
    with pytest.raises(InvalidEventError, match="components"):
        make(body | {"components": ["sbc-1", "sbc\x002"]})
    assert make(body | {"reason": "patch\nTuesday"}).reason == "patch\nTuesday"  # free text
