"""``sandbox_fixer`` when an attempt is cut short: an agent stopped at its cap leaves its work
as a WIP commit on a kept branch; a switch-off mid-run records the attempt as ``aborted`` and
does not count it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest

from fakes import AgentOutcome
from loops.sandbox_fixer import SandboxFixerLoop
from tests.helpers.harness import running
from tests.loops._support_agent import GatedAgent, world_with
from tests.loops._support_sandbox import (
    FILES,
    HOLDOUT_FILE,
    calc_world,
    live,
    payloads,
    started,
    tick,
)

pytestmark = pytest.mark.anyio

LOOP = "sandbox_fixer"
HALF = "def add(a, b):\n    return a  # TODO: + b\n"


def memory(tmp_path: Path) -> dict[str, Any]:
    data = orjson.loads((tmp_path / "state" / "loops" / f"{LOOP}.json").read_bytes())
    return data["repo:demo"]


@pytest.mark.parametrize(
    ("outcome", "options"),
    [
        (AgentOutcome("budget_exceeded", "hit the cap", edits={"src/calc.py": HALF}), {}),
        (AgentOutcome.succeed(usd=3.0, edits={"src/calc.py": HALF}), {"max_usd_per_attempt": 1}),
        (AgentOutcome("timeout", "out of time", edits={"src/calc.py": HALF}), {}),
    ],
)
async def test_an_agent_stopped_at_a_cap_leaves_its_work_as_wip_on_a_kept_branch(
    tmp_path: Path, outcome: AgentOutcome, options: dict[str, Any]
) -> None:
    mock = calc_world()
    mock.agent.script(outcome)
    async with started(tmp_path, SandboxFixerLoop, mock, live(**options)) as h:
        pass
    [finished] = payloads(h, LOOP, "attempt.finished")
    assert finished["outcome"] == "failed"
    assert finished["counted"] is True
    assert finished["agent"]["status"] in ("budget_exceeded", "timeout")
    branch = finished["branch"]
    workspace = mock.workspace()
    assert finished["wip_commit"] == workspace.branch_head(branch)
    tree = workspace.branch_tree(branch)
    assert tree is not None
    assert tree["src/calc.py"] == HALF.encode()
    assert tree[HOLDOUT_FILE] == FILES[HOLDOUT_FILE].encode()  # left as it was
    assert await workspace.list_worktrees() == []
    assert await mock.changes().list_open() == []  # unfinished work is never proposed
    assert len(payloads(h, LOOP, "score.recorded")) == 1  # nor judged
    assert sum(memory(tmp_path)["attempts"].values()) == 1


async def test_a_failed_run_with_nothing_done_leaves_no_branch(tmp_path: Path) -> None:
    mock = calc_world()
    mock.agent.script(
        AgentOutcome.budget_exceeded(), AgentOutcome.fail(edits={"src/calc.py": HALF})
    )
    async with started(tmp_path, SandboxFixerLoop, mock, live()) as h:
        await tick(h, LOOP)
    finished = payloads(h, LOOP, "attempt.finished")
    assert [("wip_commit" in p) for p in finished] == [False, False]  # a plain failure: no WIP
    for payload in finished:
        assert mock.workspace().branch_tree(payload["branch"]) is None


async def test_a_switch_off_mid_run_records_an_aborted_attempt_that_does_not_count(
    tmp_path: Path,
) -> None:
    mock = calc_world()
    agent = GatedAgent(mock.agent)
    tables = {LOOP: {"interval_s": 3600.0, **live()}}
    world = world_with(mock, agent)
    async with running(tmp_path, [SandboxFixerLoop], tables=tables, world=world) as h:
        await h.wait_for(lambda: agent.running == 1)
        assert sum(memory(tmp_path)["attempts"].values()) == 1  # counted before the agent runs
        await h.board.update_loop(LOOP, actor="test", reason="too expensive", enabled=False)
        await h.wait_for(lambda: len(h.records(LOOP, "tick.cancelled")) == 1)
    [started_] = payloads(h, LOOP, "attempt.started")
    [finished] = payloads(h, LOOP, "attempt.finished")
    assert finished["outcome"] == "aborted"
    assert finished["counted"] is False
    assert finished["attempt"] == started_["attempt"]
    assert "Cancel" in finished["error"]
    assert memory(tmp_path)["attempts"] == {}
    assert memory(tmp_path)["tried"] == 0
    assert await mock.workspace().list_worktrees() == []
    assert mock.workspace().branch_tree(started_["branch"]) is None
    assert mock.agent.runs == []  # the gate never opened: the agent never finished


async def test_an_attempt_cut_short_by_the_tick_timeout_counts(tmp_path: Path) -> None:
    """Unlike a switch-off: a tick timeout shorter than the agent's must not retry for ever."""
    mock = calc_world()
    agent = GatedAgent(mock.agent)  # never opened: the agent outlives the tick
    tables = {LOOP: {"interval_s": 3600.0, "timeout_s": 0.5, **live()}}
    world = world_with(mock, agent)
    async with running(tmp_path, [SandboxFixerLoop], tables=tables, world=world) as h:
        await h.wait_for(lambda: len(h.records(LOOP, "tick.timed_out")) == 1)
    [finished] = payloads(h, LOOP, "attempt.finished")
    assert (finished["outcome"], finished["counted"]) == ("timed_out", True)
    assert sum(memory(tmp_path)["attempts"].values()) == 1
    assert memory(tmp_path)["tried"] == 1
    assert await mock.workspace().list_worktrees() == []
