"""The committer thread: lifecycle, hand-off to the loop, spin, failures of the thread itself."""

from __future__ import annotations

import errno
import logging
import math
import os
import stat
import threading
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

import anyio
import pytest

from hydra.audit import AuditFatal, AuditLog, AuditStream, _sync, iter_records, verify
from hydra.audit import _committer_thread as committer_module
from hydra.audit import _log as log_module
from hydra.audit._committer_thread import LoopHandoff, PortalHandoff, running_asyncio_loop
from tests.audit.conftest import FsyncCounter

pytestmark = pytest.mark.anyio

PREFIX = "hydra-audit-committer"


def committer_threads(root: Path) -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == f"{PREFIX} {root}"]


def blocking_file_fsync() -> tuple[Callable[[int], None], threading.Event, threading.Event]:
    """An ``os.fsync`` that parks the first file sync until ``release`` is set."""
    real = os.fsync
    entered, release = threading.Event(), threading.Event()

    def fsync(fd: int) -> None:
        if not stat.S_ISDIR(os.fstat(fd).st_mode) and not entered.is_set():
            entered.set()
            release.wait(10)
        real(fd)

    return fsync, entered, release


# ------------------------------------------------------------------ lifecycle
async def test_one_named_thread_lives_exactly_as_long_as_the_log(root: Path) -> None:
    log = AuditLog(root)
    assert committer_threads(root) == []
    with anyio.fail_after(10):
        async with log:
            [thread] = committer_threads(root)
            assert thread.is_alive()
            assert not thread.daemon  # an in-flight fsync is never cut off at exit
            stream = await log.stream("control")
            await stream.append("x", actor="t")
            assert committer_threads(root) == [thread]
    assert not thread.is_alive()
    assert committer_threads(root) == []
    with pytest.raises(RuntimeError, match="entered once"):
        await log.__aenter__()


async def test_no_thread_left_after_a_fatal_error(
    root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = os.fsync

    def failing(fd: int) -> None:
        if stat.S_ISDIR(os.fstat(fd).st_mode):
            real(fd)
            return
        raise OSError(errno.EIO, os.strerror(errno.EIO))

    with anyio.fail_after(10):
        async with AuditLog(root, sync="fsync") as log:
            stream = await log.stream("control")
            [thread] = committer_threads(root)
            monkeypatch.setattr(os, "fsync", failing)
            with pytest.raises(AuditFatal, match="EIO"):
                await stream.append("x", actor="t")
            assert thread.is_alive()  # it stays to fail what is still queued
    assert not thread.is_alive()


async def test_exit_drains_many_queued_appends_without_spin(root: Path) -> None:
    results: list[int] = []
    with anyio.fail_after(20):
        async with AuditLog(root, spin_us=0) as log:
            streams = [await log.stream(f"s{i}") for i in range(3)]

            async def add(stream: AuditStream, i: int) -> None:
                record = await stream.append("x", actor="t", payload={"i": i})
                results.append(record["seq"])  # type: ignore[arg-type]

            async with anyio.create_task_group() as tg:
                for i in range(60):
                    tg.start_soon(add, streams[i % 3], i)
    assert len(results) == 60
    for stream in streams:
        assert verify(root, stream.name).records == 20
    assert committer_threads(root) == []


# ------------------------------------------------------------------ cancellation
async def test_appenders_cancelled_while_a_round_is_on_disk_still_commit(
    root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fsync, entered, release = blocking_file_fsync()
    got: dict[str, dict[str, object]] = {}
    with anyio.fail_after(20):
        async with AuditLog(root, sync="fsync") as log:
            stream = await log.stream("control")
            monkeypatch.setattr(os, "fsync", fsync)

            async def append(action: str) -> None:
                got[action] = await stream.append(action, actor="t")

            async with anyio.create_task_group() as survivors:
                async with anyio.create_task_group() as doomed:
                    doomed.start_soon(append, "in-flight")  # its round blocks in fsync
                    await anyio.to_thread.run_sync(entered.wait, 10)
                    doomed.start_soon(append, "queued")  # waits in the next round
                    await anyio.sleep(0.01)
                    survivors.start_soon(append, "kept")  # same round as "queued"
                    await anyio.sleep(0.01)
                    doomed.cancel_scope.cancel()
                release.set()
            assert set(got) == {"kept"}
            assert got["kept"]["seq"] == 3
    records = list(iter_records(root, "control"))
    assert [r["action"] for r in records] == ["in-flight", "queued", "kept"]
    assert verify(root, "control").ok


# ------------------------------------------------------------------ group commit
@pytest.mark.parametrize("spin_us", [0.0, 50.0])
async def test_many_concurrent_tasks_share_rounds_and_one_handoff_each(
    root: Path, fsyncs: FsyncCounter, monkeypatch: pytest.MonkeyPatch, spin_us: float
) -> None:
    handoffs = 0
    real_submit = LoopHandoff.submit

    def counting_submit(self: LoopHandoff, func: Callable[..., None], /, *args: object) -> None:
        nonlocal handoffs
        handoffs += 1
        real_submit(self, func, *args)

    tasks, per_task = 100, 5
    with anyio.fail_after(30):
        async with AuditLog(root, sync="fsync", spin_us=spin_us) as log:
            stream = await log.stream("control")
            fsyncs.reset()
            monkeypatch.setattr(LoopHandoff, "submit", counting_submit)

            async def appender(task: int) -> None:
                for i in range(per_task):
                    await stream.append("tick", actor=f"task-{task}", payload={"i": i})

            async with anyio.create_task_group() as tg:
                for task in range(tasks):
                    tg.start_soon(appender, task)
            monkeypatch.setattr(LoopHandoff, "submit", real_submit)
    records = tasks * per_task
    report = verify(root, "control")
    assert report.ok
    assert report.records == records
    assert len(fsyncs.files) <= records / 10, f"{len(fsyncs.files)} fsyncs for {records}"
    assert handoffs == len(fsyncs.files)  # one loop call per round (one stream: one fsync)


# ------------------------------------------------------------------ spin
class CountingTime:
    """Stands in for the ``time`` module inside ``_committer_thread``: counts spin yields."""

    def __init__(self) -> None:
        self.yields = 0
        self.perf_counter = time.perf_counter

    def sleep(self, seconds: float) -> None:
        self.yields += 1
        time.sleep(seconds)


@pytest.mark.parametrize(("spin_us", "spins"), [(0.0, False), (5000.0, True)])
async def test_the_spin_can_be_disabled(
    root: Path, monkeypatch: pytest.MonkeyPatch, spin_us: float, spins: bool
) -> None:
    clock = CountingTime()
    monkeypatch.setattr(committer_module, "time", clock)
    with anyio.fail_after(20):
        async with AuditLog(root, spin_us=spin_us) as log:
            stream = await log.stream("control")
            for i in range(20):
                record = await stream.append("x", actor="t", payload={"i": i})
    assert record["seq"] == 20
    assert (clock.yields > 0) is spins


def test_spin_us_must_be_a_non_negative_number(root: Path) -> None:
    for bad in (-1.0, math.nan):
        with pytest.raises(ValueError, match="spin_us"):
            AuditLog(root, spin_us=bad)


# ------------------------------------------------------------------ the thread itself fails
async def test_an_unexpected_error_in_the_thread_is_fatal_and_says_so(
    root: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(*_: object) -> None:
        raise RuntimeError("committer bug")

    outcomes: list[BaseException] = []
    with anyio.fail_after(10):
        async with AuditLog(root) as log:
            stream = await log.stream("control")
            await stream.append("before", actor="t")
            [thread] = committer_threads(root)
            monkeypatch.setattr(committer_module, "commit_round", broken)

            async def append(i: int) -> None:
                try:
                    await stream.append("x", actor="t", payload={"i": i})
                except AuditFatal as exc:
                    outcomes.append(exc)

            async with anyio.create_task_group() as tg:
                for i in range(8):
                    tg.start_soon(append, i)
            fatal = await log.wait_fatal()  # what makes the daemon stop
            assert log.fatal is fatal
            assert isinstance(fatal, AuditFatal)
            message = str(fatal)
            assert "committer thread failed" in message
            assert "RuntimeError: committer bug" in message
            assert str(root) in message
            with pytest.raises(AuditFatal):
                await stream.append("later", actor="t")
            thread.join(5)
            assert not thread.is_alive()
    assert len(outcomes) == 8  # every waiter released, none left hanging
    assert all(outcome is fatal for outcome in outcomes)
    assert any(
        r.levelno == logging.CRITICAL and "died" in r.getMessage() and r.exc_info
        for r in caplog.records
    )
    assert [r["action"] for r in iter_records(root, "control")] == ["before"]


async def test_a_round_cut_short_by_the_thread_dying_is_not_acknowledged(
    root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Written but not synced when the thread died: its appends must fail, not succeed."""

    def weird_syncfs(fd: int) -> None:
        raise ValueError("not an OSError")  # commit_round only expects OSError here

    monkeypatch.setattr(_sync, "syncfs_reports_errors", lambda release=None: True)
    with anyio.fail_after(10):
        async with AuditLog(root, sync="syncfs") as log:
            stream = await log.stream("control")
            monkeypatch.setattr(_sync, "syncfs", weird_syncfs)
            with pytest.raises(AuditFatal, match="committer thread failed"):
                await stream.append("unsynced", actor="t")
            assert isinstance(log.fatal, AuditFatal)
    assert committer_threads(root) == []


# ------------------------------------------------------------------ hand-off
async def test_running_asyncio_loop_is_found_on_asyncio() -> None:
    assert running_asyncio_loop() is not None


def test_no_asyncio_loop_outside_an_event_loop() -> None:
    assert running_asyncio_loop() is None


async def test_other_backends_go_through_a_blocking_portal(
    root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Forced on asyncio: the hand-off a trio event loop would get."""
    monkeypatch.setattr(log_module, "running_asyncio_loop", lambda: None)
    calls: list[tuple[str, int]] = []
    with anyio.fail_after(20):
        async with AuditLog(root, on_commit=lambda name, n, *_: calls.append((name, n))) as log:
            assert log._committer is not None
            assert isinstance(log._committer._handoff, PortalHandoff)
            streams = [await log.stream(f"s{i}") for i in range(2)]
            with log.subscribe() as feed:
                async with anyio.create_task_group() as tg:
                    for i in range(20):
                        tg.start_soon(partial(streams[i % 2].append, "x", actor="t"))
                received = [feed.receive_nowait() for _ in range(20)]
            assert sorted((r["stream"], r["seq"]) for r in received) == sorted(
                (f"s{i % 2}", i // 2 + 1) for i in range(20)
            )
            [thread] = committer_threads(root)
    assert sum(n for _, n in calls) == 20
    assert not thread.is_alive()


async def test_fatal_errors_also_travel_through_the_portal(
    root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(log_module, "running_asyncio_loop", lambda: None)

    def broken(*_: object) -> None:
        raise RuntimeError("committer bug")

    with anyio.fail_after(10):
        async with AuditLog(root) as log:
            stream = await log.stream("control")
            monkeypatch.setattr(committer_module, "commit_round", broken)
            with pytest.raises(AuditFatal, match="committer thread failed"):
                await stream.append("x", actor="t")
            assert isinstance(await log.wait_fatal(), AuditFatal)
    assert committer_threads(root) == []


def test_the_thread_exits_when_its_loop_ends_without_closing_the_log(
    root: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """A non-daemon thread must never keep the process alive after its loop is gone."""
    monkeypatch.setattr(committer_module, "IDLE_CHECK_S", 0.02)
    leaked: list[AuditLog] = []
    threads: list[threading.Thread] = []

    async def enter_and_forget() -> None:
        log = AuditLog(root)
        await log.__aenter__()
        leaked.append(log)
        threads.extend(committer_threads(root))
        stream = await log.stream("control")
        await stream.append("x", actor="t")

    anyio.run(enter_and_forget)
    [thread] = threads
    thread.join(5)
    assert not thread.is_alive()
    assert "ended without closing" in caplog.text
    leaked[0]._close_files()
    assert verify(root, "control").records == 1
