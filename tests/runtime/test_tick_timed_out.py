"""``ctx.timed_out()``: true only when the tick timeout cut the tick, never after a switch-off,
even when the tick's clean-up runs past its deadline."""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import anyio
import pytest

from hydra.sdk import TickContext, TickResult
from tests.helpers.harness import running
from tests.helpers.loops import _TestLoop

pytestmark = pytest.mark.anyio

TIMEOUT_S = 0.2


class SlowCleanupLoop(_TestLoop):
    name = "slow_cleanup"
    description = "Waits; when cancelled, cleans up for longer than its timeout."
    seen: ClassVar[list[bool]] = []
    started = anyio.Event()

    async def tick(self, ctx: TickContext[Any]) -> TickResult:
        try:
            SlowCleanupLoop.started.set()
            await anyio.sleep_forever()
        except anyio.get_cancelled_exc_class():
            with anyio.CancelScope(shield=True):
                await anyio.sleep(TIMEOUT_S * 2)  # past the deadline, like an agent being killed
            SlowCleanupLoop.seen.append(ctx.timed_out())
            raise
        return TickResult(status="ok")


@pytest.fixture(autouse=True)
def _fresh() -> None:
    SlowCleanupLoop.seen = []
    SlowCleanupLoop.started = anyio.Event()


TABLES = {"slow_cleanup": {"timeout_s": TIMEOUT_S, "interval_s": 3600.0}}


async def test_a_tick_cut_by_its_timeout_says_so(tmp_path: Path) -> None:
    async with running(tmp_path, [SlowCleanupLoop], tables=TABLES) as h:
        await h.wait_for(lambda: SlowCleanupLoop.seen)
    assert SlowCleanupLoop.seen == [True]


async def test_a_switch_off_is_not_a_timeout_even_when_clean_up_outlives_the_deadline(
    tmp_path: Path,
) -> None:
    async with running(tmp_path, [SlowCleanupLoop], tables=TABLES) as h:
        with anyio.fail_after(5):
            await SlowCleanupLoop.started.wait()
        await h.board.update_loop("slow_cleanup", actor="test", reason="stop", enabled=False)
        await h.wait_for(lambda: SlowCleanupLoop.seen)
    assert SlowCleanupLoop.seen == [False]
