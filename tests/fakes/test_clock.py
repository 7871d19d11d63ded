from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import anyio
import pytest

from fakes import EPOCH, FakeClock

pytestmark = pytest.mark.anyio


async def test_starts_at_the_fixed_epoch() -> None:
    clock = FakeClock()
    assert clock.now() == EPOCH == datetime(2025, 1, 1, tzinfo=UTC)
    assert clock.monotonic() == 1_000.0
    assert clock.sleeps == []


async def test_sleep_records_and_advances_without_waiting() -> None:
    clock = FakeClock()
    with anyio.fail_after(1):
        await clock.sleep(5)
        await clock.sleep(3_600)
    assert clock.sleeps == [5, 3_600]
    assert clock.slept == 3_605
    assert clock.now() == EPOCH + timedelta(seconds=3_605)
    assert clock.monotonic() == 4_605.0


async def test_negative_sleep_is_recorded_but_moves_nothing() -> None:
    clock = FakeClock()
    await clock.sleep(-1)
    assert clock.sleeps == [-1]
    assert clock.now() == EPOCH


async def test_a_cancelled_sleep_leaves_time_alone() -> None:
    clock = FakeClock()
    with anyio.CancelScope() as scope:
        scope.cancel()
        await clock.sleep(60)
    assert scope.cancelled_caught
    assert clock.sleeps == []
    assert clock.now() == EPOCH


async def test_sleep_lets_other_tasks_run() -> None:
    clock = FakeClock()
    seen: list[str] = []

    async def other() -> None:
        seen.append("other ran")

    with anyio.fail_after(1):
        async with anyio.create_task_group() as tg:
            tg.start_soon(other)
            await clock.sleep(1)
            seen.append("sleeper woke")
    assert seen == ["other ran", "sleeper woke"]


async def test_advance_and_set_now() -> None:
    clock = FakeClock(datetime(2030, 6, 1, 12, tzinfo=timezone(timedelta(hours=2))))
    assert clock.now() == datetime(2030, 6, 1, 10, tzinfo=UTC)
    assert clock.now().tzinfo is UTC
    clock.advance(90)
    assert clock.now() == datetime(2030, 6, 1, 10, 1, 30, tzinfo=UTC)
    before = clock.monotonic()
    clock.set_now(datetime(2020, 1, 1, tzinfo=UTC))
    assert clock.now().year == 2020
    assert clock.monotonic() == before


async def test_refuses_naive_times_and_going_backwards() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        FakeClock(datetime(2025, 1, 1))  # noqa: DTZ001 - the point of the test
    clock = FakeClock()
    with pytest.raises(ValueError, match="timezone-aware"):
        clock.set_now(datetime(2025, 1, 1))  # noqa: DTZ001
    with pytest.raises(ValueError, match="never goes backwards"):
        clock.advance(-1)
