"""Reading streams: listing, forward and backward iteration (blocking, no anyio).

Readers take no lock: writers only ever append whole lines (or cut a torn tail), so a
reader sees a prefix of the stream plus at most one partial last line, which it skips.
Lines that are not JSON objects are skipped too; ``verify`` is the tool that reports them.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import orjson

from hydra.audit._encode import is_stream_name
from hydra.audit._filter import RecordFilter
from hydra.audit._segments import (
    iter_lines,
    iter_lines_reverse,
    list_segments,
    read_first_line,
    stream_dir,
)

Record = dict[str, object]


@dataclass(frozen=True, slots=True)
class StreamInfo:
    """A stream on disk. ``first_seq``/``last_seq`` are ``None`` for an empty stream."""

    name: str
    segments: tuple[Path, ...]
    total_bytes: int
    first_seq: int | None
    last_seq: int | None


def list_streams(root: Path | str) -> list[StreamInfo]:
    """Every stream under ``root``, by name; reads one line at each end of a stream."""
    root = Path(root)
    try:
        entries = sorted(root.iterdir())
    except FileNotFoundError:
        return []
    found = []
    for entry in entries:
        name = entry.name
        if not is_stream_name(name) or not entry.is_dir():
            continue
        segments = [path for _, path in list_segments(entry)]
        total = sum(path.stat().st_size for path in segments)
        found.append(
            StreamInfo(name, tuple(segments), total, _first_seq(segments), _last_seq(segments))
        )
    return found


def iter_records(
    root: Path | str,
    stream: str,
    *,
    start_seq: int | None = None,
    filter: RecordFilter | None = None,
) -> Iterator[Record]:
    """Records of ``stream`` in order, from ``start_seq`` on, that match ``filter``."""
    segments = [path for _, path in list_segments(stream_dir(root, stream))]
    if start_seq is not None:
        segments = segments[_segment_holding(segments, start_seq) :]
    for path in segments:
        for record in _parse(line for _, line in iter_lines(path)):
            if start_seq is not None:
                seq = record.get("seq")
                if type(seq) is not int or seq < start_seq:
                    continue
            if filter is None or filter.matches(record):
                yield record


def iter_records_reverse(
    root: Path | str,
    stream: str,
    *,
    filter: RecordFilter | None = None,
) -> Iterator[Record]:
    """Records of ``stream`` from the newest backwards; reads in chunks, O(what you take)."""
    for _, path in reversed(list_segments(stream_dir(root, stream))):
        try:
            fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
        except FileNotFoundError:
            continue
        try:
            lines = iter_lines_reverse(fd, os.fstat(fd).st_size)
            for record in _parse(line for _, line in lines):
                if filter is None or filter.matches(record):
                    yield record
        finally:
            os.close(fd)


def last_record(
    root: Path | str,
    stream: str,
    predicate: Callable[[Record], bool] | None = None,
) -> Record | None:
    """The newest record for which ``predicate`` holds (any record if ``None``)."""
    for record in iter_records_reverse(root, stream):
        if predicate is None or predicate(record):
            return record
    return None


def _parse(lines: Iterable[bytes]) -> Iterator[Record]:
    loads, decode_error = orjson.loads, orjson.JSONDecodeError
    for line in lines:
        try:
            record = loads(line)
        except decode_error:
            continue
        if type(record) is dict:
            yield record


def _seq_of(line: bytes | None) -> int | None:
    record = next(_parse(() if line is None else (line,)), None)
    seq = None if record is None else record.get("seq")
    return seq if type(seq) is int else None


def _first_seq(segments: list[Path]) -> int | None:
    for path in segments:
        if (seq := _seq_of(read_first_line(path))) is not None:
            return seq
    return None


def _last_seq(segments: list[Path]) -> int | None:
    for path in reversed(segments):
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
        try:
            for _, line in iter_lines_reverse(fd, os.fstat(fd).st_size):
                if (seq := _seq_of(line)) is not None:
                    return seq
        finally:
            os.close(fd)
    return None


def _segment_holding(segments: list[Path], seq: int) -> int:
    """Index of the last segment whose first record has a seq <= ``seq`` (else 0)."""
    for index in range(len(segments) - 1, -1, -1):
        first = _seq_of(read_first_line(segments[index]))
        if first is not None and first <= seq:
            return index
    return 0
