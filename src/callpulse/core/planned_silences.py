"""Alertmanager silences for the maintenance calendar: which should exist at a time, and
what to change in an Alertmanager to get there.

Each calendar occurrence gets one silence from its start (created up to ``lead`` before,
pending until then) to its planned end. Its matchers are the window's sites and, when it
names components, its components, under the label names the foreign exporters use; a
negative ``alertname`` matcher leaves callpulse's own alerts out: callpulse already
withholds the ones a window explains, and the rest (MaintenanceOverrun above all) must page.

Past its end the silence is kept while a component it names is still down or degraded at
one of its sites (the overrun), never longer than ``max_overrun``. It is extended
:data:`HOLD` ahead at a time, so that it lapses by itself soon after callpulse stops. It is
only kept then, never created: a window callpulse did not silence while it ran is not
silenced after it.

A silence is callpulse's when ``createdBy`` is :data:`CREATED_BY` and its comment ends with
the window's name and occurrence (:func:`comment`); only those whose window is in the
calendar now are changed or expired. Event windows (``maintenance.started``) get none:
anyone who can write to the topic could otherwise mute an Alertmanager.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal
from urllib.parse import quote, unquote

from callpulse.core.calendar import Calendar, Occurrence
from callpulse.core.timefmt import rfc3339

CREATED_BY = "callpulse"
HOLD = 300.0
"""Seconds an overrunning window's silence is extended ahead at a time; it is extended again
when less than half of that is left."""

SLACK = 1.0
"""Seconds an Alertmanager's end time may differ from the one asked for (it keeps ms)."""

DOWN = frozenset({"down", "degraded"})
"""Component statuses that keep a window's silence past its end (as MaintenanceOverrun)."""

_SPECIAL = frozenset("\\.+*?()|[]{}^$")
_TAG = re.compile(r" window=(\S+) occurrence=(\S+)$")


def literal(value: str) -> str:
    """``value`` as an RE2 pattern that matches only itself (Alertmanager's regex syntax:
    Python's ``re.escape`` also escapes spaces, which RE2 refuses)."""
    return "".join("\\" + c if c in _SPECIAL else c for c in value)


@dataclass(frozen=True)
class Matcher:
    """One label matcher of a silence, as Alertmanager's API v2 writes it."""

    name: str
    value: str
    regex: bool = False
    equal: bool = True

    def to_api(self) -> dict[str, object]:
        """The matcher object of ``POST /api/v2/silences``."""
        return {
            "name": self.name,
            "value": self.value,
            "isRegex": self.regex,
            "isEqual": self.equal,
        }


@dataclass(frozen=True)
class SilenceWindowPolicy:
    """How silences are made: the label names foreign exporters give sites and components,
    how long before a window its silence is created, and the longest overrun it covers."""

    site_label: str = "site"
    component_label: str = "component"
    lead: float = 60.0
    max_overrun: float = 7200.0


OccurrenceKey = tuple[str, str]
"""A window's name and its occurrence's start as RFC 3339: what names a silence."""


@dataclass(frozen=True)
class Wanted:
    """A silence that should exist now.

    One that exists and ends between ``renew_below`` and ``ends_at`` (give or take
    :data:`SLACK`) is left as it is; otherwise it is set to end at ``ends_at``.
    ``only_if_held``: kept if it exists, never created (an overrun).
    """

    window: str
    starts_at: float
    ends_at: float
    renew_below: float
    matchers: tuple[Matcher, ...]
    only_if_held: bool = False

    @property
    def occurrence(self) -> str:
        """The occurrence's start, as the comment names it."""
        return rfc3339(self.starts_at)

    @property
    def key(self) -> OccurrenceKey:
        """Which occurrence this is."""
        return (self.window, self.occurrence)

    @property
    def comment(self) -> str:
        """The comment the silence carries: for people first, then the tag that finds it."""
        return comment(self.window, self.starts_at)

    def fits(self, ends_at: float) -> bool:
        """Whether a silence ending at ``ends_at`` needs no change."""
        return self.renew_below - SLACK <= ends_at <= self.ends_at + SLACK

    def to_api(
        self, silence_id: str | None = None, starts_at: str | None = None
    ) -> dict[str, object]:
        """The body of ``POST /api/v2/silences``; with ``silence_id``, an update of that
        silence (``starts_at`` as the Alertmanager holds it, which an active silence's update
        must repeat to be changed in place)."""
        body: dict[str, object] = {
            "matchers": [m.to_api() for m in self.matchers],
            "startsAt": starts_at or rfc3339(self.starts_at),
            "endsAt": rfc3339(self.ends_at),
            "createdBy": CREATED_BY,
            "comment": self.comment,
        }
        if silence_id is not None:
            body["id"] = silence_id
        return body


def comment(window: str, start: float) -> str:
    """A silence's comment for ``window``'s occurrence starting at ``start``: it ends with
    ``window=<name, percent-encoded> occurrence=<RFC 3339>``, what :func:`tag` reads back."""
    when = rfc3339(start)
    name = quote(window, safe="")
    return f"Planned maintenance {window!r} from {when}. window={name} occurrence={when}"


def tag(text: str) -> OccurrenceKey | None:
    """The occurrence a comment written by :func:`comment` names, or None."""
    found = _TAG.search(text)
    return None if found is None else (unquote(found[1]), found[2])


def matchers(
    occurrence: Occurrence, policy: SilenceWindowPolicy, own_alerts: Iterable[str]
) -> tuple[Matcher, ...]:
    """The silence's matchers for ``occurrence``: its sites, its components if it names any,
    and none of callpulse's own alert names (``own_alerts``)."""
    out = [Matcher(policy.site_label, _any_of(occurrence.sites), regex=True)]
    if occurrence.components:
        out.append(Matcher(policy.component_label, _any_of(occurrence.components), regex=True))
    names = sorted(set(own_alerts))
    if names:
        out.append(Matcher("alertname", _any_of(names), regex=True, equal=False))
    return tuple(out)


def _any_of(values: Iterable[str]) -> str:
    return "|".join(literal(v) for v in sorted(set(values)))


def plan(
    now: float,
    calendar: Calendar | None,
    status: Mapping[tuple[str, str], str],
    policy: SilenceWindowPolicy,
    own_alerts: Iterable[str],
) -> list[Wanted]:
    """The silences that should exist at ``now``: one per calendar occurrence open now or
    starting within ``policy.lead``, and the overrunning ones (a component the window names
    with a status in :data:`DOWN` in ``status``, by (site, component)) for at most
    ``policy.max_overrun`` after their end."""
    if calendar is None:
        return []
    names = tuple(own_alerts)
    out = []
    for o in calendar.occurrences(now - policy.max_overrun, now + policy.lead):
        overrun = any(status.get((s, c)) in DOWN for s in o.sites for c in o.components)
        if now < o.end:
            ends, renew = o.end, o.end
            if overrun and now + HOLD / 2 > o.end:  # still down near the end: outlast it
                ends, renew = now + HOLD, now + HOLD / 2
            wanted = Wanted(o.name, o.start, ends, renew, matchers(o, policy, names))
        elif overrun and now < o.end + policy.max_overrun:
            last = o.end + policy.max_overrun
            ends = min(now + HOLD, last)
            wanted = Wanted(
                o.name,
                o.start,
                ends,
                min(now + HOLD / 2, ends),
                matchers(o, policy, names),
                only_if_held=True,
            )
        else:
            continue
        out.append(wanted)
    return out


SilenceState = Literal["active", "pending", "expired"]


@dataclass(frozen=True)
class Held:
    """A silence of callpulse's as an Alertmanager holds it."""

    id: str
    window: str
    occurrence: str
    state: SilenceState
    starts_at: str  # as the Alertmanager wrote it: an update of an active silence repeats it
    ends_at: float
    matchers: frozenset[Matcher]

    @property
    def key(self) -> OccurrenceKey:
        """The occurrence it silences."""
        return (self.window, self.occurrence)

    @property
    def live(self) -> bool:
        """Active or pending: not expired."""
        return self.state != "expired"


def held(entry: object) -> Held | None:
    """``entry`` of ``GET /api/v2/silences`` as a :class:`Held`, or None when it is not a
    silence of callpulse's (another ``createdBy``, a comment without the tag) or not one
    Alertmanager's API would write."""
    if not isinstance(entry, dict) or entry.get("createdBy") != CREATED_BY:
        return None
    text, status = entry.get("comment"), entry.get("status")
    if not isinstance(text, str) or not isinstance(status, dict):
        return None
    key, state = tag(text), status.get("state")
    sid, starts, ends = entry.get("id"), entry.get("startsAt"), entry.get("endsAt")
    if key is None or state not in ("active", "pending", "expired"):
        return None
    if not (isinstance(sid, str) and sid and isinstance(starts, str) and isinstance(ends, str)):
        return None
    found = matchers_of(entry.get("matchers"))
    try:
        ends_at = datetime.fromisoformat(ends).timestamp()
    except ValueError:
        return None
    if found is None:
        return None
    return Held(sid, key[0], key[1], state, starts, ends_at, found)


def matchers_of(value: object) -> frozenset[Matcher] | None:
    """The ``matchers`` of an API v2 silence, or None when any is not of the API's shape."""
    if not isinstance(value, list):
        return None
    out = set()
    for m in value:
        if not isinstance(m, dict):
            return None
        name, text = m.get("name"), m.get("value")
        regex, equal = m.get("isRegex", False), m.get("isEqual", True)
        if not (isinstance(name, str) and isinstance(text, str)):
            return None
        if not (isinstance(regex, bool) and isinstance(equal, bool)):
            return None
        out.add(Matcher(name, text, regex, equal))
    return frozenset(out)


@dataclass(frozen=True)
class Change:
    """One request to an Alertmanager: create a silence, update one (``held``) to what
    ``wanted`` asks, or expire one."""

    kind: Literal["create", "update", "expire"]
    wanted: Wanted | None = None
    held: Held | None = None

    def body(self) -> dict[str, object] | None:
        """The body of the ``POST /api/v2/silences`` it takes; None for an expiry."""
        if self.wanted is None:
            return None
        if self.held is None:
            return self.wanted.to_api()
        # An active silence is changed in place only when its start is repeated as it is
        # (Alertmanager would otherwise expire it and create another, with another id).
        same = self.held.state == "active" and self.held.matchers == frozenset(self.wanted.matchers)
        return self.wanted.to_api(self.held.id, self.held.starts_at if same else None)


def reconcile(
    wanted: Sequence[Wanted], silences: Iterable[Held], windows: Collection[str]
) -> list[Change]:
    """What to change so that an Alertmanager holding ``silences`` (callpulse's, any state)
    holds one live silence per ``wanted`` occurrence and no other of the calendar's
    ``windows``.

    - an occurrence with no silence is created, unless it is ``only_if_held`` or one of its
      silences was expired before (someone unmuted it by hand: that stands);
    - of several live ones (two replicas raced, or a restart), the one whose matchers are
      as wanted, then the active one, then the lowest id is kept and the others expired,
      so replicas that do this at once keep the same one;
    - a silence kept is updated when its matchers or its end are not as wanted;
    - a live silence of a window in ``windows`` that no occurrence wants is expired; one of
      a window not in ``windows`` (another callpulse's, or a window taken out of the config)
      is left to end by itself.
    """
    by_key: dict[OccurrenceKey, list[Held]] = {}
    for s in silences:
        by_key.setdefault(s.key, []).append(s)
    out: list[Change] = []
    keys = set()
    for w in wanted:
        if w.key in keys:
            continue  # one silence per occurrence, even for a calendar that names one twice
        keys.add(w.key)
        found = by_key.get(w.key, [])
        live = [s for s in found if s.live]
        if not live:
            if not found and not w.only_if_held:
                out.append(Change("create", w))
            continue
        wants = frozenset(w.matchers)
        live.sort(key=lambda s: (s.matchers != wants, s.state != "active", s.id))
        keep = live[0]
        if keep.matchers != wants or not w.fits(keep.ends_at):
            out.append(Change("update", w, keep))
        out += [Change("expire", held=s) for s in live[1:]]
    for key, found in by_key.items():
        if key not in keys and key[0] in windows:
            out += [Change("expire", held=s) for s in found if s.live]
    return out
