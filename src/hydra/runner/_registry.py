"""Bookkeeping of live process groups: kill everything on shutdown, reap stray zombies."""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Final

import psutil

from hydra.runner._group import ProcessGroup

__all__ = ["DEFAULT_REGISTRY", "ProcessRegistry", "kill_all", "reap_orphans"]


class ProcessRegistry:
    """The process groups of runner calls in flight, in one process.

    Used from the event-loop thread (`kill_all` may also run in a signal handler or
    ``atexit``). A group stays registered until its leader has been reaped, even when a
    call gives up on a leader that survived SIGKILL, so `reap_orphans` never takes a
    status asyncio is still waiting for.
    """

    __slots__ = ("_abandoned", "_groups", "_spawning")

    def __init__(self) -> None:
        self._groups: dict[int, ProcessGroup] = {}
        self._abandoned: set[int] = set()
        self._spawning = 0

    @contextmanager
    def spawning(self) -> Iterator[None]:
        """Marks a spawn in progress: the child exists before it can be registered."""
        self._spawning += 1
        try:
            yield
        finally:
            self._spawning -= 1

    def register(self, group: ProcessGroup) -> None:
        self._abandoned.discard(group.pgid)  # the number was reused: the old leader is gone
        self._groups[group.pgid] = group

    def release(self, group: ProcessGroup) -> None:
        """The call is done with ``group``: forget it, or once its leader is reaped."""
        if self._groups.get(group.pgid) is not group:
            return
        if group.leader_reaped:
            del self._groups[group.pgid]
        else:
            self._abandoned.add(group.pgid)

    def _prune(self) -> None:
        for pgid in list(self._abandoned):
            if self._groups[pgid].leader_reaped:
                del self._groups[pgid]
                self._abandoned.discard(pgid)

    def live_pgids(self) -> frozenset[int]:
        """Process group ids of calls in flight (and of leaders not yet reaped)."""
        return frozenset(self._groups)

    def kill_all(self, sig: int = signal.SIGKILL) -> int:
        """Send ``sig`` to every registered group; returns how many were signalled.

        The calls concerned return ``stopped`` with reason ``kill_all``. Meant for
        daemon shutdown after the orderly cancellation had its chance.
        """
        signalled = 0
        for group in list(self._groups.values()):
            group.stopped_by = "kill_all"
            if group.signal(sig):
                signalled += 1
        return signalled

    def reap_orphans(self) -> list[int]:
        """Reap zombie children no runner call is responsible for; returns their pids.

        Housekeeping for the daemon to call periodically: members that left their
        group (``setsid``, e.g. a detached ``git gc``) are adopted by the subreaper
        daemon when they exit but belong to no call. Leaves alone leaders of calls in
        flight, anything while a spawn is in progress, and zombies in the daemon's own
        process group (children of non-runner code, whose owner still waits for them).
        """
        self._prune()
        if self._spawning or not hasattr(os, "waitid"):
            return []
        try:
            children = psutil.Process().children()
        except psutil.Error:
            return []
        own_group = os.getpgrp()
        reaped: list[int] = []
        for child in children:
            if child.pid in self._groups or not _is_stray_zombie(child, own_group):
                continue
            try:
                if os.waitid(os.P_PID, child.pid, os.WEXITED | os.WNOHANG) is not None:
                    reaped.append(child.pid)
            except ChildProcessError:
                continue
        return reaped


def _is_stray_zombie(child: psutil.Process, own_group: int) -> bool:
    try:
        return child.status() == psutil.STATUS_ZOMBIE and os.getpgid(child.pid) != own_group
    except (psutil.Error, OSError):
        return False


DEFAULT_REGISTRY: Final = ProcessRegistry()
"""The registry `Runner` uses unless given another."""


def kill_all(sig: int = signal.SIGKILL) -> int:
    """`ProcessRegistry.kill_all` on the default registry."""
    return DEFAULT_REGISTRY.kill_all(sig)


def reap_orphans() -> list[int]:
    """`ProcessRegistry.reap_orphans` on the default registry."""
    return DEFAULT_REGISTRY.reap_orphans()
