"""The kill-switch cancels the awaiting task: the group dies, the cancellation propagates."""

from __future__ import annotations

from collections.abc import Callable

import anyio
import pytest

from hydra.runner import Runner, RunResult, StdoutLine, Usage
from tests.runner._support import FakeClock, ProcessProbe, RecordingRegistry, RecordingSink

pytestmark = pytest.mark.anyio


async def test_cancellation_kills_the_group_and_propagates(
    make_runner: Callable[..., Runner],
    stubborn_tree: str,
    registry: RecordingRegistry,
    sink: RecordingSink,
) -> None:
    runner = make_runner()  # default cancel grace: 0.1 s, then SIGKILL
    pids: list[int] = []
    ready = anyio.Event()
    finished_normally = False
    probed: list[RunResult] = []

    async def collect(line: StdoutLine) -> None:
        pids.append(int(line.split()[1]))
        if line.startswith(b"leader"):
            ready.set()

    def probe(result: RunResult) -> Usage:
        probed.append(result)
        return Usage(usd=0.01)

    async def call(scope: anyio.CancelScope) -> None:
        nonlocal finished_normally
        with scope:
            await runner.run(
                [stubborn_tree, "3"],
                source="t:cancel",
                timeout=60,
                on_stdout_line=collect,
                usage_probe=probe,
            )
            finished_normally = True

    scope = anyio.CancelScope()
    with anyio.fail_after(10):
        async with anyio.create_task_group() as tg:
            tg.start_soon(call, scope)
            await ready.wait()
            assert all(ProcessProbe.pid_alive(pid) for pid in pids)
            scope.cancel()
        # The task group exits only once the call has unwound: the group must be gone.
    assert scope.cancelled_caught
    assert not finished_normally
    assert len(pids) == 4
    assert not ProcessProbe.group_exists(registry.seen[0])
    assert not any(ProcessProbe.pid_alive(pid) for pid in pids)
    assert ProcessProbe.zombie_children(set(registry.seen)) == []
    assert registry.live_pgids() == frozenset()
    # the cancelled attempt's cost is still accounted for
    assert [(c.source, c.usd) for c in sink.calls] == [("t:cancel", 0.01)]
    assert (probed[0].status, probed[0].reason) == ("stopped", "cancelled")


async def test_cancellation_through_an_outer_deadline(
    make_runner: Callable[..., Runner], stubborn_tree: str, registry: RecordingRegistry
) -> None:
    runner = make_runner()
    with anyio.fail_after(10):
        with anyio.move_on_after(0.3) as scope:
            await runner.run([stubborn_tree, "2"], source="t", timeout=60)
    assert scope.cancelled_caught
    assert not ProcessProbe.group_exists(registry.seen[0])
    assert ProcessProbe.zombie_children(set(registry.seen)) == []


async def test_cancellation_during_retry_backoff_propagates(
    make_runner: Callable[..., Runner], sink: RecordingSink
) -> None:
    class BlockingClock(FakeClock):
        async def sleep(self, seconds: float) -> None:
            self.sleeps.append(seconds)
            await anyio.sleep_forever()

    runner = Runner(cost_sink=sink, clock=BlockingClock(), registry=make_runner().registry)
    with anyio.fail_after(10):
        with anyio.move_on_after(0.5) as scope:
            await runner.run(["sh", "-c", "echo token expired >&2; exit 1"], source="t", timeout=10)
    assert scope.cancelled_caught
    assert len(sink.calls) == 1


async def test_a_failing_cost_sink_does_not_mask_the_cancellation(
    make_runner: Callable[..., Runner], registry: RecordingRegistry
) -> None:
    class BrokenSink:
        async def record(self, **_: object) -> None:
            raise OSError("disk full")

    runner = Runner(cost_sink=BrokenSink(), registry=registry)
    with anyio.fail_after(10):
        with anyio.move_on_after(0.2) as scope:
            await runner.run(["sleep", "30"], source="t", timeout=10)
    assert scope.cancelled_caught
    assert not ProcessProbe.group_exists(registry.seen[0])
