"""Clock contract: aware UTC wall time, a monotonic clock, cancellable sleeps.

Runs against: ``fake`` (fakes.FakeClock) and ``system`` (hydra.clock.SystemClock).
"""

from __future__ import annotations

from datetime import timedelta

import anyio
import pytest

from ports import Clock

PORT = "clock"
pytestmark = pytest.mark.anyio


async def test_now_is_aware_utc(impl: Clock) -> None:
    now = impl.now()
    assert now.utcoffset() == timedelta(0)


async def test_monotonic_never_goes_backwards(impl: Clock) -> None:
    readings = [impl.monotonic() for _ in range(100)]
    assert readings == sorted(readings)


async def test_sleep_lets_time_pass(impl: Clock) -> None:
    start, wall = impl.monotonic(), impl.now()
    with anyio.fail_after(5):
        await impl.sleep(0.05)
    assert impl.monotonic() - start >= 0.049
    assert impl.now() - wall >= timedelta(seconds=0.049)


async def test_sleep_zero_returns(impl: Clock) -> None:
    with anyio.fail_after(5):
        await impl.sleep(0)


async def test_a_cancelled_sleep_raises_cancellation(impl: Clock) -> None:
    start = impl.monotonic()
    reached = False
    with anyio.fail_after(5), anyio.CancelScope() as scope:
        scope.cancel()
        await impl.sleep(3_600)
        reached = True
    assert scope.cancelled_caught
    assert not reached
    assert impl.monotonic() - start < 3_600
