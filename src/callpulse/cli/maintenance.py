"""``callpulse maintenance list``: upcoming windows of the calendar, local time and UTC."""

from __future__ import annotations

import sys
import time
from datetime import UTC, datetime

from callpulse.config import Settings
from callpulse.config.convert import window_spec
from callpulse.core.durations import format_duration
from callpulse.text import plain


def listing(settings: Settings, start: str | None, end: str | None) -> int:
    """Print the calendar's windows from ``start`` to ``end`` (ISO; default: 30 days on)."""
    from callpulse.core.calendar import Calendar

    calendar = Calendar(
        [window_spec(w) for w in settings.maintenance.windows], settings.maintenance.timezone
    )

    def moment(text: str | None, default: float) -> float:
        if text is None:
            return default
        parsed = datetime.fromisoformat(text)
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=calendar.zone)
        return parsed.timestamp()

    try:
        begin = moment(start, time.time())
        finish = moment(end, begin + 30 * 86400)
    except ValueError as exc:
        print(f"callpulse: --from/--to: {plain(str(exc))}", file=sys.stderr)
        return 2
    zone = plain(settings.maintenance.timezone)
    print(f"{'window':<20} {'start (' + zone + ')':<28} {'start (UTC)':<22} {'duration':<9} sites")
    for o in calendar.occurrences(begin, finish):
        local = datetime.fromtimestamp(o.start, calendar.zone).strftime("%a %Y-%m-%d %H:%M %Z")
        utc = datetime.fromtimestamp(o.start, UTC).strftime("%Y-%m-%d %H:%M UTC")
        print(
            f"{plain(o.name):<20} {local:<28} {utc:<22} {format_duration(o.end - o.start):<9} "
            f"{plain(','.join(o.sites))}"
        )
    return 0
