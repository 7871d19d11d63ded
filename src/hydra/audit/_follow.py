"""``follow``: a blocking generator of the records other processes append (``tail -f``)."""

from __future__ import annotations

import os
import threading
from collections.abc import Generator
from pathlib import Path

from hydra.audit._filter import RecordFilter
from hydra.audit._scan import check_line
from hydra.audit._segments import (
    iter_lines_reverse,
    list_segments,
    read_at,
    segment_name,
    stream_dir,
)

Record = dict[str, object]


def follow(
    root: Path | str,
    stream: str,
    *,
    filter: RecordFilter | None = None,
    poll_interval: float = 0.25,
    from_end: bool = True,
    stop: threading.Event | None = None,
) -> Generator[Record, None, None]:
    """Yield records of ``stream`` as they are appended, across segment rotation.

    ``from_end=True`` skips the records present when ``follow`` is called (the position
    is taken at call time, not at the first ``next``); ``False`` replays the whole stream
    first. If the stream does not exist yet, it waits for it and yields everything.
    Only complete, valid lines are yielded, each seq at most once: at a torn or damaged
    line it waits for the writer's repair and re-reads the segment. Polls every
    ``poll_interval`` seconds until the consumer closes the generator or ``stop`` is
    set; call it from a thread in async code.
    """
    directory = stream_dir(root, stream)
    start = None
    if segments := list_segments(directory):
        number, path = segments[-1] if from_end else segments[0]
        pos, last_seq = _end_of_last_record(path, stream) if from_end else (0, 0)
        start = (number, pos, last_seq)
    stop = threading.Event() if stop is None else stop
    return _follow(directory, stream, start, filter=filter, poll_interval=poll_interval, stop=stop)


def _follow(
    directory: Path,
    stream: str,
    start: tuple[int, int, int] | None,
    *,
    filter: RecordFilter | None,
    poll_interval: float,
    stop: threading.Event,
) -> Generator[Record, None, None]:
    while start is None:
        if segments := list_segments(directory):
            start = (segments[0][0], 0, 0)
        elif stop.wait(poll_interval):
            return
    cursor = _Cursor(directory, stream, *start)
    try:
        while not stop.is_set():
            records = cursor.read_new()
            for record in records:
                if filter is None or filter.matches(record):
                    yield record
            if not cursor.progressed and not cursor.next_segment() and stop.wait(poll_interval):
                return
    finally:
        cursor.close()


class _Cursor:
    """Position in one segment: the offset after the last valid line, and its seq."""

    def __init__(self, directory: Path, stream: str, number: int, pos: int, seq: int) -> None:
        self.directory, self.stream = directory, stream
        self.number, self.pos, self.last_seq = number, pos, seq
        self.fd = os.open(directory / segment_name(number), os.O_RDONLY | os.O_CLOEXEC)
        self.stalled_at: int | None = None  # file size when we stopped at an invalid line
        self.progressed = False

    def read_new(self) -> list[Record]:
        """Valid complete lines after ``pos``; stops at the first invalid one."""
        size = os.fstat(self.fd).st_size
        if size < self.pos or (self.stalled_at is not None and size != self.stalled_at):
            self.pos, self.stalled_at = 0, None  # cut or rewritten: re-read, seq dedups
        self.progressed = False
        if size <= self.pos:
            return []
        data = read_at(self.fd, self.pos, size - self.pos)
        records, start = [], 0
        self.stalled_at = None
        while (newline := data.find(b"\n", start)) >= 0:
            record, reason = check_line(data[start:newline], self.stream)
            if reason is not None or record is None:
                self.stalled_at = size  # a torn tail awaiting repair, or damage
                break
            start = newline + 1
            seq = record["seq"]
            if type(seq) is int and seq > self.last_seq:
                self.last_seq = seq
                records.append(record)
        self.pos += start
        self.progressed = start > 0
        return records

    def next_segment(self) -> bool:
        """Move to the next segment once this one is drained (or stuck); True if moved."""
        later = [item for item in list_segments(self.directory) if item[0] > self.number]
        if not later:
            return False
        stuck = self.stalled_at is not None
        if not stuck and os.fstat(self.fd).st_size > self.pos:
            return True  # written to before the rotation: read the rest first
        os.close(self.fd)
        self.fd = -1
        self.number = later[0][0]
        self.fd = os.open(later[0][1], os.O_RDONLY | os.O_CLOEXEC)
        self.pos, self.stalled_at = 0, None
        return True

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1


def _end_of_last_record(path: Path, stream: str) -> tuple[int, int]:
    """Offset after the last valid line of ``path`` and its seq (``(0, 0)`` if none)."""
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        for offset, line in iter_lines_reverse(fd, os.fstat(fd).st_size):
            record, reason = check_line(line, stream)
            if reason is None and record is not None:
                return offset + len(line) + 1, int(record["seq"])  # type: ignore[call-overload]
    finally:
        os.close(fd)
    return 0, 0
