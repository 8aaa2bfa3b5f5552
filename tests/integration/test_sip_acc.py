"""SIP proxies' accounting records, produced to a real broker by kcat, to exact trunk KPIs on
/metrics. The records are the shipped samples (docs/examples/kamailio-acc.jsonl, acc_json
objects; docs/examples/opensips-acc.jsonl, event_kafka's notifications), written from the
modules' sources and moved to the last ten minutes."""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

import pytest

from .helpers import Samples
from .platforms import EXAMPLES, check_dead_letter, ignored_kinds, platform_daemon, settled_on

pytestmark = pytest.mark.integration
# Every epoch time a sample writes: acc's time, OpenSIPS' created, a Kamailio CDR's times.
EPOCH = re.compile(r'("(?:time|created|start_time|end_time)":"?)(\d{10})')
FIRST = 1_764_000_000  # the samples' first instant

# By hand, from either sample. carrier-a: two 200s, one 486 (accounted twice, as a missed
# call and as a failed transaction: one setup), one 503: 4 setups, ASR 2/4, SER 2/4, NER
# (2 + the 486) / 4. carrier-b: a 487 (cancelled), a 200, a 302: 3 setups, ASR 1/3; the
# 3xx is no seizure's end for SER and NER: SER = NER = 1 / (3 - 1).
EXPECTED = {
    "carrier-a": {"setups": 4, "asr": 0.5, "ser": 0.5, "ner": 0.75,
                  "classes": {"2xx": 2, "4xx": 1, "5xx": 1}},
    "carrier-b": {"setups": 3, "asr": pytest.approx(1 / 3), "ser": 0.5, "ner": 0.5,
                  "classes": {"2xx": 1, "3xx": 1, "4xx": 1}},
}  # fmt: skip
# The BYEs close answered calls (below): they are not ignored.
IGNORED = {
    "kamailio-acc": {"CANCEL": 1, "REGISTER": 1, "provisional": 1, "cdr": 1},
    "opensips-acc": {"E_DLG_STATE_CHANGED": 1},
}
CAPACITY = {"carrier-a": 10, "carrier-b": 5}
# By hand: (channels in use, channels, utilization, up) per trunk. Kamailio: 200s for
# a1c9e2 and a2d4f6 on carrier-a and b2c3d4 on carrier-b, a BYE of a1c9e2: one call up on
# each. OpenSIPS: a1c9e2 and a2d4f6 are E_ACC_CDRs (written at their end: no channel), the
# E_ACC_EVENT 200 of b2c3d4 on carrier-b and its BYE: carrier-b back to 0, and carrier-a
# never counted (its capacity, but no utilization). No Kamailio record says a trunk's
# state; OpenSIPS' drouting then takes carrier-b out of routing (below): down.
CHANNELS = {
    "kamailio-acc": {"carrier-a": (1, 10, 0.1, None), "carrier-b": (1, 5, 0.2, None)},
    "opensips-acc": {"carrier-a": (None, 10, None, None), "carrier-b": (0, 5, 0.0, 0)},
}
# E_DROUTING_STATUS as event_kafka publishes it (drouting.c, dr_raise_event): no time of its
# own, so the adapter stamps it at its next tick.
PROBING = (
    b'{"jsonrpc":"2.0","method":"E_DROUTING_STATUS","params":{"partition":"Default",'
    b'"gwid":"carrier-b","address":"198.51.100.9:5060","status":"probing",'
    b'"reason":"negative probing reply"}}'
)
ERRORS = {
    "kamailio-acc": "expected an acc_json record",
    "opensips-acc": "expected an OpenSIPS event",
}


def recent_sample(fmt: str, now: float) -> list[bytes]:
    """The sample of ``fmt`` with every time moved so that the first is ten minutes old (the
    cut record too)."""
    shift = int(now) - 600 - FIRST
    lines = (EXAMPLES / f"{fmt}.jsonl").read_text().splitlines()
    return [
        EPOCH.sub(lambda m: m.group(1) + str(int(m.group(2)) + shift), line).encode()
        for line in lines
    ]


def trunk_kpis(samples: Samples, trunk: str) -> dict[str, Any]:
    """One trunk's 15-minute figures and its setups since the start by response class."""

    def get(name: str, **labels: str) -> float | None:
        return samples.get((name, frozenset({"site": "lon1", "trunk": trunk, **labels}.items())))

    classes = {
        c: get("callpulse_trunk_setup_responses_total", **{"class": c})
        for c in ("1xx", "2xx", "3xx", "4xx", "5xx", "6xx")
    }
    return {
        "setups": get("callpulse_trunk_call_setups", window="15m"),
        "asr": get("callpulse_trunk_asr_ratio", window="15m"),
        "ser": get("callpulse_trunk_ser_ratio", window="15m"),
        "ner": get("callpulse_trunk_ner_ratio", window="15m"),
        "classes": {c: n for c, n in classes.items() if n},
    }


@pytest.mark.parametrize("fmt", ["kamailio-acc", "opensips-acc"])
def test_accounting_records_through_kafka_give_exact_trunk_kpis(
    kafka_bootstrap: str, topics: tuple[str, str], tmp_path: Path, fmt: str
) -> None:
    sample = recent_sample(fmt, time.time())
    if fmt == "opensips-acc":
        sample.append(PROBING)
    options = {"format": fmt, "site": "lon1", "trunk_attribute": "gw"}
    settings = {"kpi": {"trunk_channels": CAPACITY}}
    with platform_daemon(
        kafka_bootstrap, topics, tmp_path, sample, options, settings=settings
    ) as daemon:
        s = settled_on(
            daemon, lambda samples: {t: trunk_kpis(samples, t) for t in EXPECTED}, EXPECTED
        )
        assert ignored_kinds(s) == IGNORED[fmt]
        names = ("channels_in_use", "channels", "utilization_ratio", "up")

        def channels(samples: Samples) -> dict[str, tuple[float | None, ...]]:
            def of(trunk: str) -> frozenset[tuple[str, str]]:
                return frozenset({"site": "lon1", "trunk": trunk}.items())

            return {
                trunk: tuple(samples.get((f"callpulse_trunk_{n}", of(trunk))) for n in names)
                for trunk in CAPACITY
            }

        # A drouting state is stamped at the adapter's next tick: polled.
        s = settled_on(daemon, channels, CHANNELS[fmt])
        # No record carries the first provisional response: no post-dial delay at all.
        assert not any(name.startswith("callpulse_trunk_post_dial_delay") and value == value
                       for (name, _), value in s.items())  # fmt: skip
        [cut] = [line for line in sample if not line.endswith(b"}")]
        check_dead_letter(kafka_bootstrap, topics[1], s, fmt, cut, ERRORS[fmt])
