"""``callpulse status`` prints what a server sends as text: escape sequences in names show as
their escapes instead of driving the terminal."""

from __future__ import annotations

import io
import json
from pathlib import Path

from rich.console import Console

from callpulse.cli.status import plain, render

EVIL = Path(__file__).resolve().parents[1] / "integration" / "evil-status.json"


def test_plain_writes_unprintable_characters_as_escapes() -> None:
    assert plain("lon1") == "lon1"
    assert plain("q\x1b[2J\x07\r\n\u202e") == "q\\x1b[2J\\x07\\r\\n\\u202e"


def test_escape_sequences_in_every_field_never_reach_the_terminal() -> None:
    status = json.loads(EVIL.read_text())
    clear, title = "\x1b[2J", "\x1b]0;owned\x07"
    status["queues"][0]["queue"] = f"billing{clear}"
    status["alerts"]["firing"][0]["annotations"]["summary"] = f"down{title}"
    status["components"].append(
        {"site": "lon1", "component": f"pbx{clear}", "kind": "pbx", "status": "down", "stale": 0}
    )
    status["windows"]["short"] = f"5m{clear}"
    out = io.StringIO()
    console = Console(file=out, markup=False, highlight=False, force_terminal=False, width=300)
    render(status, "http://127.0.0.1:9464", console)
    text = out.getvalue()
    assert "\x1b" not in text
    assert "\x07" not in text
    assert "billing\\x1b[2J" in text
    assert "pbx\\x1b[2J" in text
    assert "<b>lon1</b>" in text  # markup shows as text too
