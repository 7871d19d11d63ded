"""``force_repair``: the operator's escape hatch for a damaged stream.

Run it with no daemon appending (``hydra audit repair --force``). It takes the stream's
file lock, finds the first invalid line anywhere in the stream, moves everything from
there on to ``.broken`` files (the rest of that segment, and every later segment whole),
truncates, and appends an ``audit.repaired`` record with ``forced: true``. Nothing is
deleted: the moved bytes stay next to the stream for a human to inspect.
"""

from __future__ import annotations

import os
from pathlib import Path

from hydra.audit._errors import RepairReport
from hydra.audit._scan import scan
from hydra.audit._segments import broken_path, fsync_dir, open_segment, read_at
from hydra.audit._segments import list_segments as _list_segments
from hydra.audit._stream_file import DEFAULT_SEGMENT_MAX_BYTES, StreamFile, repaired_entry


def force_repair(
    root: Path | str, stream: str, *, segment_max_bytes: int = DEFAULT_SEGMENT_MAX_BYTES
) -> RepairReport:
    """Cut ``stream`` at its first damage and record the cut; see the module docstring.

    Returns a report with ``repaired=False`` (and changes nothing) if the stream is
    valid. Raises ``FileNotFoundError`` if the stream does not exist.
    """
    file = StreamFile(Path(root), stream, segment_max_bytes=segment_max_bytes)
    if not file.dir.is_dir():
        raise FileNotFoundError(f"no audit stream {stream!r} under {root}")
    file.open_lock()
    try:
        with file.locked():
            return _repair(file)
    finally:
        file.close()


def _repair(file: StreamFile) -> RepairReport:
    segments = _list_segments(file.dir)
    seq, prev = 0, None
    for index, (number, path) in enumerate(segments):
        fd = open_segment(path)
        data = read_at(fd, 0, os.fstat(fd).st_size)
        result = scan(data, file.name, seq=seq, prev=prev)
        if result.reason is None:
            os.close(fd)
            seq, prev = result.last_seq, result.last_hash
            continue
        file.adopt(number, fd, size=len(data), seq=result.last_seq, prev=result.last_hash)
        broken, dropped = file.cut_tail(result.end, len(data))
        moved = [broken]
        for _, later in segments[index + 1 :]:
            dropped += later.stat().st_size
            target = broken_path(later)
            later.rename(target)
            moved.append(target)
        if len(moved) > 1:
            fsync_dir(file.dir)
        entry = repaired_entry(
            path,
            result.end,
            dropped,
            broken,
            result.reason,
            forced=True,
            broken_files=[item.name for item in moved],
        )
        file.write([entry], sync=True)
        return RepairReport(
            stream=file.name,
            repaired=True,
            segment=path,
            offset=result.end,
            reason=result.reason,
            dropped_bytes=dropped,
            broken_files=tuple(moved),
            record=entry.record,
        )
    return RepairReport(stream=file.name, repaired=False)
