from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta

import pytest

from fakes import EPOCH, FakeSandbox, MockWorld, SandboxOutcome
from ports import PortError, Scenario

pytestmark = pytest.mark.anyio

UNIT = Scenario("unit", "pytest -q")
LINT = Scenario("lint", "ruff check", expected_exit=0)


async def test_unscripted_scenarios_get_the_default() -> None:
    sandbox = FakeSandbox()
    results = await sandbox.run_scenarios([UNIT, LINT], workdir="/anywhere")
    assert [(r.name, r.status, r.exit_code) for r in results] == [
        ("unit", "passed", 0),
        ("lint", "passed", 0),
    ]
    strict = FakeSandbox(default=SandboxOutcome.failed("nope"))
    (result,) = await strict.run_scenarios([UNIT], workdir="/w")
    assert (result.status, result.exit_code, result.output_tail) == ("failed", 1, "nope")


async def test_a_script_is_used_in_turn_and_its_last_outcome_sticks() -> None:
    sandbox = FakeSandbox()
    sandbox.script("unit", SandboxOutcome.failed(), SandboxOutcome.passed())
    statuses = [(await sandbox.run_scenarios([UNIT], workdir="/w"))[0].status for _ in range(3)]
    assert statuses == ["failed", "passed", "passed"]
    assert [r.status for r in sandbox.results_for("unit")] == statuses


async def test_exit_codes_follow_the_expected_exit() -> None:
    sandbox = FakeSandbox()
    expects_two = Scenario("cli", "hydra bogus", expected_exit=2)
    sandbox.script("cli", SandboxOutcome.passed(), SandboxOutcome.failed(exit_code=0))
    (ok,) = await sandbox.run_scenarios([expects_two], workdir="/w")
    (bad,) = await sandbox.run_scenarios([expects_two], workdir="/w")
    assert (ok.exit_code, bad.exit_code) == (2, 0)
    sandbox.script("cli", SandboxOutcome.failed())
    (derived,) = await sandbox.run_scenarios([expects_two], workdir="/w")
    assert derived.exit_code == 3


async def test_timeouts_and_errors() -> None:
    mock = MockWorld()
    sandbox = mock.sandbox()
    wt = await mock.workspace().create_worktree("w", branch="w")
    slow = Scenario("slow", "sleep 999", timeout_s=30)
    sandbox.script("slow", SandboxOutcome.timed_out("partial output"))
    sandbox.script("broken", SandboxOutcome.error())
    results = await sandbox.run_scenarios([slow, Scenario("broken", "nope")], workdir=wt.path)
    assert [(r.status, r.exit_code) for r in results] == [("timeout", None), ("error", None)]
    assert results[0].duration_s == 30
    assert mock.clock.now() == EPOCH + timedelta(seconds=30.1)


async def test_a_judge_decides_from_the_worktree_files() -> None:
    mock = MockWorld({"shop": {"app.py": "x = 1\n"}})
    sandbox = mock.sandbox()
    wt = await mock.workspace().create_worktree("w", branch="w")

    def fixed(scenario: Scenario, files: Mapping[str, bytes]) -> SandboxOutcome:
        if files.get("app.py") == b"x = 2\n":
            return SandboxOutcome.passed()
        return SandboxOutcome.failed(f"{scenario.name}: x is still 1")

    sandbox.judge("unit", fixed)
    (before,) = await sandbox.run_scenarios([UNIT], workdir=wt.path)
    mock.workspace().write("w", "app.py", "x = 2\n")
    (after,) = await sandbox.run_scenarios([UNIT], workdir=wt.path)
    assert (before.status, before.output_tail, after.status) == (
        "failed",
        "unit: x is still 1",
        "passed",
    )
    sandbox.script("unit", SandboxOutcome.error())
    (scripted,) = await sandbox.run_scenarios([UNIT], workdir=wt.path)
    assert scripted.status == "error"


async def test_runs_are_recorded() -> None:
    sandbox = FakeSandbox()
    await sandbox.run_scenarios([UNIT, LINT], workdir="/w1")
    await sandbox.run_scenarios([], workdir="/w2")
    assert [(r.workdir, len(r.scenarios), len(r.results)) for r in sandbox.runs] == [
        ("/w1", 2, 2),
        ("/w2", 0, 0),
    ]


async def test_output_tail_is_bounded_and_bad_input_refused() -> None:
    sandbox = FakeSandbox()
    sandbox.script("unit", SandboxOutcome.failed("y" * 10 + "x" * 5_000))
    (result,) = await sandbox.run_scenarios([UNIT], workdir="/w")
    assert result.output_tail == "x" * 4_096
    with pytest.raises(ValueError, match="at least one"):
        sandbox.script("unit")
    mock = MockWorld()
    with pytest.raises(PortError) as caught:
        await mock.sandbox().run_scenarios([UNIT], workdir="/fake/worktrees/demo/missing")
    assert caught.value.kind == "not_found"
