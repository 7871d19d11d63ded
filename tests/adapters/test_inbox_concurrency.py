"""LocalInbox under concurrent writers: tasks in one process and separate processes."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import anyio
import filelock
import pytest

from hydra.adapters.inbox import LocalInbox
from ports import PortError

pytestmark = pytest.mark.anyio

WRITER = """
import sys
from pathlib import Path

import anyio

from hydra.adapters.inbox import LocalInbox


async def main(data: str, who: str, rounds: int) -> None:
    inbox = LocalInbox(Path(data), "shop", author=who)
    for n in range(rounds):
        await inbox.create_issue(f"{who} {n}")
        await inbox.add_label("1", f"{who}-{n}")
        await inbox.comment("1", f"{who} {n}")


anyio.run(main, sys.argv[1], sys.argv[2], int(sys.argv[3]))
"""


async def test_concurrent_tasks_lose_no_update(tmp_path: Path) -> None:
    inbox = LocalInbox(tmp_path, "shop")
    issue = await inbox.create_issue("busy")

    async def work(n: int) -> None:
        await inbox.add_label(issue.id, f"l{n}")
        await inbox.comment(issue.id, f"c{n}")

    with anyio.fail_after(20):
        async with anyio.create_task_group() as tg:
            for n in range(16):
                tg.start_soon(work, n)
    got = await inbox.get_issue(issue.id)
    assert got.labels == {f"l{n}" for n in range(16)}
    assert sorted(c.body for c in got.comments) == sorted(f"c{n}" for n in range(16))


def test_separate_processes_get_distinct_ids_and_lose_no_update(tmp_path: Path) -> None:
    writers, rounds = 4, 8
    anyio.run(LocalInbox(tmp_path, "shop").create_issue, "shared")
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER, str(tmp_path), f"w{w}", str(rounds)],
            stderr=subprocess.PIPE,
        )
        for w in range(writers)
    ]
    for proc in procs:
        _, err = proc.communicate(timeout=60)
        assert proc.returncode == 0, err.decode()

    async def check() -> None:
        inbox = LocalInbox(tmp_path, "shop")
        issues = await inbox.list_issues(limit=1_000)
        assert [i.id for i in issues] == [str(n) for n in range(1, writers * rounds + 2)]
        titles = {i.title for i in issues[1:]}
        assert titles == {f"w{w} {n}" for w in range(writers) for n in range(rounds)}
        shared = await inbox.get_issue("1")
        expected = {f"w{w}-{n}" for w in range(writers) for n in range(rounds)}
        assert shared.labels == expected
        assert len(shared.comments) == writers * rounds

    anyio.run(check)


async def test_a_lock_held_too_long_times_out(tmp_path: Path) -> None:
    inbox = LocalInbox(tmp_path, "shop", lock_timeout_s=0.2)
    issue = await inbox.create_issue("x")
    other = filelock.FileLock(tmp_path / "inbox" / "shop" / ".lock")
    with other:
        with anyio.fail_after(10), pytest.raises(PortError) as caught:
            await inbox.add_label(issue.id, "bug")
        assert caught.value.kind == "timeout"
        assert ".lock" in str(caught.value)
        # Readers take no lock.
        assert (await inbox.get_issue(issue.id)).labels == frozenset()
    await inbox.add_label(issue.id, "bug")
    assert (await inbox.get_issue(issue.id)).labels == {"bug"}


async def test_a_writer_stuck_in_this_process_times_out_the_others(tmp_path: Path) -> None:
    inbox = LocalInbox(tmp_path, "shop", lock_timeout_s=0.2)
    issue = await inbox.create_issue("x")
    # Stand-in for a write of this process that hangs while holding the in-process lock.
    stuck = inbox._store._threads
    stuck.acquire()
    try:
        with anyio.fail_after(10), pytest.raises(PortError, match="is busy") as caught:
            await inbox.close_issue(issue.id)
        assert caught.value.kind == "timeout"
    finally:
        stuck.release()
    await inbox.close_issue(issue.id)
    assert (await inbox.get_issue(issue.id)).state == "closed"
