"""Scenario tests of the review advisor on a MockWorld, through the in-process harness."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from fakes import AgentOutcome, MockWorld
from hydra.loop_state import LoopState
from loops.review_advisor import ReviewAdvisorLoop
from ports import PortError, Verdict
from tests.helpers.harness import Harness, running
from tests.loops._support_agent import first_tick, live, next_tick, payloads, would

pytestmark = pytest.mark.anyio

LOOP = "review_advisor"
APPROVE = 'Read it twice.\n```json\n{"verdict": "approve", "reasons": ["does what it says"]}\n```'
VETO = 'This deletes the only test. {"verdict": "veto", "reasons": ["drops a test"]} Sorry.'
DOC_FIX = {"README.md": "# demo\nfixed a typo\n"}
CODE_FIX = {"src/app.py": "print('ok')\n"}


def _world(files: Mapping[str, str | None] | None = None) -> MockWorld:
    mock = MockWorld()
    mock.seed_change("Fix things", files=files or DOC_FIX, body="Please merge.")
    return mock


def verdicts(h: Harness) -> list[dict[str, Any]]:
    return payloads(h, LOOP, "review.verdict")


async def test_an_approved_trivial_change_is_auto_approvable(tmp_path: Path) -> None:
    mock = _world()
    mock.agent.script(AgentOutcome.succeed(APPROVE))
    async with running(tmp_path, [ReviewAdvisorLoop], tables=live(LOOP), world=mock.world) as h:
        end = await first_tick(h, LOOP)
    assert end["payload"]["status"] == "ok"
    counts = end["payload"]["counts"]
    assert (counts["reviewed"], counts["approved"], counts["auto_approvable"]) == (1, 1, 1)
    [review] = mock.changes().reviews("1")
    assert review.verdict == "approve"
    assert "auto-approvable" in review.body
    assert "merge when ready" in review.body
    assert "does what it says" in review.body
    assert mock.changes().merged == []
    [verdict] = verdicts(h)
    assert verdict["change"] == "1"
    assert verdict["head_sha"] == mock.changes().change("1").head_sha
    assert verdict["risk"] == "trivial"
    assert verdict["verdict"] == "approve"
    assert verdict["source"] == "advisor"
    assert verdict["reasons"] == ["does what it says"]
    assert verdict["auto_approvable"] is True
    [run] = mock.agent.runs
    assert run.source == "review_advisor"
    assert "+fixed a typo" in run.prompt
    assert "Please merge." in run.prompt
    assert await mock.workspace().list_worktrees() == []


async def test_auto_merge_merges_auto_approvable_changes(tmp_path: Path) -> None:
    mock = _world()
    mock.agent.script(AgentOutcome.succeed(APPROVE))
    tables = live(LOOP, auto_merge=True)
    async with running(tmp_path, [ReviewAdvisorLoop], tables=tables, world=mock.world) as h:
        end = await first_tick(h, LOOP)
    assert end["payload"]["counts"]["merged"] == 1
    assert mock.changes().merged == ["1"]
    assert payloads(h, LOOP, "review.merged")[0]["change"] == "1"


async def test_an_approved_riskier_change_waits_for_a_human(tmp_path: Path) -> None:
    mock = _world(CODE_FIX)
    mock.agent.script(AgentOutcome.succeed(APPROVE))
    tables = live(LOOP, auto_merge=True)
    async with running(tmp_path, [ReviewAdvisorLoop], tables=tables, world=mock.world) as h:
        await first_tick(h, LOOP)
    [review] = mock.changes().reviews("1")
    assert review.verdict == "comment"  # a formal approval only when auto-approvable
    assert "needs a human: risk low is not below low" in review.body
    assert mock.changes().merged == []
    assert verdicts(h)[0]["auto_approvable"] is False


async def test_auto_approve_threshold_is_configurable(tmp_path: Path) -> None:
    mock = _world(CODE_FIX)
    mock.agent.script(AgentOutcome.succeed(APPROVE))
    tables = live(LOOP, auto_approve_below="medium", auto_merge=True)
    async with running(tmp_path, [ReviewAdvisorLoop], tables=tables, world=mock.world) as h:
        await first_tick(h, LOOP)
    assert mock.changes().merged == ["1"]


async def test_an_advisor_veto_is_posted_as_a_veto(tmp_path: Path) -> None:
    mock = _world()
    mock.agent.script(AgentOutcome.succeed(VETO))
    tables = live(LOOP, auto_merge=True)
    async with running(tmp_path, [ReviewAdvisorLoop], tables=tables, world=mock.world) as h:
        end = await first_tick(h, LOOP)
    assert end["payload"]["counts"]["vetoed"] == 1
    [review] = mock.changes().reviews("1")
    assert review.verdict == "veto"
    assert "drops a test" in review.body
    assert mock.changes().merged == []


@pytest.mark.parametrize(
    ("outcome", "why"),
    [
        (AgentOutcome.fail(), "ended `failed`"),
        (AgentOutcome.timeout(), "ended `timeout`"),
        (AgentOutcome.crash(), "ended `crashed`"),
        (AgentOutcome.budget_exceeded(), "ended `budget_exceeded`"),
        (AgentOutcome.succeed("LGTM, ship it!"), "held no JSON verdict"),
        (AgentOutcome.succeed('```json\n{"verdict": approve}\n```'), "held no JSON verdict"),
    ],
)
@pytest.mark.parametrize(("fail_as_veto", "verdict"), [(False, "approve"), (True, "veto")])
async def test_failure_soft_when_the_advisor_is_unavailable(
    tmp_path: Path, outcome: AgentOutcome, why: str, fail_as_veto: bool, verdict: str
) -> None:
    mock = _world()
    mock.agent.script(outcome)
    tables = live(LOOP, fail_as_veto=fail_as_veto)
    async with running(tmp_path, [ReviewAdvisorLoop], tables=tables, world=mock.world) as h:
        end = await first_tick(h, LOOP)
    assert end["payload"]["status"] == "warning"
    assert end["payload"]["counts"]["failure_soft"] == 1
    [record] = verdicts(h)
    assert (record["verdict"], record["source"]) == (verdict, "failure-soft")
    assert why in record["reasons"][0]
    [review] = mock.changes().reviews("1")
    assert review.verdict == verdict
    assert "failure-soft" in review.body


@pytest.mark.parametrize(("fail_as_veto", "verdict"), [(False, "approve"), (True, "veto")])
async def test_failure_soft_without_an_agent(
    tmp_path: Path, fail_as_veto: bool, verdict: str
) -> None:
    mock = _world()
    mock.agent.unconfigured = "no agent CLI on PATH"
    tables = live(LOOP, fail_as_veto=fail_as_veto)
    async with running(tmp_path, [ReviewAdvisorLoop], tables=tables, world=mock.world) as h:
        end = await first_tick(h, LOOP)
    assert end["action"] == "tick.finished"
    assert end["payload"]["status"] == "unconfigured"
    assert mock.agent.runs == []
    [record] = verdicts(h)
    assert (record["verdict"], record["source"]) == (verdict, "failure-soft")
    assert "no agent is configured" in record["reasons"][0]


async def test_a_workspace_failure_is_failure_soft(tmp_path: Path) -> None:
    mock = _world()
    mock.workspace().faults.inject("create_worktree", PortError("failed", "disk full"))
    async with running(tmp_path, [ReviewAdvisorLoop], tables=live(LOOP), world=mock.world) as h:
        await first_tick(h, LOOP)
    [record] = verdicts(h)
    assert record["source"] == "failure-soft"
    assert "disk full" in record["reasons"][0]


HYDRA_TREE = {
    "src/loops/review_advisor.py": "class ReviewAdvisorLoop: ...\n",
    "src/loops/_verdict.py": "old\n",
    "src/hydra/sdk/__init__.py": "",
    "pyproject.toml": "[project]\nname = 'hydra-caretaker'\n",
    "README.md": "# hydra\n",
}
APP_TREE = {
    "src/app.py": "print('hi')\n",
    "pyproject.toml": "[project]\nname = 'app'\n",
    "README.md": "# app\n",
}


@pytest.mark.parametrize(
    ("files", "options", "named"),
    [
        ({"src/loops/review_advisor.py": "APPROVE = True\n"}, {}, "src/loops/review_advisor.py"),
        ({"src/loops/_verdict.py": None}, {}, "src/loops/_verdict.py"),  # deleted
        ({"src/hydra/sdk/_loop.py": "x\n", "README.md": "y\n"}, {}, "src/hydra/sdk/_loop.py"),
        ({"pyproject.toml": "[project]\n"}, {}, "pyproject.toml"),
        ({"src/hydra/adapters/_agent_transcript.py": "x\n"}, {}, "_agent_transcript.py"),
        # removing the markers does not hide the repository: it is recognised at the base
        ({"src/loops/review_advisor.py": None, "src/hydra/sdk/__init__.py": None}, {}, "sdk"),
        ({"deploy/gate.yml": "x\n"}, {"protected_paths": ["deploy/**"]}, "deploy/gate.yml"),
    ],
)
async def test_changes_to_the_advisor_itself_are_vetoed_whatever_it_says(
    tmp_path: Path, files: dict[str, str | None], options: dict[str, object], named: str
) -> None:
    mock = MockWorld({"hydra": HYDRA_TREE})
    mock.seed_change("Improve the advisor", files=files)
    mock.agent.default = AgentOutcome.succeed(APPROVE)
    tables = live(LOOP, auto_merge=True, fail_as_veto=False, **options)
    async with running(tmp_path, [ReviewAdvisorLoop], tables=tables, world=mock.world) as h:
        end = await first_tick(h, LOOP)
    assert mock.agent.runs == []  # the advisor is not even asked
    assert end["payload"]["counts"]["guarded"] == 1
    [record] = verdicts(h)
    assert (record["verdict"], record["source"]) == ("veto", "guard")
    [review] = mock.changes().reviews("1")
    assert review.verdict == "veto"
    assert named in review.body
    assert "cannot be overridden" in review.body
    assert mock.changes().merged == []
    assert await mock.workspace().list_worktrees() == []  # the probe is gone with its branch
    probe = f"hydra/review/probe-{end['run'][-8:]}-0-main"
    assert mock.workspace().branch_head(probe) is None


@pytest.mark.parametrize(
    "files",
    [
        {"pyproject.toml": "[project]\nname = 'app'\nversion = '2'\n"},
        {"src/ports/api.py": "x\n", "src/hydra/sdk/__init__.py": "x\n"},
        {"tests/loops/test_review_advisor.py": "x\n"},
    ],
)
async def test_the_advisor_s_paths_are_ordinary_files_in_another_repository(
    tmp_path: Path, files: dict[str, str | None]
) -> None:
    mock = MockWorld({"app": APP_TREE})
    mock.seed_change("Bump things", files=files)
    mock.agent.default = AgentOutcome.succeed(APPROVE)
    async with running(tmp_path, [ReviewAdvisorLoop], tables=live(LOOP), world=mock.world) as h:
        end = await first_tick(h, LOOP)
    assert end["payload"]["counts"]["guarded"] == 0
    [record] = verdicts(h)
    assert (record["verdict"], record["source"]) == ("approve", "advisor")
    assert len(mock.agent.runs) == 1
    assert await mock.workspace().list_worktrees() == []


async def test_protected_paths_still_guard_another_repository(tmp_path: Path) -> None:
    mock = MockWorld({"app": APP_TREE})
    mock.seed_change("Bump things", files={"pyproject.toml": "[project]\n"})
    mock.agent.default = AgentOutcome.succeed(APPROVE)
    tables = live(LOOP, protected_paths=["pyproject.toml"])
    async with running(tmp_path, [ReviewAdvisorLoop], tables=tables, world=mock.world) as h:
        await first_tick(h, LOOP)
    [record] = verdicts(h)
    assert (record["verdict"], record["source"]) == ("veto", "guard")
    assert record["reasons"][0].startswith("touches protected paths: `pyproject.toml`")
    assert "own files" not in record["reasons"][0]
    assert mock.agent.runs == []


async def test_a_repository_named_in_self_repos_is_guarded_without_markers(
    tmp_path: Path,
) -> None:
    mock = MockWorld({"app": APP_TREE, "fork": APP_TREE})
    mock.seed_change("Bump", repo="app", files={"pyproject.toml": "[project]\n"})
    mock.seed_change("Bump", repo="fork", files={"pyproject.toml": "[project]\n"})
    mock.agent.default = AgentOutcome.succeed(APPROVE)
    tables = live(LOOP, self_repos=["fork"])
    async with running(tmp_path, [ReviewAdvisorLoop], tables=tables, world=mock.world) as h:
        await first_tick(h, LOOP)
    by_repo = {r["repo"]: r for r in verdicts(h)}
    assert (by_repo["fork"]["verdict"], by_repo["fork"]["source"]) == ("veto", "guard")
    assert "fork, Hydra's own repository" in by_repo["fork"]["reasons"][0]
    assert (by_repo["app"]["verdict"], by_repo["app"]["source"]) == ("approve", "advisor")


async def test_a_repository_that_cannot_be_recognised_is_not_waved_through(
    tmp_path: Path,
) -> None:
    mock = MockWorld({"hydra": HYDRA_TREE})
    mock.seed_change("Improve the advisor", files={"src/loops/_verdict.py": "x\n"})
    mock.workspace().faults.inject("tracked_files", PortError("failed", "disk full"))
    mock.agent.default = AgentOutcome.succeed(APPROVE)
    async with running(tmp_path, [ReviewAdvisorLoop], tables=live(LOOP), world=mock.world) as h:
        end = await first_tick(h, LOOP)
        assert end["payload"]["status"] == "warning"
        assert "disk full" in end["payload"]["details"]["errors"][0]
        assert verdicts(h) == []
        assert await mock.workspace().list_worktrees() == []
        again = await next_tick(h, LOOP)
    assert again["payload"]["counts"]["guarded"] == 1
    [record] = verdicts(h)
    assert (record["verdict"], record["source"]) == ("veto", "guard")
    assert mock.agent.runs == []


async def test_an_unchanged_change_is_not_reviewed_again(tmp_path: Path) -> None:
    mock = MockWorld()
    workspace = mock.workspace()
    await workspace.create_worktree("author", branch="feature")
    workspace.seed_files(DOC_FIX, branch="feature")
    change = await mock.changes().open_change(branch="feature", base="main", title="Docs")
    mock.agent.default = AgentOutcome.succeed(APPROVE)
    async with running(tmp_path, [ReviewAdvisorLoop], tables=live(LOOP), world=mock.world) as h:
        await first_tick(h, LOOP)
        again = await next_tick(h, LOOP)
        assert again["payload"]["counts"]["unchanged"] == 1
        assert again["payload"]["status"] == "idle"
        assert len(mock.agent.runs) == 1
        workspace.seed_files({"docs/more.md": "more\n"}, branch="feature")  # a new push
        third = await next_tick(h, LOOP)
    assert third["payload"]["counts"]["reviewed"] == 1
    assert len(mock.agent.runs) == 2
    heads = [v["head_sha"] for v in verdicts(h)]
    assert heads[0] != heads[1]
    assert heads[1] == mock.changes().change(change.id).head_sha
    assert len(mock.changes().reviews(change.id)) == 2


async def test_closed_changes_are_forgotten(tmp_path: Path) -> None:
    mock = _world()
    mock.agent.default = AgentOutcome.succeed(APPROVE)
    async with running(tmp_path, [ReviewAdvisorLoop], tables=live(LOOP), world=mock.world) as h:
        await first_tick(h, LOOP)
        assert list(await h.services.state(LOOP).items()) == ["reviewed:demo:1"]
        mock.changes().close("1")
        await next_tick(h, LOOP)
        assert await h.services.state(LOOP).items() == {}


async def test_a_failed_merge_is_recorded(tmp_path: Path) -> None:
    mock = _world()
    mock.changes().block_merge("1")
    mock.agent.script(AgentOutcome.succeed(APPROVE))
    tables = live(LOOP, auto_merge=True)
    async with running(tmp_path, [ReviewAdvisorLoop], tables=tables, world=mock.world) as h:
        end = await first_tick(h, LOOP)
    assert end["payload"]["status"] == "warning"
    assert end["payload"]["counts"]["merge_failed"] == 1
    assert "merge conflict" in payloads(h, LOOP, "review.merge_failed")[0]["error"]


async def test_no_merge_when_the_head_moved_after_the_review(tmp_path: Path) -> None:
    mock = MockWorld()
    workspace = mock.workspace()
    await workspace.create_worktree("author", branch="feature")
    workspace.seed_files(DOC_FIX, branch="feature")
    changes = mock.changes()
    change = await changes.open_change(branch="feature", base="main", title="Docs")
    post = changes.post_review

    async def pushed_meanwhile(change_id: str, verdict: Verdict, body: str) -> None:
        await post(change_id, verdict, body)
        workspace.seed_files({"src/evil.py": "x\n"}, branch="feature")  # after the approval

    changes.post_review = pushed_meanwhile  # type: ignore[method-assign]
    mock.agent.script(AgentOutcome.succeed(APPROVE))
    tables = live(LOOP, auto_merge=True)
    async with running(tmp_path, [ReviewAdvisorLoop], tables=tables, world=mock.world) as h:
        end = await first_tick(h, LOOP)
    assert changes.merged == []
    assert changes.change(change.id).state == "open"
    assert "src/evil.py" not in (workspace.branch_tree("main") or {})
    [failed] = payloads(h, LOOP, "review.merge_failed")
    assert "head moved" in failed["error"]
    assert change.id == failed["change"]
    [verdict] = verdicts(h)
    assert failed["head_sha"] == verdict["head_sha"] != changes.change(change.id).head_sha
    assert h.records(LOOP, "review.merged") == []
    assert end["payload"]["counts"]["merge_failed"] == 1


async def test_the_merge_is_pinned_to_the_reviewed_head(tmp_path: Path) -> None:
    mock = _world()
    changes = mock.changes()
    reviewed = changes.change("1").head_sha
    merge = changes.merge
    asked: list[str | None] = []

    async def recorded(change_id: str, *, expected_head: str | None = None) -> None:
        asked.append(expected_head)
        await merge(change_id, expected_head=expected_head)

    changes.merge = recorded  # type: ignore[method-assign]
    mock.agent.script(AgentOutcome.succeed(APPROVE))
    tables = live(LOOP, auto_merge=True)
    async with running(tmp_path, [ReviewAdvisorLoop], tables=tables, world=mock.world) as h:
        await first_tick(h, LOOP)
    assert asked == [reviewed]
    assert changes.merged == ["1"]
    assert payloads(h, LOOP, "review.merged")[0]["head_sha"] == reviewed


async def test_the_advisor_s_scratch_branch_is_deleted_with_its_worktree(tmp_path: Path) -> None:
    mock = _world()
    workspace = mock.workspace()
    mock.agent.script(AgentOutcome.succeed(APPROVE))
    async with running(tmp_path, [ReviewAdvisorLoop], tables=live(LOOP), world=mock.world) as h:
        await first_tick(h, LOOP)
    [run] = mock.agent.runs
    name = run.workdir.rsplit("/", 1)[-1]
    assert name.startswith("review-1-")
    assert await workspace.list_worktrees() == []
    assert workspace.branch_head("hydra/review/" + name.removeprefix("review-")) is None
    assert workspace.branch_head("main") is not None


async def test_a_port_failure_skips_the_change_until_next_tick(tmp_path: Path) -> None:
    mock = _world()
    mock.changes().faults.inject("post_review", PortError("failed", "gh is down"))
    mock.agent.default = AgentOutcome.succeed(APPROVE)
    async with running(tmp_path, [ReviewAdvisorLoop], tables=live(LOOP), world=mock.world) as h:
        end = await first_tick(h, LOOP)
        assert end["payload"]["status"] == "warning"
        assert "gh is down" in end["payload"]["details"]["errors"][0]
        again = await next_tick(h, LOOP)
    assert again["payload"]["counts"]["reviewed"] == 1
    assert len(mock.changes().reviews("1")) == 1


async def test_shadow_mode_posts_nothing_and_goes_live_cleanly(tmp_path: Path) -> None:
    mock = _world()
    mock.agent.default = AgentOutcome.succeed(APPROVE)
    async with running(tmp_path, [ReviewAdvisorLoop], world=mock.world) as h:  # default mode
        end = await first_tick(h, LOOP)
        assert end["payload"]["counts"]["reviewed"] == 1
        assert mock.agent.runs == []
        assert mock.changes().reviews("1") == []
        actions = [action for action, _ in would(h, LOOP)]
        assert actions == ["would.agent_run", "would.review"]
        [record] = verdicts(h)
        assert (record["source"], record["verdict"]) == ("shadow", "comment")
        again = await next_tick(h, LOOP)
        assert again["payload"]["counts"]["unchanged"] == 1
        await h.board.update_loop(LOOP, actor="test", reason="trusted", mode="live")
        live_end = await next_tick(h, LOOP)
    assert live_end["payload"]["counts"]["reviewed"] == 1  # a shadow review does not count
    [review] = mock.changes().reviews("1")
    assert review.verdict == "approve"


async def test_shadow_mode_records_a_would_be_merge(tmp_path: Path) -> None:
    mock = _world()
    mock.agent.unconfigured = "none"  # failure-soft approve of a trivial change
    tables = {LOOP: {"auto_merge": True}}
    async with running(tmp_path, [ReviewAdvisorLoop], tables=tables, world=mock.world) as h:
        await first_tick(h, LOOP)
    assert [action for action, _ in would(h, LOOP)] == ["would.review", "would.merge"]
    head = mock.changes().change("1").head_sha
    assert would(h, LOOP)[1][1]["kwargs"] == {"expected_head": head}
    assert h.records(LOOP, "review.merged") == []
    assert mock.changes().merged == []


async def test_credit_exhaustion_stops_the_advisor(tmp_path: Path) -> None:
    mock = _world()
    mock.agent.script(AgentOutcome.credit_exhausted())
    async with running(tmp_path, [ReviewAdvisorLoop], tables=live(LOOP), world=mock.world) as h:
        end = await first_tick(h, LOOP)
        await h.wait_for(lambda: h.orchestrator.status(LOOP).state == LoopState.DISABLED)
    assert end["payload"]["terminal"] == "credit_exhausted"
    assert h.records("control", "loop.disabled")[0]["payload"]["reason"] == "credit_exhausted"
    assert verdicts(h) == []
    assert mock.changes().reviews("1") == []
    assert await mock.workspace().list_worktrees() == []


def test_metadata() -> None:
    assert ReviewAdvisorLoop.default_mode == "shadow"
    assert set(ReviewAdvisorLoop.ports) == {"changes", "workspace", "agent"}
    for field in ReviewAdvisorLoop.Options.model_fields.values():
        assert field.description


async def test_stale_review_worktrees_are_reaped_and_a_reap_failure_is_not_fatal(
    tmp_path: Path,
) -> None:
    mock = _world()
    workspace = mock.workspace()
    await workspace.create_worktree("review-1-deadbeef", branch="hydra/review/1-deadbeef")
    mock.agent.default = AgentOutcome.succeed(APPROVE)
    async with running(tmp_path, [ReviewAdvisorLoop], tables=live(LOOP), world=mock.world) as h:
        await first_tick(h, LOOP)
        assert await workspace.list_worktrees() == []
        assert payloads(h, LOOP, "worktree.reaped")[0]["worktrees"] == ["review-1-deadbeef"]
        assert workspace.branch_head("hydra/review/1-deadbeef") is None  # a scratch branch
        workspace.faults.inject("list_worktrees", PortError("failed", "git is locked"))
        mock.seed_change("Another", files=DOC_FIX)
        end = await next_tick(h, LOOP)
    assert end["payload"]["counts"]["reviewed"] == 1
