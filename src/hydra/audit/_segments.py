"""The on-disk layout: ``<root>/<stream>/NNNNNNNN.jsonl`` segments, ``.lock``, ``.broken``.

Plain blocking helpers (the async writer calls them from its worker thread). Every
function that creates a directory entry fsyncs the directory holding it.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

from hydra.audit._encode import check_stream_name

_SEGMENT = re.compile(r"(\d{8})\.jsonl")
LOCK_NAME = ".lock"
_READ_CHUNK = 1 << 20
_REVERSE_CHUNK = 1 << 16


def stream_dir(root: Path | str, stream: str) -> Path:
    """The directory of ``stream`` (validates the name)."""
    return Path(root) / check_stream_name(stream)


def segment_name(number: int) -> str:
    return f"{number:08d}.jsonl"


def list_segments(directory: Path) -> list[tuple[int, Path]]:
    """``(number, path)`` of every segment in ``directory``, in order (``[]`` if none)."""
    try:
        entries = list(directory.iterdir())
    except FileNotFoundError:
        return []
    found = []
    for path in entries:
        match = _SEGMENT.fullmatch(path.name)
        if match is not None:
            found.append((int(match.group(1)), path))
    found.sort()
    return found


def fsync_dir(directory: Path | str) -> None:
    """Make the entries of ``directory`` durable (after a create, rename or unlink)."""
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def ensure_dir(directory: Path) -> None:
    """Create ``directory`` (and missing parents), fsyncing each parent that changed."""
    if directory.is_dir():
        return
    ensure_dir(directory.parent)
    try:
        directory.mkdir()
    except FileExistsError:
        return
    fsync_dir(directory.parent)


def create_segment(directory: Path, number: int) -> int:
    """Create segment ``number`` (``O_EXCL``), fsync the directory, return an append fd."""
    flags = os.O_RDWR | os.O_APPEND | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC
    fd = os.open(directory / segment_name(number), flags, 0o644)
    try:
        fsync_dir(directory)
    except BaseException:
        os.close(fd)
        raise
    return fd


def open_segment(path: Path) -> int:
    """Open an existing segment for reading (``pread``) and appending."""
    return os.open(path, os.O_RDWR | os.O_APPEND | os.O_CLOEXEC)


def read_at(fd: int, offset: int, size: int) -> bytes:
    """Read exactly the bytes ``[offset, offset + size)`` (less only at end of file)."""
    parts = []
    while size > 0:
        chunk = os.pread(fd, min(size, 64 << 20), offset)
        if not chunk:
            break
        parts.append(chunk)
        offset += len(chunk)
        size -= len(chunk)
    return b"".join(parts)


def broken_path(segment: Path) -> Path:
    """A fresh ``<segment>.<UTC timestamp>.broken`` path next to ``segment``."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S.%fZ")
    candidate = segment.with_name(f"{segment.name}.{stamp}.broken")
    serial = 1
    while candidate.exists():
        candidate = segment.with_name(f"{segment.name}.{stamp}-{serial}.broken")
        serial += 1
    return candidate


def read_first_line(path: Path) -> bytes | None:
    """The first complete line of ``path`` (without ``\\n``), or ``None``."""
    try:
        handle = path.open("rb")
    except FileNotFoundError:
        return None
    with handle:
        data = b""
        while chunk := handle.read(_REVERSE_CHUNK):
            data += chunk
            newline = data.find(b"\n")
            if newline >= 0:
                return data[:newline]
    return None


def iter_lines(path: Path, offset: int = 0) -> Iterator[tuple[int, bytes]]:
    """``(offset, line)`` for every ``\\n``-terminated line from ``offset`` on.

    A trailing partial line (a write in progress, or a torn tail) is not yielded.
    """
    with path.open("rb") as handle:
        handle.seek(offset)
        carry = b""
        while chunk := handle.read(_READ_CHUNK):
            data = carry + chunk if carry else chunk
            start = 0
            newline = data.find(b"\n")
            while newline >= 0:
                yield offset + start, data[start:newline]
                start = newline + 1
                newline = data.find(b"\n", start)
            offset += start
            carry = data[start:]


def iter_lines_reverse(fd: int, end: int) -> Iterator[tuple[int, bytes]]:
    """``(offset, line)`` of the complete lines before ``end``, last line first.

    Reads backwards in 64 KiB chunks, so finding the last few records is O(tail).
    """
    pos = end
    carry = b""  # start of a line whose beginning lies before ``pos``
    trailing = True  # bytes after the last newline are a partial line: skip them
    while pos > 0:
        start = max(0, pos - _REVERSE_CHUNK)
        data = read_at(fd, start, pos - start) + carry
        pos = start
        if trailing:
            cut = data.rfind(b"\n")
            if cut < 0:
                carry = b""
                continue
            data = data[: cut + 1]
            trailing = False
        parts = data.split(b"\n")
        line_end = start + len(data) - 1  # offset of the newline ending parts[-2]
        for part in reversed(parts[1:-1]):
            line_end -= len(part)
            yield line_end, part
            line_end -= 1
        carry = parts[0] + b"\n" if len(parts) > 1 else data
        if start == 0 and len(parts) > 1:
            yield 0, parts[0]
