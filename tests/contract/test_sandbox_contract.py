"""SandboxPort contract: one result per scenario, in order; only an unusable workdir raises.

Runs against: ``fake`` (fakes.FakeSandbox). The shell sandbox joins by registering a
``"sandbox"`` factory in conftest.py whose scenarios are real commands (``true``, ``exit 3``,
``sleep 30`` under a short timeout).
"""

from __future__ import annotations

import pytest

from ports import PortError
from tests.contract.harness import SandboxHarness

PORT = "sandbox"
pytestmark = pytest.mark.anyio


async def test_info_says_configured(impl: SandboxHarness) -> None:
    assert impl.port.info().state == "configured"


async def test_one_result_per_scenario_in_order(impl: SandboxHarness) -> None:
    scenarios = [
        impl.scenario("unit", "pass"),
        impl.scenario("lint", "fail"),
        impl.scenario("smoke", "pass"),
    ]
    results = await impl.port.run_scenarios(scenarios, workdir=impl.workdir)
    assert [r.name for r in results] == ["unit", "lint", "smoke"]
    assert [r.passed for r in results] == [True, False, True]


async def test_pass_and_fail_report_exit_codes(impl: SandboxHarness) -> None:
    good, bad = impl.scenario("good", "pass"), impl.scenario("bad", "fail")
    passed, failed = await impl.port.run_scenarios([good, bad], workdir=impl.workdir)
    assert (passed.status, passed.exit_code) == ("passed", good.expected_exit)
    assert (failed.status, failed.exit_code) == ("failed", 3)
    assert passed.duration_s >= 0
    assert failed.duration_s >= 0


async def test_a_scenario_that_outlives_its_timeout(impl: SandboxHarness) -> None:
    slow = impl.scenario("slow", "timeout")
    (result,) = await impl.port.run_scenarios([slow], workdir=impl.workdir)
    assert result.status == "timeout"
    assert not result.passed
    assert result.duration_s <= slow.timeout_s * 4


async def test_no_scenarios_no_results(impl: SandboxHarness) -> None:
    assert await impl.port.run_scenarios([], workdir=impl.workdir) == []


async def test_an_unusable_workdir_raises(impl: SandboxHarness) -> None:
    with pytest.raises(PortError):
        await impl.port.run_scenarios([impl.scenario("unit", "pass")], workdir=impl.missing_workdir)
