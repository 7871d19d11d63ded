"""Process storms: nothing may be left behind, ever."""

from __future__ import annotations

import random
from collections.abc import Callable

import anyio
import pytest

from hydra.runner import Runner, RunResult
from tests.runner._support import ProcessProbe, RecordingRegistry

pytestmark = [pytest.mark.anyio, pytest.mark.slow]

CYCLES = 1000
BATCH = 20


def assert_nothing_left(registry: RecordingRegistry) -> None:
    leftovers = ProcessProbe.members(set(registry.seen))
    assert leftovers == [], f"{len(leftovers)} processes survived in our groups"
    assert ProcessProbe.zombie_children(set(registry.seen)) == []
    assert registry.live_pgids() == frozenset()


async def test_a_thousand_timeouts_leave_no_orphan_and_no_zombie(
    make_runner: Callable[..., Runner], stubborn_tree: str, registry: RecordingRegistry
) -> None:
    runner = make_runner(term_grace_s=0.03)
    results: list[RunResult] = []

    async def cycle() -> None:
        results.append(await runner.run([stubborn_tree, "3"], source="t:storm", timeout=0.03))

    with anyio.fail_after(120):
        for _ in range(CYCLES // BATCH):
            async with anyio.create_task_group() as tg:
                for _ in range(BATCH):
                    tg.start_soon(cycle)
    assert len(results) == CYCLES
    assert {r.status for r in results} == {"timeout"}
    assert len(registry.seen) == CYCLES
    # The timeout hits the trees at every stage; enough of them had forked their grandchildren.
    forked = sum("leader" in r.stdout.text() for r in results)
    assert forked >= CYCLES // 10
    assert_nothing_left(registry)


async def test_cancellation_storm_leaves_no_orphan_and_no_zombie(
    make_runner: Callable[..., Runner], stubborn_tree: str, registry: RecordingRegistry
) -> None:
    runner = make_runner()
    rng = random.Random(7)
    cancelled = 0

    async def cycle(delay: float) -> None:
        nonlocal cancelled
        with anyio.move_on_after(delay) as scope:
            await runner.run([stubborn_tree, "3"], source="t:storm", timeout=30)
        cancelled += scope.cancelled_caught

    with anyio.fail_after(120):
        for _ in range(10):
            async with anyio.create_task_group() as tg:
                for _ in range(BATCH):
                    tg.start_soon(cycle, rng.uniform(0.0, 0.05))
    assert cancelled == 10 * BATCH
    assert_nothing_left(registry)
