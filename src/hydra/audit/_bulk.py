"""``bulk_append``: write many records at once from blocking code (imports, tools, tests).

Same format, chaining, locking, rotation and validation as :class:`AuditLog`, but it
commits in large batches (one write + one fsync per ``batch_bytes``), so building a
million-record stream takes seconds instead of a million fsyncs. Safe to run while a
daemon appends to the same stream: both serialise on the stream's lock.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path

from hydra.audit._encode import Pending, Redact, make_pending
from hydra.audit._errors import StreamDamaged
from hydra.audit._stream_file import DEFAULT_SEGMENT_MAX_BYTES, StreamFile

BulkEntry = tuple[str, str, Mapping[str, object] | None, str | None]
"""``(action, actor, payload, run)``."""


def bulk_append(
    root: Path | str,
    stream: str,
    entries: Iterable[BulkEntry],
    *,
    segment_max_bytes: int = DEFAULT_SEGMENT_MAX_BYTES,
    batch_bytes: int = 8 << 20,
    redact: Redact | None = None,
) -> int:
    """Append ``entries`` to ``stream``; returns the seq of the last record written.

    Each batch is durable when the next one starts; on return everything is. Raises
    :class:`StreamDamaged` if the stream is damaged, ``TypeError`` for a bad entry
    (earlier batches stay written), ``OSError`` if the disk fails.
    """
    file, _ = StreamFile.open(Path(root), stream, segment_max_bytes=segment_max_bytes)
    try:
        if file.damage is not None:
            raise StreamDamaged(file.damage)
        batch: list[Pending] = []
        size = 0
        for action, actor, payload, run in entries:
            entry = make_pending(action, actor, payload, run, redact)
            batch.append(entry)
            size += len(entry.middle) + 200
            if size >= batch_bytes:
                _commit(file, batch)
                batch, size = [], 0
        if batch:
            _commit(file, batch)
        return file.last_seq
    finally:
        file.close()


def _commit(file: StreamFile, batch: list[Pending]) -> None:
    with file.locked():
        repair = file.catch_up()
        file.write(batch if repair is None else [repair, *batch], sync=True)
