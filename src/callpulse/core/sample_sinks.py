"""Where the samples a collect reads go (:mod:`callpulse.core.readings`): kept as values
for alert rules (:class:`Sink`), or written as the text formats' sample lines for a scrape
(:class:`LineSink`), a queue's labels written once for all its samples."""

from __future__ import annotations

from collections.abc import Callable
from typing import Generic, TypeVar, final

from callpulse.core.catalog import Family, LabelValues, Samples
from callpulse.core.row_text import Lines, Value, escape_value, label_pairs, line_buffers

V = TypeVar("V")


def family_places(out: dict[str, Samples]) -> dict[str, int]:
    """Each family's place among those asked for: its index in the line sink's buffers."""
    return {name: n for n, name in enumerate(out)}


@final
class Row(Generic[V]):
    """A family asked for, and what reads its value of a view; ``index``: the family's
    place among those asked for."""

    def __init__(self, samples: Samples, read: Callable[[V], Value], index: int) -> None:
        self.samples = samples.samples
        self.read = read
        self.labels = samples.family.labels
        self.index = index


def _head(family: Family) -> str:
    """What a line of ``family`` starts with, up to its labels."""
    return f"{family.sample_name}{{" if family.labels else family.sample_name


@final
class Rows(Generic[V]):
    """Rows read of the same views under the same label values: their label names must be
    the same, so that a view's labels are written once for all."""

    def __init__(self, rows: list[Row[V]]) -> None:
        if any(row.labels != rows[0].labels for row in rows):
            raise ValueError(f"families read together with different labels: {rows[0].labels}")
        self.rows = tuple(rows)
        self.labels = rows[0].labels if rows else ()
        self.indices = tuple(row.index for row in rows)
        self.reads = tuple(row.read for row in rows)


class Sink:
    """Appends a sample to its family, if the family was asked for and has a value.

    Samples are added under label values given whole (:meth:`add`, :meth:`rows`), or
    under the values set by :meth:`key` and, for some families, one value after them
    (:meth:`key_add`, :meth:`key_rows`): a queue's samples are under its site and queue."""

    def __init__(self, out: dict[str, Samples]) -> None:
        self._out = out
        self._key: LabelValues = ()

    def key(self, names: tuple[str, ...], labels: LabelValues) -> None:
        """Label values ``labels`` (of label names ``names``) for the ``key_`` methods."""
        self._key = labels

    def key_add(self, name: str, value: Value, extra: str | None = None) -> None:
        """:meth:`add` under the key's labels, and ``extra`` after them if given."""
        self.add(name, self._key if extra is None else (*self._key, extra), value)

    def key_rows(self, rows: Rows[V], view: V, extra: str | None = None) -> None:
        """:meth:`rows` under the key's labels, and ``extra`` after them if given."""
        self.rows(rows, self._key if extra is None else (*self._key, extra), view)

    def key_each(self, name: str, extras: tuple[str, ...], values: list[Value]) -> None:
        """:meth:`key_add` of each of ``values`` with the extra label value at the same
        place in ``extras``."""
        for extra, value in zip(extras, values, strict=True):
            self.key_add(name, value, extra)

    def add(self, name: str, labels: LabelValues, value: Value) -> None:
        """``value`` of family ``name`` under ``labels``; nothing for ``None``."""
        samples = self._out.get(name)  # None: a family not asked for
        if samples is not None and value is not None:
            samples.samples.append((labels, float(value)))

    def pack(self) -> None:
        """The samples so far are all there: a line sink joins its lines into a piece of
        text (:class:`LineSink`); values have nothing to do."""

    def rows(self, rows: Rows[V], labels: LabelValues, view: V) -> None:
        """Each of ``rows``' value of ``view``, under ``labels``."""
        for row in rows.rows:
            value = row.read(view)
            if value is not None:
                row.samples.append((labels, float(value)))


class LineSink(Sink):
    """Writes a sample's line to its family, if the family was asked for and has a value.

    A line's labels (``queue="billing",site="lon"} ``: by name, quoted, escaped) are written
    once per set of label values and label names: a queue's are those of every family
    read of its view, and of its totals and agents after. The lines go to a buffer per
    family (:func:`~callpulse.core.row_text.line_buffers`), joined into a piece of text by
    :meth:`pack`."""

    def __init__(
        self,
        out: dict[str, Samples],
        buffers: Callable[[list[str], list[list[str]]], Lines] = line_buffers,
    ) -> None:
        super().__init__(out)
        self._places = family_places(out)
        self._lines = buffers(
            [_head(samples.family) for samples in out.values()],
            [samples.lines for samples in out.values()],
        )
        self._texts: dict[tuple[str, ...], dict[LabelValues, str]] = {}
        self._key_names: tuple[str, ...] = ()
        # By label names, then by the extra value: what follows the key's labels on a line.
        self._tails: dict[tuple[str, ...], dict[str | None, str]] = {}

    def pack(self) -> None:
        # Every family's lines since the last pack joined into one piece of text, and the
        # buffers reused. In a render child, memory on a new page is a page fault (~4 us
        # here); the 400k lines of a scrape at 10k queues, each a string kept to the end,
        # were 54 MB of them.
        self._lines.pack()

    def key(self, names: tuple[str, ...], labels: LabelValues) -> None:
        # A queue's labels are written once for all its samples (40 at 10k queues), with a
        # tail per family's extra label value written once a scrape: kept in a dict by
        # label values, they had cost a lookup of a new tuple per sample.
        self._key = labels
        if names != self._key_names:
            self._key_names, self._tails = names, {}
        self._lines.key(label_pairs(names, labels))

    def key_add(self, name: str, value: Value, extra: str | None = None) -> None:
        samples = self._out.get(name)
        if samples is None or value is None:
            return
        tail = self._tail(samples.family.labels, extra)
        if tail:
            self._lines.key_line(self._places[name], tail, value)
        else:
            super().key_add(name, value, extra)

    def key_rows(self, rows: Rows[V], view: V, extra: str | None = None) -> None:
        if not rows.rows:
            return
        tail = self._tail(rows.labels, extra)
        if tail:
            self._lines.key_lines(rows.indices, tail, [read(view) for read in rows.reads])
        else:
            super().key_rows(rows, view, extra)

    def key_each(self, name: str, extras: tuple[str, ...], values: list[Value]) -> None:
        samples = self._out.get(name)
        if samples is None:
            return
        tails = [self._tail(samples.family.labels, extra) for extra in extras]
        if all(tails):
            self._lines.key_each(self._places[name], tails, values)
        else:
            super().key_each(name, extras, values)

    def _tail(self, names: tuple[str, ...], extra: str | None) -> str:
        """What follows the key's labels on a line of a family labelled ``names``, up to
        its value; empty where the family's labels are not the key's (and ``extra``'s
        label, which must sort after them: labels are written by name)."""
        tails = self._tails.get(names)
        if tails is None:
            tails = self._tails[names] = {}
        tail = tails.get(extra)
        if tail is None:
            key = self._key_names
            if not key:
                tail = ""
            elif extra is None:
                tail = "} " if names == key else ""
            elif names[:-1] == key and names[-1] > max(key):
                tail = f',{names[-1]}="{escape_value(extra)}"}} '
            else:
                tail = ""
            tails[extra] = tail
        return tail

    def add(self, name: str, labels: LabelValues, value: Value) -> None:
        samples = self._out.get(name)
        if samples is not None and value is not None:
            text = self._labels(samples.family.labels, labels)
            self._lines.line(self._places[name], text, value)

    def rows(self, rows: Rows[V], labels: LabelValues, view: V) -> None:
        if not rows.rows:
            return
        text = self._labels(rows.labels, labels)
        for row in rows.rows:
            value = row.read(view)
            if value is not None:
                self._lines.line(row.index, text, value)

    def _labels(self, names: tuple[str, ...], labels: LabelValues) -> str:
        """What follows the name on a line, up to the value."""
        known = self._texts.get(names)
        if known is None:
            known = self._texts[names] = {}
        text = known.get(labels)
        if text is None:
            text = known[labels] = f"{label_pairs(names, labels)}}} " if names else " "
        return text
