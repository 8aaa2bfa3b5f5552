"""Which Alertmanager silences the maintenance calendar wants at a time, their matchers and
comments, and what reconciling an Alertmanager's silences with them changes (no I/O)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from callpulse.core.calendar import Calendar, WindowSpec
from callpulse.core.planned_silences import (
    CREATED_BY,
    HOLD,
    Held,
    Matcher,
    SilenceWindowPolicy,
    Wanted,
    comment,
    held,
    literal,
    plan,
    reconcile,
    tag,
)
from callpulse.core.timefmt import rfc3339

POLICY = SilenceWindowPolicy(lead=60.0, max_overrun=3600.0)
OWN = ("MaintenanceOverrun", "QueueSlow")


def utc(text: str) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp()


START = utc("2026-12-06T02:00:00")
END = START + 1800


def calendar(*specs: WindowSpec) -> Calendar:
    return Calendar(list(specs), "UTC")


PATCHING = WindowSpec(
    "pbx-patching",
    ("lon1", "man1"),
    datetime(2026, 12, 6, 2, 0),
    1800.0,
    components=("pbx-2", "sbc-1"),
)
NIGHTLY = WindowSpec("nightly", ("lon1",), datetime(2026, 12, 1, 2, 0), 600.0, rrule="FREQ=DAILY")


def test_an_open_window_wants_one_silence_to_its_planned_end() -> None:
    [w] = plan(START + 60, calendar(PATCHING), {}, POLICY, OWN)
    assert (w.window, w.starts_at, w.ends_at, w.only_if_held) == (
        "pbx-patching",
        START,
        END,
        False,
    )
    assert w.key == ("pbx-patching", "2026-12-06T02:00:00.000Z")
    assert w.matchers == (
        Matcher("site", "lon1|man1", regex=True),
        Matcher("component", "pbx-2|sbc-1", regex=True),
        Matcher("alertname", "MaintenanceOverrun|QueueSlow", regex=True, equal=False),
    )


def test_a_window_is_wanted_from_lead_before_its_start_until_its_end() -> None:
    cal = calendar(PATCHING)
    assert plan(START - 61, cal, {}, POLICY, OWN) == []
    assert [w.starts_at for w in plan(START - 59, cal, {}, POLICY, OWN)] == [START]
    assert plan(END - 1, cal, {}, POLICY, OWN)[0].ends_at == END
    assert plan(END, cal, {}, POLICY, OWN) == []


def test_each_occurrence_of_a_recurring_window_is_its_own_silence() -> None:
    cal = calendar(NIGHTLY)
    first = plan(utc("2026-12-03T02:05:00"), cal, {}, POLICY, OWN)
    second = plan(utc("2026-12-04T02:05:00"), cal, {}, POLICY, OWN)
    assert [w.key for w in first] == [("nightly", "2026-12-03T02:00:00.000Z")]
    assert [w.key for w in second] == [("nightly", "2026-12-04T02:00:00.000Z")]
    # A window naming no component silences its whole sites.
    assert [m.name for m in first[0].matchers] == ["site", "alertname"]


def test_a_component_still_down_keeps_the_silence_past_the_end_for_at_most_max_overrun() -> None:
    cal = calendar(PATCHING)
    down = {("man1", "sbc-1"): "down"}
    [w] = plan(END + 10, cal, down, POLICY, OWN)
    assert w.only_if_held
    assert w.ends_at == END + 10 + HOLD
    assert w.renew_below == END + 10 + HOLD / 2
    [w] = plan(END + 10, cal, {("lon1", "pbx-2"): "degraded"}, POLICY, OWN)
    assert w.only_if_held
    # Back up, or down somewhere the window does not name: the overrun is over.
    assert plan(END + 10, cal, {("man1", "sbc-1"): "up"}, POLICY, OWN) == []
    assert plan(END + 10, cal, {("nyc1", "sbc-1"): "down"}, POLICY, OWN) == []
    [w] = plan(END + 3600 - 10, cal, down, POLICY, OWN)
    assert w.ends_at == END + 3600
    assert plan(END + 3600, cal, down, POLICY, OWN) == []


def test_a_component_down_near_the_end_extends_the_silence_before_it_lapses() -> None:
    cal = calendar(PATCHING)
    down = {("lon1", "pbx-2"): "down"}
    assert plan(END - HOLD, cal, down, POLICY, OWN)[0].ends_at == END  # not yet
    [w] = plan(END - 60, cal, down, POLICY, OWN)
    assert not w.only_if_held
    assert (w.ends_at, w.renew_below) == (END - 60 + HOLD, END - 60 + HOLD / 2)


def test_label_names_are_the_policy_s_and_values_match_only_themselves() -> None:
    window = WindowSpec("w", ("a.b", "c|d"), datetime(2026, 12, 6, 2, 0), 60.0, components=("x*",))
    policy = SilenceWindowPolicy(site_label="datacenter", component_label="instance")
    [w] = plan(START, calendar(window), {}, policy, [])
    assert w.matchers == (
        Matcher("datacenter", "a\\.b|c\\|d", regex=True),
        Matcher("instance", "x\\*", regex=True),
    )
    assert literal("a b(c)") == "a b\\(c\\)"  # RE2 refuses an escaped space


@pytest.mark.parametrize("name", ["pbx-patching", "core upgrade", "a=b occurrence=x", "été"])
def test_the_comment_names_its_occurrence_and_is_read_back(name: str) -> None:
    text = comment(name, START)
    assert name in text or "=" in name
    assert tag(text) == (name, "2026-12-06T02:00:00.000Z")
    assert tag("a silence someone wrote by hand") is None


def api(
    sid: str = "s1",
    key: tuple[str, float] = ("pbx-patching", START),
    state: str = "active",
    ends: float = END,
    **over: Any,
) -> dict[str, Any]:
    """A silence as GET /api/v2/silences writes it."""
    entry: dict[str, Any] = {
        "id": sid,
        "status": {"state": state},
        "updatedAt": rfc3339(START),
        "matchers": [{"name": "site", "value": "lon1", "isRegex": True, "isEqual": True}],
        "startsAt": rfc3339(key[1]),
        "endsAt": rfc3339(ends),
        "createdBy": CREATED_BY,
        "comment": comment(*key),
    }
    return entry | over


def test_only_callpulse_s_tagged_silences_are_read_as_its_own() -> None:
    mine = held(api())
    assert mine is not None
    assert (mine.id, mine.key, mine.state, mine.ends_at) == (
        "s1",
        ("pbx-patching", "2026-12-06T02:00:00.000Z"),
        "active",
        END,
    )
    assert mine.matchers == frozenset({Matcher("site", "lon1", regex=True)})
    assert held(api(createdBy="alice")) is None
    assert held(api(comment="pbx-patching, by hand")) is None
    for broken in (
        [],
        "x",
        api(id=7),
        api(endsAt="soon"),
        api(status={"state": "odd"}),
        api(status=None),
        api(matchers=[{"name": "site"}]),
        api(matchers=[{"name": "site", "value": "x", "isRegex": "yes"}]),
        api(matchers="site=lon1"),
    ):
        assert held(broken) is None


def wanted(ends: float = END, only_if_held: bool = False) -> Wanted:
    return Wanted(
        "pbx-patching",
        START,
        ends,
        ends,
        (Matcher("site", "lon1", regex=True),),
        only_if_held,
    )


def silence(sid: str, state: str = "active", ends: float = END, site: str = "lon1") -> Held:
    found = held(
        api(sid, state=state, ends=ends)
        | {"matchers": [{"name": "site", "value": site, "isRegex": True}]}
    )
    assert found is not None
    return found


def kinds(changes: list[Any]) -> list[tuple[str, str | None]]:
    return [(c.kind, c.held.id if c.held else None) for c in changes]


def test_a_wanted_silence_is_created_once_and_then_left_alone() -> None:
    [change] = reconcile([wanted(), wanted(END + 60)], [], {"pbx-patching"})
    assert change.kind == "create"
    body = change.body()
    assert body is not None
    assert body["createdBy"] == CREATED_BY
    assert "id" not in body
    assert body["startsAt"] == "2026-12-06T02:00:00.000Z"
    assert reconcile([wanted()], [silence("s1")], {"pbx-patching"}) == []
    assert reconcile([wanted()], [silence("s1", "pending")], {"pbx-patching"}) == []


def test_an_overrun_is_only_kept_and_an_unmuted_occurrence_is_not_muted_again() -> None:
    assert reconcile([wanted(only_if_held=True)], [], {"pbx-patching"}) == []
    assert reconcile([wanted()], [silence("s1", "expired")], {"pbx-patching"}) == []


def test_a_silence_ending_elsewhere_or_matching_otherwise_is_updated_in_place() -> None:
    [change] = reconcile([wanted(END + 600)], [silence("s1")], {"pbx-patching"})
    assert kinds([change]) == [("update", "s1")]
    body = change.body()
    assert body is not None
    # Active, same matchers: its start as the Alertmanager holds it, so it keeps its id.
    assert body["id"] == "s1"
    assert body["startsAt"] == rfc3339(START)
    assert body["endsAt"] == rfc3339(END + 600)
    [change] = reconcile([wanted()], [silence("s1", site="man1")], {"pbx-patching"})
    assert kinds([change]) == [("update", "s1")]


def test_of_several_live_silences_one_is_kept_the_same_one_whatever_the_order() -> None:
    found = [silence("s3"), silence("s2", site="other"), silence("s1", "pending"), silence("s4")]
    changes = reconcile([wanted()], found, {"pbx-patching"})
    assert sorted(kinds(changes)) == [("expire", "s1"), ("expire", "s2"), ("expire", "s4")]
    assert reconcile([wanted()], list(reversed(found)), {"pbx-patching"}) == changes


def test_silences_no_occurrence_wants_are_expired_only_for_the_calendar_s_windows() -> None:
    live, gone = silence("s1"), silence("s2", "expired")
    assert kinds(reconcile([], [live, gone], {"pbx-patching"})) == [("expire", "s1")]
    # Another callpulse's window, or one taken out of the config: it ends by itself.
    assert reconcile([], [live], {"nightly"}) == []


def test_reconciling_what_the_changes_leave_changes_nothing_more() -> None:
    changes = reconcile([wanted()], [silence("s1", ends=END - 60), silence("s2")], {"pbx-patching"})
    assert sorted(kinds(changes)) == [("expire", "s2"), ("update", "s1")]
    assert reconcile([wanted()], [silence("s1"), silence("s2", "expired")], {"pbx-patching"}) == []
