"""Group commit: concurrent appends share writes and syncs; fsync vs syncfs per round."""

from __future__ import annotations

import os
from functools import partial
from pathlib import Path

import anyio
import pytest

from hydra.audit import AuditLog, _sync, iter_records, verify
from hydra.audit._sync import SyncPolicy, syncfs_reports_errors
from tests.audit.conftest import FsyncCounter

pytestmark = pytest.mark.anyio


async def test_sixteen_concurrent_appenders_share_fsyncs(
    root: Path, fsyncs: FsyncCounter, monkeypatch: pytest.MonkeyPatch
) -> None:
    writes = 0
    real_write = os.write

    def counting_write(fd: int, data: bytes) -> int:
        nonlocal writes
        writes += 1
        return real_write(fd, data)

    per_task, tasks = 25, 16
    with anyio.fail_after(30):
        async with AuditLog(root) as log:
            stream = await log.stream("control")
            fsyncs.reset()
            monkeypatch.setattr(os, "write", counting_write)

            async def appender(task: int) -> None:
                for i in range(per_task):
                    await stream.append("tick", actor=f"task-{task}", payload={"i": i})

            async with anyio.create_task_group() as tg:
                for task in range(tasks):
                    tg.start_soon(appender, task)
            monkeypatch.setattr(os, "write", real_write)
    records = per_task * tasks
    assert len(list(iter_records(root, "control"))) == records
    assert verify(root, "control").ok
    # one write + one fsync per round; with 16 appenders each round carries many records
    assert len(fsyncs.files) <= records / 4, f"{len(fsyncs.files)} fsyncs for {records} records"
    assert writes == len(fsyncs.files)
    print(f"{records} records, {writes} writes, {len(fsyncs.files)} fsyncs")


async def test_one_round_serves_many_streams_with_one_syncfs(
    root: Path, fsyncs: FsyncCounter, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[int] = []
    real = _sync.syncfs

    def counting_syncfs(fd: int) -> None:
        calls.append(fd)
        real(fd)

    monkeypatch.setattr(_sync, "syncfs", counting_syncfs)
    monkeypatch.setattr(_sync, "syncfs_reports_errors", lambda release=None: True)
    with anyio.fail_after(30):
        async with AuditLog(root, sync="auto", syncfs_min_files=4) as log:
            streams = [await log.stream(f"loop.l{i}") for i in range(8)]
            fsyncs.reset()
            async with anyio.create_task_group() as tg:
                for stream in streams:
                    tg.start_soon(partial(stream.append, "tick.started", actor="orc"))
            assert fsyncs.files == []  # 8 files >= 4: one syncfs instead of 8 fsyncs
            assert len(calls) == 1
            await streams[0].append("tick.finished", actor="orc")  # 1 file: plain fsync
            assert len(fsyncs.files) == 1
            assert len(calls) == 1
    for stream in streams:
        assert verify(root, stream.name).ok


async def test_fsync_mode_never_uses_syncfs(
    root: Path, fsyncs: FsyncCounter, monkeypatch: pytest.MonkeyPatch
) -> None:
    def forbidden(fd: int) -> None:
        raise AssertionError("syncfs used in fsync mode")

    monkeypatch.setattr(_sync, "syncfs", forbidden)
    with anyio.fail_after(30):
        async with AuditLog(root, sync="fsync") as log:
            streams = [await log.stream(f"s{i}") for i in range(6)]
            fsyncs.reset()
            async with anyio.create_task_group() as tg:
                for stream in streams:
                    tg.start_soon(partial(stream.append, "x", actor="t"))
    assert len(fsyncs.files) == 6


@pytest.mark.skipif(not syncfs_reports_errors(), reason="needs Linux >= 5.8")
async def test_real_syncfs_mode_commits(root: Path) -> None:
    with anyio.fail_after(30):
        async with AuditLog(root, sync="syncfs") as log:
            streams = [await log.stream(f"s{i}") for i in range(3)]
            async with anyio.create_task_group() as tg:
                for stream in streams:
                    for i in range(5):
                        tg.start_soon(partial(stream.append, "x", actor="t", payload={"i": i}))
    for stream in streams:
        assert verify(root, stream.name).records == 5


def test_kernel_version_gate() -> None:
    assert syncfs_reports_errors("5.8.0")
    assert syncfs_reports_errors("6.18.44-fc-v769")
    assert not syncfs_reports_errors("5.7.19")
    assert not syncfs_reports_errors("4.19.0-amd64")
    assert not syncfs_reports_errors("garbage")


def test_policy(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_sync, "syncfs_reports_errors", lambda release=None: True)
    assert not SyncPolicy("fsync").use_syncfs(1000)
    assert SyncPolicy("syncfs").use_syncfs(1)
    auto = SyncPolicy("auto", 4)
    assert not auto.use_syncfs(3)
    assert auto.use_syncfs(4)
    monkeypatch.setattr(_sync, "syncfs_reports_errors", lambda release=None: False)
    assert not SyncPolicy("auto", 1).use_syncfs(1000)
    with pytest.raises(ValueError, match=r"Linux >= 5\.8"):
        SyncPolicy("syncfs")
    with pytest.raises(ValueError, match=">= 1"):
        SyncPolicy("auto", 0)
