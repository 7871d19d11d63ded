"""The process-wide fatal signal: the first failure after which the daemon must not go on.

A failed fsync (audit stream or state file) means the kernel may already have dropped data;
retrying and carrying on would lie. Whoever meets such a failure calls :meth:`FatalSignal.trigger`
(:func:`hydra.statefile.store_json` does it for every state file written through it); the daemon
awaits :meth:`FatalSignal.wait`, stops at once and exits non-zero with one line on stderr.
"""

from __future__ import annotations

import anyio


class FatalSignal:
    """One per daemon. Safe to create before the event loop runs (``anyio.Event`` is lazy)."""

    def __init__(self) -> None:
        self._event = anyio.Event()
        self.error: BaseException | None = None

    def trigger(self, error: BaseException) -> None:
        """Record ``error`` (the first one wins) and wake the daemon. Safe to call repeatedly."""
        if self.error is None:
            self.error = error
        self._event.set()

    @property
    def triggered(self) -> bool:
        return self.error is not None

    async def wait(self) -> BaseException:
        await self._event.wait()
        assert self.error is not None  # noqa: S101 - set before the event
        return self.error
