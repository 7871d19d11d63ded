"""One child's process group: signal it, reap it, wait until it is gone.

Every runner child leads its own session, so its process group id is its pid and every
process it forks stays in that group unless it deliberately leaves. Killing the group
kills the whole tree; with the daemon a child subreaper (`enable_subreaper`), orphaned
members are re-parented to the daemon and reaped here by group id.

Two hazards shape this module:

* ``waitid(P_PGID)`` would also collect the leader's status, which asyncio's child
  watcher is waiting for; so group members are reaped only once the leader has been
  reaped by asyncio, and never with ``waitpid(-1)``.
* Once the leader is reaped and no member is left, the kernel may hand the number to a
  new process (``pid_max`` is often 32768). While any member exists the number stays
  reserved, so "a process with pid == pgid exists although our leader is reaped" means
  the number was reused and our group is empty: we then signal and reap nothing.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys
from typing import Final

import anyio
from anyio.abc import Process

__all__ = ["KILL_WAIT_S", "ProcessGroup", "enable_subreaper"]

KILL_WAIT_S: Final = 5.0
"""How long to wait for a SIGKILLed group to disappear (only an uninterruptible sleep
in the kernel makes it take longer than milliseconds)."""

_PR_SET_CHILD_SUBREAPER: Final = 36
_POLL_FIRST_S: Final = 0.001
_POLL_MAX_S: Final = 0.02
_CAN_REAP_BY_GROUP: Final = hasattr(os, "waitid") and hasattr(os, "P_PGID")
_subreaper = False


def enable_subreaper() -> bool:
    """Make this process the reaper of its orphaned descendants (Linux only).

    Without it, grandchildren orphaned by a runner child go to PID 1, which in some
    containers never reaps them. Idempotent; returns whether this process is now a
    subreaper (``False`` on other platforms or if ``prctl`` failed).
    """
    global _subreaper  # noqa: PLW0603 - a process-wide, set-once fact
    if _subreaper or not sys.platform.startswith("linux"):
        return _subreaper
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        rc: int = libc.prctl(_PR_SET_CHILD_SUBREAPER, ctypes.c_ulong(1), 0, 0, 0)
    except (OSError, AttributeError):
        return False
    _subreaper = rc == 0
    return _subreaper


def _pid_exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class ProcessGroup:
    """The process group led by one runner child (``pgid == leader.pid``).

    ``stopped_by`` is set by whoever signals the group on purpose from outside the
    call (`ProcessRegistry.kill_all`), so the call reports ``stopped``, not ``crashed``.
    """

    __slots__ = ("_leader", "pgid", "stopped_by")

    def __init__(self, leader: Process) -> None:
        self._leader = leader
        self.pgid = leader.pid
        self.stopped_by: str | None = None

    @property
    def leader_reaped(self) -> bool:
        return self._leader.returncode is not None

    def _number_reused(self) -> bool:
        return self.leader_reaped and _pid_exists(self.pgid)

    def signal(self, sig: int) -> bool:
        """Send ``sig`` to every member; ``False`` when the group no longer exists."""
        if self._number_reused():
            return False
        try:
            os.killpg(self.pgid, sig)
        except (ProcessLookupError, PermissionError):
            return False
        return True

    def exists(self) -> bool:
        """Whether any member (zombies included) is left."""
        if self._number_reused():
            return False
        try:
            os.killpg(self.pgid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True

    def reap(self) -> int:
        """Reap exited members that are our children; returns how many.

        Does nothing until the leader is reaped (its status belongs to asyncio).
        """
        if not _CAN_REAP_BY_GROUP or not self.leader_reaped or self._number_reused():
            return 0
        reaped = 0
        while True:
            try:
                info = os.waitid(os.P_PGID, self.pgid, os.WEXITED | os.WNOHANG)
            except ChildProcessError:
                return reaped
            if info is None:
                return reaped
            reaped += 1

    async def wait_gone(self, limit_s: float) -> bool:
        """Wait until the leader is reaped and no member is left; ``False`` after ``limit_s``."""
        with anyio.move_on_after(limit_s):
            await self._leader.wait()
            delay = _POLL_FIRST_S
            while True:
                self.reap()
                if not self.exists():
                    return True
                await anyio.sleep(delay)
                delay = min(delay * 2, _POLL_MAX_S)
        return False

    async def terminate(self, grace: float, *, kill_wait: float = KILL_WAIT_S) -> bool:
        """SIGTERM the group, give it ``grace`` seconds, then SIGKILL what is left.

        Returns once the group is gone (``True``) or ``kill_wait`` seconds after the
        SIGKILL (``False``: something survived it, e.g. uninterruptible I/O).
        """
        if self.signal(signal.SIGTERM):
            self.signal(signal.SIGCONT)  # a stopped member only acts on SIGTERM once resumed
            if grace > 0 and await self.wait_gone(grace):
                return True
        self.signal(signal.SIGKILL)
        return await self.wait_gone(kill_wait)

    async def clear_leftovers(self, grace: float) -> bool:
        """After the leader exited: terminate members it left behind.

        Returns whether there were any (orphans that had already exited are reaped
        quietly and do not count).
        """
        self.reap()
        if not self.exists():
            return False
        await self.terminate(grace)
        return True
