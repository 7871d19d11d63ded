"""WorkspacePort contract: isolated worktrees, exclusions, diffs, commits, path safety.

Runs against: ``fake`` (fakes.FakeWorkspace). The git adapter joins by registering a
``"workspace"`` factory in conftest.py that builds a repository holding ``BASE_FILES``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import pytest

from ports import PortError
from tests.contract.harness import BASE_FILES, WorkspaceHarness

PORT = "workspace"
pytestmark = pytest.mark.anyio


async def test_info_says_configured(impl: WorkspaceHarness) -> None:
    assert impl.port.info().state == "configured"


async def test_create_then_list(impl: WorkspaceHarness) -> None:
    assert await impl.port.list_worktrees() == []
    wt = await impl.port.create_worktree("job-1", branch="hydra/job-1")
    assert (wt.name, wt.branch) == ("job-1", "hydra/job-1")
    assert wt.path.startswith("/")
    assert wt.base
    other = await impl.port.create_worktree("job-2", branch="hydra/job-2")
    assert other.path != wt.path
    listed = await impl.port.list_worktrees()
    assert {w.name for w in listed} == {"job-1", "job-2"}
    assert {w.path for w in listed} == {wt.path, other.path}


async def test_a_new_worktree_holds_the_base(impl: WorkspaceHarness) -> None:
    await impl.port.create_worktree("w", branch="b")
    tracked = await impl.port.tracked_files("w")
    assert {f.path: f.size for f in tracked} == {p: len(d) for p, d in BASE_FILES.items()}
    assert await impl.port.read_file("w", "src/app.py") == BASE_FILES["src/app.py"]
    assert await impl.port.read_file("w", "src/app.py", max_bytes=3) == BASE_FILES["src/app.py"][:3]
    diff = await impl.port.diff("w")
    assert diff.paths == ()


async def test_duplicate_name_or_branch_is_refused(impl: WorkspaceHarness) -> None:
    await impl.port.create_worktree("w", branch="b")
    with pytest.raises(PortError):
        await impl.port.create_worktree("w", branch="another")
    with pytest.raises(PortError):
        await impl.port.create_worktree("w2", branch="b")


async def test_exclude_hides_files_and_directories(impl: WorkspaceHarness) -> None:
    await impl.port.create_worktree("w", branch="b", exclude=["holdout", "docs/notes.md"])
    tracked = {f.path for f in await impl.port.tracked_files("w")}
    assert tracked == {"README.md", "src/app.py", "src/util.py"}
    for hidden in ("holdout/test_answer.py", "docs/notes.md"):
        with pytest.raises(PortError) as caught:
            await impl.port.read_file("w", hidden)
        assert caught.value.kind == "not_found"
    assert (await impl.port.diff("w")).paths == ()


async def test_excluded_paths_are_kept_out_of_commits(impl: WorkspaceHarness) -> None:
    wt = await impl.port.create_worktree("w", branch="b", exclude=["holdout"])
    impl.write(wt, "holdout/test_answer.py", b"def test():\n    pass\n")
    assert await impl.port.commit("w", "try to weaken the holdout") is None
    impl.write(wt, "src/app.py", b"def answer():\n    return 42\n")
    assert await impl.port.commit("w", "fix the answer") is not None
    # The branch still holds the holdout untouched: a worktree started from it sees it.
    await impl.port.create_worktree("judge", branch="judge", base="b")
    assert (
        await impl.port.read_file("judge", "holdout/test_answer.py")
        == (BASE_FILES["holdout/test_answer.py"])
    )
    assert await impl.port.read_file("judge", "src/app.py") == b"def answer():\n    return 42\n"


async def test_diff_lists_modified_deleted_and_untracked(impl: WorkspaceHarness) -> None:
    wt = await impl.port.create_worktree("w", branch="b")
    impl.write(wt, "src/app.py", b"def answer():\n    return 42\n")
    impl.write(wt, "src/new_module.py", b"VALUE = 1\n")
    impl.delete(wt, "src/util.py")
    diff = await impl.port.diff("w")
    assert diff.paths == ("src/app.py", "src/new_module.py", "src/util.py")
    assert "+    return 42" in diff.patch
    assert "-    return 41" in diff.patch
    assert "+VALUE = 1" in diff.patch
    assert "-    return 2 * x" in diff.patch


async def test_diff_covers_committed_work_too(impl: WorkspaceHarness) -> None:
    wt = await impl.port.create_worktree("w", branch="b")
    impl.write(wt, "src/app.py", b"def answer():\n    return 42\n")
    await impl.port.commit("w", "fix")
    impl.write(wt, "README.md", b"# changed\n")
    assert (await impl.port.diff("w")).paths == ("README.md", "src/app.py")


async def test_diff_is_cut_with_a_marker_line(impl: WorkspaceHarness) -> None:
    wt = await impl.port.create_worktree("w", branch="b")
    impl.write(wt, "big.txt", b"".join(b"line %d\n" % n for n in range(2_000)))
    full = await impl.port.diff("w")
    cut = await impl.port.diff("w", max_bytes=500)
    assert full.paths == cut.paths == ("big.txt",)
    assert len(cut.patch) < len(full.patch)
    body, marker = cut.patch.rstrip("\n").rsplit("\n", 1)
    assert "truncated" in marker
    assert len(body.encode()) <= 500


async def test_commit_returns_an_id_then_none_when_nothing_changed(
    impl: WorkspaceHarness,
) -> None:
    wt = await impl.port.create_worktree("w", branch="b")
    assert await impl.port.commit("w", "nothing yet") is None
    impl.write(wt, "src/app.py", b"def answer():\n    return 42\n")
    first = await impl.port.commit("w", "fix")
    assert isinstance(first, str)
    assert first
    assert await impl.port.commit("w", "again") is None
    impl.write(wt, "src/new.py", b"X = 1\n")
    second = await impl.port.commit("w", "more")
    assert second
    assert second != first


async def test_untracked_files_become_tracked_by_commit(impl: WorkspaceHarness) -> None:
    wt = await impl.port.create_worktree("w", branch="b")
    impl.write(wt, "src/new.py", b"X = 1\n")
    assert "src/new.py" not in {f.path for f in await impl.port.tracked_files("w")}
    assert await impl.port.read_file("w", "src/new.py") == b"X = 1\n"
    await impl.port.commit("w", "add new")
    tracked = {f.path: f.size for f in await impl.port.tracked_files("w")}
    assert tracked["src/new.py"] == 6


async def test_remove_is_idempotent_and_keeps_the_branch(impl: WorkspaceHarness) -> None:
    wt = await impl.port.create_worktree("w", branch="b")
    impl.write(wt, "src/new.py", b"X = 1\n")
    await impl.port.commit("w", "add new")
    await impl.port.remove_worktree("w")
    await impl.port.remove_worktree("w")
    await impl.port.remove_worktree("never-existed")
    assert await impl.port.list_worktrees() == []
    with pytest.raises(PortError) as caught:
        await impl.port.diff("w")
    assert caught.value.kind == "not_found"
    await impl.port.create_worktree("again", branch="again", base="b")
    assert await impl.port.read_file("again", "src/new.py") == b"X = 1\n"


async def test_remove_with_delete_branch_deletes_the_worktree_s_branch(
    impl: WorkspaceHarness,
) -> None:
    wt = await impl.port.create_worktree("w", branch="hydra/scratch")
    impl.write(wt, "src/new.py", b"X = 1\n")
    await impl.port.commit("w", "scratch work")  # unmerged work: deleted all the same
    await impl.port.create_worktree("untouched", branch="blank")  # no commits of its own
    await impl.port.remove_worktree("w", delete_branch=True)
    await impl.port.remove_worktree("untouched", delete_branch=True)
    assert await impl.port.list_worktrees() == []
    for branch in ("hydra/scratch", "blank"):
        with pytest.raises(PortError) as caught:  # the branch is no base any more
            await impl.port.create_worktree("probe", branch="probe", base=branch)
        assert caught.value.kind == "not_found"
    again = await impl.port.create_worktree("w", branch="hydra/scratch")  # the name is free
    assert again.branch == "hydra/scratch"
    with pytest.raises(PortError) as caught:  # a fresh branch from HEAD, not the old work
        await impl.port.read_file("w", "src/new.py")
    assert caught.value.kind == "not_found"
    await impl.port.remove_worktree("w", delete_branch=True)
    await impl.port.remove_worktree("w", delete_branch=True)  # gone: nothing to do
    await impl.port.remove_worktree("never-existed", delete_branch=True)


async def test_remove_with_delete_branch_touches_no_other_branch(impl: WorkspaceHarness) -> None:
    first = await impl.port.create_worktree("first", branch="first")
    impl.write(first, "src/new.py", b"X = 1\n")
    await impl.port.commit("first", "work to build on")
    await impl.port.create_worktree("second", branch="second", base="first")
    await impl.port.create_worktree("third", branch="third")
    await impl.port.remove_worktree("second", delete_branch=True)
    assert {w.name for w in await impl.port.list_worktrees()} == {"first", "third"}
    assert await impl.port.read_file("first", "src/new.py") == b"X = 1\n"
    await impl.port.remove_worktree("first")
    await impl.port.remove_worktree("third", delete_branch=False)
    for base in ("first", "third", "HEAD"):  # its base, its siblings, the default branch
        await impl.port.create_worktree(f"from-{base.lower()}", branch=f"x-{base}", base=base)
    assert await impl.port.read_file("from-first", "src/new.py") == b"X = 1\n"
    with pytest.raises(PortError) as caught:  # kept branches still hold their names
        await impl.port.create_worktree("clash", branch="third")
    assert caught.value.kind == "conflict"


@pytest.mark.parametrize("method", ["diff", "commit", "tracked_files", "read_file"])
async def test_unknown_worktree_is_not_found(impl: WorkspaceHarness, method: str) -> None:
    calls: dict[str, Callable[[], Awaitable[object]]] = {
        "diff": lambda: impl.port.diff("ghost"),
        "commit": lambda: impl.port.commit("ghost", "msg"),
        "tracked_files": lambda: impl.port.tracked_files("ghost"),
        "read_file": lambda: impl.port.read_file("ghost", "README.md"),
    }
    with pytest.raises(PortError) as caught:
        await calls[method]()
    assert caught.value.kind == "not_found"


async def test_unknown_file_is_not_found(impl: WorkspaceHarness) -> None:
    await impl.port.create_worktree("w", branch="b")
    with pytest.raises(PortError) as caught:
        await impl.port.read_file("w", "no/such/file.txt")
    assert caught.value.kind == "not_found"


@pytest.mark.parametrize("name", ["", "..", "../escape", "a/b", "/abs", "x/../../y", "."])
async def test_names_that_escape_the_root_are_invalid(impl: WorkspaceHarness, name: str) -> None:
    with pytest.raises(PortError) as caught:
        await impl.port.create_worktree(name, branch="b")
    assert caught.value.kind == "invalid"
    with pytest.raises(PortError) as caught:
        await impl.port.remove_worktree(name)
    assert caught.value.kind == "invalid"
    with pytest.raises(PortError) as caught:
        await impl.port.diff(name)
    assert caught.value.kind == "invalid"
    assert await impl.port.list_worktrees() == []


@pytest.mark.parametrize("path", ["../outside.txt", "/etc/passwd", "src/../../x", ""])
async def test_paths_that_escape_the_worktree_are_invalid(
    impl: WorkspaceHarness, path: str
) -> None:
    await impl.port.create_worktree("w", branch="b")
    with pytest.raises(PortError) as caught:
        await impl.port.read_file("w", path)
    assert caught.value.kind == "invalid"
    with pytest.raises(PortError) as caught:
        await impl.port.create_worktree("w2", branch="b2", exclude=[path])
    assert caught.value.kind == "invalid"


async def test_unknown_base_is_refused(impl: WorkspaceHarness) -> None:
    with pytest.raises(PortError):
        await impl.port.create_worktree("w", branch="b", base="no-such-branch")
    assert await impl.port.list_worktrees() == []


async def test_a_worktree_with_exclusions_lives_like_any_other(impl: WorkspaceHarness) -> None:
    wt = await impl.port.create_worktree("w", branch="hydra/w", exclude=["holdout"])
    kept = await impl.port.create_worktree("k", branch="hydra/k", exclude=["holdout"])
    assert {w.name: w.branch for w in await impl.port.list_worktrees()} == {
        "k": "hydra/k",
        "w": "hydra/w",
    }
    impl.write(wt, "src/app.py", b"def answer():\n    return 42\n")
    first = await impl.port.commit("w", "fix")
    impl.write(wt, "src/new.py", b"X = 1\n")
    second = await impl.port.commit("w", "more")
    assert first
    assert second
    assert second != first
    assert (await impl.port.diff("w")).paths == ("src/app.py", "src/new.py")
    assert "src/new.py" in {f.path for f in await impl.port.tracked_files("w")}
    impl.write(kept, "src/util.py", b"X = 2\n")
    await impl.port.commit("k", "kept work")
    await impl.port.remove_worktree("w", delete_branch=True)
    await impl.port.remove_worktree("k")
    assert await impl.port.list_worktrees() == []
    with pytest.raises(PortError) as caught:  # deleted with its worktree
        await impl.port.create_worktree("probe", branch="probe", base="hydra/w")
    assert caught.value.kind == "not_found"
    # The kept branch holds the work on top of everything, the excluded files included.
    await impl.port.create_worktree("judge", branch="judge", base="hydra/k")
    assert await impl.port.read_file("judge", "src/util.py") == b"X = 2\n"
    assert (
        await impl.port.read_file("judge", "holdout/test_answer.py")
        == BASE_FILES["holdout/test_answer.py"]
    )
