"""Sites, components and trunks a producer invented give their places back to a real name that
needs one, once idle past every window; while their cap has room, a silent one stays (its
silence is what SiteSilent, ComponentDown and TrunkDown page for)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from callpulse.core import readings
from callpulse.core.alerting import AlertEvaluator, AlertingConfig
from callpulse.core.cardinality import OVERFLOW
from callpulse.core.evaluation_input import EvaluationInput
from callpulse.core.monitor import Monitor
from callpulse.core.rules import RuleSpec, compile_rule

from .conftest import NOW
from .events import event

LATER = NOW + 33 * 60


def evaluate(m: Monitor, spec: RuleSpec, times: list[float]) -> list[dict[str, str]]:
    """Evaluate ``spec`` on ``m`` at each of ``times``; the labels of the alerts firing."""
    rule = compile_rule(spec, m.config.windows)
    evaluator = AlertEvaluator(
        [rule], AlertingConfig(evaluation_interval=5, resend_delay=60, external_url="http://x")
    )
    for now in times:
        m.tick(now)
        evaluator.evaluate(EvaluationInput.of(now, readings.collect(m), m.site_last_event))
    return [a.label_dict() for a in evaluator.alerts() if a.state == "firing"]


def test_junk_sites_give_their_places_to_a_real_site_33_minutes_later(
    make_monitor: Callable[..., Monitor],
) -> None:
    m = make_monitor()  # 200 sites
    for i in range(300):
        m.apply(event("call.queued", NOW - 1, site=f"junk-{i}", call_id=f"j{i}", queue="q"))
    assert m.guard.overflow["site"] == 100
    m.tick(LATER)
    m.apply(event("call.queued", LATER, site="nyc9", call_id="r", queue="billing"))
    assert ("nyc9", "billing") in {(v.site, v.queue) for v in m.queue_views()}
    assert "nyc9" in m.site_last_event
    assert m.guard.overflow["site"] == 100  # nyc9 was not folded into _overflow
    assert m.stats.released >= 1


def test_a_silent_site_keeps_its_place_while_the_cap_has_room(
    make_monitor: Callable[..., Monitor],
) -> None:
    m = make_monitor(label_limits={"site": 3})
    m.apply(event("call.queued", NOW - 1, site="lon1", call_id="a", queue="q"))
    m.apply(event("call.queued", NOW - 1, site="nyc1", call_id="b", queue="q"))
    m.tick(NOW + 3 * 3600)
    m.apply(event("call.queued", NOW + 3 * 3600, site="par1", call_id="c", queue="q"))
    assert set(m.site_last_event) == {"lon1", "nyc1", "par1"}  # SiteSilent still sees lon1


def test_the_site_silent_longest_gives_way_and_only_once_silent_past_every_window(
    make_monitor: Callable[..., Monitor],
) -> None:
    m = make_monitor(label_limits={"site": 3})  # windows up to 15m, 5 s buckets
    for site, at in (("a", NOW - 1000), ("b", NOW - 950), ("c", NOW - 100)):
        m.apply(event("agent.state", at, site=site, agent_id="x", state="available", queues=["q"]))
    m.apply(event("agent.state", NOW, site="d", agent_id="x", state="available", queues=["q"]))
    assert set(m.site_last_event) == {"b", "c", "d"}  # a, silent 1000 s, gave way
    m.apply(event("agent.state", NOW, site="e", agent_id="x", state="available", queues=["q"]))
    assert set(m.site_last_event) == {"c", "d", "e"}  # b, silent 950 s > 905 s, next
    m.apply(event("agent.state", NOW, site="f", agent_id="x", state="available", queues=["q"]))
    assert "f" not in m.site_last_event  # c has been silent only 100 s: f is folded
    assert OVERFLOW in m.site_last_event
    assert m.stats.released == 2


def component_down() -> RuleSpec:
    return RuleSpec(
        alert="ComponentDown",
        kpi="component_status",
        match={"status": "down"},
        op="==",
        threshold=1.0,
        for_seconds=30.0,
        severity="critical",
    )


def test_junk_components_give_their_places_to_a_real_one_that_then_pages(
    make_monitor: Callable[..., Monitor],
) -> None:
    m = make_monitor()  # 2000 components
    for i in range(2100):
        m.apply(event("component.health", NOW - 1, component=f"junk-{i}", kind="pbx",
                      status="up"))  # fmt: skip
    assert m.guard.overflow["component"] == 100
    m.tick(LATER)
    m.apply(event("component.health", LATER, component="pbx-legit", kind="pbx", status="down"))
    views = {v.component: v for v in m.component_views()}
    assert views["pbx-legit"].status == "down"
    firing = evaluate(m, component_down(), [LATER, LATER + 30])
    assert ("lon1", "pbx-legit") in {(a["site"], a["component"]) for a in firing}


def test_a_dead_component_keeps_paging_while_its_cap_has_room(
    make_monitor: Callable[..., Monitor],
) -> None:
    m = make_monitor(label_limits={"component": 3})
    m.apply(event("component.health", NOW, component="pbx-1", kind="pbx", status="up"))
    m.apply(event("component.health", NOW, component="pbx-2", kind="pbx", status="up"))
    m.tick(NOW + 7200)
    m.apply(event("component.health", NOW + 7200, component="pbx-3", kind="pbx", status="up"))
    firing = evaluate(m, component_down(), [NOW + 7200, NOW + 7230])
    assert {a["component"] for a in firing} == {"pbx-1", "pbx-2"}


def trunk_down() -> RuleSpec:
    return RuleSpec(alert="TrunkDown", kpi="trunk_up", op="==", threshold=0.0)


def trunk_status(at: float, trunk: str, state: str, **kw: Any) -> Any:
    return event("trunk.status", at, trunk_id=trunk, state=state, channels_in_use=0,
                 channels_total=30, **kw)  # fmt: skip


def test_junk_trunks_give_their_places_to_a_real_one_that_then_pages(
    make_monitor: Callable[..., Monitor],
) -> None:
    m = make_monitor()  # 1000 trunks
    for i in range(1100):
        m.apply(trunk_status(NOW - 1, f"junk-{i}", "up"))
    assert m.guard.overflow["trunk"] == 100
    m.tick(LATER)
    m.apply(trunk_status(LATER, "bt-legit", "down"))
    assert {v.trunk: v.up for v in m.trunk_views()}.get("bt-legit") is False
    firing = evaluate(m, trunk_down(), [LATER])
    assert [a["trunk"] for a in firing] == ["bt-legit"]


def test_a_trunk_last_reported_down_keeps_paging_while_its_cap_has_room(
    make_monitor: Callable[..., Monitor],
) -> None:
    m = make_monitor(label_limits={"trunk": 3})
    m.apply(trunk_status(NOW, "bt-1", "down"))
    m.tick(NOW + 7200)
    m.apply(trunk_status(NOW + 7200, "bt-2", "up"))
    assert [a["trunk"] for a in evaluate(m, trunk_down(), [NOW + 7200])] == ["bt-1"]


def test_junk_names_at_a_full_cap_do_not_each_scan_it() -> None:
    from callpulse.core.cardinality import IdleNames  # imported here: new with this test

    looks = 0

    def last_seen(t: float) -> float:
        nonlocal looks
        looks += 1
        return t

    names = {f"n{i}": 100.0 + i for i in range(1000)}  # none idle 905 s at 1000
    idle = IdleNames[str, float](idle_after=905.0, rescan_after=5.0, last_seen=last_seen)
    for _ in range(10_000):  # a flood of new names while the cap is full
        assert idle.idlest(1000.0, names) is None
    assert looks == 1000  # one scan, not one per name
    # n0 (seen at 100) is idle past 905 s only after 1005: no scan before.
    assert idle.idlest(1005.0, names) is None
    assert looks == 1000
    assert idle.idlest(1005.5, names) == "n0"
    del names["n0"]
    assert idle.idlest(1006.0, names) is None  # the next scan is a bucket later
    assert looks == 2000
    assert idle.idlest(1011.0, names) == "n1"  # idle longest of n1..n5
    assert looks == 2999
    del names["n1"]
    assert idle.idlest(1011.0, names) == "n2"  # from the same scan
    assert looks == 3000


def test_site_names_give_the_idlest_place_back_and_forget_a_site_alone() -> None:
    from callpulse.core.cardinality import LabelGuard, SiteNames

    guard = LabelGuard({"trunk": 2})
    names = SiteNames[float]("trunk", guard, idle_after=60.0, rescan_after=1.0, last_seen=float)
    for site, name, seen in (("lon1", "a", 0.0), ("nyc1", "b", 50.0)):
        names.entries[names.admit(site, name)] = seen
    assert names.admit("lon1", "c") == ("lon1", OVERFLOW)  # full, and nobody idle yet
    assert not names.release_idlest(59.0)
    assert names.release_idlest(61.0)  # "a", idle past 60 s, gives its place back
    assert list(names.entries) == [("nyc1", "b")]
    assert names.admit("lon1", "c") == ("lon1", "c")
    names.entries[("lon1", "c")] = 61.0
    names.forget_sites(["nyc1"])
    assert list(names.entries) == [("lon1", "c")]
