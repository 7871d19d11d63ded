"""`ProcessGroup` guards against a recycled process-group number."""

from __future__ import annotations

import os
import signal
from dataclasses import dataclass

import anyio
import pytest

from hydra.runner._group import ProcessGroup


@dataclass
class ReapedLeader:
    """Stands in for an anyio `Process` whose leader asyncio has already reaped."""

    pid: int
    returncode: int | None = 0

    async def wait(self) -> int:
        return 0


def test_a_recycled_number_is_never_signalled_or_reaped() -> None:
    # Our leader was reaped and its number now belongs to someone else (here: the test
    # process itself). Signalling "the group" would hit a stranger; the group must read
    # as gone instead.
    group = ProcessGroup(ReapedLeader(pid=os.getpid()))  # type: ignore[arg-type]
    assert not group.exists()
    assert not group.signal(signal.SIGKILL)
    assert group.reap() == 0


@pytest.mark.anyio
async def test_terminate_of_a_recycled_number_returns_at_once() -> None:
    group = ProcessGroup(ReapedLeader(pid=os.getpid()))  # type: ignore[arg-type]
    with anyio.fail_after(5):
        assert await group.terminate(0.1, kill_wait=0.1)
        assert not await group.clear_leftovers(0.1)


def test_members_are_not_reaped_before_the_leader() -> None:
    group = ProcessGroup(ReapedLeader(pid=os.getpid(), returncode=None))  # type: ignore[arg-type]
    assert group.reap() == 0  # the leader's status belongs to asyncio's child watcher
