"""``AuditLog``: the per-process owner of the audit streams under one root.

Group commit: ``append()`` serialises its record on the event loop, queues it and waits.
One committer task serves every stream: each round it takes everything queued across all
streams and commits it in ONE worker-thread call (:func:`commit_round`): per stream one
locked ``os.write`` of the whole batch, then fsync per file or one ``syncfs`` (see
:mod:`hydra.audit._sync`). While a round is on disk the next one accumulates, so N
concurrent appenders share a sync instead of queueing for N of them.

Failure model: a failed write/sync sets ``fatal`` (never retried), fails the waiting and
all later appends with it, and releases ``wait_fatal()``. Rounds run shielded from
cancellation, so a cancelled appender never tears a batch: its record still commits.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from contextlib import AbstractContextManager
from functools import partial
from pathlib import Path
from types import TracebackType
from typing import Literal, Self

import anyio
from anyio.abc import TaskGroup

from hydra.audit._committer import Committed, commit_round
from hydra.audit._encode import Pending, Redact, check_stream_name
from hydra.audit._errors import AuditFatal
from hydra.audit._segments import ensure_dir
from hydra.audit._stream import AuditStream
from hydra.audit._stream_file import DEFAULT_SEGMENT_MAX_BYTES, StreamFile
from hydra.audit._subscription import Fanout, Subscription
from hydra.audit._sync import DEFAULT_SYNCFS_MIN_FILES, SyncMode, SyncPolicy

OnCommit = Callable[[str, int, int, float], None]
"""``on_commit(stream, records, nbytes, sync_seconds)``, called on the event loop."""

logger = logging.getLogger(__name__)


class AuditLog:
    """Durable, hash-chained JSONL audit streams under ``root`` (one instance per process).

    Use as ``async with AuditLog(root) as log: stream = await log.stream("control")``.
    Entering starts the committer task; leaving flushes every pending append, then closes
    the files. ``redact`` maps each payload before serialisation (secret scrubbing);
    ``on_commit`` receives per-stream metrics after each round.
    """

    fatal: BaseException | None
    _wake: anyio.Event
    _done: anyio.Event
    _fatal_event: anyio.Event
    _tasks: TaskGroup
    _limiter: anyio.CapacityLimiter  # our own thread token: never starved by other to_thread users

    def __init__(
        self,
        root: Path | str,
        *,
        segment_max_bytes: int = DEFAULT_SEGMENT_MAX_BYTES,
        redact: Redact | None = None,
        on_commit: OnCommit | None = None,
        sync: SyncMode = "auto",
        syncfs_min_files: int = DEFAULT_SYNCFS_MIN_FILES,
    ) -> None:
        if segment_max_bytes < 1:
            raise ValueError("segment_max_bytes must be >= 1")
        self.root = Path(root)
        self.fatal = None
        self._max_bytes = segment_max_bytes
        self._redact = redact
        self._on_commit = on_commit
        self._policy = SyncPolicy(sync, syncfs_min_files)
        self._streams: dict[str, AuditStream] = {}
        self._files: list[StreamFile] = []
        self._opening: dict[str, anyio.Event] = {}
        self._pending: dict[StreamFile, list[Pending]] = {}
        self._fanout = Fanout()
        self._state: Literal["new", "open", "closing", "closed"] = "new"
        self._root_fd = -1

    # ------------------------------------------------------------- lifecycle
    async def __aenter__(self) -> Self:
        if self._state != "new":
            raise RuntimeError("an AuditLog can only be entered once")
        self._root_fd = await anyio.to_thread.run_sync(self._open_root)
        self._wake, self._done, self._fatal_event = anyio.Event(), anyio.Event(), anyio.Event()
        self._limiter = anyio.CapacityLimiter(1)
        self._tasks = anyio.create_task_group()
        await self._tasks.__aenter__()
        self._tasks.start_soon(self._serve, name=f"hydra.audit committer {self.root}")
        self._state = "open"
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._state = "closing"
        self._wake.set()
        try:
            await self._tasks.__aexit__(None, None, None)
        finally:
            with anyio.CancelScope(shield=True):
                while self._pending:  # the committer was cancelled before draining
                    await self._round()
                self._fanout.close()
                await anyio.to_thread.run_sync(self._close_files)
            self._state = "closed"

    def _open_root(self) -> int:
        ensure_dir(self.root)
        return os.open(self.root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)

    def _close_files(self) -> None:
        for file in self._files:
            file.close()
        if self._root_fd >= 0:
            os.close(self._root_fd)
            self._root_fd = -1

    # ------------------------------------------------------------- public API
    async def stream(self, name: str) -> AuditStream:
        """The stream ``name``, opened (validated, tail-repaired) on first use and cached.

        Raises ``ValueError`` for an invalid name and ``OSError`` if it cannot be opened.
        A damaged stream opens fine; its appends raise :class:`StreamDamaged`.
        """
        if (existing := self._streams.get(name)) is not None:
            return existing
        check_stream_name(name)
        self._check_open()
        while (opening := self._opening.get(name)) is not None:
            await opening.wait()
            if (existing := self._streams.get(name)) is not None:
                return existing
        event = self._opening[name] = anyio.Event()
        try:
            opener = partial(StreamFile.open, self.root, name, segment_max_bytes=self._max_bytes)
            with anyio.CancelScope(shield=True):  # a half-opened stream would leak its fds
                file, written = await anyio.to_thread.run_sync(opener)
            self._files.append(file)
            handle = self._streams[name] = AuditStream(self, file)
            if written and self._fanout:
                self._fanout.publish(written)
            return handle
        finally:
            del self._opening[name]
            event.set()

    def open_streams(self) -> list[AuditStream]:
        """Every stream this log has opened so far."""
        return list(self._streams.values())

    async def wait_fatal(self) -> BaseException:
        """Wait until a write or sync failed; returns the :class:`AuditFatal`."""
        await self._fatal_event.wait()
        fatal = self.fatal
        if fatal is None:  # pragma: no cover - the event is only set with fatal
            raise RuntimeError("fatal event set without an error")
        return fatal

    def subscribe(self, max_buffer: int = 1000) -> AbstractContextManager[Subscription]:
        """``with log.subscribe() as sub:`` - a bounded live feed of committed records."""
        return self._fanout.subscribe(max_buffer)

    # ------------------------------------------------------------- committer
    def _check_open(self) -> None:
        if self.fatal is not None:  # raised again and again: do not grow its traceback
            raise self.fatal.with_traceback(None)
        if self._state != "open":
            raise RuntimeError(f"AuditLog({self.root}) is {self._state}, not open")

    def _enqueue(self, file: StreamFile, entry: Pending) -> anyio.Event:
        entries = self._pending.get(file)
        if entries is None:
            self._pending[file] = [entry]
        else:
            entries.append(entry)
        if not self._wake.is_set():
            self._wake.set()
        return self._done

    async def _serve(self) -> None:
        while True:
            if not self._pending:
                if self._state != "open":
                    return
                await self._wake.wait()
                self._wake = anyio.Event()
                continue
            with anyio.CancelScope(shield=True):
                await self._round()

    async def _round(self) -> None:
        work, done = self._pending, self._done
        self._pending, self._done = {}, anyio.Event()
        try:
            if self.fatal is None:
                result = await anyio.to_thread.run_sync(
                    commit_round,
                    work,
                    self._policy,
                    self.root,
                    self._root_fd,
                    limiter=self._limiter,
                )
                if result.fatal is not None and self.fatal is None:
                    self.fatal = result.fatal
                    self._fatal_event.set()
                for committed in result.committed:
                    if self._fanout:
                        self._fanout.publish(committed.records)
                    if self._on_commit is not None:
                        self._report(self._on_commit, committed)
        finally:
            for entries in work.values():
                for entry in entries:
                    if entry.error is None and entry.record is None:  # round never reached it
                        entry.error = self.fatal or AuditFatal("commit", self.root, RuntimeError())
            done.set()

    @staticmethod
    def _report(hook: OnCommit, committed: Committed) -> None:
        try:
            hook(committed.stream, len(committed.records), committed.nbytes, committed.sync_seconds)
        except Exception:  # a metrics hook must not stop auditing; log it and go on
            logger.exception("audit on_commit hook failed for stream %s", committed.stream)
