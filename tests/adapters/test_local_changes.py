"""LocalChanges on real repositories: merges that respect the operator's checkout, notes, events."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import pytest

from hydra.adapters.git_workspace import GitWorkspace
from hydra.adapters.local_changes import NOTES_REF, LocalChanges
from ports import PortError
from tests.contract.factories_git import (
    CountingRegistry,
    RecordingSink,
    git,
    isolated_environ,
    make_repo,
    make_runner,
    write_files,
)
from tests.contract.harness import BASE_FILES

pytestmark = pytest.mark.anyio

FIX = {"src/app.py": b"def answer():\n    return 42\n", "src/extra.py": b"A = 1\n"}


class Events:
    def __init__(self) -> None:
        self.seen: list[tuple[str, dict[str, object]]] = []

    async def __call__(self, action: str, payload: dict[str, object]) -> None:
        self.seen.append((action, payload))

    def actions(self) -> list[str]:
        return [action for action, _ in self.seen]


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name, value in isolated_environ(tmp_path / "home").items():
        monkeypatch.setenv(name, value)
    return make_repo(tmp_path / "repo")


@pytest.fixture
def sink() -> RecordingSink:
    return RecordingSink()


@pytest.fixture
def registry() -> CountingRegistry:
    return CountingRegistry()


@pytest.fixture
def events() -> Events:
    return Events()


@pytest.fixture
def changes(
    repo: Path, sink: RecordingSink, registry: CountingRegistry, events: Events
) -> LocalChanges:
    return LocalChanges(repo, "sample", make_runner(sink, registry), on_event=events)


@pytest.fixture
def ws(repo: Path, tmp_path: Path) -> GitWorkspace:
    return GitWorkspace(repo, "sample", tmp_path / "worktrees", make_runner(RecordingSink()))


async def push(ws: GitWorkspace, branch: str, files: Mapping[str, bytes | None]) -> str:
    name = "push-" + branch.replace("/", "-")
    if name in {w.name for w in await ws.list_worktrees()}:
        wt = next(w for w in await ws.list_worktrees() if w.name == name)
    else:
        wt = await ws.create_worktree(name, branch=branch, base="main")
    write_files(Path(wt.path), files)
    head = await ws.commit(name, f"work on {branch}")
    assert head is not None
    return head


def status(repo: Path) -> str:
    return git(repo, "status", "--porcelain")


# ---------------------------------------------------------------------- merging
async def test_merge_fast_forwards_a_clean_checkout_of_the_base(
    repo: Path, ws: GitWorkspace, changes: LocalChanges
) -> None:
    head = await push(ws, "hydra/fix", FIX)
    change = await changes.open_change(branch="hydra/fix", base="main", title="Fix it")
    await changes.merge(change.id)
    merge = git(repo, "rev-parse", "main")
    assert git(repo, "rev-parse", "HEAD") == merge  # the operator's checkout followed
    assert git(repo, "log", "-1", "--format=%P", merge).split()[1] == head  # --no-ff merge
    assert git(repo, "log", "-1", "--format=%an <%ae>", merge) == "Hydra <hydra@localhost>"
    assert status(repo) == ""
    assert (repo / "src" / "app.py").read_bytes() == FIX["src/app.py"]


async def test_merge_refuses_while_the_operator_has_local_changes(
    repo: Path, ws: GitWorkspace, changes: LocalChanges
) -> None:
    await push(ws, "hydra/fix", FIX)
    change = await changes.open_change(branch="hydra/fix", base="main", title="Fix it")
    (repo / "README.md").write_bytes(b"# being edited by the operator\n")
    (repo / "notes.txt").write_bytes(b"staged\n")
    git(repo, "add", "notes.txt")
    before = (git(repo, "rev-parse", "main"), status(repo), git(repo, "diff", "HEAD"))
    with pytest.raises(PortError) as caught:
        await changes.merge(change.id)
    assert caught.value.kind == "conflict"
    assert "uncommitted changes" in str(caught.value)
    assert (git(repo, "rev-parse", "main"), status(repo), git(repo, "diff", "HEAD")) == before
    assert (repo / "src" / "app.py").read_bytes() == BASE_FILES["src/app.py"]
    assert (await changes.get_change(change.id)).state == "open"

    git(repo, "stash", "-q", "--include-untracked")
    await changes.merge(change.id)
    assert (await changes.get_change(change.id)).state == "merged"
    assert status(repo) == ""


async def test_merge_into_a_base_nobody_has_checked_out_moves_only_the_branch(
    repo: Path, ws: GitWorkspace, changes: LocalChanges
) -> None:
    await push(ws, "hydra/fix", FIX)
    change = await changes.open_change(branch="hydra/fix", base="main", title="Fix it")
    git(repo, "checkout", "-q", "-b", "operator-work")
    (repo / "scratch.txt").write_bytes(b"operator's untracked file\n")
    before = status(repo)
    await changes.merge(change.id)
    assert git(repo, "rev-parse", "--abbrev-ref", "HEAD") == "operator-work"
    assert status(repo) == before
    assert (repo / "src" / "app.py").read_bytes() == BASE_FILES["src/app.py"]
    assert git(repo, "show", "main:src/app.py") + "\n" == FIX["src/app.py"].decode()


async def test_a_conflicting_merge_leaves_the_repository_as_it_was(
    repo: Path, ws: GitWorkspace, changes: LocalChanges
) -> None:
    await push(ws, "hydra/fix", FIX)
    change = await changes.open_change(branch="hydra/fix", base="main", title="Fix it")
    write_files(repo, {"src/app.py": b"def answer():\n    return 43\n"})
    git(repo, "commit", "-q", "-am", "operator's competing fix")
    before = (git(repo, "rev-parse", "main"), status(repo), git(repo, "worktree", "list"))
    with pytest.raises(PortError) as caught:
        await changes.merge(change.id)
    assert caught.value.kind == "conflict"
    assert "src/app.py" in str(caught.value)
    assert (git(repo, "rev-parse", "main"), status(repo), git(repo, "worktree", "list")) == before
    assert not (repo / ".git" / "MERGE_HEAD").exists()


async def test_merging_a_merged_change_does_nothing(
    repo: Path, ws: GitWorkspace, changes: LocalChanges, events: Events
) -> None:
    await push(ws, "hydra/fix", FIX)
    change = await changes.open_change(branch="hydra/fix", base="main", title="Fix it")
    await changes.merge(change.id)
    merged = git(repo, "rev-parse", "main")
    await changes.merge(change.id)
    assert git(repo, "rev-parse", "main") == merged
    assert events.actions() == ["open_change", "merge"]


async def test_a_commit_pushed_after_the_head_check_is_never_merged(
    repo: Path, ws: GitWorkspace, changes: LocalChanges, events: Events
) -> None:
    reviewed = await push(ws, "hydra/fix", FIX)
    change = await changes.open_change(branch="hydra/fix", base="main", title="Fix it")
    read_heads = changes._branches.heads
    late: list[str] = []

    async def heads_then_a_push() -> dict[str, str]:
        found = await read_heads()
        if not late:  # the merge has read the heads: someone pushes right now
            late.append(await push(ws, "hydra/fix", {"src/late.py": b"UNREVIEWED = 1\n"}))
        return found

    changes._branches.heads = heads_then_a_push  # type: ignore[method-assign]
    await changes.merge(change.id, expected_head=reviewed)
    merge = git(repo, "rev-parse", "main")
    assert git(repo, "log", "-1", "--format=%P", merge).split()[1] == reviewed
    assert (
        git(repo, "ls-tree", "--name-only", "main", "src/")
        == "src/app.py\nsrc/extra.py\nsrc/util.py"
    )
    assert git(repo, "rev-parse", "hydra/fix") == late[0]  # the late commit stays on the branch
    assert (await changes.get_change(change.id)).head_sha == reviewed
    assert events.seen[-1][1]["head"] == reviewed


async def test_a_stale_expected_head_leaves_the_repository_as_it_was(
    repo: Path, ws: GitWorkspace, changes: LocalChanges, events: Events
) -> None:
    reviewed = await push(ws, "hydra/fix", FIX)
    change = await changes.open_change(branch="hydra/fix", base="main", title="Fix it")
    newer = await push(ws, "hydra/fix", {"src/late.py": b"UNREVIEWED = 1\n"})
    before = (git(repo, "rev-parse", "main"), git(repo, "for-each-ref"), status(repo))
    with pytest.raises(PortError) as caught:
        await changes.merge(change.id, expected_head=reviewed)
    assert caught.value.kind == "conflict"
    assert f"head moved to {newer}" in str(caught.value)
    assert (git(repo, "rev-parse", "main"), git(repo, "for-each-ref"), status(repo)) == before
    assert events.actions() == ["open_change"]


# ---------------------------------------------------------------------- reviews
async def test_reviews_are_git_notes_on_the_head_and_events(
    repo: Path, ws: GitWorkspace, changes: LocalChanges, events: Events
) -> None:
    head = await push(ws, "hydra/fix", FIX)
    change = await changes.open_change(branch="hydra/fix", base="main", title="Fix it")
    await changes.post_review(change.id, "veto", "Deletes a used helper.")
    await changes.post_review(change.id, "comment", "Otherwise fine.")
    note = git(repo, "notes", "--ref", NOTES_REF, "show", head)
    assert "Hydra review: veto" in note
    assert "Deletes a used helper." in note
    assert note.index("veto") < note.index("Hydra review: comment")
    assert events.actions() == ["open_change", "review", "review"]
    _, payload = events.seen[1]
    assert payload == {
        "repo": "sample",
        "change": "hydra/fix",
        "verdict": "veto",
        "body": "Deletes a used helper.",
        "head": head,
    }


async def test_a_veto_outlives_new_commits_until_an_approval(
    repo: Path, ws: GitWorkspace, changes: LocalChanges
) -> None:
    await push(ws, "hydra/fix", FIX)
    change = await changes.open_change(branch="hydra/fix", base="main", title="Fix it")
    await changes.post_review(change.id, "veto", "No.")
    newer = await push(ws, "hydra/fix", {"src/extra.py": b"A = 2\n"})
    assert (await changes.get_change(change.id)).head_sha == newer
    with pytest.raises(PortError) as caught:
        await changes.merge(change.id)
    assert caught.value.kind == "conflict"
    await changes.post_review(change.id, "approve", "Better.")
    await changes.merge(change.id)
    assert git(repo, "show", "main:src/extra.py") == "A = 2"


# ---------------------------------------------------------------------- states
async def test_a_deleted_branch_is_a_closed_change(
    repo: Path, ws: GitWorkspace, changes: LocalChanges
) -> None:
    await push(ws, "hydra/fix", FIX)
    change = await changes.open_change(branch="hydra/fix", base="main", title="Fix it")
    await ws.remove_worktree("push-hydra-fix")
    git(repo, "branch", "-q", "-D", "hydra/fix")
    assert (await changes.get_change(change.id)).state == "closed"
    assert await changes.list_open() == []
    with pytest.raises(PortError) as caught:
        await changes.merge(change.id)
    assert caught.value.kind == "conflict"


async def test_a_branch_merged_by_hand_reads_as_merged(
    repo: Path, ws: GitWorkspace, changes: LocalChanges
) -> None:
    await push(ws, "hydra/fix", FIX)
    change = await changes.open_change(branch="hydra/fix", base="main", title="Fix it")
    git(repo, "merge", "-q", "--ff-only", "hydra/fix")
    assert (await changes.get_change(change.id)).state == "merged"
    assert await changes.list_open() == []


async def test_a_branch_without_commits_cannot_be_opened(repo: Path, changes: LocalChanges) -> None:
    git(repo, "branch", "empty")
    with pytest.raises(PortError) as caught:
        await changes.open_change(branch="empty", base="main", title="Nothing")
    assert caught.value.kind == "invalid"


async def test_branches_that_were_never_opened_are_not_change_requests(
    repo: Path, ws: GitWorkspace, changes: LocalChanges
) -> None:
    await push(ws, "operator/experiment", FIX)
    assert await changes.list_open() == []
    with pytest.raises(PortError) as caught:
        await changes.get_change("operator/experiment")
    assert caught.value.kind == "not_found"


async def test_a_renamed_file_is_one_entry(
    repo: Path, ws: GitWorkspace, changes: LocalChanges
) -> None:
    moved = {"src/util.py": None, "src/helpers.py": BASE_FILES["src/util.py"]}
    await push(ws, "hydra/move", moved)
    change = await changes.open_change(branch="hydra/move", base="main", title="Move")
    files = await changes.changed_files(change.id)
    assert [(f.path, f.status, f.additions, f.deletions) for f in files] == [
        ("src/helpers.py", "renamed", 0, 0)
    ]


async def test_a_merged_change_keeps_its_files_and_diff(
    ws: GitWorkspace, changes: LocalChanges
) -> None:
    await push(ws, "hydra/fix", FIX)
    change = await changes.open_change(branch="hydra/fix", base="main", title="Fix it")
    before = (await changes.changed_files(change.id), await changes.diff(change.id))
    await changes.merge(change.id)
    assert (await changes.changed_files(change.id), await changes.diff(change.id)) == before


# ---------------------------------------------------------------------- info and costs
async def test_every_git_call_is_one_cost_record_with_the_source(
    ws: GitWorkspace, changes: LocalChanges, sink: RecordingSink, registry: CountingRegistry
) -> None:
    await push(ws, "hydra/fix", FIX)
    change = await changes.open_change(branch="hydra/fix", base="main", title="Fix it")
    await changes.changed_files(change.id)
    await changes.post_review(change.id, "approve", "ok")
    await changes.merge(change.id)
    await changes.list_open()
    assert registry.spawned > 10
    assert sink.sources == ["git.changes:sample"] * registry.spawned


def test_info(repo: Path, tmp_path: Path) -> None:
    runner = make_runner(RecordingSink())
    assert LocalChanges(repo, "sample", runner).info().state == "configured"
    assert LocalChanges(tmp_path, "sample", runner).info().state == "unconfigured"
