"""One timer task for every loop: wakes each supervisor when its tick is due.

Waking a thousand sleeping loops one by one costs an event-loop iteration each (and, through
cancel-scope timeouts, several). Instead every supervisor waits on its own
:class:`anyio.Event`, and this single task keeps a heap of due times and sets the event of
whoever is due. Wake-ups are coalesced on a grid of ``resolution`` seconds (timer slack, as
the kernel does for sleeping processes): every loop due in the same slot wakes in the same
iteration, and their audit records share commit rounds. Rescheduling pushes a new entry and
invalidates the old one (a token check), so nothing is removed from the middle of the heap.
"""

from __future__ import annotations

import heapq
import itertools
import math
import time
from collections.abc import Callable

import anyio
from anyio.abc import TaskStatus

DEFAULT_RESOLUTION_S = 0.01


class Timer:
    def __init__(self, resolution_s: float = DEFAULT_RESOLUTION_S) -> None:
        self._resolution = resolution_s
        self._heap: list[tuple[float, int, int, Callable[[], None]]] = []
        self._tokens: dict[int, int] = {}
        self._counter = itertools.count()
        self._changed = anyio.Event()
        self._sleep_scope: anyio.CancelScope | None = None
        self._sleeping_until = float("inf")

    def schedule(self, owner: int, due: float, wake: Callable[[], None]) -> None:
        """Call ``wake()`` at monotonic time ``due``; replaces ``owner``'s previous request."""
        token = next(self._counter)
        self._tokens[owner] = token
        heapq.heappush(self._heap, (due, token, owner, wake))
        if due < self._sleeping_until:
            if self._sleep_scope is not None:
                self._sleep_scope.cancel()
            self._changed.set()

    def cancel(self, owner: int) -> None:
        """Forget ``owner``'s pending request."""
        self._tokens.pop(owner, None)

    async def run(self, *, task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
        task_status.started()
        while True:
            self._fire_due()
            if not self._heap:
                await self._changed.wait()
                self._changed = anyio.Event()
                continue
            due = self._slot_end(self._heap[0][0])
            with anyio.CancelScope() as scope:
                self._sleep_scope, self._sleeping_until = scope, due
                await anyio.sleep(max(0.0, due - time.monotonic()))
            self._sleep_scope, self._sleeping_until = None, float("inf")
            if self._changed.is_set():
                self._changed = anyio.Event()

    def _slot_end(self, due: float) -> float:
        if self._resolution <= 0:
            return due
        return math.ceil(due / self._resolution) * self._resolution

    def _fire_due(self) -> None:
        now = time.monotonic()
        heap = self._heap
        while heap and heap[0][0] <= now:
            _, token, owner, wake = heapq.heappop(heap)
            if self._tokens.get(owner) == token:
                del self._tokens[owner]
                wake()
