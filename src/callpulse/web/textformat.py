"""The /metrics body, written faster than prometheus_client writes it, byte for byte the same.

prometheus_client's writers re-check and re-escape every metric and label name on every
sample, character by character (the name escaping of UTF-8 names, new in 0.21): at 10k
queues that was 80 % of a scrape. Names here are the daemon's own and repeat on every line,
so each distinct name is escaped once and remembered; label values are escaped only when they
hold a character that needs it; the rest follows the library's writers line for line.

Only the two encodings Prometheus asks for with its default escaping are written here: the
text format 0.0.4 and OpenMetrics 1.0.0 with ``escaping=underscores``. Any other
negotiation, and any family with something this writer does not handle (exemplars, native
histograms), is left to prometheus_client, family by family. ``tests/unit/test_textformat.py``
holds the two to the same bytes.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextvars import ContextVar
from functools import partial

from prometheus_client import exposition, openmetrics
from prometheus_client.metrics_core import Metric
from prometheus_client.openmetrics import exposition as om_exposition
from prometheus_client.registry import Collector
from prometheus_client.samples import Sample

from callpulse.core.row_text import escape_value, go_float, row_lines

Encoder = Callable[[Collector], bytes]
_OM_LIBRARY: Encoder = om_exposition.generate_latest  # untyped in prometheus_client

_LEGACY_METRIC = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
_LEGACY_LABEL = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")
_NOT_LABEL_RUNE = re.compile(r"[^a-zA-Z0-9_]")
# The text format moves these OpenMetrics samples into gauges of their own after the family.
_OM_ONLY_SUFFIXES = ("_created", "_gsum", "_gcount")
_TEXT_TYPES = {"info": "gauge", "stateset": "gauge", "gaugehistogram": "histogram",
               "unknown": "untyped"}  # fmt: skip


_PART = 1 << 16  # characters of a row family's text sent at a time

Writer = Callable[[Collector], Iterable[bytes]]
"""A body written in parts, to be sent as they come."""


def fast_encoder(encoder: Encoder) -> Encoder:
    """This module's writer for what ``choose_encoder`` picked, when it is one of the two
    written here; otherwise ``encoder`` itself."""
    if encoder is exposition.generate_latest:
        return _text
    if _ours(encoder):
        return _openmetrics
    return encoder


def fast_writer(encoder: Encoder) -> Writer:
    """:func:`fast_encoder`, its body in parts (a family's lines each) when it is one of
    this module's; otherwise ``encoder``'s body, in one part."""
    if encoder is exposition.generate_latest:
        return _text_parts
    if _ours(encoder):
        return _openmetrics_parts

    def whole(registry: Collector) -> Iterable[bytes]:
        return (encoder(registry),)

    return whole


def _ours(encoder: Encoder) -> bool:
    """Whether ``encoder`` is the OpenMetrics one this module writes."""
    return (
        isinstance(encoder, partial)
        and encoder.func is om_exposition.generate_latest
        and not encoder.args
        and encoder.keywords == {"escaping": openmetrics.exposition.UNDERSCORES, "version": "1.0.0"}
    )


_LINES_WELCOME: ContextVar[bool] = ContextVar("callpulse_lines_welcome", default=False)


def lines_welcome() -> bool:
    """Whether the registry is being collected for this module's writers, which take a
    :class:`RowFamily`'s sample lines written already (``lines``) instead of its rows."""
    return _LINES_WELCOME.get()


class RowFamily(Metric):
    """A gauge or counter family given as rows of label values, in the order of
    ``label_names``, and a value each; or, collected for this module's writers
    (:func:`lines_welcome`), as its sample lines written already, in either text format:
    pieces of text that join into them.

    This writer writes the rows as they are. Whoever else reads :attr:`samples` (the library's
    writers, a test) gets prometheus_client's samples, made on first read: at 10k queues a
    scrape is 400k of them, and making a Sample and its label dict per line was half of
    collecting.
    """

    def __init__(
        self,
        name: str,
        documentation: str,
        kind: str,
        label_names: Sequence[str],
        rows: Sequence[tuple[Sequence[str], float]],
        lines: Sequence[str] | None = None,
    ) -> None:
        if kind not in ("gauge", "counter"):
            raise ValueError(f"a RowFamily is a gauge or a counter, not {kind!r}")
        if lines is not None and rows:
            raise ValueError("a RowFamily is given its rows or its lines, not both")
        super().__init__(name, documentation, kind)
        self.__dict__["_samples"] = None  # Metric's __init__ set an empty list: made on read
        self.label_names = tuple(label_names)
        self.rows = rows
        self.lines = lines

    @property
    def samples(self) -> list[Sample]:
        made = self.__dict__.get("_samples")
        if made is None:
            if self.lines is not None:
                raise ValueError(f"{self.name}: only its lines were collected, for this writer")
            name = f"{self.name}_total" if self.type == "counter" else self.name
            names = self.label_names
            made = self.__dict__["_samples"] = [
                Sample(name, dict(zip(names, labels, strict=True)), value)
                for labels, value in self.rows
            ]
        return made

    @samples.setter
    def samples(self, value: list[Sample]) -> None:
        self.__dict__["_samples"] = value


# The labels' part of the lines written so far in one body, per set of label names and then
# per tuple of label values: the families of a scrape share their label tuples.
LabelTexts = dict[tuple[str, ...], dict[tuple[str, ...], str]]


def _row_lines(metric: RowFamily, sample_name: _Names, texts: LabelTexts) -> Iterator[str]:
    """The sample lines of ``metric``'s rows, or its lines as they were written. Its names
    are checked before the first line: :func:`_write` sends a row family's text as it
    comes."""
    raw = f"{metric.name}_total" if metric.type == "counter" else metric.name
    name = sample_name(raw)
    if metric.lines is not None:
        if name != raw:  # written with the name as it is: the same in both formats only then
            raise ValueError(f"{raw}: a name each format writes its own way, given as lines")
        for label in metric.label_names:
            _LABEL(label)
        yield from metric.lines
        return
    known = texts.setdefault(metric.label_names, {})
    yield row_lines(name, [_LABEL(n) for n in metric.label_names], metric.rows, known)


class _LibraryNeededError(Exception):
    """A family with something this writer leaves to prometheus_client."""


def _underscored(name: str) -> str:
    """A name with each character outside ``[a-zA-Z0-9_]`` (a digit first too) made ``_``:
    prometheus_client's underscore escaping of sample names in OpenMetrics (a colon too)."""
    out = _NOT_LABEL_RUNE.sub("_", name)
    return "_" + out[1:] if out[:1].isdigit() else out


class _Names:
    """What each distinct name becomes on a line, computed once per process; a name that is
    not a legacy Prometheus name (the library escapes those in ways of its own) raises
    :class:`_LibraryNeededError`."""

    def __init__(self, rule: Callable[[str], str], pattern: re.Pattern[str]) -> None:
        self._rule = rule
        self._pattern = pattern
        self._known: dict[str, str | None] = {}

    def __call__(self, name: str) -> str:
        try:
            escaped = self._known[name]
        except KeyError:
            escaped = self._known[name] = (
                self._rule(name) if self._pattern.fullmatch(name) else None
            )
        if escaped is None:
            raise _LibraryNeededError(name)
        return escaped


_OM_SAMPLE = _Names(_underscored, _LEGACY_METRIC)
_TEXT_SAMPLE = _Names(str, _LEGACY_METRIC)
_LABEL = _Names(str, _LEGACY_LABEL)


# Per set of label names, in the order a family's samples give them: those names sorted, each
# checked once. A family's samples share one set, so this is one lookup per sample.
_ORDERS: dict[tuple[str, ...], tuple[str, ...]] = {}


def _labels(labels: dict[str, str]) -> str:
    if not labels:
        return ""
    names = tuple(labels)
    order = _ORDERS.get(names)
    if order is None:
        order = tuple(sorted(_LABEL(n) for n in names))
        if len(_ORDERS) < 10_000:  # sets of names are few; a hostile collector's are not kept
            _ORDERS[names] = order
    return "{" + ",".join([f'{n}="{escape_value(labels[n])}"' for n in order]) + "}"


def _check(metric: Metric) -> None:
    _TEXT_SAMPLE(metric.name)
    if isinstance(metric, RowFamily):
        return  # rows carry neither exemplars nor native histograms
    for s in metric.samples:
        if s.exemplar is not None or s.native_histogram is not None:
            raise _LibraryNeededError(metric.name)


class _One(Collector):
    def __init__(self, metric: Metric) -> None:
        self._metric = metric

    def collect(self) -> Iterable[Metric]:
        return [self._metric]


def _write(
    registry: Collector,
    family: Callable[[Metric, LabelTexts], Iterator[str]],
    library: Encoder,
    end: str,
) -> Iterator[bytes]:
    # Every family collected first, for this writer (lines welcome), then written, encoded
    # and dropped one at a time: the body's bytes are never whole (34 MB at 10k queues),
    # and a family's text goes once it is sent. A row family's (up to 4 MB) is sent in
    # parts of _PART as it comes: in a render child, a part's memory is the last one's,
    # where a whole family's text and bytes were new pages (a page fault each, ~4 us).
    welcome = _LINES_WELCOME.set(True)
    try:
        metrics = list(registry.collect())
    finally:
        _LINES_WELCOME.reset(welcome)
    metrics.reverse()
    texts: LabelTexts = {}  # one body's: dropped with it
    while metrics:
        metric = metrics.pop()
        stream = isinstance(metric, RowFamily)
        pieces: list[str] = []
        size = 0
        try:
            for piece in family(metric, texts):
                pieces.append(piece)
                size += len(piece)
                if stream and size >= _PART:
                    yield "".join(pieces).encode()
                    pieces.clear()
                    size = 0
            text = "".join(pieces)
        except _LibraryNeededError:  # before a row family's first part: see _row_lines
            text = library(_One(metric)).decode().removesuffix(end)
        yield text.encode()
    yield end.encode()


def _openmetrics_parts(registry: Collector) -> Iterator[bytes]:
    return _write(registry, _om_family, _OM_LIBRARY, "# EOF\n")


def _text_parts(registry: Collector) -> Iterator[bytes]:
    return _write(registry, _text_family, exposition.generate_latest, "")


def _openmetrics(registry: Collector) -> bytes:
    return b"".join(_openmetrics_parts(registry))


def _text(registry: Collector) -> bytes:
    return b"".join(_text_parts(registry))


def _om_family(metric: Metric, texts: LabelTexts) -> Iterator[str]:
    _check(metric)
    name = metric.name
    yield f"# HELP {name} {escape_value(metric.documentation)}\n# TYPE {name} {metric.type}\n"
    if metric.unit:
        yield f"# UNIT {name} {metric.unit}\n"
    if isinstance(metric, RowFamily):
        yield from _row_lines(metric, _OM_SAMPLE, texts)
        return
    for s in metric.samples:
        value = "" if s.value is None else go_float(s.value)
        stamp = "" if s.timestamp is None else f" {s.timestamp}"
        yield f"{_OM_SAMPLE(s.name)}{_labels(s.labels)} {value}{stamp}\n"


def _text_family(metric: Metric, texts: LabelTexts) -> Iterator[str]:
    _check(metric)
    name, kind = metric.name, metric.type
    if kind == "counter":
        name += "_total"
    elif kind == "info":
        name += "_info"
    kind = _TEXT_TYPES.get(kind, kind)
    help_text = metric.documentation.replace("\\", r"\\").replace("\n", r"\n")
    yield f"# HELP {name} {help_text}\n# TYPE {name} {kind}\n"
    if isinstance(metric, RowFamily):
        yield from _row_lines(metric, _TEXT_SAMPLE, texts)
        return
    moved: dict[str, list[str]] = {}
    for s in metric.samples:
        stamp = "" if s.timestamp is None else f" {int(float(s.timestamp) * 1000):d}"
        line = f"{_TEXT_SAMPLE(s.name)}{_labels(s.labels)} {go_float(s.value)}{stamp}\n"
        suffix = s.name[len(metric.name) :] if s.name.startswith(metric.name) else ""
        if suffix in _OM_ONLY_SUFFIXES:
            moved.setdefault(suffix, []).append(line)
        else:
            yield line
    for suffix, lines in sorted(moved.items()):
        gauge = metric.name + suffix
        yield f"# HELP {gauge} {help_text}\n# TYPE {gauge} gauge\n"
        yield from lines
