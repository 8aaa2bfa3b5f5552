"""Asterisk CDRs, produced to a real broker by kcat, to exact trunk KPIs on /metrics. The rows
are the shipped sample (docs/examples/asterisk-cdr-Master.csv), written in cdr_csv.c's
Master.csv layout, moved to the last fifteen minutes."""

from __future__ import annotations

import csv
import io
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from .helpers import Daemon, Samples, wait_until
from .platforms import EXAMPLES, check_dead_letter, ignored_kinds, platform_daemon

pytestmark = pytest.mark.integration
SAMPLE = EXAMPLES / "asterisk-cdr-Master.csv"
TIMES = (9, 10, 11)  # start, answer, end: the columns cdr_csv.c writes times in
FORMAT = "%Y-%m-%d %H:%M:%S"


def recent_sample(now: float) -> list[bytes]:
    """The sample's rows, their times moved so that its first call starts 12 minutes ago
    (UTC, the adapter's default zone), written back as cdr_csv.c writes them."""
    rows = list(csv.reader(io.StringIO(SAMPLE.read_text())))
    first = datetime.strptime(rows[0][9], FORMAT).replace(tzinfo=UTC).timestamp()
    shift = int(now) - 720 - int(first)
    out = []
    for row in rows:
        for i in TIMES:
            if i < len(row) and row[i]:
                moved = datetime.strptime(row[i], FORMAT).replace(tzinfo=UTC).timestamp() + shift
                row[i] = datetime.fromtimestamp(moved, UTC).strftime(FORMAT)
        buffer = io.StringIO()
        csv.writer(buffer, quoting=csv.QUOTE_ALL, lineterminator="").writerow(row)
        out.append(buffer.getvalue().encode())
    return out


def trunk_kpis(daemon: Daemon, trunk: str) -> tuple[dict[str, float | None], Samples]:
    samples = daemon.samples()
    labels = {"site": "lon1", "trunk": trunk, "window": "15m"}
    kpis = {
        name: samples.get((f"callpulse_trunk_{name}", frozenset(labels.items())))
        for name in ("call_setups", "asr_ratio", "ner_ratio")
    }
    return kpis, samples


def test_cdrs_through_kafka_give_exact_trunk_kpis(
    kafka_bootstrap: str, topics: tuple[str, str], tmp_path: Path
) -> None:
    sample = recent_sample(time.time())
    fmt = {"format": "asterisk-cdr", "site": "lon1"}
    with platform_daemon(kafka_bootstrap, topics, tmp_path, sample, fmt) as daemon:
        # By hand, the rows whose dstchannel is a trunk. carrier-a: ANSWERED, BUSY, NO ANSWER,
        # CONGESTION, ANSWERED: ASR 2/5, NER (2 answered + 486 + 480) / 5. KTTK: FAILED,
        # ANSWERED: ASR 1/2, NER 1/2.
        expected = {
            "carrier-a": {"call_setups": 5.0, "asr_ratio": 0.4, "ner_ratio": 0.8},
            "KTTK": {"call_setups": 2.0, "asr_ratio": 0.5, "ner_ratio": 0.5},
        }
        wait_until(
            lambda: all(trunk_kpis(daemon, t)[0] == kpis for t, kpis in expected.items()),
            30,
            f"trunk KPIs {expected}",
        )
        _, samples = trunk_kpis(daemon, "KTTK")
        # No post-dial delay: a CDR has no provisional response time.
        pdd = frozenset({"site": "lon1", "trunk": "KTTK", "window": "15m"}.items())
        assert ("callpulse_trunk_post_dial_delay_p50_seconds", pdd) not in samples
        assert ignored_kinds(samples) == {"inbound": 2, "no_trunk": 2}
        check_dead_letter(kafka_bootstrap, topics[1], samples, "asterisk-cdr", sample[-1],
                          "a Master.csv row has 16 to 21 columns")  # fmt: skip
