"""The ``sandbox_fixer`` loop on a MockWorld: scores, fixes, holdouts, caps, stalls, modes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest

from fakes import AgentCall, AgentOutcome, MockWorld
from loops.sandbox_fixer import SandboxFixerLoop
from ports import PortError
from tests.helpers.harness import Harness
from tests.loops._support_sandbox import (
    FILES,
    FIXED,
    HOLDOUT_FILE,
    HOLDOUT_SECRETS,
    SCENARIOS,
    ScrambledSandbox,
    calc_world,
    last_result,
    live,
    payloads,
    started,
    tick,
    with_sandbox,
)

pytestmark = pytest.mark.anyio

LOOP = "sandbox_fixer"
FIX = AgentOutcome.succeed("add adds now", edits={"src/calc.py": FIXED})


def memory(tmp_path: Path, repo: str = "demo") -> dict[str, Any]:
    data = orjson.loads((tmp_path / "state" / "loops" / f"{LOOP}.json").read_bytes())
    return data[f"repo:{repo}"]


def repo_details(h: Harness, repo: str = "demo") -> dict[str, Any]:
    return last_result(h, LOOP)["details"]["repos"][repo]


def human_issues(mock: MockWorld) -> list[Any]:
    return [i for i in mock.issues().all_issues() if "human-required" in i.labels]


# ---------------------------------------------------------------------- scores
async def test_a_satisfied_repository_records_its_score_and_sends_no_agent(
    tmp_path: Path,
) -> None:
    mock = calc_world()
    mock.seed_files({"src/calc.py": FIXED})
    async with started(tmp_path, SandboxFixerLoop, mock, live(trajectory_limit=2)) as h:
        await tick(h, LOOP)
        await tick(h, LOOP)
        result = last_result(h, LOOP)
    assert result["status"] == "ok"
    assert result["counts"]["passed"] == 3
    assert repo_details(h) == {
        "outcome": "satisfied",
        "attempts": 0,
        "score": 1.0,
        "passed": 3,
        "total": 3,
    }
    recorded = payloads(h, LOOP, "score.recorded")
    assert len(recorded) == 3
    assert recorded[0] == {
        "repo": "demo",
        "attempt": None,
        "score": 1.0,
        "passed": 3,
        "total": 3,
        "signature": "",
        "failing": [],
        "holdouts_failing": [],
    }
    trajectory = memory(tmp_path)["trajectory"]
    assert [p["score"] for p in trajectory] == [1.0, 1.0]  # bounded to the newest two
    assert mock.agent.runs == []
    assert await mock.workspace().list_worktrees() == []


async def test_without_scenarios_the_loop_is_unconfigured(tmp_path: Path) -> None:
    async with started(tmp_path, SandboxFixerLoop, calc_world(), {"mode": "live"}) as h:
        result = last_result(h, LOOP)
    assert result["status"] == "unconfigured"
    assert result["summary"] == "no scenarios configured"


# ---------------------------------------------------------------------- a fix
async def test_a_successful_fix_is_committed_and_proposed(tmp_path: Path) -> None:
    mock = calc_world()
    mock.agent.script(FIX)
    async with started(tmp_path, SandboxFixerLoop, mock, live()) as h:
        result = last_result(h, LOOP)
    assert result["status"] == "ok"
    assert result["counts"]["attempts"] == 1
    assert result["counts"]["changes_opened"] == 1
    assert repo_details(h)["outcome"] == "fixed"
    scores = [(p["attempt"], p["score"]) for p in payloads(h, LOOP, "score.recorded")]
    assert scores == [(None, 0.3333), (1, 1.0)]
    [change] = await mock.changes().list_open()
    assert change.base == "main"
    branch = mock.workspace().branch_tree(change.branch)
    assert branch is not None
    assert branch["src/calc.py"] == FIXED.encode()
    assert branch[HOLDOUT_FILE] == FILES[HOLDOUT_FILE].encode()  # holdout files untouched
    [finished] = payloads(h, LOOP, "attempt.finished")
    assert finished["outcome"] == "fixed"
    assert finished["counted"] is True
    assert payloads(h, LOOP, "change.opened") == [
        {"repo": "demo", "branch": change.branch, "change": change.id}
    ]
    assert mock.agent.runs[0].source == "sandbox_fixer:demo"
    assert await mock.workspace().list_worktrees() == []
    # scratch checkouts of the holdouts leave no branch behind; the fix's branch stays
    run = str(h.records(LOOP, "tick.started")[-1]["run"])
    for suffix in ("-h0", "-h1", "-h2"):
        assert mock.workspace().branch_head(f"{change.branch}{suffix}") is None, suffix
    assert run in change.branch


async def test_an_open_fix_is_awaited_and_its_merge_satisfies_the_repository(
    tmp_path: Path,
) -> None:
    mock = calc_world()
    mock.agent.script(FIX)
    async with started(tmp_path, SandboxFixerLoop, mock, live()) as h:
        await tick(h, LOOP)
        assert repo_details(h)["outcome"] == "waiting"
        assert len(mock.agent.runs) == 1  # no second fix for the same failure
        [change] = await mock.changes().list_open()
        await mock.changes().merge(change.id)
        await tick(h, LOOP)
        assert repo_details(h)["outcome"] == "satisfied"
    assert memory(tmp_path)["change"] is None
    assert memory(tmp_path)["attempts"] == {}


async def test_attempts_build_on_each_other_within_a_tick(tmp_path: Path) -> None:
    mock = calc_world()
    mock.agent.script(
        AgentOutcome.succeed(
            "tried *", edits={"src/calc.py": "def add(a, b):\n    return a * b\n"}
        ),
        FIX,
    )
    async with started(tmp_path, SandboxFixerLoop, mock, live()) as h:
        result = last_result(h, LOOP)
    assert result["counts"]["attempts"] == 2
    assert repo_details(h)["outcome"] == "fixed"
    outcomes = [
        (p["outcome"], p["attempt"], p["signature_attempt"])
        for p in payloads(h, LOOP, "attempt.finished")
    ]
    assert outcomes == [("not_improved", 1, 1), ("fixed", 2, 1)]  # the failure had changed
    first, second = mock.agent.runs
    assert first.workdir == second.workdir
    assert "expected exit code 0, got exit code 2" in second.prompt  # fresh feedback


# ---------------------------------------------------------------------- holdouts
async def test_holdouts_never_reach_the_agent(tmp_path: Path) -> None:
    seen: list[dict[str, bytes]] = []

    def look(call: AgentCall) -> None:
        assert call.files is not None
        seen.append(dict(call.files))

    mock = calc_world()
    mock.agent.script(
        AgentOutcome.succeed("noop", action=look),
        AgentOutcome.succeed("fix", edits={"src/calc.py": FIXED}, action=look),
    )
    async with started(tmp_path, SandboxFixerLoop, mock, live()) as h:
        assert repo_details(h)["outcome"] == "fixed"
    assert len(mock.agent.runs) == 2
    for run, files in zip(mock.agent.runs, seen, strict=True):
        for secret in HOLDOUT_SECRETS:
            assert secret not in run.prompt
        assert "1 hidden scenario(s) also judge your work; 1 of them fail now" in run.prompt
        assert "`unit`" in run.prompt
        assert "pytest tests" in run.prompt
        assert "AssertionError" in run.prompt
        assert not any(path.startswith("holdout") for path in files)
        assert "src/calc.py" in files
    # the holdout ran only in fresh full checkouts, never in the agent's worktree
    agent_dirs = {run.workdir for run in mock.agent.runs}
    holdout_runs = [r for r in mock.sandbox().runs if r.scenarios[0].holdout]
    assert len(holdout_runs) == 2
    assert not {r.workdir for r in holdout_runs} & agent_dirs
    assert all(r.results[0].status != "error" for r in holdout_runs)  # it had its file
    visible_runs = [r for r in mock.sandbox().runs if not r.scenarios[0].holdout]
    assert {r.workdir for r in visible_runs} == agent_dirs
    assert all(not s.holdout for r in visible_runs for s in r.scenarios)


async def test_only_failing_holdouts_give_a_count_and_nothing_else(tmp_path: Path) -> None:
    mock = calc_world()
    scenarios = [SCENARIOS[1], SCENARIOS[2]]  # cli passes, the holdout fails
    mock.agent.script(AgentOutcome.succeed("noop"))
    options = live(scenarios=scenarios, max_attempts=1)
    async with started(tmp_path, SandboxFixerLoop, mock, options) as h:
        pass
    [run] = mock.agent.runs
    assert "None: every visible scenario passes." in run.prompt
    assert "1 of them fail now" in run.prompt
    for secret in HOLDOUT_SECRETS:
        assert secret not in run.prompt
    recorded = payloads(h, LOOP, "score.recorded")[0]
    assert recorded["holdouts_failing"] == ["hidden-sum"]  # operators see it; agents do not


# ---------------------------------------------------------------------- caps and stalls
async def test_the_attempt_cap_per_failure_escalates_once(tmp_path: Path) -> None:
    mock = calc_world()
    mock.agent.default = AgentOutcome.succeed("nothing to do")  # no edits: no change
    options = live(max_attempts=2, stall_iterations=10)
    async with started(tmp_path, SandboxFixerLoop, mock, options) as h:
        result = last_result(h, LOOP)
        assert result["status"] == "warning"
        assert result["counts"] == {
            "repos": 1,
            "scenarios": 3,
            "passed": 1,
            "attempts": 2,
            "fixed": 0,
            "changes_opened": 0,
            "escalations": 1,
            "escalated": 1,
            "errors": 0,
        }
        await tick(h, LOOP)
        await tick(h, LOOP)
        assert repo_details(h)["outcome"] == "escalated"
        escalations = h.services.escalations.list()
    assert len(mock.agent.runs) == 2
    [entry] = escalations
    assert entry.key == "sandbox_fixer:demo"
    assert entry.state == "open"
    assert entry.details["reason"] == "max_attempts"
    assert entry.details["holdouts_failing"] == ["hidden-sum"]
    [issue] = human_issues(mock)
    assert issue.comments == ()
    assert "hidden-sum" not in issue.body
    assert "failing holdout scenarios: 1 of 1" in issue.body
    [escalated] = payloads(h, LOOP, "escalated")
    assert escalated["reason"] == "max_attempts"
    assert escalated["escalation"] == entry.id
    outcomes = [(p["outcome"], p["attempt"]) for p in payloads(h, LOOP, "attempt.finished")]
    assert outcomes == [("no_change", 1), ("no_change", 2)]


async def test_a_stalled_score_escalates_before_the_cap(tmp_path: Path) -> None:
    mock = calc_world()
    mock.agent.script(
        AgentOutcome.succeed("*", edits={"src/calc.py": "def add(a, b):\n    return a * b\n"}),
        AgentOutcome.succeed("/", edits={"src/calc.py": "def add(a, b):\n    return a / b\n"}),
    )
    options = live(max_attempts=5, stall_iterations=2)
    async with started(tmp_path, SandboxFixerLoop, mock, options) as h:
        details = repo_details(h)
    assert details["outcome"] == "escalated"
    assert details["attempts"] == 2
    [escalated] = payloads(h, LOOP, "escalated")
    assert escalated["reason"] == "stalled"
    assert escalated["attempts"] == 2  # each attempt changed the failure: no cap reached
    [entry] = h.services.escalations.list()
    assert entry.details["branch"].startswith("hydra/sandbox-fixer/")
    assert len(human_issues(mock)) == 1


async def test_a_new_failure_after_an_escalation_updates_the_same_issue(
    tmp_path: Path,
) -> None:
    mock = calc_world()
    mock.agent.default = AgentOutcome.succeed("nothing")
    options = live(max_attempts=1)
    async with started(tmp_path, SandboxFixerLoop, mock, options) as h:
        mock.seed_files({"src/calc.py": "def add(a, b):\n    return a * b\n"})
        await tick(h, LOOP)
        assert repo_details(h)["outcome"] == "escalated"
        entries = h.services.escalations.list()
    assert len(mock.agent.runs) == 2
    [issue] = human_issues(mock)
    assert len(issue.comments) == 1
    assert issue.comments[0].body.startswith("Escalated:")
    [entry] = entries  # the open entry was updated, not duplicated
    actions = [r["action"] for r in h.records("escalations")]
    assert actions == ["escalation.opened", "escalation.updated"]
    assert entry.state == "open"


async def test_resolving_the_escalation_allows_fresh_attempts(tmp_path: Path) -> None:
    mock = calc_world()
    mock.agent.default = AgentOutcome.succeed("nothing")
    async with started(tmp_path, SandboxFixerLoop, mock, live(max_attempts=1)) as h:
        [entry] = h.services.escalations.list()
        await h.services.escalations.transition(
            entry.id, to="resolved", actor="api:ops", note="try again"
        )
        mock.agent.script(FIX)
        await tick(h, LOOP)
        assert repo_details(h)["outcome"] == "fixed"
    assert payloads(h, LOOP, "episode.reopened") == [{"repo": "demo", "by": "api:ops"}]


async def test_the_issue_is_closed_when_the_scenarios_pass_again(tmp_path: Path) -> None:
    mock = calc_world()
    mock.agent.default = AgentOutcome.succeed("nothing")
    async with started(tmp_path, SandboxFixerLoop, mock, live(max_attempts=1)) as h:
        [issue] = human_issues(mock)
        mock.seed_files({"src/calc.py": FIXED})  # a human fixed it
        await tick(h, LOOP)
        assert repo_details(h)["outcome"] == "satisfied"
    closed = mock.issues().issue(issue.id)
    assert closed.state == "closed"
    assert closed.comments[-1].body == "The scenarios pass again. Closing."
    assert payloads(h, LOOP, "issue.closed") == [{"repo": "demo", "issue": issue.id}]
    assert memory(tmp_path)["escalated"] is None


async def test_a_failing_tracker_is_retried_without_escalating_twice(tmp_path: Path) -> None:
    mock = calc_world()
    mock.agent.default = AgentOutcome.succeed("nothing")
    mock.issues().faults.inject("create_issue", PortError("failed", "tracker down"))
    async with started(tmp_path, SandboxFixerLoop, mock, live(max_attempts=1)) as h:
        assert human_issues(mock) == []
        await tick(h, LOOP)
    assert len(human_issues(mock)) == 1
    assert len(h.services.escalations.list()) == 1
    assert [r["action"] for r in h.records("escalations")] == ["escalation.opened"]
    assert payloads(h, LOOP, "issue.failed") == [{"repo": "demo", "error": "failed: tracker down"}]


# ---------------------------------------------------------------------- failed attempts
async def test_failed_agent_runs_count_across_ticks_and_restarts(tmp_path: Path) -> None:
    mock = calc_world()
    mock.agent.default = AgentOutcome.fail("could not find the bug")
    async with started(tmp_path, SandboxFixerLoop, mock, live(stall_iterations=10)) as h:
        assert last_result(h, LOOP)["status"] == "failed"
        assert repo_details(h)["outcome"] == "attempting"
        await tick(h, LOOP)
    signature = payloads(h, LOOP, "attempt.started")[0]["signature"]
    assert memory(tmp_path)["attempts"] == {signature: 2}
    async with started(tmp_path, SandboxFixerLoop, mock, live(stall_iterations=10)) as h:
        assert repo_details(h)["outcome"] == "escalated"
    assert len(mock.agent.runs) == 3
    outcomes = {p["outcome"] for p in payloads(h, LOOP, "attempt.finished")}
    assert outcomes == {"failed"}
    assert payloads(h, LOOP, "escalated")[0]["reason"] == "max_attempts"


async def test_an_attempt_touching_a_visible_scenario_fails_as_tampered(tmp_path: Path) -> None:
    mock = calc_world()
    mock.agent.script(AgentOutcome.succeed("made it pass", edits={"tests/test_calc.py": "pass"}))
    async with started(tmp_path, SandboxFixerLoop, mock, live()) as h:
        assert repo_details(h)["outcome"] == "attempting"
    [finished] = payloads(h, LOOP, "attempt.finished")
    assert finished["outcome"] == "tampered"
    assert finished["paths"] == ["tests/test_calc.py"]
    assert await mock.changes().list_open() == []


# ---------------------------------------------------------------------- modes and limits
async def test_an_unconfigured_agent_is_reported_not_run(tmp_path: Path) -> None:
    mock = calc_world()
    mock.agent.unconfigured = "no agent CLI on PATH"
    async with started(tmp_path, SandboxFixerLoop, mock, live()) as h:
        result = last_result(h, LOOP)
    assert result["status"] == "unconfigured"
    assert repo_details(h)["outcome"] == "unconfigured"
    assert mock.agent.runs == []
    assert len(payloads(h, LOOP, "score.recorded")) == 1  # the score is still recorded


async def test_shadow_mode_previews_the_attempt_without_counting_it(tmp_path: Path) -> None:
    mock = calc_world()
    options = {"scenarios": SCENARIOS, "max_attempts": 1}
    async with started(tmp_path, SandboxFixerLoop, mock, options) as h:  # shadow by default
        await tick(h, LOOP)
        result = last_result(h, LOOP)
    assert result["status"] == "warning"
    assert repo_details(h)["outcome"] == "shadow"
    assert mock.agent.runs == []
    assert len(h.records(LOOP, "would.agent_run")) == 2
    finished = payloads(h, LOOP, "attempt.finished")
    assert [(p["outcome"], p["counted"]) for p in finished] == [("shadow", False)] * 2
    assert memory(tmp_path)["attempts"] == {}
    assert h.services.escalations.list() == []
    assert human_issues(mock) == []


async def test_credit_exhaustion_stops_the_loop(tmp_path: Path) -> None:
    mock = calc_world()
    mock.agent.script(AgentOutcome.credit_exhausted())
    async with started(tmp_path, SandboxFixerLoop, mock, live()) as h:
        await h.wait_for(lambda: len(h.records("control", "loop.disabled")) == 1)
    [crashed] = payloads(h, LOOP, "tick.crashed")
    assert crashed["terminal"] == "credit_exhausted"
    assert h.records("control", "loop.disabled")[0]["payload"]["reason"] == "credit_exhausted"
    assert memory(tmp_path)["attempts"] == {}  # the attempt never ran
    assert await mock.workspace().list_worktrees() == []


async def test_agent_limits_come_from_the_options(tmp_path: Path) -> None:
    mock = calc_world()
    mock.agent.script(FIX)
    options = live(agent_timeout_s=60, max_usd_per_attempt=0.5)
    async with started(tmp_path, SandboxFixerLoop, mock, options):
        pass
    assert mock.agent.runs[0].limits.wall_clock_s == 60
    assert mock.agent.runs[0].limits.max_usd == 0.5


# ---------------------------------------------------------------------- repositories
async def test_only_the_configured_repositories_are_judged(tmp_path: Path) -> None:
    mock = calc_world("alpha", "beta")
    mock.agent.script(FIX)
    async with started(tmp_path, SandboxFixerLoop, mock, live(repos=["beta"])) as h:
        assert list(last_result(h, LOOP)["details"]["repos"]) == ["beta"]
    assert mock.sandbox("alpha").runs == []


async def test_a_port_failure_is_recorded_and_the_next_repository_served(tmp_path: Path) -> None:
    mock = calc_world("alpha", "beta")
    mock.workspace("alpha").faults.inject("create_worktree", PortError("failed", "disk full"))
    mock.agent.script(FIX)
    async with started(tmp_path, SandboxFixerLoop, mock, live()) as h:
        result = last_result(h, LOOP)
    assert result["details"]["repos"]["alpha"] == {"outcome": "error", "attempts": 0}
    assert result["details"]["repos"]["beta"]["outcome"] == "fixed"
    assert result["status"] == "warning"
    assert payloads(h, LOOP, "repo.failed") == [{"repo": "alpha", "error": "failed: disk full"}]
    assert result["counts"]["errors"] == 1


async def test_a_change_request_that_could_not_be_opened_is_opened_later(tmp_path: Path) -> None:
    mock = calc_world()
    mock.agent.script(FIX)
    mock.changes().faults.inject("open_change", PortError("failed", "gh is down"))
    async with started(tmp_path, SandboxFixerLoop, mock, live()) as h:
        assert repo_details(h)["outcome"] == "fixed"
        assert last_result(h, LOOP)["counts"]["changes_opened"] == 0
        assert memory(tmp_path)["change"]["id"] is None
        await tick(h, LOOP)
        assert repo_details(h)["outcome"] == "waiting"
    [change] = await mock.changes().list_open()
    [failed] = payloads(h, LOOP, "change.failed")
    assert failed["error"] == "failed: gh is down"
    assert payloads(h, LOOP, "change.opened") == [
        {"repo": "demo", "branch": failed["branch"], "change": change.id}
    ]
    assert len(mock.agent.runs) == 1


async def test_a_fix_closed_unmerged_lets_the_loop_try_again(tmp_path: Path) -> None:
    mock = calc_world()
    mock.agent.default = FIX
    async with started(tmp_path, SandboxFixerLoop, mock, live()) as h:
        [first] = await mock.changes().list_open()
        mock.changes().close(first.id)
        await tick(h, LOOP)
        assert repo_details(h)["outcome"] == "fixed"
    [second] = await mock.changes().list_open()
    assert second.branch != first.branch
    signature = payloads(h, LOOP, "attempt.started")[0]["signature"]
    assert memory(tmp_path)["attempts"] == {signature: 2}


async def test_no_managed_repository_is_idle(tmp_path: Path) -> None:
    async with started(tmp_path, SandboxFixerLoop, MockWorld(repos=()), live()) as h:
        result = last_result(h, LOOP)
    assert result["status"] == "idle"
    assert result["summary"] == "no managed repository"


# ---------------------------------------------------------------------- edges
async def test_leftover_worktrees_are_reaped_and_lost_results_count_as_errors(
    tmp_path: Path,
) -> None:
    mock = calc_world()
    mock.seed_files({"src/calc.py": FIXED})
    await mock.workspace().create_worktree("sandbox-fixer-old", branch="hydra/sandbox-fixer/old")
    lossy = with_sandbox(mock, ScrambledSandbox(mock.sandbox(), drop=["cli"]))
    options = {"mode": "live", "scenarios": SCENARIOS, "satisfaction_threshold": 0.6}
    async with started(tmp_path, SandboxFixerLoop, mock, options, world=lossy) as h:
        details = repo_details(h)
    assert details["outcome"] == "satisfied"  # 2 of 3 pass: above 0.6
    assert details["passed"] == 2
    assert await mock.workspace().list_worktrees() == []
    assert payloads(h, LOOP, "score.recorded")[0]["failing"] == ["cli"]


async def test_a_vanished_change_request_no_longer_holds_the_loop(tmp_path: Path) -> None:
    mock = calc_world()
    mock.agent.default = FIX
    async with started(tmp_path, SandboxFixerLoop, mock, live()) as h:
        state = await h.services.state(LOOP).get("repo:demo")
        await h.services.state(LOOP).put(
            "repo:demo", {**state, "change": {**state["change"], "id": "404"}}
        )
        await tick(h, LOOP)
        assert repo_details(h)["outcome"] == "fixed"
    assert len(await mock.changes().list_open()) == 2


async def test_an_issue_filed_but_never_remembered_is_still_closed(tmp_path: Path) -> None:
    mock = calc_world()
    mock.agent.default = AgentOutcome.succeed("nothing")
    mock.issues().faults.inject("create_issue", PortError("failed", "timeout"))
    async with started(tmp_path, SandboxFixerLoop, mock, live(max_attempts=1)) as h:
        orphan = mock.seed_issue(
            "Sandbox scenarios of demo do not converge", labels=["human-required"]
        )
        mock.seed_files({"src/calc.py": FIXED})
        mock.issues().faults.inject("close_issue", PortError("failed", "timeout"))
        await tick(h, LOOP)
        assert memory(tmp_path)["issue"] == orphan.id  # found; closing it failed: kept
        await tick(h, LOOP)
    assert mock.issues().issue(orphan.id).state == "closed"
    assert [p["issue"] for p in payloads(h, LOOP, "issue.closed")] == [orphan.id]
    assert len(payloads(h, LOOP, "issue.failed")) == 2
