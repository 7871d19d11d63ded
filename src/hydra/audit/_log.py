"""``AuditLog``: the per-process owner of the audit streams under one root.

Group commit: ``append()`` serialises its record on the event loop, queues it and waits.
One dedicated committer *thread* per log (:mod:`hydra.audit._committer_thread`) serves
every stream: each round it takes everything queued across all streams and commits it
(:func:`commit_round`): per stream one locked ``os.write`` of the whole batch, then fsync
per file or one ``syncfs`` (see :mod:`hydra.audit._sync`). It hands each round back to the
event loop in one call, where subscribers and ``on_commit`` are fed and the round's
waiters released. While a round is on disk the next one accumulates, so N concurrent
appenders share a sync instead of queueing for N of them.

Failure model: a failed write/sync sets ``fatal`` (never retried), fails the waiting and
all later appends with it, and releases ``wait_fatal()``; so does an unexpected error in
the committer thread. Rounds run in the thread, out of reach of cancellation, so a
cancelled appender never tears a batch: its record still commits.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from contextlib import AbstractContextManager, AsyncExitStack
from functools import partial
from pathlib import Path
from types import TracebackType
from typing import Literal, Self

import anyio
from anyio.from_thread import BlockingPortal

from hydra.audit._committer import Committed, RoundResult
from hydra.audit._committer_thread import (
    DEFAULT_SPIN_US,
    CommitterThread,
    Handoff,
    LoopHandoff,
    PortalHandoff,
    Round,
    running_asyncio_loop,
)
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
    Entering starts the committer thread; leaving lets it commit every pending append,
    joins it (off the event loop), then closes the files. ``redact`` maps each payload
    before serialisation (secret scrubbing); ``on_commit`` receives per-stream metrics
    after each round. ``spin_us``: how long the committer thread polls for the next append
    after a round before it sleeps; 0 (the default) disables the spin, which on CPython
    costs more than it saves (see :mod:`hydra.audit._committer_thread`).
    """

    fatal: BaseException | None
    _fatal_event: anyio.Event
    _committer: CommitterThread | None

    def __init__(
        self,
        root: Path | str,
        *,
        segment_max_bytes: int = DEFAULT_SEGMENT_MAX_BYTES,
        redact: Redact | None = None,
        on_commit: OnCommit | None = None,
        sync: SyncMode = "auto",
        syncfs_min_files: int = DEFAULT_SYNCFS_MIN_FILES,
        spin_us: float = DEFAULT_SPIN_US,
    ) -> None:
        if segment_max_bytes < 1:
            raise ValueError("segment_max_bytes must be >= 1")
        if not spin_us >= 0:  # also refuses NaN
            raise ValueError("spin_us must be >= 0")
        self.root = Path(root)
        self.fatal = None
        self._max_bytes = segment_max_bytes
        self._redact = redact
        self._on_commit = on_commit
        self._policy = SyncPolicy(sync, syncfs_min_files)
        self._spin_us = float(spin_us)
        self._streams: dict[str, AuditStream] = {}
        self._files: list[StreamFile] = []
        self._opening: dict[str, anyio.Event] = {}
        self._fanout = Fanout()
        self._state: Literal["new", "open", "closing", "closed"] = "new"
        self._root_fd = -1
        self._committer = None
        self._handoff_stack = AsyncExitStack()

    # ------------------------------------------------------------- lifecycle
    async def __aenter__(self) -> Self:
        if self._state != "new":
            raise RuntimeError("an AuditLog can only be entered once")
        self._state = "closing"  # until the thread runs: a failed enter is not reusable
        self._fatal_event = anyio.Event()
        self._root_fd = await anyio.to_thread.run_sync(self._open_root)
        try:
            committer = CommitterThread(
                name=f"hydra-audit-committer {self.root}",
                policy=self._policy,
                root=self.root,
                root_fd=self._root_fd,
                spin_us=self._spin_us,
                handoff=await self._handoff(),
                on_round=self._finish_round,
                on_death=self._committer_died,
            )
            committer.start()
        except BaseException:
            try:
                await self._handoff_stack.aclose()  # a portal's task group: not in a new scope
            finally:
                with anyio.CancelScope(shield=True):
                    await anyio.to_thread.run_sync(self._close_files)
                self._state = "closed"
            raise
        self._committer = committer
        self._state = "open"
        return self

    async def _handoff(self) -> Handoff:
        """``call_soon_threadsafe`` on asyncio; an anyio blocking portal elsewhere."""
        loop = running_asyncio_loop()
        if loop is not None:
            return LoopHandoff(loop)
        portal = await self._handoff_stack.enter_async_context(BlockingPortal())
        return PortalHandoff(portal)

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._state = "closing"
        committer = self._committer
        try:
            with anyio.CancelScope(shield=True):
                if committer is not None:
                    committer.close()  # it commits everything queued, then exits
                    await anyio.to_thread.run_sync(committer.join)
        finally:
            if committer is not None and not committer.is_alive():
                self._settle(committer.take_open())  # left over only by a dead thread
            try:
                await self._handoff_stack.aclose()  # a portal's task group: not in a new scope
            finally:
                with anyio.CancelScope(shield=True):
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

    def _enqueue(self, file: StreamFile, entry: Pending) -> Round:
        committer = self._committer
        if committer is None:  # pragma: no cover - _check_open() ran just before
            raise RuntimeError(f"AuditLog({self.root}) is not open")
        return committer.enqueue(file, entry)

    def _finish_round(self, current: Round, result: RoundResult) -> None:
        """On the event loop: publish a committed round and release its waiters."""
        try:
            if result.fatal is not None:
                self._set_fatal(result.fatal)
            for committed in result.committed:
                if self._fanout:
                    self._fanout.publish(committed.records)
                if self._on_commit is not None:
                    self._report(self._on_commit, committed)
        except Exception:  # a bug here must not leave appenders waiting forever
            logger.exception("audit: publishing a committed round failed")
        finally:
            if result.fatal is None:  # every entry committed (record) or failed (error)
                current.release()
            else:
                self._settle(current)

    def _committer_died(self, fatal: AuditFatal, in_flight: Round | None) -> None:
        """On the event loop: the committer thread raised; nothing more will commit.

        The round it was working on may be partly written but unsynced (``seal`` sets
        ``record`` before the sync), so all of it fails: a durable record reported as
        failed is harmless, the reverse would be a lie.
        """
        self._set_fatal(fatal)
        self._settle(in_flight, unconfirmed=True)
        if self._committer is not None:
            self._settle(self._committer.take_open())

    def _set_fatal(self, fatal: BaseException) -> None:
        if self.fatal is None:
            self.fatal = fatal
            self._fatal_event.set()

    def _settle(self, current: Round | None, *, unconfirmed: bool = False) -> None:
        """Fail every entry of ``current`` that did not commit, then release its waiters.

        An entry committed when the round set its ``record`` and no ``error``; with
        ``unconfirmed`` the round's outcome is unknown and every entry fails.
        """
        if current is None:
            return
        for entries in current.work.values():
            for entry in entries:
                if entry.error is None and (unconfirmed or entry.record is None):
                    entry.error = self.fatal or AuditFatal(
                        "commit", self.root, RuntimeError("the round was never committed")
                    )
        current.release()

    @staticmethod
    def _report(hook: OnCommit, committed: Committed) -> None:
        try:
            hook(committed.stream, len(committed.records), committed.nbytes, committed.sync_seconds)
        except Exception:  # a metrics hook must not stop auditing; log it and go on
            logger.exception("audit on_commit hook failed for stream %s", committed.stream)
