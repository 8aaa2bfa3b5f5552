"""The connection table: which connection makes room at the cap."""

from __future__ import annotations

import pytest

from callpulse.web.connections import Admission, ConnectionTable


def test_below_the_cap_every_connection_is_admitted_waiting() -> None:
    table: ConnectionTable[str] = ConnectionTable(3)
    assert table.admit("a") == Admission(admitted=True)
    assert table.admit("b") == Admission(admitted=True)
    assert len(table) == 2
    assert "a" in table


def test_the_oldest_waiting_connection_goes_before_any_idle_one() -> None:
    table: ConnectionTable[str] = ConnectionTable(3)
    for name in ("idle", "silent1", "silent2"):
        table.admit(name)
    table.busy("idle")
    table.idle("idle")  # answered and kept alive: older in the table than the silent ones
    assert table.admit("probe") == Admission(admitted=True, evicted="silent1")
    assert table.admit("probe2") == Admission(admitted=True, evicted="silent2")
    # The probes are waiting too: the oldest of them goes next, still before the idle one.
    assert table.admit("probe3") == Admission(admitted=True, evicted="probe")


def test_with_none_waiting_the_oldest_idle_connection_goes() -> None:
    table: ConnectionTable[str] = ConnectionTable(2)
    for name in ("a", "b"):
        table.admit(name)
        table.busy(name)
    table.idle("b")
    table.idle("a")  # idle since after b
    assert table.admit("c") == Admission(admitted=True, evicted="b")


def test_a_connection_starting_a_new_request_waits_again_from_then() -> None:
    table: ConnectionTable[str] = ConnectionTable(3)
    for name in ("a", "b", "c"):
        table.admit(name)
    table.busy("a")
    table.idle("a")
    table.waiting("a")  # its next request's first byte: now the youngest waiting
    assert table.admit("d").evicted == "b"
    assert table.admit("e").evicted == "c"
    assert table.admit("f").evicted == "a"


def test_when_every_connection_is_busy_the_new_one_is_refused() -> None:
    table: ConnectionTable[str] = ConnectionTable(2)
    for name in ("a", "b"):
        table.admit(name)
        table.busy(name)
    assert table.admit("c") == Admission(admitted=False)
    assert "c" not in table
    table.remove("a")
    assert table.admit("c") == Admission(admitted=True)


def test_a_displaced_or_closed_connection_is_forgotten_for_good() -> None:
    table: ConnectionTable[str] = ConnectionTable(1)
    table.admit("a")
    assert table.admit("b").evicted == "a"
    # What the displaced connection reports as it goes down changes nothing.
    table.busy("a")
    table.idle("a")
    table.waiting("a")
    table.remove("a")
    assert table.connections() == ["b"]
    table.remove("b")
    assert len(table) == 0


def test_the_capacity_is_at_least_one() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        ConnectionTable(0)
