"""Alert rules: what they may say, checked against the KPI catalogue, and compiled.

A threshold rule names a KPI (a gauge of :mod:`callpulse.core.catalog` without the
``callpulse_`` prefix), a window for windowed KPIs, anchored-regex label matchers, an
operator and a threshold, and optionally a ``clear`` threshold for hysteresis. An absent rule
fires for a known site that has sent no valid event for a while: longer than ``for``, and,
with ``improbability``, for a site whose feed has no heartbeat, longer than its own rate
makes likely or longer than ``max`` (:mod:`callpulse.core.silence`). Annotations are templates in
a small, safe syntax: ``{{ value }}``, ``{{ threshold }}``, ``{{ labels.NAME }}``, each with an
optional filter: ``| percent``, ``| duration``, ``| round``.
"""

from __future__ import annotations

import math
import operator
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from callpulse.core.catalog import KPIS, Family
from callpulse.core.durations import format_duration

OPERATORS: dict[str, Callable[[float, float], bool]] = {
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
    "==": operator.eq,
    "!=": operator.ne,
}
ABSENT_SCOPES = ("site",)
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_TEMPLATE = re.compile(r"\{\{\s*(.*?)\s*\}\}")
_FILTERS = ("percent", "duration", "round")


class RuleError(ValueError):
    """A rule that cannot work; says which rule and which field."""

    def __init__(self, rule: str, field_name: str, message: str) -> None:
        super().__init__(f"rule {rule!r}: {field_name}: {message}")
        self.rule = rule
        self.field = field_name


@dataclass(frozen=True)
class RuleSpec:
    """A rule as configured (already type-checked by the settings)."""

    alert: str
    kpi: str | None = None
    window: float | None = None
    match: Mapping[str, str] = field(default_factory=dict)
    op: str | None = None
    threshold: float | None = None
    clear: float | None = None
    for_seconds: float = 0.0
    keep_firing_for: float = 0.0
    severity: str = "warning"
    labels: Mapping[str, str] = field(default_factory=dict)
    annotations: Mapping[str, str] = field(default_factory=dict)
    absent_scope: str | None = None
    absent_for: float | None = None
    absent_improbability: float | None = None
    absent_max: float | None = None


@dataclass(frozen=True)
class Template:
    """A compiled annotation: literal text and ``(variable, filter)`` holes, alternating."""

    parts: tuple[str | tuple[str, str | None], ...]

    def render(self, value: float, threshold: float | None, labels: Mapping[str, str]) -> str:
        """The annotation for one alert."""
        out = []
        for part in self.parts:
            if isinstance(part, str):
                out.append(part)
                continue
            name, flt = part
            if name == "value":
                out.append(_format(value, flt))
            elif name == "threshold":
                out.append(_format(threshold, flt))
            else:
                out.append(labels.get(name.removeprefix("labels."), ""))
        return "".join(out)


@dataclass(frozen=True, slots=True)
class Series:
    """One series a built-in rule reports: its labels, value and annotations.

    ``active`` False: the condition no longer holds; an alert on it resolves (after its
    ``keep_firing_for``) carrying these values.
    """

    labels: Mapping[str, str]
    value: float
    annotations: Mapping[str, str]
    active: bool = True


BuiltinSource = Callable[[Any], Iterable[Series]]
"""A built-in rule's logic: the series it reports at one evaluation."""


@dataclass(frozen=True)
class Rule:
    """A compiled rule; ``family`` is None for absent and built-in rules."""

    spec: RuleSpec
    family: Family | None
    window: str | None
    matchers: tuple[tuple[int, re.Pattern[str]], ...]  # (label index in the family, pattern)
    annotations: Mapping[str, Template]
    builtin: BuiltinSource | None = None

    @property
    def name(self) -> str:
        """The ``alertname``."""
        return self.spec.alert

    def firing_condition(self, value: float, firing: bool) -> bool:
        """Whether ``value`` makes the alert active: past ``threshold``, or, for an alert
        that is ``firing``, not yet past ``clear`` (hysteresis holds a firing alert only: a
        pending one starts over when the value is back under the threshold)."""
        spec = self.spec
        assert spec.op is not None
        assert spec.threshold is not None
        limit = spec.clear if firing and spec.clear is not None else spec.threshold
        return OPERATORS[spec.op](value, limit)

    def matches(self, label_values: Sequence[str]) -> bool:
        """Whether a sample's label values pass the matchers and the window."""
        if self.window is not None and label_values[-1] != self.window:
            return False
        return all(p.fullmatch(label_values[i]) for i, p in self.matchers)


def compile_rule(spec: RuleSpec, windows: Sequence[float]) -> Rule:
    """Check ``spec`` against the KPI catalogue and ``windows``; raise :class:`RuleError`."""
    name = spec.alert

    def fail(field_name: str, message: str) -> RuleError:
        return RuleError(name, field_name, message)

    if not _NAME.match(name):
        raise fail("alert", "must be a Prometheus label value of [A-Za-z_][A-Za-z0-9_]*")
    for key in spec.labels:
        if not _NAME.match(key) or key in ("alertname", "severity"):
            raise fail(f"labels.{key}", "not a label name this rule may set")
    if spec.absent_scope is not None:
        stray = [
            name
            for name, value in (
                ("kpi", spec.kpi),
                ("op", spec.op),
                ("threshold", spec.threshold),
                ("clear", spec.clear),
                ("window", spec.window),
            )
            if value is not None
        ]
        if spec.match:
            stray.append("match")
        if stray:
            raise fail("absent", f"an absent rule takes no {', '.join(stray)}")
        if spec.absent_scope not in ABSENT_SCOPES:
            raise fail("absent.scope", f"must be one of {', '.join(ABSENT_SCOPES)}")
        _check_improbability(spec, fail)
        label_names = {"site"}
        templates = _templates(spec, label_names, fail)
        return Rule(spec, None, None, (), templates)
    if spec.kpi is None:
        raise fail("kpi", "a rule needs a kpi (or absent)")
    family = KPIS.get(spec.kpi)
    if family is None:
        close = [k for k in KPIS if spec.kpi.split("_")[0] in k][:5]
        hint = f"; known ones include {', '.join(close)}" if close else ""
        raise fail("kpi", f"unknown KPI {spec.kpi!r}{hint}")
    windowed = "window" in family.labels
    window = None
    if windowed:
        if spec.window is None:
            raise fail(
                "window",
                f"{spec.kpi} is windowed: name one of "
                f"{', '.join(format_duration(w) for w in windows)}",
            )
        if spec.window not in windows:
            raise fail(
                "window",
                f"{format_duration(spec.window)} is not one of the windows "
                f"({', '.join(format_duration(w) for w in windows)})",
            )
        window = format_duration(spec.window)
    elif spec.window is not None:
        raise fail("window", f"{spec.kpi} has no window")
    if spec.op not in OPERATORS:
        raise fail("op", f"must be one of {' '.join(OPERATORS)}")
    if spec.threshold is None or not math.isfinite(spec.threshold):
        raise fail("threshold", "a finite number is required")
    if spec.clear is not None:
        if spec.op in ("==", "!="):
            raise fail("clear", f"hysteresis needs an ordering operator, not {spec.op}")
        below = spec.op in ("<", "<=")
        if (below and spec.clear < spec.threshold) or (not below and spec.clear > spec.threshold):
            side = "at or above" if below else "at or below"
            raise fail("clear", f"must be {side} the threshold for op {spec.op}")
    for key in spec.labels:
        if key in family.labels:
            raise fail(
                f"labels.{key}",
                f"{key} is a label of {spec.kpi}'s series; a rule may not overwrite it",
            )
    matchable = [label for label in family.labels if label != "window"]
    matchers = []
    for label, pattern in spec.match.items():
        if label not in matchable:
            raise fail(f"match.{label}", f"{spec.kpi} has labels {', '.join(matchable)}")
        try:
            matchers.append((family.labels.index(label), re.compile(pattern)))
        except re.error as exc:
            raise fail(f"match.{label}", f"not a regular expression: {exc}") from None
    templates = _templates(spec, set(family.labels), fail)
    return Rule(spec, family, window, tuple(matchers), templates)


def _check_improbability(spec: RuleSpec, fail: Callable[[str, str], RuleError]) -> None:
    p, longest = spec.absent_improbability, spec.absent_max
    if p is None:
        if longest is not None:
            raise fail("absent.max", "caps a silence judged by its rate: give improbability too")
        return
    if not (math.isfinite(p) and 0 < p < 1):
        raise fail("absent.improbability", f"must be a chance between 0 and 1, e.g. 1e-3, not {p}")
    if longest is None:
        raise fail("absent.max", "a silence judged by its rate needs a longest silence (max)")
    if longest <= (spec.absent_for or 0.0):
        raise fail(
            "absent.max",
            f"{format_duration(longest)} must be longer than absent.for "
            f"({format_duration(spec.absent_for or 0.0)})",
        )


def _templates(
    spec: RuleSpec, label_names: set[str], fail: Callable[[str, str], RuleError]
) -> dict[str, Template]:
    allowed = label_names | set(spec.labels) | {"alertname", "severity"}
    out = {}
    for key, text in spec.annotations.items():
        parts: list[str | tuple[str, str | None]] = []
        position = 0
        for hole in _TEMPLATE.finditer(text):
            parts.append(text[position : hole.start()])
            position = hole.end()
            expr, _, flt = (p.strip() for p in hole.group(1).partition("|"))
            if expr not in ("value", "threshold") and not (
                expr.startswith("labels.") and expr.removeprefix("labels.") in allowed
            ):
                raise fail(
                    f"annotations.{key}",
                    f"unknown template variable {expr!r} (value, threshold, "
                    f"labels.{{{', '.join(sorted(allowed))}}})",
                )
            if flt and flt not in _FILTERS:
                raise fail(f"annotations.{key}", f"unknown filter {flt!r} ({', '.join(_FILTERS)})")
            parts.append((expr, flt or None))
        parts.append(text[position:])
        if any(isinstance(p, str) and ("{{" in p or "}}" in p) for p in parts):
            raise fail(f"annotations.{key}", "unbalanced {{ }}")
        out[key] = Template(tuple(p for p in parts if p != ""))
    return out


def _format(value: float | None, flt: str | None) -> str:
    if value is None:
        return ""
    if flt == "percent":
        return f"{value * 100:.1f}%"
    if flt == "duration":
        if math.isinf(value):
            return "never"
        seconds = round(value)
        minutes, seconds = divmod(seconds, 60)
        hours, minutes = divmod(minutes, 60)
        if hours:
            return f"{hours}h{minutes:02d}m"
        return f"{minutes}m{seconds:02d}s" if minutes else f"{seconds}s"
    if flt == "round":
        return f"{value:.2f}"
    return f"{value:g}"


def builtin_rule(
    name: str,
    severity: str,
    source: BuiltinSource,
    keep_firing_for: float = 0.0,
    for_seconds: float = 0.0,
) -> Rule:
    """A rule whose series and annotations come from ``source`` (maintenance)."""
    spec = RuleSpec(
        alert=name, severity=severity, keep_firing_for=keep_firing_for, for_seconds=for_seconds
    )
    return Rule(spec, None, None, (), {}, builtin=source)
