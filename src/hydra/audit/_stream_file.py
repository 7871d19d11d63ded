"""One stream's files as seen by one writer process (blocking; runs in a worker thread).

All state changes happen with the stream's ``.lock`` held, taken once per batch in the
committer's worker thread, so appenders in different processes are serialised and never
interleave. The lock is an exclusive ``flock`` on a descriptor kept open for the life of the
stream: the very primitive ``filelock`` uses on POSIX, so a ``filelock.FileLock`` on that path
(the CLI's offline tools use one) excludes us and vice versa (tested). We do not go through
``filelock`` itself on this path: its per-acquire work (path resolution, registry checks,
polling a non-blocking lock) cost ~200 us per batch, about as much as the fsync it guards, and
contended waits would poll instead of blocking. Before every write the writer *catches up* with
what other processes did since it last held the lock.
"""

from __future__ import annotations

import fcntl
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from hydra.audit._encode import Pending, make_pending, record_prefix, seal
from hydra.audit._errors import AuditFatal, DamageReport, StreamDamaged
from hydra.audit._scan import Scan, check_line, line_number_at, scan
from hydra.audit._segments import (
    LOCK_NAME,
    broken_path,
    create_segment,
    ensure_dir,
    fsync_dir,
    iter_lines_reverse,
    list_segments,
    open_segment,
    read_at,
    segment_name,
    stream_dir,
)

DEFAULT_SEGMENT_MAX_BYTES = 16 * 1024 * 1024


class StreamFile:
    """Position (segment, size, seq, hash) of a stream plus the blocking operations on it."""

    def __init__(self, root: Path, name: str, *, segment_max_bytes: int) -> None:
        self.dir = stream_dir(root, name)
        self.name = name
        self.max_bytes = segment_max_bytes
        self.prefix = record_prefix(name)
        self.lock_fd = -1
        self.fd = -1
        self.number = 0
        self.path = self.dir / segment_name(1)
        self.size = 0
        self.last_seq = 0
        self.last_hash: str | None = None
        self.damage: DamageReport | None = None
        self._path_str = ""
        self._next_path = ""
        self._inode = 0

    @classmethod
    def open(
        cls, root: Path, name: str, *, segment_max_bytes: int
    ) -> tuple[StreamFile, list[dict[str, object]]]:
        """Open, validate and (tail-)repair ``name``; returns the records the repair wrote."""
        stream = cls(root, name, segment_max_bytes=segment_max_bytes)
        written: list[dict[str, object]] = []
        try:
            stream.open_lock()
            with stream.locked():
                repair = stream.load()
                if repair is not None:
                    stream.write([repair], sync=True)
                    written.append(repair.record)  # type: ignore[arg-type]  # set by write
        except BaseException:
            stream.close()
            raise
        return stream, written

    def open_lock(self) -> None:
        ensure_dir(self.dir)
        flags = os.O_RDWR | os.O_CREAT | os.O_CLOEXEC
        self.lock_fd = os.open(self.dir / LOCK_NAME, flags, 0o644)

    @contextmanager
    def locked(self) -> Iterator[None]:
        fcntl.flock(self.lock_fd, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(self.lock_fd, fcntl.LOCK_UN)

    def close(self) -> None:
        for fd in (self.fd, self.lock_fd):
            if fd >= 0:
                os.close(fd)
        self.fd = self.lock_fd = -1

    def adopt(self, number: int, fd: int, *, size: int, seq: int, prev: str | None) -> None:
        if self.fd >= 0 and self.fd != fd:
            os.close(self.fd)
        self.number, self.fd, self.size = number, fd, size
        self.path = self.dir / segment_name(number)
        self._path_str = str(self.path)
        self._next_path = str(self.dir / segment_name(number + 1))
        self._inode = os.fstat(fd).st_ino
        self.last_seq, self.last_hash = seq, prev

    # ------------------------------------------------------------- validation and repair
    def load(self) -> Pending | None:
        """(Re)read the stream's position from disk; caller holds the lock."""
        segments = list_segments(self.dir)
        if not segments:
            self.adopt(1, create_segment(self.dir, 1), size=0, seq=0, prev=None)
            return None
        seq, prev = self._last_before(segments[:-1])
        number, path = segments[-1]
        fd = open_segment(path)
        self.adopt(number, fd, size=0, seq=seq, prev=prev)
        if self.damage is not None:
            return None
        data = read_at(fd, 0, os.fstat(fd).st_size)
        return self._settle(scan(data, self.name, seq=seq, prev=prev), 0, len(data))

    def _last_before(self, segments: list[tuple[int, Path]]) -> tuple[int, str | None]:
        """Seq and hash of the last record of the rotated ``segments`` (whose tail we check)."""
        for _number, path in reversed(segments):
            fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
            try:
                size = os.fstat(fd).st_size
                if size == 0:
                    continue
                if read_at(fd, size - 1, 1) != b"\n":
                    self._mark(path, fd, size, "torn last line in a rotated segment")
                    return 0, None
                offset, line = next(iter_lines_reverse(fd, size))
                record, reason = check_line(line, self.name)
                if reason is not None or record is None:
                    self._mark(path, fd, offset, reason or "invalid record")
                    return 0, None
                return record["seq"], record["hash"]  # type: ignore[return-value]
            finally:
                os.close(fd)
        return 0, None

    def _mark(self, path: Path, fd: int, offset: int, reason: str) -> None:
        line = line_number_at(read_at(fd, 0, offset), offset)
        self.damage = DamageReport(self.name, path, line, offset, reason)

    def _settle(self, result: Scan, base: int, end: int) -> Pending | None:
        """Adopt the valid prefix of a scan of ``[base, end)``; mark or cut what follows."""
        self.size = base + result.end
        self.last_seq, self.last_hash = result.last_seq, result.last_hash
        if result.reason is None:
            return None
        if result.valid_after:
            self._mark(self.path, self.fd, self.size, result.reason)
            return None
        broken, dropped = self.cut_tail(self.size, end)
        return repaired_entry(self.path, self.size, dropped, broken, result.reason)

    def cut_tail(self, offset: int, end: int) -> tuple[Path, int]:
        """Move the bytes ``[offset, end)`` of the active segment to a ``.broken`` file."""
        target = broken_path(self.path)
        tail = read_at(self.fd, offset, end - offset)
        out = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o644)
        try:
            view = memoryview(tail)
            while view:
                view = view[os.write(out, view) :]
            os.fsync(out)
        finally:
            os.close(out)
        fsync_dir(self.dir)
        os.ftruncate(self.fd, offset)
        os.fsync(self.fd)
        self.size = offset
        return target, len(tail)

    def catch_up(self) -> Pending | None:
        """Learn what other processes appended since we last held the lock.

        Two ``stat`` calls when nothing changed: the active segment (still our inode? same
        size?) and the next segment's name (rotated by someone else?).
        """
        try:
            status = os.stat(self._path_str)  # noqa: PTH116 - hot path, str is cheaper
        except FileNotFoundError:  # moved aside (a forced repair): start over
            status = None
        rotated = os.access(self._next_path, os.F_OK)  # hot path: no exception when absent
        moved = status is None or status.st_ino != self._inode
        size = 0 if status is None else status.st_size
        if size == self.size and not rotated and not moved:
            return None
        if size > self.size and not rotated and not moved:
            data = read_at(self.fd, self.size, size - self.size)
            result = scan(data, self.name, seq=self.last_seq, prev=self.last_hash)
            repair = self._settle(result, self.size, size)
        else:
            repair = self.load()
        if self.damage is not None:
            raise StreamDamaged(self.damage)
        return repair

    # ------------------------------------------------------------- appending
    def write(self, entries: list[Pending], *, sync: bool) -> tuple[int, float]:
        """Seal and append ``entries``; fsync if ``sync``. Returns bytes and sync seconds.

        Caller holds the lock. Raises :class:`AuditFatal` if a write, fsync or segment
        creation fails; the stream's position is then unknown and must not be used again.
        """
        prefix, name, limit = self.prefix, self.name, self.max_bytes
        seq, prev = self.last_seq, self.last_hash
        used, total, sync_seconds = self.size, 0, 0.0
        lines: list[bytes] = []
        for entry in entries:
            seq += 1
            line, prev = seal(prefix, seq, entry, prev, name)
            if used + len(line) > limit and used > 0:
                if lines:
                    self._append(lines)
                    lines = []
                sync_seconds += self._rotate()
                used = 0
            lines.append(line)
            used += len(line)
            total += len(line)
        if lines:
            self._append(lines)
        self.last_seq, self.last_hash = seq, prev
        if sync:
            sync_seconds += self.fsync()
        return total, sync_seconds

    def _append(self, lines: list[bytes]) -> None:
        view = memoryview(lines[0] if len(lines) == 1 else b"".join(lines))
        try:
            while view:
                written = os.write(self.fd, view)
                self.size += written
                view = view[written:]
        except OSError as exc:
            raise AuditFatal("write", self.path, exc) from exc

    def fsync(self) -> float:
        started = time.perf_counter()
        try:
            os.fsync(self.fd)
        except OSError as exc:
            raise AuditFatal("fsync", self.path, exc) from exc
        return time.perf_counter() - started

    def _rotate(self) -> float:
        """Sync the full segment, then start the next one (fsyncing the directory)."""
        seconds = self.fsync()
        path = self.dir / segment_name(self.number + 1)
        try:
            fd = create_segment(self.dir, self.number + 1)
        except OSError as exc:
            raise AuditFatal("segment creation", path, exc) from exc
        self.adopt(self.number + 1, fd, size=0, seq=self.last_seq, prev=self.last_hash)
        return seconds


def repaired_entry(
    segment: Path, offset: int, dropped: int, broken: Path, reason: str, **extra: object
) -> Pending:
    """The ``audit.repaired`` record that documents a repair."""
    payload: dict[str, object] = {
        "segment": segment.name,
        "offset": offset,
        "dropped_bytes": dropped,
        "broken_file": broken.name,
        "reason": reason,
        **extra,
    }
    return make_pending("audit.repaired", "audit", payload, None, None)
