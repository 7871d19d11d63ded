"""A virtual clock: wall and monotonic time that move only when a test (or a sleep) says so."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import anyio.lowlevel

from ports import Clock

EPOCH = datetime(2025, 1, 1, tzinfo=UTC)
"""Where every fake clock starts unless told otherwise: fixed, so runs are reproducible."""


class FakeClock(Clock):
    """:class:`ports.Clock` on virtual time.

    ``sleep`` records the requested duration in :attr:`sleeps`, advances both clocks by it and
    returns at once (after letting other tasks run). A sleep that is cancelled before it starts
    raises the backend's cancellation exception and leaves time where it was.
    """

    def __init__(self, start: datetime = EPOCH, *, monotonic_start: float = 1_000.0) -> None:
        self._now = _aware(start)
        self._monotonic = monotonic_start
        self.sleeps: list[float] = []
        """Every duration passed to :meth:`sleep`, in call order."""

    def now(self) -> datetime:
        return self._now

    def monotonic(self) -> float:
        return self._monotonic

    async def sleep(self, seconds: float) -> None:
        await anyio.lowlevel.checkpoint_if_cancelled()
        self.sleeps.append(seconds)
        self.advance(max(seconds, 0.0))
        await anyio.lowlevel.cancel_shielded_checkpoint()

    def advance(self, seconds: float) -> None:
        """Move wall and monotonic time forward by ``seconds``."""
        if seconds < 0:
            raise ValueError("a clock never goes backwards; use set_now() to jump wall time")
        self._now += timedelta(seconds=seconds)
        self._monotonic += seconds

    def set_now(self, moment: datetime) -> None:
        """Jump wall time (either way, like an NTP step); monotonic time does not move."""
        self._now = _aware(moment)

    @property
    def slept(self) -> float:
        """Total seconds slept so far."""
        return sum(max(s, 0.0) for s in self.sleeps)


def _aware(moment: datetime) -> datetime:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError("FakeClock needs a timezone-aware datetime")
    return moment.astimezone(UTC)
