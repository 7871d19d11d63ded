"""The start-up sweep of the temp files killed writers left beside the daemon's state files.

``state_dirs`` must name every directory the daemon's parts write through temp files: it is
checked against the paths the real parts use, and it finds those of repositories no longer (or
never) configured. The sweep logs one line per removed file; a file it cannot remove or a
directory it cannot read never stops it. At start-up, temp files with the daemon's own pid are
an earlier incarnation's; in the inbox, which writers without the daemon's lock share, young
temp files are kept whatever their pid. (``tests/e2e/test_daemon_durability.py`` starts the
real daemon on a data dir with such leftovers.)
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from structlog.testing import capture_logs

from hydra.adapters._gitworktree import install_hooks
from hydra.adapters.git_workspace import GitWorkspace
from hydra.adapters.inbox import LocalInbox
from hydra.adapters.worlds import repo_state_dirs, worktree_root
from hydra.audit import AuditLog
from hydra.daemon_info import write_daemon_info
from hydra.logs import get_logger
from hydra.loop_services import open_services
from hydra.runner import Runner
from hydra.startup import state_dirs, sweep_state_temps
from hydra.statefile import UNLOCKED_TEMP_MIN_AGE_S, StateDir, temp_path
from hydra.switches import SwitchBoard
from tests.helpers.faults import UnlinkLosingARace
from tests.runner._support import RecordingSink

pytestmark = pytest.mark.anyio


@pytest.fixture
def dead_pid() -> int:
    """The pid of a child that has exited and been reaped."""
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    assert proc.wait(timeout=30) == 0
    return proc.pid


async def test_state_dirs_name_every_directory_the_daemon_parts_write_files_in(
    tmp_path: Path,
) -> None:
    # The parts write for real; every file they leave outside the audit log must lie in a
    # directory the start-up sweep visits.
    data = tmp_path / "data"
    async with AuditLog(data / "audit") as audit:
        services = await open_services(audit, data / "audit", data / "state")
        await services.state("counting").put("cursor", 1)
        await services.escalations.escalate(loop="counting", key="k", title="t", summary="s")
        board = await SwitchBoard.load(
            data / "state" / "switches.json", await audit.stream("control"), {}, repos=["app"]
        )
        await board.update_repo("app", enabled=False, actor="test", reason="write it")
    write_daemon_info(data, pid=os.getpid(), url="http://127.0.0.1:1/", started_at="now")
    records = []
    for repo in ("app", "lib"):
        await LocalInbox(data, repo).create_issue(f"an issue of {repo}")
        runner = Runner(cost_sink=RecordingSink())
        workspace = GitWorkspace(tmp_path / repo, repo, worktree_root(data, repo), runner)
        install_hooks(workspace.hooks)
        records.append(workspace._isolated.records)  # written only with a real isolated checkout
    written = [p for p in data.rglob("*") if p.is_file() and "audit" not in p.parts]
    assert len(written) >= 8, written
    dirs = {d.path.resolve() for d in state_dirs(data, ["app", "lib"])}
    for path in [*written, *(r / "w.json" for r in records)]:
        assert path.parent.resolve() in dirs, path


async def test_the_sweep_logs_each_removed_file_and_passes_a_directory_it_cannot_read(
    tmp_path: Path, dead_pid: int
) -> None:
    readable, unreadable, absent = tmp_path / "state", tmp_path / "blocked", tmp_path / "absent"
    readable.mkdir()
    unreadable.write_text("a file where a directory should be")
    stale = [readable / f".switches.json.{dead_pid}.1.tmp", readable / f".x.json.{dead_pid}.2.tmp"]
    # At start-up, under the data dir's lock and before any writer of this process runs: left by
    # an earlier incarnation with the same pid (a container's daemon is pid 1 at every start).
    mine = temp_path(readable / "escalations.json")
    for path in [*stale, mine]:
        path.write_bytes(b"{")
    dirs = [StateDir(unreadable), StateDir(absent), StateDir(readable)]
    with capture_logs() as logs:
        done = await sweep_state_temps(dirs, get_logger("hydra"))
    assert sorted(done.removed) == sorted([*stale, mine])
    assert [path for path, _ in done.failed] == [unreadable]
    assert sorted(
        (e["event"], e["log_level"], e.get("path") or e.get("directory")) for e in logs
    ) == sorted(
        [
            ("state.temp_sweep_failed", "warning", str(unreadable)),
            *[("state.temp_swept", "info", str(path)) for path in [*stale, mine]],
        ]
    )
    failed = next(e for e in logs if e["event"] == "state.temp_sweep_failed")
    assert "Not a directory" in failed["error"]


async def test_a_file_the_sweep_cannot_remove_is_logged_and_the_rest_are_swept(
    tmp_path: Path, dead_pid: int
) -> None:
    first, second = tmp_path / "state", tmp_path / "loops"
    stale = [d / f".{n}.json.{dead_pid}.{n}.tmp" for d in (first, second) for n in (1, 2)]
    for path in stale:
        path.parent.mkdir(exist_ok=True)
        path.write_bytes(b"{")
    unlink = UnlinkLosingARace()
    with capture_logs() as logs:
        done = await sweep_state_temps(
            [StateDir(first), StateDir(second)], get_logger("hydra"), unlink=unlink
        )
    [lost] = unlink.raced
    assert sorted(done.removed) == sorted(p for p in stale if p != lost)
    assert [path for path, _ in done.failed] == [lost]
    warnings = [e for e in logs if e["log_level"] == "warning"]
    assert [(e["event"], e["path"]) for e in warnings] == [("state.temp_sweep_failed", str(lost))]
    assert "Is a directory" in warnings[0]["error"]
    assert "directory" not in warnings[0]
    assert sorted(e["path"] for e in logs if e["event"] == "state.temp_swept") == sorted(
        str(p) for p in done.removed
    )


async def test_state_dirs_name_the_directories_of_unconfigured_repositories_too(
    tmp_path: Path,
) -> None:
    # ``hydra issue`` files into any repository's inbox; a repository removed from the settings
    # keeps its worktrees directory. Their directories are found where they exist.
    data = tmp_path / "data"
    await LocalInbox(data, "filed").create_issue("filed by hydra issue, never configured")
    await LocalInbox(data, "app").create_issue("a configured one's inbox is named once")
    runner = Runner(cost_sink=RecordingSink())
    removed = GitWorkspace(tmp_path / "old", "old", worktree_root(data, "old"), runner)
    install_hooks(removed.hooks)
    removed._isolated.records.mkdir(parents=True)
    (data / "inbox" / "not-a-repo.json").write_text("a stray file")
    dirs = state_dirs(data, ["app"])
    paths = [d.path for d in dirs]
    assert len(paths) == len(set(paths)), paths
    assert set(dirs) == {
        StateDir(data),
        StateDir(data / "state"),
        StateDir(data / "state" / "loops"),
        *repo_state_dirs(data, "app"),  # configured: named whether they exist or not
        StateDir(data / "inbox" / "filed", UNLOCKED_TEMP_MIN_AGE_S),  # its worktrees: none
        StateDir(removed.hooks),
        StateDir(removed._isolated.records),
    }
    assert removed.hooks.is_dir()
    assert removed.hooks.parent.resolve() == (worktree_root(data, "old") / ".hydra").resolve()


async def test_the_start_up_sweep_takes_own_pid_temps_and_keeps_young_ones_in_the_inbox(
    tmp_path: Path, dead_pid: int
) -> None:
    data = tmp_path / "data"
    old = time.time() - 2 * UNLOCKED_TEMP_MIN_AGE_S
    inbox = data / "inbox" / "filed"  # an unconfigured repository's
    hooks = worktree_root(data, "app") / ".hydra" / "hooks"
    stale = [
        temp_path(data / "state" / "switches.json"),  # our pid: an earlier incarnation's
        temp_path(hooks / "pre-push"),
        hooks / f".pre-push.{dead_pid}.1.tmp",
        inbox / f".1.json.{dead_pid}.2.tmp",
        temp_path(inbox / "2.json"),
    ]
    young = [
        # Maybe being written by ``hydra issue`` in another pid namespace, where its pid looks
        # dead here or equals ours.
        inbox / f".3.json.{dead_pid}.3.tmp",
        temp_path(inbox / "4.json"),
    ]
    for path in [*stale, *young]:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"{")
    for path in stale:
        os.utime(path, (old, old))
    now_young = time.time() - UNLOCKED_TEMP_MIN_AGE_S / 2
    for path in young:
        os.utime(path, (now_young, now_young))
    with capture_logs():
        done = await sweep_state_temps(state_dirs(data, ["app"]), get_logger("hydra"))
    assert sorted(done.removed) == sorted(stale)
    assert done.failed == []
    assert [p for p in young if not p.exists()] == []
