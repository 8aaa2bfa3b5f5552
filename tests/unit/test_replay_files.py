"""Replayed files as people have them: gzip found by its bytes and read as it goes, every line
bounded however long it is or however much a small gzip inflates to."""

from __future__ import annotations

import asyncio
import gzip
import tracemalloc
from pathlib import Path

import pytest

from callpulse.config import ReplaySettings
from callpulse.sources.files import ReadError, head, lines, open_replay
from callpulse.sources.replay import ReplaySource

LINES = b'{"a": 1}\n\n  \n{"b": 2}\r\n{"c": 3}'


def read(path: Path, limit: int = 1024) -> list[tuple[int, bytes]]:
    with open_replay(path) as stream:
        return list(lines(stream, limit))


@pytest.mark.parametrize("name", ["plain.jsonl", "named.gz"])
def test_plain_lines_are_numbered_and_blank_ones_skipped(name: str, tmp_path: Path) -> None:
    path = tmp_path / name  # a .gz name on a plain file does not make it gzip
    path.write_bytes(LINES)
    assert read(path) == [(1, b'{"a": 1}'), (4, b'{"b": 2}'), (5, b'{"c": 3}')]


@pytest.mark.parametrize("name", ["rotated.gz", "queue_log.1"])
def test_gzip_is_found_by_its_bytes_whatever_the_name(name: str, tmp_path: Path) -> None:
    path = tmp_path / name
    path.write_bytes(gzip.compress(LINES))
    assert read(path) == [(1, b'{"a": 1}'), (4, b'{"b": 2}'), (5, b'{"c": 3}')]
    assert head(path, 8) == LINES[:8]


def test_a_line_past_the_limit_is_cut_to_be_refused_and_the_next_is_read(tmp_path: Path) -> None:
    path = tmp_path / "long"
    path.write_bytes(b"x" * 5000 + b"\nnext\n" + b"y" * 100 + b"\n")
    assert read(path, limit=100) == [(1, b"x" * 101), (2, b"next"), (3, b"y" * 100)]


def test_a_gzip_bomb_is_read_through_in_bounded_memory(tmp_path: Path) -> None:
    # 256 MiB of zeros on one line, then a record: 256 KiB on disk.
    path = tmp_path / "bomb.gz"
    with gzip.open(path, "wb", compresslevel=9) as out:
        block = b"\0" * (1 << 20)
        for _ in range(256):
            out.write(block)
        out.write(b"\n{}\n")
    assert path.stat().st_size < 1 << 20
    tracemalloc.start()
    try:
        got = read(path, limit=256 * 1024)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert [(n, len(line)) for n, line in got] == [(1, 256 * 1024 + 1), (2, 2)]
    assert peak < 8 << 20  # a line and the buffers, not the 256 MiB


def test_a_gzip_cut_short_raises_after_the_lines_before_it(tmp_path: Path) -> None:
    path = tmp_path / "cut.gz"
    whole = gzip.compress(b"".join(b'{"n": %d}\n' % n for n in range(20000)))
    path.write_bytes(whole[: len(whole) // 2])
    read_so_far: list[int] = []

    def read_all() -> None:
        with open_replay(path) as stream:
            read_so_far.extend(number for number, _ in lines(stream, 1024))

    with pytest.raises(ReadError, match="line"):
        read_all()
    assert read_so_far
    assert read_so_far == list(range(1, len(read_so_far) + 1))


def test_the_daemons_replay_reads_gzip_too(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl.gz"
    path.write_bytes(gzip.compress(LINES))

    async def fetched() -> list[tuple[int, bytes | None]]:
        source = ReplaySource(ReplaySettings(path=path), max_record_bytes=1024)
        await source.start()
        batch = await source.fetch()
        await source.stop()
        assert source.exhausted()
        return [(r.offset, r.value) for r in batch.records]

    assert asyncio.run(fetched()) == [(1, b'{"a": 1}'), (4, b'{"b": 2}'), (5, b'{"c": 3}')]
