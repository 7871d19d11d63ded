"""The clock port: wall time, monotonic time and sleeping, injectable for tests."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol, runtime_checkable


@runtime_checkable
class Clock(Protocol):
    """Time as the runtime and the adapters see it.

    ``now`` is timezone-aware UTC. ``sleep`` honours cancellation like ``anyio.sleep``: a
    cancelled sleeper raises the backend's cancellation exception and nothing else happens.
    """

    def now(self) -> datetime:
        """The current UTC time, timezone-aware."""
        ...

    def monotonic(self) -> float:
        """Seconds on a clock that never goes backwards (for durations and deadlines)."""
        ...

    async def sleep(self, seconds: float) -> None:
        """Wait ``seconds``; cancellable."""
        ...
