"""The start-up sweep of the temp files killed writers left beside the daemon's state files.

``state_dirs`` must name every directory the daemon's parts write through temp files: it is
checked against the paths the real parts use. The sweep logs one line per removed file and a
directory it cannot read never stops it. (``tests/e2e/test_daemon_durability.py`` starts the
real daemon on a data dir with such leftovers.)
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from structlog.testing import capture_logs

from hydra.adapters._gitworktree import install_hooks
from hydra.adapters.git_workspace import GitWorkspace
from hydra.adapters.inbox import LocalInbox
from hydra.adapters.worlds import worktree_root
from hydra.audit import AuditLog
from hydra.daemon_info import write_daemon_info
from hydra.logs import get_logger
from hydra.loop_services import open_services
from hydra.runner import Runner
from hydra.startup import state_dirs, sweep_state_temps
from hydra.statefile import temp_path
from hydra.switches import SwitchBoard
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
    dirs = {d.resolve() for d in state_dirs(data, ["app", "lib"])}
    for path in [*written, *(r / "w.json" for r in records)]:
        assert path.parent.resolve() in dirs, path


async def test_the_sweep_logs_each_removed_file_and_passes_a_directory_it_cannot_read(
    tmp_path: Path, dead_pid: int
) -> None:
    readable, unreadable, absent = tmp_path / "state", tmp_path / "blocked", tmp_path / "absent"
    readable.mkdir()
    unreadable.write_text("a file where a directory should be")
    stale = [readable / f".switches.json.{dead_pid}.1.tmp", readable / f".x.json.{dead_pid}.2.tmp"]
    for path in stale:
        path.write_bytes(b"{")
    mine = temp_path(readable / "escalations.json")
    mine.write_bytes(b"{")
    with capture_logs() as logs:
        removed = await sweep_state_temps([unreadable, absent, readable], get_logger("hydra"))
    assert sorted(removed) == sorted(stale)
    assert mine.exists()
    assert sorted(
        (e["event"], e["log_level"], e.get("path") or e.get("directory")) for e in logs
    ) == sorted(
        [
            ("state.temp_sweep_failed", "warning", str(unreadable)),
            *[("state.temp_swept", "info", str(path)) for path in stale],
        ]
    )
    failed = next(e for e in logs if e["event"] == "state.temp_sweep_failed")
    assert "Not a directory" in failed["error"]
