"""A preflight attempt cut short by the tick timeout: it fails ``timed_out``, counted, and the
work the agent did so far (paid for) stays on its branch as a WIP commit, as at a cap; with no
change there is nothing to keep and the branch goes. The cancellation still ends the tick.
(A switch-off keeps nothing: test_preflight_branches.)"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import anyio
import pytest

from fakes import AgentOutcome, MockWorld
from hydra.adapters.git_workspace import GitWorkspace
from loops import _preflight_attempt
from loops.preflight import PreflightLoop
from ports import PortError, RepoPorts, World
from tests.contract.factories_git import (
    RecordingSink,
    git,
    isolated_environ,
    make_repo,
    make_runner,
)
from tests.helpers.harness import running
from tests.loops._support_agent import (
    WorksUntilCancelled,
    comments,
    first_tick,
    labels,
    payloads,
    world_with,
)

pytestmark = pytest.mark.anyio

LOOP = "preflight"
TRIGGER = "hitl-escalation"
BRANCH = "hydra/preflight/1-1"
FILES = {"README.md": "# demo\n", "src/app.py": "print('hi')\n"}
HALF = {"src/app.py": "print('hel')\n", "notes.md": "half done\n"}


def _world() -> MockWorld:
    mock = MockWorld({"demo": FILES})
    mock.seed_issue("bug 1", "the app says hi", [TRIGGER])
    return mock


def _times_out(timeout_s: float) -> dict[str, dict[str, Any]]:
    return {LOOP: {"mode": "live", "timeout_s": timeout_s, "interval_s": 3600.0}}


async def _cut_short(
    tmp_path: Path, world: World, agent: WorksUntilCancelled, *, timeout_s: float = 0.5
) -> dict[str, Any]:
    """Run one tick the timeout cuts while ``agent`` works; its ``attempt.finished`` record."""
    async with running(tmp_path, [PreflightLoop], tables=_times_out(timeout_s), world=world) as h:
        end = await first_tick(h, LOOP)
    assert agent.running, "the agent must have been at work when the tick timed out"
    assert end["action"] == "tick.timed_out"  # the cancellation was neither swallowed nor replaced
    [finished] = payloads(h, LOOP, "attempt.finished")
    assert (finished["outcome"], finished["counted"]) == ("timed_out", True)
    assert finished["branch"] == BRANCH
    return finished


async def test_the_work_of_an_attempt_cut_short_by_the_tick_timeout_stays_as_wip(
    tmp_path: Path,
) -> None:
    mock = _world()
    agent = WorksUntilCancelled(mock.agent, HALF, mock.workspace())
    finished = await _cut_short(tmp_path, world_with(mock, agent), agent)
    assert finished["wip"] is True
    assert finished["paths"] == ["notes.md", "src/app.py"]
    assert "error" not in finished
    workspace = mock.workspace()
    assert finished["commit"] == workspace.branch_head(BRANCH)
    tree = workspace.branch_tree(BRANCH)
    assert tree is not None
    assert tree["src/app.py"] == b"print('hel')\n"
    assert tree["notes.md"] == b"half done\n"
    assert await workspace.list_worktrees() == []
    assert await mock.changes().list_open() == []  # unfinished work is never proposed
    assert labels(mock, "1") == {TRIGGER}
    assert comments(mock, "1") == []


async def test_an_attempt_cut_short_by_the_tick_timeout_with_no_changes_leaves_no_branch(
    tmp_path: Path,
) -> None:
    mock = _world()
    agent = WorksUntilCancelled(mock.agent, {}, mock.workspace())
    finished = await _cut_short(tmp_path, world_with(mock, agent), agent)
    assert "commit" not in finished
    assert "wip" not in finished
    assert mock.workspace().branch_tree(BRANCH) is None
    assert await mock.workspace().list_worktrees() == []


@pytest.mark.parametrize("method", ["diff", "commit"])
async def test_work_that_cannot_be_kept_after_the_timeout_is_recorded_not_raised(
    tmp_path: Path, method: str
) -> None:
    mock = _world()
    mock.workspace().faults.inject(method, PortError("failed", "disk full", port="workspace"))
    agent = WorksUntilCancelled(mock.agent, HALF, mock.workspace())
    finished = await _cut_short(tmp_path, world_with(mock, agent), agent)
    assert finished["error"] == (
        "the unfinished work could not be kept: workspace: failed: disk full"
    )
    assert "commit" not in finished
    assert "wip" not in finished
    assert mock.workspace().branch_tree(BRANCH) is None
    assert await mock.workspace().list_worktrees() == []


async def test_a_real_git_branch_keeps_the_work_cut_short_as_a_marked_wip_commit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in isolated_environ(tmp_path / "home").items():
        monkeypatch.setenv(name, value)
    repo = make_repo(tmp_path / "app", {k: v.encode() for k, v in FILES.items()})
    base = git(repo, "rev-parse", "main").strip()
    workspace = GitWorkspace(
        repo, "demo", tmp_path / "data" / "worktrees" / "demo", make_runner(RecordingSink())
    )
    mock = _world()
    agent = WorksUntilCancelled(mock.agent, HALF)
    fake = mock.repo("demo")
    ports = RepoPorts("demo", fake.issues, fake.changes, workspace, fake.sandbox)
    world = World(kind="fake", agent=agent, host=mock.host, clock=mock.clock, repos={"demo": ports})
    finished = await _cut_short(tmp_path / "daemon", world, agent, timeout_s=2.0)
    assert finished["wip"] is True
    assert git(repo, "rev-parse", BRANCH).strip() == finished["commit"]
    assert git(repo, "rev-parse", f"{BRANCH}~1").strip() == base
    message = git(repo, "log", "-1", "--format=%B", BRANCH)
    assert message.startswith("WIP (timed_out): preflight: bug 1\n\nUnfinished work of attempt 1")
    assert "the agent was stopped (timed_out) before it was done" in message
    assert git(repo, "show", f"{BRANCH}:notes.md") == "half done"  # git() strips
    assert git(repo, "show", f"{BRANCH}:src/app.py") == "print('hel')"
    assert git(repo, "rev-parse", "main").strip() == base  # the operator's branch is untouched
    assert await workspace.list_worktrees() == []


class _CommitNeverReturns:
    """The fake workspace, but its ``commit`` hangs (a wedged disk): keeping runs out of time."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    async def commit(self, name: str, message: str) -> str | None:
        await anyio.sleep_forever()
        raise AssertionError("unreachable")


def _with_workspace(mock: MockWorld, agent: WorksUntilCancelled, workspace: Any) -> World:
    fake = mock.repo("demo")
    ports = RepoPorts("demo", fake.issues, fake.changes, workspace, fake.sandbox)
    return World(kind="fake", agent=agent, host=mock.host, clock=mock.clock, repos={"demo": ports})


async def test_an_unexpected_error_while_keeping_never_replaces_the_timeout(
    tmp_path: Path,
) -> None:
    mock = _world()
    mock.workspace().faults.inject("commit", RuntimeError("boom"))
    agent = WorksUntilCancelled(mock.agent, HALF, mock.workspace())
    finished = await _cut_short(tmp_path, world_with(mock, agent), agent)
    assert finished["error"] == "the unfinished work could not be kept: RuntimeError: boom"
    assert "commit" not in finished
    # whether a commit landed is unknown: the branch stays as it is, for a human to look at
    assert mock.workspace().branch_tree(BRANCH) is not None
    assert await mock.workspace().list_worktrees() == []


async def test_keeping_that_runs_out_of_time_is_recorded_and_keeps_the_branch(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_preflight_attempt, "CLEANUP_TIMEOUT_S", 0.3)
    mock = _world()
    agent = WorksUntilCancelled(mock.agent, HALF, mock.workspace())
    hanging = _CommitNeverReturns(mock.workspace())
    finished = await _cut_short(tmp_path, _with_workspace(mock, agent, hanging), agent)
    assert finished["error"] == "keeping the unfinished work ran out of time (0.3 s)"
    assert "commit" not in finished
    assert mock.workspace().branch_tree(BRANCH) is not None
    assert await mock.workspace().list_worktrees() == []


class _OpenChangeNeverReturns:
    """The fake change requests, but opening one hangs: the tick times out right after the fix
    was committed."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    async def open_change(self, **kwargs: Any) -> Any:
        await anyio.sleep_forever()
        raise AssertionError("unreachable")


async def test_a_timeout_while_the_change_request_opens_still_names_the_fix(
    tmp_path: Path,
) -> None:
    mock = _world()
    mock.agent.script(AgentOutcome.succeed("Fixed it.", edits={"src/app.py": "print('ok')\n"}))
    fake = mock.repo("demo")
    hanging = _OpenChangeNeverReturns(fake.changes)
    ports = RepoPorts("demo", fake.issues, hanging, fake.workspace, fake.sandbox)
    world = World(
        kind="fake", agent=mock.agent, host=mock.host, clock=mock.clock, repos={"demo": ports}
    )
    async with running(tmp_path, [PreflightLoop], tables=_times_out(0.5), world=world) as h:
        end = await first_tick(h, LOOP)
    assert end["action"] == "tick.timed_out"
    [finished] = payloads(h, LOOP, "attempt.finished")
    assert (finished["outcome"], finished["counted"]) == ("timed_out", True)
    head = mock.workspace().branch_head(BRANCH)
    assert head is not None
    assert finished["commit"] == head  # the fix on the branch is named, not lost
    assert "wip" not in finished  # it is the agent's finished fix, not unfinished work
