"""What keeps an adapter's labels bounded whatever a producer sends: ignored kinds are
counted over a fixed list (:class:`Ignored`), so the label has a fixed set of values."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator, Mapping

OTHER = "_other"  # every ignored kind outside a format's list


class Ignored(Mapping[str, int]):
    """Well-formed records of a kind events v1 has no use for, counted by kind: the kinds of
    ``known`` by name, any other as :data:`OTHER`, so a producer cannot make new series."""

    def __init__(self, known: Iterable[str]) -> None:
        self.known = frozenset(known)
        self._counts: Counter[str] = Counter()

    def add(self, kind: str) -> None:
        """Count one record of ``kind``."""
        self._counts[kind if kind in self.known else OTHER] += 1

    def __getitem__(self, kind: str) -> int:
        if kind not in self._counts:  # a Counter would say 0, and ``in`` would be true
            raise KeyError(kind)
        return self._counts[kind]

    def __iter__(self) -> Iterator[str]:
        return iter(self._counts)

    def __len__(self) -> int:
        return len(self._counts)

    def __repr__(self) -> str:
        return f"Ignored({dict(self._counts)!r})"
