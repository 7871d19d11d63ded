"""A failed fsync/syncfs/write is final: AuditFatal, no retry, the daemon is told."""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

import anyio
import pytest

from hydra.audit import AuditFatal, AuditLog, _sync

pytestmark = pytest.mark.anyio


def _failing_file_fsync(calls: list[int]) -> object:
    real = os.fsync

    def fsync(fd: int) -> None:
        if stat.S_ISDIR(os.fstat(fd).st_mode):
            real(fd)
            return
        calls.append(fd)
        raise OSError(errno.EIO, os.strerror(errno.EIO))

    return fsync


async def test_fsync_failure_is_fatal_for_this_and_every_later_append(
    root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[int] = []
    with anyio.fail_after(10):
        async with AuditLog(root, sync="fsync") as log:
            stream = await log.stream("control")
            await stream.append("before", actor="t")
            monkeypatch.setattr(os, "fsync", _failing_file_fsync(calls))
            with pytest.raises(AuditFatal) as caught:
                await stream.append("lost", actor="t")
            fatal = caught.value
            assert log.fatal is fatal
            assert await log.wait_fatal() is fatal
            assert fatal.errno == errno.EIO
            assert "fsync" in str(fatal)
            assert "EIO" in str(fatal)
            assert str(root / "control" / "00000001.jsonl") in str(fatal)
            with pytest.raises(AuditFatal) as later:
                await stream.append("later", actor="t")
            assert later.value is fatal
            with pytest.raises(AuditFatal):
                await log.stream("other")
    assert len(calls) == 1  # never retried


async def test_all_waiters_of_the_failing_round_fail(
    root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    outcomes: list[BaseException | None] = []

    async def append(stream: object, i: int) -> None:
        try:
            await stream.append("x", actor="t", payload={"i": i})  # type: ignore[attr-defined]
        except AuditFatal as exc:
            outcomes.append(exc)
        else:
            outcomes.append(None)

    with anyio.fail_after(10):
        async with AuditLog(root, sync="fsync") as log:
            stream = await log.stream("control")
            monkeypatch.setattr(os, "fsync", _failing_file_fsync([]))
            async with anyio.create_task_group() as tg:
                for i in range(8):
                    tg.start_soon(append, stream, i)
    assert len(outcomes) == 8
    assert all(isinstance(outcome, AuditFatal) for outcome in outcomes)


async def test_syncfs_failure_fails_the_whole_round(
    root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def failing_syncfs(fd: int) -> None:
        raise OSError(errno.EIO, os.strerror(errno.EIO))

    monkeypatch.setattr(_sync, "syncfs_reports_errors", lambda release=None: True)
    monkeypatch.setattr(_sync, "syncfs", failing_syncfs)
    failures: list[str] = []
    with anyio.fail_after(10):
        async with AuditLog(root, sync="syncfs") as log:
            streams = [await log.stream(f"s{i}") for i in range(3)]

            async def append(stream: object) -> None:
                with pytest.raises(AuditFatal) as caught:
                    await stream.append("x", actor="t")  # type: ignore[attr-defined]
                failures.append(str(caught.value))

            async with anyio.create_task_group() as tg:
                for stream in streams:
                    tg.start_soon(append, stream)
            fatal = await log.wait_fatal()
    assert len(failures) == 3
    assert "syncfs" in str(fatal)
    assert str(root) in str(fatal)


async def test_write_failure_is_fatal(root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def full(fd: int, data: bytes) -> int:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    with anyio.fail_after(10):
        async with AuditLog(root) as log:
            stream = await log.stream("control")
            monkeypatch.setattr(os, "write", full)
            with pytest.raises(AuditFatal, match="ENOSPC"):
                await stream.append("x", actor="t")
            monkeypatch.undo()
            assert isinstance(await log.wait_fatal(), AuditFatal)


async def test_wait_fatal_lets_a_daemon_stop(root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    stopped: list[BaseException] = []

    async def daemon_watch(log: AuditLog) -> None:
        stopped.append(await log.wait_fatal())

    with anyio.fail_after(10):
        async with AuditLog(root) as log:
            stream = await log.stream("control")
            async with anyio.create_task_group() as tg:
                tg.start_soon(daemon_watch, log)
                monkeypatch.setattr(os, "fsync", _failing_file_fsync([]))
                with pytest.raises(AuditFatal):
                    await stream.append("x", actor="t")
                # daemon_watch returns by itself: the task group exits
    assert len(stopped) == 1
    assert isinstance(stopped[0], AuditFatal)


async def test_repeated_failures_do_not_grow_the_traceback(
    root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with anyio.fail_after(10):
        async with AuditLog(root) as log:
            stream = await log.stream("control")
            monkeypatch.setattr(os, "fsync", _failing_file_fsync([]))
            depths = []
            for _ in range(5):
                with pytest.raises(AuditFatal) as caught:
                    await stream.append("x", actor="t")
                depth, tb = 0, caught.value.__traceback__
                while tb is not None:
                    depth, tb = depth + 1, tb.tb_next
                depths.append(depth)
    assert max(depths[1:]) <= depths[1]
