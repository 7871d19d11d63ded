"""Letting a git command that writes finish when its caller is cancelled (within a grace).

git killed at the wrong moment (even by SIGTERM: the window between creating a ``*.lock`` file
and registering it for clean-up is real) leaves that lock behind, and every later git command
on the repository then fails with "File exists" until someone deletes it: a kill-switch that
wedges the repository. So a writing call runs shielded; when the caller is cancelled meanwhile
the call keeps at most ``grace`` more seconds (a git write takes milliseconds), after which the
Runner kills it as usual. Either way the caller's cancellation then propagates.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar

import anyio
import anyio.lowlevel

T = TypeVar("T")


async def finish_within(grace: float, call: Callable[[], Awaitable[T]]) -> T:
    """``await call()`` shielded, cut ``grace`` seconds after the caller is cancelled."""
    shield = anyio.CancelScope(shield=True)
    results: list[T] = []
    errors: list[Exception] = []

    async def arm_on_cancel() -> None:
        try:
            await anyio.sleep_forever()
        finally:  # the caller was cancelled, or the call is over (then this is moot)
            shield.deadline = min(shield.deadline, anyio.current_time() + grace)

    async with anyio.create_task_group() as tg:
        tg.start_soon(arm_on_cancel)
        with shield:
            try:
                results.append(await call())
            except Exception as exc:  # noqa: BLE001 - re-raised below, not wrapped by the group
                errors.append(exc)
        tg.cancel_scope.cancel()
    await anyio.lowlevel.checkpoint_if_cancelled()
    if errors:
        raise errors[0]
    return results[0]
