from __future__ import annotations

from datetime import UTC, datetime

import pytest

from fakes import AgentOutcome, FakeIssues, MockWorld, SandboxOutcome
from ports import AgentLimits, Scenario

pytestmark = pytest.mark.anyio


def test_default_world_has_one_demo_repository() -> None:
    mock = MockWorld()
    world = mock.world
    assert world.kind == "fake"
    assert list(world.repos) == ["demo"]
    assert world.agent is mock.agent
    assert world.clock is mock.clock
    assert world.host is mock.host
    assert world.repo("demo").issues is mock.issues("demo") is mock.issues()
    assert mock.workspace().branch_tree("main") == {"README.md": b"# demo\n"}
    assert all(info.state == "configured" for info in world.port_infos().values())


def test_repositories_with_files_and_added_later() -> None:
    mock = MockWorld(
        {"api": {"a.py": "a"}, "web": {"w.js": "w"}}, now=datetime(2030, 1, 1, tzinfo=UTC)
    )
    assert list(mock.world.repos) == ["api", "web"]
    assert mock.repo().name == "api"
    assert mock.workspace("web").branch_tree("main") == {"w.js": b"w"}
    added = mock.add_repo("docs", base_files={"index.md": "hi"})
    assert mock.world.repo("docs").workspace is added.workspace
    assert isinstance(mock.world.repo("docs").issues, FakeIssues)
    assert mock.clock.now().year == 2030
    with pytest.raises(ValueError, match="already exists"):
        mock.add_repo("docs")
    with pytest.raises(KeyError, match="unknown repository 'nope'"):
        mock.repo("nope")
    with pytest.raises(LookupError, match="no repository"):
        MockWorld(()).repo()


def test_seeding_helpers_reach_the_right_repository() -> None:
    mock = MockWorld(["a", "b"])
    issue = mock.seed_issue("Escalation", "help", ["hydra-escalation"], repo="b")
    assert mock.issues("b").issue(issue.id).labels == {"hydra-escalation"}
    assert mock.issues("a").all_issues() == []
    mock.seed_files({"src/x.py": "x"}, repo="b")
    assert "src/x.py" in (mock.workspace("b").branch_tree("main") or {})
    change = mock.seed_change("Tweak", repo="b", files={"src/x.py": "y"})
    assert mock.changes("b").change(change.id).title == "Tweak"


async def test_a_whole_fix_flows_through_the_fakes() -> None:
    """Issue -> worktree -> agent edits -> scenarios -> commit -> change -> review -> merge."""
    mock = MockWorld({"shop": {"app.py": "def answer():\n    return 41\n"}})
    repo = mock.world.repo("shop")
    issue = mock.seed_issue("answer() is wrong", labels=["bug"])
    mock.agent.script(AgentOutcome.succeed(edits={"app.py": "def answer():\n    return 42\n"}))
    mock.sandbox().judge(
        "unit",
        lambda _s, files: (
            SandboxOutcome.passed()
            if b"42" in files.get("app.py", b"")
            else SandboxOutcome.failed()
        ),
    )

    wt = await repo.workspace.create_worktree(f"issue-{issue.id}", branch=f"fix/{issue.id}")
    (before,) = await repo.sandbox.run_scenarios([Scenario("unit", "pytest")], workdir=wt.path)
    result = await mock.world.agent.run(
        prompt=issue.title, workdir=wt.path, limits=AgentLimits(600), source="loop:fixer"
    )
    (after,) = await repo.sandbox.run_scenarios([Scenario("unit", "pytest")], workdir=wt.path)
    sha = await repo.workspace.commit(wt.name, f"Fix #{issue.id}")
    change = await repo.changes.open_change(branch=wt.branch, base="main", title=issue.title)
    await repo.changes.post_review(change.id, "approve", "scenarios pass")
    await repo.changes.merge(change.id)
    await repo.issues.comment(issue.id, f"Fixed in change {change.id}")
    await repo.issues.close_issue(issue.id)

    assert (before.status, result.status, after.status) == ("failed", "succeeded", "passed")
    assert change.head_sha == sha
    assert mock.workspace().branch_tree("main") == {"app.py": b"def answer():\n    return 42\n"}
    final = mock.issues().issue(issue.id)
    assert final.state == "closed"
    assert [c.body for c in final.comments] == ["Fixed in change 1"]
    assert mock.changes().merged == ["1"]
    assert mock.clock.now() > mock.issues().issue(issue.id).created_at


async def test_worlds_are_deterministic() -> None:
    async def story() -> tuple[object, ...]:
        mock = MockWorld()
        wt = await mock.workspace().create_worktree("w", branch="b")
        mock.agent.script(AgentOutcome.succeed(edits={"f.txt": "x"}))
        await mock.agent.run(prompt="p", workdir=wt.path, limits=AgentLimits(60), source="s")
        sha = await mock.workspace().commit("w", "msg")
        issue = await mock.issues().create_issue("t")
        return sha, issue, mock.clock.now(), mock.clock.monotonic()

    assert await story() == await story()
