"""Test helpers for the runner: a recording cost sink, a fake clock, a process probe."""

from __future__ import annotations

import os
import signal
import stat
from dataclasses import dataclass, field
from pathlib import Path

import anyio
import anyio.lowlevel
import psutil

from hydra.runner import ProcessRegistry


@dataclass
class CostCall:
    source: str
    model: str | None
    input_tokens: int
    output_tokens: int
    usd: float


@dataclass
class RecordingSink:
    """A `CostSink` that keeps what it was given."""

    calls: list[CostCall] = field(default_factory=list)

    async def record(
        self,
        *,
        source: str,
        model: str | None,
        input_tokens: int,
        output_tokens: int,
        usd: float,
    ) -> None:
        await anyio.lowlevel.checkpoint()
        self.calls.append(CostCall(source, model, input_tokens, output_tokens, usd))


@dataclass
class FakeClock:
    """Virtual time: ``sleep`` advances ``now`` at once and remembers the duration."""

    now: float = 1000.0
    sleeps: list[float] = field(default_factory=list)

    def monotonic(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds
        await anyio.lowlevel.checkpoint()


class RecordingRegistry(ProcessRegistry):
    """A real registry that also remembers every process group it ever held."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: list[int] = []

    def register(self, group) -> None:  # type: ignore[no-untyped-def]
        self.seen.append(group.pgid)
        super().register(group)


class ProcessProbe:
    """Looks at real processes: group members, zombies among our children."""

    @staticmethod
    def group_exists(pgid: int) -> bool:
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return False
        return True

    @staticmethod
    def members(pgids: set[int]) -> list[psutil.Process]:
        found = []
        for proc in psutil.process_iter():
            try:
                if os.getpgid(proc.pid) in pgids:
                    found.append(proc)
            except (ProcessLookupError, psutil.Error):
                continue
        return found

    @staticmethod
    def zombie_children(pgids: set[int]) -> list[int]:
        """Zombie children of this process that were members of ``pgids``.

        Scoped to our groups: once the test process is a subreaper, other tests'
        orphans may end up here too, and they are not these tests' business.
        """
        zombies = []
        for child in psutil.Process().children():
            try:
                if child.status() == psutil.STATUS_ZOMBIE and os.getpgid(child.pid) in pgids:
                    zombies.append(child.pid)
            except (psutil.NoSuchProcess, ProcessLookupError):
                continue
        return zombies

    @staticmethod
    def pid_alive(pid: int) -> bool:
        """Exists and is not a zombie."""
        try:
            return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
        except psutil.NoSuchProcess:
            return False

    @staticmethod
    def kill_groups(pgids: set[int]) -> None:
        """Last-resort cleanup so one failing test does not poison the next."""
        for pgid in pgids:
            try:
                os.killpg(pgid, signal.SIGKILL)
            except ProcessLookupError:
                continue


def write_script(directory: Path, name: str, body: str) -> str:
    """An executable ``/bin/sh`` script; returns its path."""
    path = directory / name
    path.write_text("#!/bin/sh\n" + body)
    path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return str(path)


# A child that forks grandchildren which ignore SIGTERM, reports every pid, then waits.
# The leader ignores SIGTERM too: only SIGKILL to the whole group ends this tree.
STUBBORN_TREE = """\
trap '' TERM
n=${1:-3}
i=0
while [ "$i" -lt "$n" ]; do
  (trap '' TERM; exec sleep 60) &
  echo "grandchild $!"
  i=$((i + 1))
done
echo "leader $$"
wait
"""
