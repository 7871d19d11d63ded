"""Preflight under concurrency: the parallel cap, no double attempt, cancellation mid-run."""

from __future__ import annotations

from pathlib import Path

import anyio
import pytest
from pydantic import ValidationError

from fakes import AgentOutcome, MockWorld
from loops.preflight import PreflightLoop, PreflightOptions
from ports import AgentLimits, AgentPort, AgentResult, CreditExhausted, PortInfo
from tests.helpers.harness import running
from tests.loops._support_agent import (
    GatedAgent,
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


def _world(issues: int, repos: tuple[str, ...] = ("demo",)) -> MockWorld:
    mock = MockWorld(repos)
    for repo in repos:
        for n in range(issues):
            mock.seed_issue(f"bug {n}", labels=[TRIGGER], repo=repo)
    return mock


async def test_at_most_max_parallel_issues_per_tick_run_together(tmp_path: Path) -> None:
    mock = _world(3, repos=("alpha", "beta"))
    mock.agent.default = AgentOutcome.fail()
    agent = GatedAgent(mock.agent)
    tables = live(LOOP, max_parallel=2)
    async with running(
        tmp_path, [PreflightLoop], tables=tables, world=world_with(mock, agent)
    ) as h:
        await h.wait_for(lambda: agent.running == 2)
        h.orchestrator.trigger(LOOP)  # merged into one follow-up tick, never overlapping
        agent.gate.set()
        end = await first_tick(h, LOOP)
        assert end["payload"]["counts"]["attempted"] == 2
        assert end["payload"]["counts"]["deferred"] == 4
        await h.wait_for(lambda: len(payloads(h, LOOP, "attempt.finished")) == 4)
    assert agent.most == 2
    assert agent.most_per_workdir == 1
    started = payloads(h, LOOP, "attempt.started")
    pairs = [(p["repo"], p["issue"]) for p in started]
    # the follow-up tick took the issues with the fewest attempts: nobody starves
    assert pairs == [("alpha", "1"), ("alpha", "2"), ("alpha", "3"), ("beta", "1")]


async def test_cancelling_the_loop_mid_attempt_cleans_up_and_does_not_count(
    tmp_path: Path,
) -> None:
    mock = _world(1)
    agent = GatedAgent(mock.agent)
    async with running(
        tmp_path, [PreflightLoop], tables=live(LOOP), world=world_with(mock, agent)
    ) as h:
        await h.wait_for(lambda: agent.running == 1)
        assert len(await mock.workspace().list_worktrees()) == 1
        await h.board.update_loop(LOOP, actor="test", reason="too expensive", enabled=False)
        await h.wait_for(lambda: len(h.records(LOOP, "tick.cancelled")) == 1)
    [finished] = payloads(h, LOOP, "attempt.finished")
    assert finished["outcome"] == "aborted"
    assert finished["counted"] is False
    assert await mock.workspace().list_worktrees() == []
    assert labels(mock, "1") == {TRIGGER}


async def test_a_repository_switched_off_mid_attempt_is_cancelled(tmp_path: Path) -> None:
    mock = _world(1, repos=("alpha", "beta"))
    mock.agent.default = AgentOutcome.fail()
    agent = GatedAgent(mock.agent)
    tables = live(LOOP, max_parallel=2)
    async with running(
        tmp_path, [PreflightLoop], tables=tables, world=world_with(mock, agent)
    ) as h:
        await h.wait_for(lambda: agent.running == 2)
        await h.board.update_repo("alpha", enabled=False, actor="test", reason="migrating")
        await h.wait_for(lambda: len(h.records(LOOP, "repo.cancelled")) == 1)
        agent.gate.set()
        end = await first_tick(h, LOOP)
    assert end["action"] == "tick.finished"
    outcomes = {p["repo"]: p["outcome"] for p in payloads(h, LOOP, "attempt.finished")}
    assert outcomes == {"alpha": "aborted", "beta": "failed"}
    assert await mock.workspace("alpha").list_worktrees() == []


async def test_an_agent_that_cannot_run_reports_unconfigured(tmp_path: Path) -> None:
    mock = _world(1)
    agent = GatedAgent(mock.agent, run_status="unconfigured")
    async with running(
        tmp_path, [PreflightLoop], tables=live(LOOP), world=world_with(mock, agent)
    ) as h:
        end = await first_tick(h, LOOP)
        again = await next_tick(h, LOOP)
    assert end["payload"]["status"] == "unconfigured"
    assert again["payload"]["status"] == "unconfigured"
    assert [p["counted"] for p in payloads(h, LOOP, "attempt.finished")] == [False, False]
    assert labels(mock, "1") == {TRIGGER}


@pytest.mark.parametrize(
    "bad",
    [
        {"trigger_label": "a,b"},
        {"deny_labels": ["x" * 51]},
        {"trigger_label": "human-required"},
        {"max_parallel": 0},
        {"max_attempts": 0},
        {"protected_paths": [" "]},
        {"unknown": 1},
    ],
)
def test_options_refuse_nonsense(bad: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        PreflightOptions.model_validate(bad)


def test_metadata_marks_the_loop_as_spending_money() -> None:
    assert PreflightLoop.default_mode == "shadow"
    assert set(PreflightLoop.ports) == {"issues", "changes", "workspace", "agent"}
    for field in PreflightOptions.model_fields.values():
        assert field.description, "every option is documented for the catalogue"


async def test_an_attempt_cut_short_by_the_tick_timeout_counts(tmp_path: Path) -> None:
    """Unlike a switch-off: a tick timeout shorter than the agent's must not retry for ever."""
    mock = _world(1)
    agent = GatedAgent(mock.agent)  # never opened: the agent outlives the tick
    tables = {LOOP: {"mode": "live", "timeout_s": 0.3, "interval_s": 3600.0}}
    async with running(
        tmp_path, [PreflightLoop], tables=tables, world=world_with(mock, agent)
    ) as h:
        await h.wait_for(lambda: len(h.records(LOOP, "tick.timed_out")) == 1)
    [finished] = payloads(h, LOOP, "attempt.finished")
    assert (finished["outcome"], finished["counted"]) == ("timed_out", True)
    assert await mock.workspace().list_worktrees() == []
    assert labels(mock, "1") == {TRIGGER}


class _OneRunsOutOfCredit(AgentPort):
    """Two runs at once: the one for issue 1 finds the credit exhausted, the other hangs."""

    def __init__(self, inner: AgentPort) -> None:
        self.inner = inner
        self.running = 0
        self.both = anyio.Event()

    def info(self) -> PortInfo:
        return self.inner.info()

    async def run(
        self, *, prompt: str, workdir: str, limits: AgentLimits, source: str
    ) -> AgentResult:
        self.running += 1
        if self.running == 2:
            self.both.set()
        await self.both.wait()
        if workdir.endswith("preflight-1-1"):
            raise CreditExhausted("credit balance is too low")
        await anyio.sleep_forever()
        raise AssertionError("unreachable")


async def test_a_sibling_running_out_of_credit_does_not_count_against_the_other(
    tmp_path: Path,
) -> None:
    mock = _world(2)
    agent = _OneRunsOutOfCredit(mock.agent)
    tables = live(LOOP, max_parallel=2, interval_s=3600.0)
    async with running(
        tmp_path, [PreflightLoop], tables=tables, world=world_with(mock, agent)
    ) as h:
        end = await first_tick(h, LOOP)
    assert end["payload"]["terminal"] == "credit_exhausted"
    finished = {p["issue"]: p for p in payloads(h, LOOP, "attempt.finished")}
    assert {k: (p["outcome"], p["counted"]) for k, p in finished.items()} == {
        "1": ("aborted", False),
        "2": ("aborted", False),
    }
