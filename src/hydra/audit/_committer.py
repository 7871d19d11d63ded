"""One commit round: everything pending across all streams, run by the committer thread.

Per stream: take the file lock, catch up with other processes, seal and append the
batch with one ``os.write``, fsync (unless the round uses one ``syncfs``), release the
lock. Never raises: every entry ends with either ``record`` (durable) or ``error`` set.
"""

from __future__ import annotations

import fcntl
import time
from dataclasses import dataclass, field
from pathlib import Path

from hydra.audit import _sync
from hydra.audit._encode import Pending
from hydra.audit._errors import AuditFatal, StreamDamaged
from hydra.audit._stream_file import StreamFile
from hydra.audit._sync import SyncPolicy


@dataclass(slots=True)
class Committed:
    """What one stream committed in a round (fed to ``on_commit`` and subscribers)."""

    stream: str
    records: list[dict[str, object]]
    nbytes: int
    sync_seconds: float


@dataclass(slots=True)
class RoundResult:
    committed: list[Committed] = field(default_factory=list)
    fatal: AuditFatal | None = None


def commit_round(
    work: dict[StreamFile, list[Pending]], policy: SyncPolicy, root: Path, root_fd: int
) -> RoundResult:
    """Commit ``work``; blocking, run by :class:`~hydra.audit._committer_thread.CommitterThread`."""
    result = RoundResult()
    use_syncfs = policy.use_syncfs(len(work))
    written: list[tuple[StreamFile, list[Pending], int, float]] = []
    for stream, entries in work.items():
        try:
            batch, nbytes, seconds = _commit_stream(stream, entries, sync=not use_syncfs)
        except StreamDamaged as exc:
            for entry in entries:
                entry.error = StreamDamaged(exc.report)
            continue
        except AuditFatal as exc:
            result.fatal = exc
            break
        except Exception as exc:  # noqa: BLE001 - any failure leaves the file position unknown
            result.fatal = AuditFatal("commit", stream.dir, exc)
            break
        written.append((stream, batch, nbytes, seconds))
    if use_syncfs and written and result.fatal is None:
        started = time.perf_counter()
        try:
            _sync.syncfs(root_fd)
        except OSError as exc:
            result.fatal = AuditFatal("syncfs", root, exc)
        seconds = time.perf_counter() - started
        written = [(stream, batch, nbytes, seconds) for stream, batch, nbytes, _ in written]
    if result.fatal is not None:
        if use_syncfs:
            written = []  # nothing of this round is known to be durable
        confirmed = {stream for stream, _, _, _ in written}
        for stream, entries in work.items():
            if stream not in confirmed:
                _fail(entries, result.fatal)
    for stream, batch, nbytes, seconds in written:
        records = [entry.record for entry in batch if entry.record is not None]
        result.committed.append(Committed(stream.name, records, nbytes, seconds))
    return result


def _commit_stream(
    stream: StreamFile, entries: list[Pending], *, sync: bool
) -> tuple[list[Pending], int, float]:
    """Lock, catch up (maybe prepending a repair record), append, maybe fsync, unlock."""
    if stream.damage is not None:
        raise StreamDamaged(stream.damage)
    lock_fd = stream.lock_fd
    fcntl.flock(lock_fd, fcntl.LOCK_EX)  # StreamFile.locked() inlined: this runs per stream
    try:
        repair = stream.catch_up()
        batch = entries if repair is None else [repair, *entries]
        nbytes, seconds = stream.write(batch, sync=sync)
    finally:
        fcntl.flock(lock_fd, fcntl.LOCK_UN)
    return batch, nbytes, seconds


def _fail(entries: list[Pending], fatal: AuditFatal) -> None:
    for entry in entries:
        if entry.error is None:
            entry.error = fatal
