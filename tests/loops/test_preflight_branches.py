"""What preflight leaves on the repository's branches: the unfinished work of an agent stopped
at a cap stays as a WIP commit; a shadow preview, an unconfigured agent or a cancelled attempt
leaves no branch behind. (An attempt cut short by the tick timeout: test_preflight_timed_out.)"""

from __future__ import annotations

from pathlib import Path

import pytest

from fakes import AgentOutcome, MockWorld
from loops.preflight import PreflightLoop
from tests.helpers.harness import running
from tests.loops._support_agent import (
    GatedAgent,
    WorksUntilCancelled,
    comments,
    first_tick,
    labels,
    live,
    next_tick,
    payloads,
    world_with,
)

pytestmark = pytest.mark.anyio

LOOP = "preflight"
TRIGGER = "hitl-escalation"
BRANCH = "hydra/preflight/1-1"
FILES = {"README.md": "# demo\n", "src/app.py": "print('hi')\n"}


def _world() -> MockWorld:
    mock = MockWorld({"demo": FILES})
    mock.seed_issue("bug 1", "the app says hi", [TRIGGER])
    return mock


HALF = {"src/app.py": "print('hel')\n", "src/loops/x.py": "pass\n"}


@pytest.mark.parametrize(
    ("outcome", "options", "expected"),
    [
        (AgentOutcome("budget_exceeded", "stopped at the cap", edits=HALF), {}, "budget_exceeded"),
        (AgentOutcome.succeed(usd=5.0, edits=HALF), {"max_usd": 1.0}, "budget_exceeded"),
        (AgentOutcome("timeout", "out of time", edits=HALF), {}, "timeout"),
        (AgentOutcome.succeed(duration_s=100, edits=HALF), {"wall_clock_s": 10}, "timeout"),
    ],
)
async def test_work_of_an_agent_stopped_at_a_cap_stays_on_its_branch_as_wip(
    tmp_path: Path, outcome: AgentOutcome, options: dict[str, float], expected: str
) -> None:
    mock = _world()
    mock.agent.script(outcome)
    tables = live(LOOP, **options)
    async with running(tmp_path, [PreflightLoop], tables=tables, world=mock.world) as h:
        end = await first_tick(h, LOOP)
    assert end["payload"]["counts"]["failed"] == 1
    [finished] = payloads(h, LOOP, "attempt.finished")
    assert finished["outcome"] == expected
    assert finished["counted"] is True
    assert finished["wip"] is True
    assert finished["branch"] == BRANCH
    assert finished["paths"] == ["src/app.py", "src/loops/x.py"]
    assert finished["protected"] == ["src/loops/x.py"]  # recorded; nothing is proposed anyway
    workspace = mock.workspace()
    assert finished["commit"] == workspace.branch_head(BRANCH)
    tree = workspace.branch_tree(BRANCH)
    assert tree is not None
    assert tree["src/app.py"] == b"print('hel')\n"
    assert await workspace.list_worktrees() == []
    assert await mock.changes().list_open() == []  # no change request for unfinished work
    assert labels(mock, "1") == {TRIGGER}
    assert comments(mock, "1") == []
    assert "issue.resolved" not in {r["action"] for r in h.records(LOOP)}


async def test_the_wip_commit_is_marked_and_named_in_the_escalation(tmp_path: Path) -> None:
    mock = _world()
    mock.agent.script(
        AgentOutcome("budget_exceeded", "ran out of money", edits={"src/app.py": "half\n"}),
        AgentOutcome("budget_exceeded", "ran out of money again"),  # nothing done: no commit
    )
    tables = live(LOOP, max_attempts=2)
    async with running(tmp_path, [PreflightLoop], tables=tables, world=mock.world) as h:
        await first_tick(h, LOOP)
        await next_tick(h, LOOP)
    first, second = payloads(h, LOOP, "attempt.finished")
    assert first["wip"] is True
    assert "wip" not in second
    assert "commit" not in second
    assert mock.workspace().branch_head(BRANCH) == first["commit"]
    assert mock.workspace().branch_tree("hydra/preflight/1-2") is not None  # counted: named
    [summary] = comments(mock, "1")
    assert f"unfinished work kept as WIP commit {first['commit'][:12]}" in summary
    assert labels(mock, "1") == {TRIGGER, "human-required"}


async def test_a_shadow_preview_leaves_no_branch(tmp_path: Path) -> None:
    mock = _world()
    tables = {LOOP: {"mode": "shadow"}}
    async with running(tmp_path, [PreflightLoop], tables=tables, world=mock.world) as h:
        await first_tick(h, LOOP)
    [finished] = payloads(h, LOOP, "attempt.finished")
    assert finished["outcome"] == "shadow"
    assert mock.workspace().branch_tree(BRANCH) is None
    assert await mock.workspace().list_worktrees() == []


async def test_an_agent_that_cannot_run_leaves_no_branch(tmp_path: Path) -> None:
    mock = _world()
    agent = GatedAgent(mock.agent, run_status="unconfigured")
    world = world_with(mock, agent)
    async with running(tmp_path, [PreflightLoop], tables=live(LOOP), world=world) as h:
        await first_tick(h, LOOP)
    assert [p["outcome"] for p in payloads(h, LOOP, "attempt.finished")] == ["unconfigured"]
    assert mock.workspace().branch_tree(BRANCH) is None


@pytest.mark.parametrize("edits", [{}, {"src/app.py": "print('hel')\n"}])
async def test_an_attempt_cancelled_mid_run_leaves_no_branch(
    tmp_path: Path, edits: dict[str, str]
) -> None:
    """A switch-off is not a tick timeout: whatever the agent did, nothing is kept."""
    mock = _world()
    agent = WorksUntilCancelled(mock.agent, edits, mock.workspace())
    world = world_with(mock, agent)
    async with running(tmp_path, [PreflightLoop], tables=live(LOOP), world=world) as h:
        await h.wait_for(lambda: agent.running)
        assert mock.workspace().branch_tree(BRANCH) is not None
        await h.board.update_loop(LOOP, actor="test", reason="too expensive", enabled=False)
        await h.wait_for(lambda: len(h.records(LOOP, "tick.cancelled")) == 1)
    [finished] = payloads(h, LOOP, "attempt.finished")
    assert (finished["outcome"], finished["counted"]) == ("aborted", False)
    assert "commit" not in finished
    assert "wip" not in finished
    assert mock.workspace().branch_tree(BRANCH) is None
    assert await mock.workspace().list_worktrees() == []
