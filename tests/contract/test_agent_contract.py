"""AgentPort contract: ordinary failures are results, credit and auth failures are exceptions.

Runs against: ``fake`` (fakes.FakeAgent). The claude / codex adapters join by registering an
``"agent"`` factory in conftest.py that drives them with fake CLI scripts per behaviour.
"""

from __future__ import annotations

import pytest

from ports import AgentLimits, AuthFailed, CreditExhausted, TerminalPortError
from tests.contract.harness import SUCCESS_FILE, SUCCESS_TEXT, AgentHarness

PORT = "agent"
pytestmark = pytest.mark.anyio

LIMITS = AgentLimits(wall_clock_s=2.0, max_usd=1.0)


async def test_success_reports_usage_and_leaves_its_work(impl: AgentHarness) -> None:
    agent = impl.make("succeed")
    assert agent.info().state == "configured"
    result = await agent.run(
        prompt="Write the notes file.", workdir=impl.workdir, limits=LIMITS, source="contract"
    )
    assert result.ok
    assert result.status == "succeeded"
    assert result.summary
    assert result.provider
    assert result.usd >= 0
    assert result.input_tokens >= 0
    assert result.output_tokens >= 0
    assert 0 <= result.duration_s <= LIMITS.wall_clock_s
    assert impl.read(SUCCESS_FILE) == SUCCESS_TEXT


@pytest.mark.parametrize(
    ("behaviour", "status"),
    [
        ("fail", "failed"),
        ("crash", "crashed"),
        ("timeout", "timeout"),
        ("budget", "budget_exceeded"),
    ],
)
async def test_ordinary_failures_are_results(
    impl: AgentHarness, behaviour: str, status: str
) -> None:
    agent = impl.make(behaviour)  # type: ignore[arg-type]
    result = await agent.run(prompt="Try.", workdir=impl.workdir, limits=LIMITS, source="contract")
    assert result.status == status
    assert not result.ok
    assert result.summary


async def test_a_timeout_stops_at_the_wall_clock_limit(impl: AgentHarness) -> None:
    agent = impl.make("timeout")
    result = await agent.run(prompt="Spin.", workdir=impl.workdir, limits=LIMITS, source="c")
    assert result.duration_s <= LIMITS.wall_clock_s * 1.5


async def test_a_budget_stop_does_not_run_far_past_the_cap(impl: AgentHarness) -> None:
    agent = impl.make("budget")
    result = await agent.run(prompt="Spend.", workdir=impl.workdir, limits=LIMITS, source="c")
    assert LIMITS.max_usd is not None
    assert result.usd <= LIMITS.max_usd * 1.5


@pytest.mark.parametrize(
    ("behaviour", "error"), [("credit", CreditExhausted), ("auth", AuthFailed)]
)
async def test_terminal_conditions_raise(
    impl: AgentHarness, behaviour: str, error: type[TerminalPortError]
) -> None:
    agent = impl.make(behaviour)  # type: ignore[arg-type]
    with pytest.raises(error) as caught:
        await agent.run(prompt="Try.", workdir=impl.workdir, limits=LIMITS, source="contract")
    assert caught.value.reason in ("credit_exhausted", "auth_failed")


async def test_unconfigured_agent_says_so(impl: AgentHarness) -> None:
    agent = impl.unconfigured()
    info = agent.info()
    assert info.state == "unconfigured"
    assert info.detail
    result = await agent.run(prompt="Try.", workdir=impl.workdir, limits=LIMITS, source="c")
    assert result.status == "unconfigured"
    assert result.summary
