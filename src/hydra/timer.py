"""One timer task for every loop: wakes each supervisor when its tick is due.

Waking a thousand sleeping loops one by one costs an event-loop iteration each (and, through
cancel-scope timeouts, several). Instead every supervisor waits on its own :class:`Wakeup`,
and this single task keeps a heap of due times and sets the wake-up of whoever is due.
Wake-ups are coalesced on a grid of ``resolution`` seconds (timer slack, as the kernel does
for sleeping processes): every loop due in the same slot wakes in the same iteration, and
their audit records share commit rounds. The default slot, 20 ms, is a CPU/latency trade-off
measured with ``benchmarks/scheduler.py`` (1,000 loops at 1 s): against 10 ms it halves the
commit rounds (one ``syncfs``, one thread wake-up and one hand-off each) for ~2.5 points of one
core, and moves p50/p99 tick lateness from ~5/~10 ms to ~10/~20 ms.

Rescheduling pushes a new entry and invalidates the old one (a token check), so nothing is
removed from the middle of the heap; once dead entries are half the heap they are dropped in
one pass.

The same timer arms every tick's deadline (the ``TickControl`` of the loop base class): one
heap push and one dict update per tick instead of an event-loop timer handle per tick.
"""

from __future__ import annotations

import asyncio
import heapq
import importlib
import itertools
import math
import time
from collections.abc import Callable
from types import ModuleType

import anyio
from anyio.abc import TaskStatus

DEFAULT_RESOLUTION_S = 0.02
_COMPACT_MIN = 256

_sniffio: ModuleType | None
try:  # anyio no longer requires sniffio; with it, trio (and trio-asyncio) are told apart
    _sniffio = importlib.import_module("sniffio")
except ImportError:  # pragma: no cover - depends on the environment
    _sniffio = None


class Timer:
    def __init__(self, resolution_s: float = DEFAULT_RESOLUTION_S) -> None:
        self._resolution = resolution_s
        self._heap: list[tuple[float, int, int, Callable[[], None]]] = []
        self._tokens: dict[int, int] = {}
        self._stale = 0  # heap entries whose owner rescheduled or cancelled since
        self._counter = itertools.count()
        self._changed = anyio.Event()
        self._sleep_scope: anyio.CancelScope | None = None
        self._sleeping_until = float("inf")

    def schedule(self, owner: int, due: float, wake: Callable[[], None]) -> None:
        """Call ``wake()`` at monotonic time ``due``; replaces ``owner``'s previous request."""
        token = next(self._counter)
        if self._tokens.get(owner) is not None:
            self._forget_one()
        self._tokens[owner] = token
        heapq.heappush(self._heap, (due, token, owner, wake))
        if due < self._sleeping_until:
            if self._sleep_scope is not None:
                self._sleep_scope.cancel()
            self._changed.set()

    def cancel(self, owner: int) -> None:
        """Forget ``owner``'s pending request."""
        if self._tokens.pop(owner, None) is not None:
            self._forget_one()

    def _forget_one(self) -> None:
        """Count one dead heap entry; drop them all once they are half the heap.

        Tick deadlines are cancelled long before they are due (a 600 s timeout, a 1 ms tick),
        so without this the heap would hold one dead entry per tick for ``timeout_s``.
        """
        self._stale += 1
        heap = self._heap
        if self._stale > _COMPACT_MIN and 2 * self._stale > len(heap):
            tokens = self._tokens
            heap[:] = [entry for entry in heap if tokens.get(entry[2]) == entry[1]]
            heapq.heapify(heap)  # in place: _fire_due may be iterating over this very list
            self._stale = 0

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
            elif self._stale > 0:
                self._stale -= 1


class Wakeup:
    """A reusable wake-up flag with one waiter (a supervisor), cheaper than an Event per wait.

    :meth:`set` is level-triggered: a wake-up that arrives while nobody waits is kept for the
    next :meth:`wait`, which consumes it. On asyncio the waiter parks on a bare future (no
    ``anyio.Event`` to build per wait: one future, no backend lookup); on other backends it
    uses an ``anyio.Event``. Cancelling the waiter is safe: the future or event is dropped.
    """

    __slots__ = ("_event", "_flag", "_future")

    def __init__(self) -> None:
        self._flag = False
        self._future: asyncio.Future[None] | None = None
        self._event: anyio.Event | None = None

    def set(self) -> None:
        self._flag = True
        future = self._future
        if future is not None:
            self._future = None
            if not future.done():
                future.set_result(None)
        elif self._event is not None:
            self._event.set()
            self._event = None

    async def wait(self) -> None:
        """Return once :meth:`set` was called since the last :meth:`wait` returned."""
        if not self._flag:
            loop = running_asyncio_loop()
            if loop is not None:
                future = self._future = loop.create_future()
                try:
                    await future
                finally:
                    self._future = None
            else:
                event = self._event = anyio.Event()
                try:
                    await event.wait()
                finally:
                    self._event = None
        self._flag = False


def running_asyncio_loop() -> asyncio.AbstractEventLoop | None:
    """The running asyncio loop when anyio runs on asyncio; ``None`` on other backends."""
    if _sniffio is not None:
        try:
            if _sniffio.current_async_library() != "asyncio":
                return None
        except Exception:  # noqa: BLE001 - sniffio.AsyncLibraryNotFoundError: no loop at all
            return None
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None
