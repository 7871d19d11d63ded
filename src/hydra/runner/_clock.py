"""The runner's clock: injectable so retry backoff is tested in virtual time.

Any :class:`ports.Clock` satisfies this narrower protocol; the real one is :mod:`hydra.clock`.
"""

from __future__ import annotations

from typing import Protocol

from hydra.clock import SystemClock as _SystemClock

__all__ = ["Clock", "SystemClock"]


class Clock(Protocol):
    """Time as the runner sees it.

    ``monotonic()`` returns seconds from an arbitrary origin and never goes back.
    ``sleep(seconds)`` returns after ``seconds`` of this clock's time; it is a
    cancellation point (a cancelled sleep raises the backend's cancellation exception).
    """

    def monotonic(self) -> float: ...

    async def sleep(self, seconds: float) -> None: ...


SystemClock = _SystemClock
