"""Scenario tests of the preflight loop on a MockWorld, through the in-process harness."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from fakes import AgentOutcome, MockWorld
from hydra.loop_state import LoopState
from loops.preflight import PreflightLoop
from ports import Issue, PortError
from tests.helpers.harness import running
from tests.loops._support_agent import (
    comments,
    first_tick,
    labels,
    live,
    next_tick,
    payloads,
    would,
)

pytestmark = pytest.mark.anyio

LOOP = "preflight"
TRIGGER = "hitl-escalation"
FILES = {"README.md": "# demo\nA demo service.\n", "src/app.py": "print('hi')\n"}


def _world(*issue_labels: tuple[str, ...], repos: tuple[str, ...] = ("demo",)) -> MockWorld:
    mock = MockWorld(dict.fromkeys(repos, FILES))
    for n, extra in enumerate(issue_labels or ((),), start=1):
        for repo in repos:
            mock.seed_issue(f"bug {n}", "the app says hi", [TRIGGER, *extra], repo=repo)
    return mock


def _tree(mock: MockWorld, branch: str) -> dict[str, bytes]:
    found = mock.workspace().branch_tree(branch)
    assert found is not None, f"no branch {branch}"
    return found


async def test_success_commits_opens_a_change_comments_and_swaps_labels(tmp_path: Path) -> None:
    mock = _world()
    mock.agent.script(AgentOutcome.succeed("Fixed the greeting.", edits={"src/app.py": "ok\n"}))
    async with running(tmp_path, [PreflightLoop], tables=live(LOOP), world=mock.world) as h:
        end = await first_tick(h, LOOP)
    assert end["action"] == "tick.finished"
    assert end["payload"]["status"] == "ok"
    assert end["payload"]["counts"]["succeeded"] == 1
    assert end["payload"]["counts"]["resolved"] == 1
    workspace = mock.workspace()
    assert _tree(mock, "hydra/preflight/1-1")["src/app.py"] == b"ok\n"
    assert await workspace.list_worktrees() == []  # removed; the branch stays
    [change] = await mock.changes().list_open()
    assert change.branch == "hydra/preflight/1-1"
    assert change.base == "main"
    assert "Fixed the greeting." in change.body
    assert labels(mock, "1") == {"auto-resolved"}
    [comment] = comments(mock, "1")
    assert "Fixed the greeting." in comment
    assert f"#{change.id}" in comment
    [run] = mock.agent.runs
    assert run.source == "preflight"
    assert run.limits.wall_clock_s == 1800.0
    assert run.limits.max_usd is None
    assert run.workdir.endswith("/preflight-1-1")
    [started] = payloads(h, LOOP, "attempt.started")
    assert started == {
        "repo": "demo",
        "issue": "1",
        "attempt": 1,
        "worktree": "preflight-1-1",
        "branch": "hydra/preflight/1-1",
    }
    [finished] = payloads(h, LOOP, "attempt.finished")
    assert finished["outcome"] == "succeeded"
    assert finished["counted"] is False
    assert finished["change"]["id"] == change.id
    assert finished["agent"]["usd"] == 0.01
    assert finished["paths"] == ["src/app.py"]
    [resolved] = payloads(h, LOOP, "issue.resolved")
    assert resolved["issue"] == "1"


async def test_the_prompt_carries_issue_repository_and_honest_rules(tmp_path: Path) -> None:
    mock = _world()
    mock.agent.script(AgentOutcome.fail())
    tables = live(LOOP, max_usd=2.5, wall_clock_s=120)
    async with running(tmp_path, [PreflightLoop], tables=tables, world=mock.world) as h:
        await first_tick(h, LOOP)
        mock.agent.script(AgentOutcome.fail())
        await next_tick(h, LOOP)
    first, second = mock.agent.prompts
    assert "bug 1" in first
    assert "the app says hi" in first
    assert "- src/app.py" in first
    assert "A demo service." in first  # README head
    assert "Wall-clock cap: 120 s" in first
    assert "Cost cap: $2.5" in first
    assert "pre-push hook rejects every push" in first
    assert "`git push --no-verify` fails too" in first
    assert "unfinished (WIP) commit" in first
    assert "`src/loops/**`" in first
    assert "not sandboxed" in first
    assert "attempt 1 of 3" in first
    assert "attempt 2 of 3" in second
    assert "attempt 1: failed — the agent gave up" in second
    assert mock.agent.runs[0].limits.max_usd == 2.5


@pytest.mark.parametrize(
    ("outcome", "options", "expected"),
    [
        (AgentOutcome.fail(), {}, "failed"),
        (AgentOutcome.timeout(), {}, "timeout"),
        (AgentOutcome.succeed(duration_s=100), {"wall_clock_s": 10}, "timeout"),
        (AgentOutcome.budget_exceeded(), {}, "budget_exceeded"),
        (AgentOutcome.succeed(usd=5.0), {"max_usd": 1.0}, "budget_exceeded"),
        (AgentOutcome.crash(), {}, "crashed"),
        (AgentOutcome.succeed(), {}, "no_changes"),
    ],
)
async def test_each_failure_is_recorded_and_counted(
    tmp_path: Path, outcome: AgentOutcome, options: dict[str, float], expected: str
) -> None:
    mock = _world()
    mock.agent.script(outcome)
    async with running(
        tmp_path, [PreflightLoop], tables=live(LOOP, **options), world=mock.world
    ) as h:
        end = await first_tick(h, LOOP)
    assert end["payload"]["status"] == "failed"
    assert end["payload"]["counts"]["failed"] == 1
    [finished] = payloads(h, LOOP, "attempt.finished")
    assert finished["outcome"] == expected
    assert finished["counted"] is True
    assert labels(mock, "1") == {TRIGGER}
    assert comments(mock, "1") == []
    assert await mock.changes().list_open() == []
    assert mock.workspace().branch_tree("hydra/preflight/1-1") == FILES_BYTES
    assert await mock.workspace().list_worktrees() == []


FILES_BYTES = {k: v.encode() for k, v in FILES.items()}


async def test_touching_a_protected_path_fails_the_attempt(tmp_path: Path) -> None:
    mock = _world()
    edits = {"src/app.py": "ok\n", "src/loops/health.py": "pass\n"}
    mock.agent.script(AgentOutcome.succeed("also tidied a loop", edits=edits))
    async with running(tmp_path, [PreflightLoop], tables=live(LOOP), world=mock.world) as h:
        await first_tick(h, LOOP)
    [finished] = payloads(h, LOOP, "attempt.finished")
    assert finished["outcome"] == "protected_path"
    assert finished["protected"] == ["src/loops/health.py"]
    assert finished["counted"] is True
    assert mock.workspace().branch_tree("hydra/preflight/1-1") == FILES_BYTES  # nothing committed
    assert await mock.changes().list_open() == []
    assert labels(mock, "1") == {TRIGGER}


async def test_configured_protected_paths_replace_the_default(tmp_path: Path) -> None:
    mock = _world()
    mock.agent.script(AgentOutcome.succeed(edits={"src/loops/health.py": "pass\n"}))
    tables = live(LOOP, protected_paths=["*.lock"])
    async with running(tmp_path, [PreflightLoop], tables=tables, world=mock.world) as h:
        await first_tick(h, LOOP)
    assert payloads(h, LOOP, "attempt.finished")[0]["outcome"] == "succeeded"


async def test_cap_reached_hands_the_issue_to_a_human_with_a_summary(tmp_path: Path) -> None:
    mock = _world()
    mock.agent.script(
        AgentOutcome.fail("no idea"),
        AgentOutcome.timeout(),
        AgentOutcome.succeed("tried", edits={"src/hydra/audit/x.py": "boom"}),
    )
    async with running(tmp_path, [PreflightLoop], tables=live(LOOP), world=mock.world) as h:
        await first_tick(h, LOOP)
        await next_tick(h, LOOP)
        assert labels(mock, "1") == {TRIGGER}
        end = await next_tick(h, LOOP)
        assert end["payload"]["counts"]["escalated"] == 1
        again = await next_tick(h, LOOP)  # a human-required issue is left alone
    assert again["payload"]["status"] == "idle"
    assert len(mock.agent.runs) == 3
    assert labels(mock, "1") == {TRIGGER, "human-required"}
    [summary] = comments(mock, "1")
    assert "gave up after 3 failed attempts" in summary
    for line in ("| 1 | `failed` |", "| 2 | `timeout` |", "| 3 | `protected_path` |"):
        assert line in summary
    assert "no idea" in summary
    assert "src/hydra/audit/x.py" in summary
    [escalated] = payloads(h, LOOP, "issue.escalated")
    assert escalated["attempts"] == [1, 2, 3]


async def test_attempts_are_counted_from_the_stream_across_restarts(tmp_path: Path) -> None:
    mock = _world()
    mock.agent.script(AgentOutcome.fail(), AgentOutcome.crash())
    async with running(tmp_path, [PreflightLoop], tables=live(LOOP), world=mock.world) as h:
        await first_tick(h, LOOP)
        await next_tick(h, LOOP)
    mock.agent.script(AgentOutcome.fail("third"))
    async with running(tmp_path, [PreflightLoop], tables=live(LOOP), world=mock.world) as h:
        end = await first_tick(h, LOOP, after=2)
    assert end["payload"]["counts"]["escalated"] == 1
    assert mock.agent.runs[-1].workdir.endswith("/preflight-1-3")
    assert "human-required" in labels(mock, "1")


async def test_an_issue_already_over_the_cap_is_escalated_without_running(tmp_path: Path) -> None:
    mock = _world()
    mock.agent.script(AgentOutcome.fail(), AgentOutcome.fail())
    async with running(tmp_path, [PreflightLoop], tables=live(LOOP), world=mock.world) as h:
        await first_tick(h, LOOP)
        await next_tick(h, LOOP)
    # restarted with a lower cap (or killed between the last failure and the label)
    tables = live(LOOP, max_attempts=2)
    async with running(tmp_path, [PreflightLoop], tables=tables, world=mock.world) as h:
        end = await first_tick(h, LOOP, after=2)
    assert end["payload"]["status"] == "warning"
    assert len(mock.agent.runs) == 2
    assert "human-required" in labels(mock, "1")
    assert "gave up after 2 failed attempts" in comments(mock, "1")[0]


async def test_removing_human_required_gives_a_fresh_round(tmp_path: Path) -> None:
    mock = _world()
    mock.agent.script(AgentOutcome.fail())
    tables = live(LOOP, max_attempts=1)
    async with running(tmp_path, [PreflightLoop], tables=tables, world=mock.world) as h:
        await first_tick(h, LOOP)
        assert "human-required" in labels(mock, "1")
        await mock.issues().remove_label("1", "human-required")
        mock.agent.script(AgentOutcome.succeed(edits={"src/app.py": "ok\n"}))
        end = await next_tick(h, LOOP)
    assert end["payload"]["counts"]["succeeded"] == 1
    assert labels(mock, "1") == {"auto-resolved"}


async def test_a_success_not_yet_labelled_is_finished_after_a_restart(tmp_path: Path) -> None:
    mock = _world()
    mock.issues().faults.inject("comment", PortError("failed", "tracker down"))
    mock.agent.script(AgentOutcome.succeed("fixed", edits={"src/app.py": "ok\n"}))
    async with running(tmp_path, [PreflightLoop], tables=live(LOOP), world=mock.world) as h:
        end = await first_tick(h, LOOP)
        assert end["payload"]["status"] == "warning"
        assert "tracker down" in end["payload"]["details"]["errors"][0]
        assert labels(mock, "1") == {TRIGGER}
    async with running(tmp_path, [PreflightLoop], tables=live(LOOP), world=mock.world) as h:
        end = await first_tick(h, LOOP, after=1)
    assert end["payload"]["counts"]["resolved"] == 1
    assert len(mock.agent.runs) == 1  # the fix was not paid for twice
    assert labels(mock, "1") == {"auto-resolved"}
    assert "fixed" in comments(mock, "1")[0]


async def test_shadow_mode_only_previews_finishing_a_live_success(tmp_path: Path) -> None:
    mock = _world()
    mock.issues().faults.inject("comment", PortError("failed", "tracker down"))
    mock.agent.script(AgentOutcome.succeed("fixed", edits={"src/app.py": "ok\n"}))
    async with running(tmp_path, [PreflightLoop], tables=live(LOOP), world=mock.world) as h:
        await first_tick(h, LOOP)
        await h.board.update_loop(LOOP, actor="test", reason="watch it", mode="shadow")
        await next_tick(h, LOOP)
        assert labels(mock, "1") == {TRIGGER}
        assert [a for a, _ in would(h, LOOP)] == [
            "would.comment",
            "would.add_label",
            "would.remove_label",
        ]
        assert h.records(LOOP, "issue.resolved") == []
        await h.board.update_loop(LOOP, actor="test", reason="trusted", mode="live")
        await next_tick(h, LOOP)
    assert labels(mock, "1") == {"auto-resolved"}
    assert len(h.records(LOOP, "issue.resolved")) == 1
    assert len(mock.agent.runs) == 1


@pytest.mark.parametrize(
    "extra", [("principles-stuck",), ("cultural-check",), ("human-required",), ("auto-resolved",)]
)
async def test_deny_listed_and_handled_issues_are_skipped(
    tmp_path: Path, extra: tuple[str, ...]
) -> None:
    mock = _world(extra)
    async with running(tmp_path, [PreflightLoop], tables=live(LOOP), world=mock.world) as h:
        end = await first_tick(h, LOOP)
    assert end["payload"]["status"] == "idle"
    assert mock.agent.runs == []
    assert h.records(LOOP, "attempt.started") == []


async def test_the_deny_list_is_configurable(tmp_path: Path) -> None:
    mock = _world(("security",), ())
    mock.agent.default = AgentOutcome.fail()
    tables = live(LOOP, deny_labels=["security"])
    async with running(tmp_path, [PreflightLoop], tables=tables, world=mock.world) as h:
        await first_tick(h, LOOP)
    assert [p["issue"] for p in payloads(h, LOOP, "attempt.started")] == ["2"]


async def test_an_issue_relabelled_after_listing_is_not_attempted(tmp_path: Path) -> None:
    mock = _world()
    issues = mock.issues()
    listed = issues.list_issues

    async def list_then_a_human_acts(**kwargs: Any) -> list[Issue]:
        found = await listed(**kwargs)
        await issues.add_label("1", "cultural-check")
        return found

    issues.list_issues = list_then_a_human_acts  # type: ignore[method-assign]
    async with running(tmp_path, [PreflightLoop], tables=live(LOOP), world=mock.world) as h:
        end = await first_tick(h, LOOP)
    assert end["payload"]["counts"]["skipped"] == 1
    assert mock.agent.runs == []


async def test_unconfigured_agent_is_reported_not_crashed(tmp_path: Path) -> None:
    mock = _world()
    mock.agent.unconfigured = "no agent CLI on PATH"
    async with running(tmp_path, [PreflightLoop], tables=live(LOOP), world=mock.world) as h:
        end = await first_tick(h, LOOP)
    assert end["action"] == "tick.finished"
    assert end["payload"]["status"] == "unconfigured"
    assert "no agent CLI on PATH" in end["payload"]["summary"]
    assert h.records(LOOP, "attempt.started") == []
    assert await mock.workspace().list_worktrees() == []


async def test_shadow_mode_previews_once_and_mutates_nothing(tmp_path: Path) -> None:
    mock = _world()
    mock.agent.default = AgentOutcome.succeed(edits={"src/app.py": "ok\n"})
    async with running(tmp_path, [PreflightLoop], world=mock.world) as h:  # default mode
        end = await first_tick(h, LOOP)
        assert end["payload"]["counts"]["shadowed"] == 1
        again = await next_tick(h, LOOP)
        assert again["payload"]["counts"]["unchanged"] == 1
        mock.clock.advance(60)
        await mock.issues().comment("1", "still broken")  # a new version of the issue
        third = await next_tick(h, LOOP)
        assert third["payload"]["counts"]["shadowed"] == 1
        assert mock.agent.runs == []
        assert labels(mock, "1") == {TRIGGER}
        assert comments(mock, "1") == ["still broken"]
        assert await mock.changes().list_open() == []
        runs = [p for action, p in would(h, LOOP) if action == "would.agent_run"]
        assert len(runs) == 2
        assert runs[0]["kwargs"]["source"] == "preflight"
        assert [p["outcome"] for p in payloads(h, LOOP, "attempt.finished")] == ["shadow"] * 2
        assert all(not p["counted"] for p in payloads(h, LOOP, "attempt.finished"))
        # going live: the shadow previews did not use up any attempt
        await h.board.update_loop(LOOP, actor="test", reason="trusted", mode="live")
        live_end = await next_tick(h, LOOP)
    assert live_end["payload"]["counts"]["succeeded"] == 1
    assert labels(mock, "1") == {"auto-resolved"}
    assert mock.agent.runs[0].workdir.endswith("/preflight-1-3")


async def test_credit_exhaustion_stops_the_loop(tmp_path: Path) -> None:
    mock = _world()
    mock.agent.script(AgentOutcome.credit_exhausted())
    async with running(tmp_path, [PreflightLoop], tables=live(LOOP), world=mock.world) as h:
        end = await first_tick(h, LOOP)
        await h.wait_for(lambda: h.orchestrator.status(LOOP).state == LoopState.DISABLED)
    assert end["action"] == "tick.crashed"
    assert end["payload"]["terminal"] == "credit_exhausted"
    disabled = h.records("control", "loop.disabled")[0]
    assert disabled["payload"]["reason"] == "credit_exhausted"
    assert disabled["actor"] == "daemon"
    [finished] = payloads(h, LOOP, "attempt.finished")
    assert finished["outcome"] == "aborted"
    assert finished["counted"] is False
    assert await mock.workspace().list_worktrees() == []
    assert labels(mock, "1") == {TRIGGER}


async def test_a_switched_off_repository_is_skipped(tmp_path: Path) -> None:
    mock = _world(repos=("alpha", "beta"))
    mock.agent.default = AgentOutcome.fail()
    async with running(
        tmp_path, [PreflightLoop], tables=live(LOOP), world=mock.world, start=False
    ) as h:
        await h.board.update_repo("alpha", enabled=False, actor="test", reason="frozen")
    async with running(tmp_path, [PreflightLoop], tables=live(LOOP), world=mock.world) as h:
        await first_tick(h, LOOP)
    assert [p["repo"] for p in payloads(h, LOOP, "attempt.started")] == ["beta"]


async def test_port_failures_are_reported_and_counted_only_once_money_was_spent(
    tmp_path: Path,
) -> None:
    mock = _world()
    mock.workspace().faults.inject("create_worktree", PortError("failed", "disk full"))
    async with running(tmp_path, [PreflightLoop], tables=live(LOOP), world=mock.world) as h:
        end = await first_tick(h, LOOP)
        assert end["payload"]["status"] == "failed"
        assert "disk full" in end["payload"]["details"]["errors"][0]
        before = payloads(h, LOOP, "attempt.finished")[0]
        assert (before["outcome"], before["counted"]) == ("error", False)
        assert mock.agent.runs == []
        mock.changes().faults.inject("open_change", PortError("failed", "gh is down"))
        mock.agent.script(AgentOutcome.succeed(edits={"src/app.py": "ok\n"}))
        await next_tick(h, LOOP)
    after = payloads(h, LOOP, "attempt.finished")[1]
    assert (after["outcome"], after["counted"]) == ("error", True)
    assert after["commit"] == mock.workspace().branch_head("hydra/preflight/1-2")
    assert "gh is down" in after["error"]
    assert _tree(mock, "hydra/preflight/1-2")["src/app.py"] == b"ok\n"
    assert labels(mock, "1") == {TRIGGER}


async def test_a_world_without_change_requests_still_resolves_on_the_branch(
    tmp_path: Path,
) -> None:
    mock = _world()
    mock.changes().faults.inject("open_change", PortError("unconfigured", "no forge"))
    mock.agent.script(AgentOutcome.succeed("done", edits={"src/app.py": "ok\n"}))
    async with running(tmp_path, [PreflightLoop], tables=live(LOOP), world=mock.world) as h:
        await first_tick(h, LOOP)
    [finished] = payloads(h, LOOP, "attempt.finished")
    assert finished["outcome"] == "succeeded"
    assert "change" not in finished
    assert "branch `hydra/preflight/1-1`" in comments(mock, "1")[0]
    assert labels(mock, "1") == {"auto-resolved"}


async def test_stale_worktrees_of_a_killed_daemon_are_reaped(tmp_path: Path) -> None:
    mock = _world(("human-required",))
    workspace = mock.workspace()
    await workspace.create_worktree("preflight-7-1", branch="hydra/preflight/7-1")
    await workspace.create_worktree("other-work", branch="other")
    async with running(tmp_path, [PreflightLoop], tables=live(LOOP), world=mock.world) as h:
        await first_tick(h, LOOP)
    assert [w.name for w in await workspace.list_worktrees()] == ["other-work"]
    assert payloads(h, LOOP, "worktree.reaped") == [
        {"repo": "demo", "worktrees": ["preflight-7-1"]}
    ]
    assert workspace.branch_head("hydra/preflight/7-1") is not None  # it may carry work
