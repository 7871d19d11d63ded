"""The real clock."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import anyio

from ports import Clock


class SystemClock(Clock):
    """:class:`ports.Clock` on the system's clocks."""

    def now(self) -> datetime:
        return datetime.now(UTC)

    def monotonic(self) -> float:
        return time.monotonic()

    async def sleep(self, seconds: float) -> None:
        await anyio.sleep(seconds)
