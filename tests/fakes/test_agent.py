from __future__ import annotations

from datetime import timedelta

import pytest

from fakes import EPOCH, AgentCall, AgentOutcome, FakeAgent, MockWorld
from ports import AgentLimits, AuthFailed, CreditExhausted

pytestmark = pytest.mark.anyio

LIMITS = AgentLimits(wall_clock_s=600.0, max_usd=2.0)


async def _run(agent: FakeAgent, workdir: str = "/nowhere", source: str = "test") -> str:
    result = await agent.run(prompt="do it", workdir=workdir, limits=LIMITS, source=source)
    return result.status


async def test_follows_its_script_then_the_default() -> None:
    agent = FakeAgent(AgentOutcome.fail(), AgentOutcome.crash())
    agent.script(AgentOutcome.timeout(), AgentOutcome.budget_exceeded())
    assert agent.pending == 4
    statuses = [await _run(agent) for _ in range(6)]
    assert statuses == ["failed", "crashed", "timeout", "budget_exceeded", "succeeded", "succeeded"]
    assert agent.pending == 0


async def test_scripted_limits_statuses_report_the_limit() -> None:
    agent = FakeAgent(AgentOutcome.timeout(), AgentOutcome.budget_exceeded())
    timed_out = await agent.run(prompt="p", workdir="/w", limits=LIMITS, source="s")
    assert timed_out.duration_s == LIMITS.wall_clock_s
    over = await agent.run(prompt="p", workdir="/w", limits=LIMITS, source="s")
    assert over.usd == LIMITS.max_usd


async def test_runs_are_recorded_with_their_inputs() -> None:
    mock = MockWorld()
    mock.agent.script(AgentOutcome.succeed("made it", usd=0.5))
    await mock.agent.run(prompt="fix #1", workdir="/w", limits=LIMITS, source="loop:triage")
    (run,) = mock.agent.runs
    assert (run.prompt, run.workdir, run.limits, run.source) == (
        "fix #1",
        "/w",
        LIMITS,
        "loop:triage",
    )
    assert run.started_at == EPOCH
    assert run.result is not None
    assert (run.result.summary, run.result.usd, run.result.provider) == ("made it", 0.5, "fake")
    assert mock.agent.prompts == ["fix #1"]


async def test_edits_and_actions_change_the_worktree() -> None:
    mock = MockWorld({"shop": {"app.py": "x = 1\n", "old.py": "o\n"}})
    wt = await mock.workspace().create_worktree("job", branch="job")

    def act(call: AgentCall) -> None:
        assert call.files is not None
        call.files["prompt.txt"] = call.prompt.encode()

    mock.agent.script(AgentOutcome.succeed(edits={"app.py": "x = 2\n", "old.py": None}, action=act))
    await mock.agent.run(prompt="bump x", workdir=wt.path, limits=LIMITS, source="s")
    assert mock.workspace().files("job") == {"app.py": b"x = 2\n", "prompt.txt": b"bump x"}
    assert (await mock.workspace().diff("job")).paths == ("app.py", "old.py", "prompt.txt")


async def test_limits_turn_long_or_costly_runs_into_stops() -> None:
    agent = FakeAgent(
        AgentOutcome.succeed(duration_s=601), AgentOutcome.succeed(usd=2.5), AgentOutcome.succeed()
    )
    slow = await agent.run(prompt="p", workdir="/w", limits=LIMITS, source="s")
    assert (slow.status, slow.duration_s) == ("timeout", 600.0)
    costly = await agent.run(prompt="p", workdir="/w", limits=LIMITS, source="s")
    assert (costly.status, costly.usd) == ("budget_exceeded", 2.0)
    uncapped = await agent.run(
        prompt="p", workdir="/w", limits=AgentLimits(wall_clock_s=600.0), source="s"
    )
    assert uncapped.ok


async def test_a_run_takes_virtual_time() -> None:
    mock = MockWorld()
    mock.agent.script(AgentOutcome.succeed(duration_s=90))
    await mock.agent.run(prompt="p", workdir="/w", limits=LIMITS, source="s")
    assert mock.clock.now() == EPOCH + timedelta(seconds=90)


@pytest.mark.parametrize(
    ("outcome", "error", "reason"),
    [
        (AgentOutcome.credit_exhausted("no credit"), CreditExhausted, "credit_exhausted"),
        (AgentOutcome.auth_failed("revoked"), AuthFailed, "auth_failed"),
    ],
)
async def test_terminal_outcomes_raise_and_are_recorded(
    outcome: AgentOutcome, error: type[Exception], reason: str
) -> None:
    agent = FakeAgent(outcome)
    with pytest.raises(error) as caught:
        await agent.run(prompt="p", workdir="/w", limits=LIMITS, source="loop:x")
    assert caught.value.source == "loop:x"  # type: ignore[attr-defined]
    assert caught.value.reason == reason  # type: ignore[attr-defined]
    (run,) = agent.runs
    assert run.result is None
    assert run.error is caught.value


async def test_unconfigured_runs_consume_nothing() -> None:
    agent = FakeAgent(AgentOutcome.fail(), unconfigured="no claude on PATH")
    assert agent.info().state == "unconfigured"
    result = await agent.run(prompt="p", workdir="/w", limits=LIMITS, source="s")
    assert (result.status, result.summary, result.provider) == (
        "unconfigured",
        "no claude on PATH",
        "none",
    )
    assert agent.pending == 1
    agent.unconfigured = None
    assert agent.info().state == "configured"
    assert await _run(agent) == "failed"
    assert len(agent.runs) == 2


async def test_edits_need_a_fake_worktree() -> None:
    agent = FakeAgent(AgentOutcome.succeed(edits={"a": "b"}))
    with pytest.raises(LookupError, match="not a fake worktree"):
        await _run(agent)


async def test_summaries_are_bounded() -> None:
    agent = FakeAgent(AgentOutcome.fail("x" * 10_000))
    result = await agent.run(prompt="p", workdir="/w", limits=LIMITS, source="s")
    assert len(result.summary) == 4_000
