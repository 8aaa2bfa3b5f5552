"""Per-site freshness for the status page: the lag of the partitions carrying a site, and
when it is stale."""

from __future__ import annotations

from callpulse.core.freshness import SiteLag, site_lag, stale


def test_a_site_waits_behind_every_partition_it_came_from() -> None:
    partitions = {("events", 0): {"lon1", "par1"}, ("events", 3): {"lon1"}, ("dlq", 1): set()}
    lag = {("events", 0): 40, ("events", 3): 2}
    assert site_lag(partitions, lag) == {
        "lon1": SiteLag(42, ("events/0", "events/3")),
        "par1": SiteLag(40, ("events/0",)),
    }


def test_a_site_whose_partitions_report_no_lag_has_none() -> None:
    # Partitions revoked a moment ago, or not yet fetched: no lag is known, which is not 0.
    assert site_lag({("events", 1): {"ber1"}}, {}) == {"ber1": SiteLag(None, ("events/1",))}


def test_stale_past_the_limit_or_never_seen() -> None:
    assert not stale(59.9, 60.0)
    assert not stale(60.0, 60.0)
    assert stale(60.1, 60.0)
    assert stale(None, 60.0)
