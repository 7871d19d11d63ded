"""``query``: the engine of ``hydra audit query`` (raw JSON lines out, jq-compatible).

Each segment is memory-mapped and searched at C speed for the filter's byte needles
(:meth:`RecordFilter.needles`): the writer's fixed serialisation makes
``"action":"X"`` a *necessary* condition for action ``X``, so lines without any needle
are skipped without being parsed. Every candidate line is then parsed and checked with
:meth:`RecordFilter.matches`: a record is written iff it matches. Lines that are not
JSON objects, and a trailing partial line, are never written.
"""

from __future__ import annotations

import mmap
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

import orjson

from hydra.audit._filter import RecordFilter
from hydra.audit._segments import list_segments, stream_dir

_FLUSH_BYTES = 1 << 16
_TS = b',"ts":"'


def query(
    root: Path | str,
    stream: str,
    filter: RecordFilter | None = None,
    *,
    limit: int | None = None,
    out: BinaryIO,
) -> int:
    """Write the records of ``stream`` matching ``filter`` to ``out``; returns how many.

    Records are written in stream order as the exact line bytes (``\\n``-terminated),
    at most ``limit`` of them.
    """
    flt = RecordFilter() if filter is None else filter
    remaining = -1 if limit is None else limit
    needles = flt.needles()
    if remaining == 0 or needles == ():
        return 0
    written = 0
    for _, path in list_segments(stream_dir(root, stream)):
        written += _query_segment(path, flt, needles, remaining - written, out)
        if written == remaining:
            break
    return written


def _query_segment(
    path: Path, flt: RecordFilter, needles: tuple[bytes, ...] | None, limit: int, out: BinaryIO
) -> int:
    try:
        handle = path.open("rb")
    except FileNotFoundError:  # cut away by a forced repair while we listed
        return 0
    with handle:
        size = os.fstat(handle.fileno()).st_size
        if size == 0:
            return 0
        with mmap.mmap(handle.fileno(), size, access=mmap.ACCESS_READ) as data:
            end = data.rfind(b"\n") + 1  # ignore a partial last line
            return _emit(data, _candidates(data, end, needles), flt, limit, out)


def _emit(
    data: mmap.mmap,
    spans: Iterator[tuple[int, int]],
    flt: RecordFilter,
    limit: int,
    out: BinaryIO,
) -> int:
    loads, decode_error, matches = orjson.loads, orjson.JSONDecodeError, flt.matches
    required = flt.required()
    since, until = _ts_bounds(flt)
    written, buffered, pending = 0, 0, []
    for start, stop in spans:
        line = data[start : stop + 1]
        if required and not all(item in line for item in required):
            continue
        if since is not None or until is not None:
            at = line.find(_TS) + 7
            stamp = line[at : at + 27]
            if at > 6 and (
                (since is not None and stamp < since) or (until is not None and stamp >= until)
            ):
                continue
        try:
            record = loads(line)
        except decode_error:
            continue
        if type(record) is not dict or not matches(record):
            continue
        pending.append(line)
        buffered += len(line)
        written += 1
        if buffered >= _FLUSH_BYTES:
            out.write(b"".join(pending))
            pending, buffered = [], 0
        if written == limit:
            break
    if pending:
        out.write(b"".join(pending))
    return written


def _ts_bounds(flt: RecordFilter) -> tuple[bytes | None, bytes | None]:
    """The filter's time bounds as line bytes (a pre-check; ``matches`` decides)."""
    since, until = flt.since_text, flt.until_text
    return (
        None if since is None else since.encode(),
        None if until is None else until.encode(),
    )


def _candidates(
    data: mmap.mmap, end: int, needles: tuple[bytes, ...] | None
) -> Iterator[tuple[int, int]]:
    """``(start, newline)`` of every line before ``end`` that may match."""
    find, rfind = data.find, data.rfind
    pos = 0
    if needles is None:
        while pos < end:
            stop = find(b"\n", pos, end)
            yield pos, stop
            pos = stop + 1
        return
    if len(needles) == 1:
        needle = needles[0]
        while (hit := find(needle, pos, end)) >= 0:
            before = rfind(b"\n", pos, hit)
            stop = find(b"\n", hit, end)
            yield (pos if before < 0 else before + 1), stop
            pos = stop + 1
        return
    search = re.compile(b"|".join(re.escape(needle) for needle in needles)).search
    while (match := search(data, pos, end)) is not None:
        hit = match.start()
        before = rfind(b"\n", pos, hit)
        stop = find(b"\n", hit, end)
        yield (pos if before < 0 else before + 1), stop
        pos = stop + 1
