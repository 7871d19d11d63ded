"""The committer thread: one dedicated OS thread per ``AuditLog`` runs every commit round.

Hand-off of one round (``+`` marks a cross-thread wake-up)::

    event loop (appenders)                    committer thread "hydra-audit-committer <root>"
    ----------------------                    -----------------------------------------------
    serialise the record (make_pending)
    lock; add it to the open Round; unlock    [spin_us > 0: polling for a Round]
    notify the condition if it sleeps ------+ sleeping on the condition: woken
    await round.wait()                        lock; take the open Round (swap); unlock
                                              commit_round(): per stream flock, catch-up,
                                              one os.write; fsync each file or one syncfs
    finish the round: publish, on_commit, <-+ ONE loop.call_soon_threadsafe(finish, ...)
    fatal, round.release()                    [spin_us], then sleep on the condition

While a round is on disk the next one accumulates, so N concurrent appenders share one
write + sync per stream. Compared with the former design (a committer *task* sending each
round through ``anyio.to_thread.run_sync``) a round saves the thread-pool machinery
(CapacityLimiter, worker lookup, futures) and one task switch: a sequential append costs
one write + fsync, ~30 µs of Python on the two threads and two wake-ups (the thread, then
the loop).

Spin (``spin_us``, default 0 = off): after handing a round back the thread can poll for the
next round for up to ``spin_us`` before it sleeps, yielding with ``time.sleep(0)`` (which
drops the GIL), so that a sequential writer's next append would not pay the thread's
wake-up. Measured on the 2-vCPU reference VM (``benchmarks/audit_append.py`` and
``benchmarks/README.md``), on CPython with the GIL it does the opposite:

* right after the hand-off the event loop wakes up and needs the GIL, while the spinner
  takes it back after every ``sleep(0)``; a thread that waits for the GIL sleeps on a
  condition variable and loses every race to the spinner, so the loop typically gets the
  GIL only when the spin ends (a GIL convoy). The spin delays the very append it waits for:
  a sequential append costs ~50-60 µs *more* with ``spin_us=50`` (with fsync made free:
  ~46 µs per append without the spin, ~105 µs with it);
* what it would save is small here: the thread's wake-up from the condition (enqueue to
  pick-up) takes ~10-20 µs on this VM;
* and it costs CPU: up to ``spin_us`` of one core per round that no append follows (every
  round of a daemon whose appends are spread out; see the spin-cost table in the README).

Hence off by default; the knob stays for free-threaded builds or other machines, where it
should be measured again before use.

Failure model: :func:`commit_round` never raises; a failed write/sync comes back as
``RoundResult.fatal`` and the thread then refuses to write anything else (later rounds are
failed with the same error). Any *unexpected* exception in the thread is logged, turned into
an :class:`AuditFatal` ("committer thread failed ...") and handed to the loop, which sets
``AuditLog.fatal`` (so ``wait_fatal()`` returns and the daemon stops) and fails every waiting
append: the thread never dies silently and no appender waits forever. If the event loop
disappears without closing the log (no ``__aexit__``), the thread notices within
``IDLE_CHECK_S`` and exits, so a non-daemon thread never keeps the process alive.
"""

from __future__ import annotations

import asyncio
import importlib
import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Protocol

import anyio
import anyio.lowlevel
from anyio.from_thread import BlockingPortal

from hydra.audit._committer import RoundResult, commit_round
from hydra.audit._encode import Pending
from hydra.audit._errors import AuditFatal
from hydra.audit._stream_file import StreamFile
from hydra.audit._sync import SyncPolicy

DEFAULT_SPIN_US = 0.0
"""Off by default: on CPython (GIL) the spin costs more than it saves (module docstring)."""
IDLE_CHECK_S = 1.0
"""How often an idle thread checks that its event loop still exists."""

logger = logging.getLogger(__name__)

_sniffio: ModuleType | None
try:  # recent anyio releases (4.16 here) no longer require sniffio; trio always does
    _sniffio = importlib.import_module("sniffio")
except ImportError:  # pragma: no cover - depends on the environment
    _sniffio = None


def running_asyncio_loop() -> asyncio.AbstractEventLoop | None:
    """The running asyncio loop when anyio runs on asyncio; ``None`` on other backends."""
    if _sniffio is not None:
        try:
            library = str(_sniffio.current_async_library())
        except Exception:  # noqa: BLE001 - sniffio.AsyncLibraryNotFoundError: no loop at all
            return None
        if library != "asyncio":
            return None
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


class Round:
    """Appends that share one commit: filled on the event loop, committed by the thread.

    Its appenders wait with :meth:`wait`; the hand-off calls :meth:`release` on the event
    loop. On asyncio each waiter parks on a bare future (one per append, set in one pass);
    elsewhere they share an ``anyio.Event``.
    """

    __slots__ = ("_event", "_loop", "_released", "_waiters", "work")

    def __init__(self, loop: asyncio.AbstractEventLoop | None = None) -> None:
        self.work: dict[StreamFile, list[Pending]] = {}
        self._loop = loop
        self._released = False
        self._waiters: list[asyncio.Future[None]] = []
        # created on the event loop (enqueue), set there by the hand-off
        self._event: anyio.Event | None = None if loop is not None else anyio.Event()

    def entries(self) -> int:
        return sum(len(entries) for entries in self.work.values())

    async def wait(self) -> None:
        """Return once the round was committed or failed (see each entry's ``error``)."""
        loop = self._loop
        if loop is None or self._released:
            await self._wait_event()
            return
        future = loop.create_future()
        self._waiters.append(future)
        await future  # a cancelled waiter leaves a done future behind: skipped by release()

    async def _wait_event(self) -> None:
        if self._event is None:  # released on asyncio before anyone waited
            await anyio.lowlevel.checkpoint()
        else:
            await self._event.wait()

    def release(self) -> None:
        """Wake every waiter (on the event loop)."""
        self._released = True
        if self._event is not None:
            self._event.set()
        waiters, self._waiters = self._waiters, []
        for future in waiters:
            if not future.done():
                future.set_result(None)


class Handoff(Protocol):
    """Runs a callable on the event loop, from the committer thread."""

    asyncio_loop: asyncio.AbstractEventLoop | None
    """The asyncio loop the rounds are handed to (``None`` on other backends)."""

    def submit(self, func: Callable[..., None], /, *args: object) -> None:
        """Schedule (or run) ``func(*args)`` on the loop; ``RuntimeError`` if it is gone."""

    def gone(self) -> bool:
        """True once the loop can no longer run anything (closed)."""


class LoopHandoff:
    """asyncio: one ``call_soon_threadsafe`` per round (does not wait for the loop)."""

    __slots__ = ("_loop", "asyncio_loop")

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self.asyncio_loop: asyncio.AbstractEventLoop | None = loop

    def submit(self, func: Callable[..., None], /, *args: object) -> None:
        self._loop.call_soon_threadsafe(func, *args)

    def gone(self) -> bool:
        return self._loop.is_closed()


class PortalHandoff:
    """Any other anyio backend: ``BlockingPortal.call`` (waits until the loop ran it)."""

    __slots__ = ("_portal", "asyncio_loop")

    def __init__(self, portal: BlockingPortal) -> None:
        self._portal = portal
        self.asyncio_loop: asyncio.AbstractEventLoop | None = None

    def submit(self, func: Callable[..., None], /, *args: object) -> None:
        self._portal.call(func, *args)

    def gone(self) -> bool:
        return False  # a stopped portal raises RuntimeError from submit()


OnRound = Callable[[Round, RoundResult], None]
OnDeath = Callable[[AuditFatal, "Round | None"], None]


class CommitterThread:
    """The queue of pending appends and the OS thread that commits them round by round.

    ``enqueue``, ``close`` and ``take_open`` are called on the event loop; ``join`` from
    a worker thread. ``on_round(round, result)`` and ``on_death(fatal, round_in_flight)``
    run on the event loop through ``handoff``.
    """

    def __init__(
        self,
        *,
        name: str,
        policy: SyncPolicy,
        root: Path,
        root_fd: int,
        spin_us: float,
        handoff: Handoff,
        on_round: OnRound,
        on_death: OnDeath,
    ) -> None:
        self._policy = policy
        self._root = root
        self._root_fd = root_fd
        self._spin_s = spin_us / 1e6
        self._handoff = handoff
        self._on_round = on_round
        self._on_death = on_death
        self._lock = threading.Lock()
        self._wakeup = threading.Condition(self._lock)
        self._open: Round | None = None  # guarded by _lock; the thread only ever takes it
        self._sleeping = False  # guarded by _lock: the thread waits on _wakeup
        self._closing = False  # guarded by _lock: drain what is open, then exit
        self._failed: AuditFatal | None = None  # thread-only: never write after this
        self._owner = threading.current_thread()  # the event loop's thread
        self._thread = threading.Thread(target=self._main, name=name, daemon=False)

    # ------------------------------------------------------------- event-loop side
    def start(self) -> None:
        self._thread.start()

    def enqueue(self, file: StreamFile, entry: Pending) -> Round:
        """Add ``entry`` to the open round (opening one if needed) and return that round."""
        with self._lock:
            current = self._open
            if current is None:
                current = self._open = Round(self._handoff.asyncio_loop)
                current.work[file] = [entry]
                if self._sleeping:  # last thing under the lock: the thread retakes it at once
                    self._wakeup.notify()
            elif (entries := current.work.get(file)) is None:
                current.work[file] = [entry]
            else:
                entries.append(entry)
            return current

    def close(self) -> None:
        """Let the thread commit what is open, then exit."""
        with self._lock:
            self._closing = True
            self._wakeup.notify()

    def take_open(self) -> Round | None:
        """Remove and return the open round (only once the thread is dead or gone)."""
        with self._lock:
            current, self._open = self._open, None
            return current

    def join(self) -> None:
        """Wait for the thread to exit (blocking: call it off the event loop)."""
        if self._thread.ident is not None:
            self._thread.join()

    def is_alive(self) -> bool:
        return self._thread.is_alive()

    # ------------------------------------------------------------- thread side
    def _main(self) -> None:
        current: Round | None = None
        try:
            while (current := self._next()) is not None:
                result = self._commit(current)
                try:
                    self._handoff.submit(self._on_round, current, result)
                except RuntimeError:  # the loop is closed: nobody is waiting any more
                    logger.error(
                        "audit committer %s: event loop gone; %d appends of its last round "
                        "not acknowledged, thread exits",
                        self._thread.name,
                        current.entries(),
                    )
                    return
                current = None
        except BaseException as exc:  # noqa: BLE001 - never die silently: make it fatal
            self._die(exc, current)

    def _next(self) -> Round | None:
        """The next round to commit: spin briefly, then wait; ``None`` when it must exit."""
        if self._spin_s > 0.0 and self._open is None:
            deadline = time.perf_counter() + self._spin_s
            # unlocked reads: at worst one more iteration or a locked re-check below
            while self._open is None and not self._closing and time.perf_counter() < deadline:
                time.sleep(0)
        with self._lock:
            while self._open is None:
                if self._closing:
                    return None
                self._sleeping = True
                try:
                    self._wakeup.wait(IDLE_CHECK_S)
                finally:
                    self._sleeping = False
                if self._open is None and not self._closing and self._owner_gone():
                    logger.error(
                        "audit committer %s: its event loop ended without closing the "
                        "AuditLog; thread exits",
                        self._thread.name,
                    )
                    return None
            current, self._open = self._open, None
            return current

    def _owner_gone(self) -> bool:
        return not self._owner.is_alive() or self._handoff.gone()

    def _commit(self, current: Round) -> RoundResult:
        if self._failed is not None:  # after a failed write/sync nothing is written again
            return RoundResult(fatal=self._failed)
        result = commit_round(current.work, self._policy, self._root, self._root_fd)
        if result.fatal is not None:
            self._failed = result.fatal
        return result

    def _die(self, exc: BaseException, current: Round | None) -> None:
        fatal = AuditFatal("committer thread", self._root, exc)
        logger.critical("audit committer %s died: %s", self._thread.name, fatal, exc_info=exc)
        try:
            self._handoff.submit(self._on_death, fatal, current)
        except BaseException:  # noqa: BLE001 - nothing left to tell: the loop is gone
            logger.critical("audit committer %s: could not report its death", self._thread.name)
