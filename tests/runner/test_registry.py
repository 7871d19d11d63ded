"""Process-group bookkeeping: kill everything at shutdown, reap stray zombies safely."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable

import anyio
import psutil
import pytest

from hydra.runner import (
    DEFAULT_REGISTRY,
    ProcessRegistry,
    Runner,
    StdoutLine,
    enable_subreaper,
    kill_all,
    reap_orphans,
)
from tests.runner._support import ProcessProbe, RecordingRegistry, RecordingSink


def wait_for_zombie(pid: int, limit_s: float = 10.0) -> None:
    proc = psutil.Process(pid)
    deadline = time.monotonic() + limit_s
    while proc.status() != psutil.STATUS_ZOMBIE:
        assert time.monotonic() < deadline, f"{pid} did not exit"
        time.sleep(0.001)


def test_subreaper_is_enabled_and_idempotent() -> None:
    assert enable_subreaper() is True
    assert enable_subreaper() is True


@pytest.mark.anyio
async def test_kill_all_stops_every_call(
    make_runner: Callable[..., Runner], stubborn_tree: str, registry: RecordingRegistry
) -> None:
    runner = make_runner()
    ready = anyio.Event()
    results = []

    async def hook(line: StdoutLine) -> None:
        if line.startswith(b"leader"):
            ready.set()

    async def call() -> None:
        results.append(
            await runner.run([stubborn_tree], source="t", timeout=60, on_stdout_line=hook)
        )

    with anyio.fail_after(10):
        async with anyio.create_task_group() as tg:
            tg.start_soon(call)
            await ready.wait()
            assert registry.kill_all() == 1
    (result,) = results
    assert (result.status, result.reason, result.signal) == ("stopped", "kill_all", 9)
    assert not ProcessProbe.group_exists(registry.seen[0])
    assert ProcessProbe.zombie_children(set(registry.seen)) == []
    assert registry.kill_all() == 0


@pytest.mark.anyio
async def test_module_functions_use_the_default_registry(sink: RecordingSink) -> None:
    runner = Runner(cost_sink=sink)
    assert runner.registry is DEFAULT_REGISTRY
    started = anyio.Event()

    async def hook(line: StdoutLine) -> None:
        started.set()

    results = []

    async def call() -> None:
        results.append(
            await runner.run(
                ["sh", "-c", "echo up; exec sleep 60"], source="t", timeout=60, on_stdout_line=hook
            )
        )

    with anyio.fail_after(10):
        async with anyio.create_task_group() as tg:
            tg.start_soon(call)
            await started.wait()
            (pgid,) = DEFAULT_REGISTRY.live_pgids()
            assert kill_all() == 1
    assert results[0].status == "stopped"
    assert DEFAULT_REGISTRY.live_pgids() == frozenset()
    # The call reaped its own group; other tests' strays in this process may be reaped here.
    assert pgid not in reap_orphans()


def test_reap_orphans_reaps_a_stray_zombie_but_not_while_spawning() -> None:
    registry = ProcessRegistry()
    stray = subprocess.Popen(["sh", "-c", "exit 3"], start_new_session=True)
    try:
        wait_for_zombie(stray.pid)
        with registry.spawning():
            assert registry.reap_orphans() == []
        assert psutil.Process(stray.pid).status() == psutil.STATUS_ZOMBIE
        assert stray.pid in registry.reap_orphans()
        assert not psutil.pid_exists(stray.pid)
    finally:
        stray.wait()


def test_reap_orphans_leaves_children_of_our_own_group_alone() -> None:
    """A zombie in the daemon's own group may be awaited by non-runner code."""
    registry = ProcessRegistry()
    child = subprocess.Popen(["sh", "-c", "exit 7"])
    wait_for_zombie(child.pid)
    assert child.pid not in registry.reap_orphans()
    assert child.wait() == 7  # its owner still gets the real status
