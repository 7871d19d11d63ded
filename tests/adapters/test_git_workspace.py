"""GitWorkspace on real repositories: pushes refused, paths contained, holdouts hidden, costs."""

from __future__ import annotations

import os
from pathlib import Path

import anyio
import pytest

from hydra.adapters.git_workspace import GitWorkspace
from ports import PortError
from tests.adapters.test_git_isolated import poison
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
def root(tmp_path: Path) -> Path:
    return tmp_path / "data" / "worktrees" / "sample"


@pytest.fixture
def ws(repo: Path, root: Path, sink: RecordingSink, registry: CountingRegistry) -> GitWorkspace:
    return GitWorkspace(repo, "sample", root, make_runner(sink, registry))


async def agit(cwd: str | Path, *args: str) -> str:
    """git as an agent runs it: its output and exit status."""
    done = await anyio.run_process(["git", *args], cwd=cwd, check=False)
    return done.stdout.decode() + done.stderr.decode() + f"[exit {done.returncode}]"


# ---------------------------------------------------------------------- pushes
async def test_a_push_from_a_worktree_is_refused_while_the_operator_still_pushes(
    repo: Path, ws: GitWorkspace, tmp_path: Path
) -> None:
    remote = tmp_path / "remote.git"
    git(tmp_path, "init", "-q", "--bare", str(remote))
    git(repo, "remote", "add", "origin", str(remote))
    wt = await ws.create_worktree("job", branch="hydra/job")
    write_files(Path(wt.path), {"new.txt": b"x\n"})
    assert await ws.commit("job", "work")

    for push in (
        ["push", "origin", "hydra/job"],
        ["push", "--no-verify", "origin", "hydra/job"],  # skips the hook: the config still holds
        ["push", "--no-verify", str(remote), "hydra/job"],
        ["push", "--no-verify", f"file://{remote}", "hydra/job"],
    ):
        refused = await agit(wt.path, *push)
        assert "[exit 0]" not in refused, push
        assert "not allowed" in refused
    assert git(remote, "for-each-ref") == ""
    # Even with the transport allowed on the command line, the hook still refuses.
    hooked = await agit(wt.path, "-c", "protocol.allow=always", "push", "origin", "hydra/job")
    assert "hydra: no pushes from a Hydra worktree" in hooked
    assert "[exit 1]" in hooked
    assert git(remote, "for-each-ref") == ""

    git(repo, "push", "-q", "origin", "main")
    assert git(remote, "rev-parse", "main") == git(repo, "rev-parse", "main")
    # The operator's repository has no hook of ours, no hooksPath, and pushes as before.
    assert not (repo / ".git" / "hooks" / "pre-push").exists()
    assert git(repo, "config", "--get", "core.hooksPath", check=False) == ""
    assert git(repo, "config", "--get", "protocol.allow", check=False) == ""
    assert git(wt.path, "config", "--get", "core.hooksPath") == str(ws.hooks)


# ---------------------------------------------------------------------- containment
async def test_a_worktree_name_that_is_a_symlink_out_of_the_root_is_invalid(
    ws: GitWorkspace, root: Path, tmp_path: Path
) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / ".git").write_text("gitdir: /nowhere\n")
    await anyio.Path(root).mkdir(parents=True)
    await anyio.Path(root / "evil").symlink_to(elsewhere)
    for call in (ws.diff("evil"), ws.read_file("evil", "README.md"), ws.remove_worktree("evil")):
        with pytest.raises(PortError) as caught:
            await call
        assert caught.value.kind == "invalid"
        assert "outside" in str(caught.value)
    assert elsewhere.is_dir()


async def test_a_symlink_inside_a_worktree_pointing_out_is_refused(
    ws: GitWorkspace, tmp_path: Path
) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("operator's secret\n")
    wt = await ws.create_worktree("job", branch="hydra/job")
    (Path(wt.path) / "leak").symlink_to(secret)
    (Path(wt.path) / "src" / "alias.py").symlink_to(Path(wt.path) / "src" / "app.py")
    with pytest.raises(PortError) as caught:
        await ws.read_file("job", "leak")
    assert caught.value.kind == "invalid"
    assert "outside" in str(caught.value)
    assert "leak" in str(caught.value)
    assert await ws.read_file("job", "src/alias.py") == BASE_FILES["src/app.py"]


@pytest.mark.parametrize("path", [".git/config", "src/.git", "a\nb"])
async def test_git_internals_and_control_characters_are_invalid(
    ws: GitWorkspace, path: str
) -> None:
    await ws.create_worktree("job", branch="hydra/job")
    with pytest.raises(PortError) as caught:
        await ws.read_file("job", path)
    assert caught.value.kind == "invalid"


async def test_a_fifo_is_not_a_file(ws: GitWorkspace) -> None:
    wt = await ws.create_worktree("job", branch="hydra/job")
    os.mkfifo(Path(wt.path) / "pipe")
    with anyio.fail_after(5), pytest.raises(PortError) as caught:
        await ws.read_file("job", "pipe")
    assert caught.value.kind == "not_found"


# ---------------------------------------------------------------------- exclusions
async def test_excluded_names_with_glob_characters_and_spaces_are_literal(
    repo: Path, ws: GitWorkspace
) -> None:
    files = {"star*.txt": b"1\n", "starX.txt": b"2\n", "dir with space/a.txt": b"3\n"}
    write_files(repo, files)
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "odd names")
    wt = await ws.create_worktree(
        "job", branch="hydra/job", exclude=["star*.txt", "dir with space"]
    )
    work = Path(wt.path)
    assert not (work / "star*.txt").exists()
    assert not (work / "dir with space").exists()
    assert (work / "starX.txt").read_bytes() == b"2\n"


# ---------------------------------------------------------------------- diff and commit
async def test_diff_leaves_what_the_agent_staged_alone(ws: GitWorkspace) -> None:
    wt = await ws.create_worktree("job", branch="hydra/job")
    work = Path(wt.path)
    write_files(work, {"staged.txt": b"s\n", "untracked.txt": b"u\n", "README.md": b"# new\n"})
    git(work, "add", "staged.txt")
    before = (git(work, "ls-files", "--stage"), git(work, "status", "--porcelain"))
    diff = await ws.diff("job")
    assert diff.paths == ("README.md", "staged.txt", "untracked.txt")
    assert (git(work, "ls-files", "--stage"), git(work, "status", "--porcelain")) == before


async def test_the_agents_filters_and_hooks_never_run_for_the_daemon(
    repo: Path, ws: GitWorkspace, tmp_path: Path
) -> None:
    wt = await ws.create_worktree("job", branch="hydra/job")
    work = Path(wt.path)
    marker = tmp_path / "ran"
    poison(work, marker, scope="--worktree")  # the worktree's own config outranks the shared
    write_files(work, {".gitattributes": b"* filter=x diff=x\n", "src/app.py": b"new\n"})
    assert (await ws.diff("job")).paths == (".gitattributes", "src/app.py")
    commit = await ws.commit("job", "work")
    assert commit
    assert not marker.exists(), marker.read_text()
    assert git(repo, "show", f"{commit}:src/app.py") == "new"
    assert git(repo, "rev-parse", "hydra/job") == commit
    # The worktree's index is the commit's: the agent's next `git status` starts clean.
    assert git(work, "diff-index", "--cached", "--name-only", commit) == ""


async def test_a_commit_takes_what_git_add_all_would(repo: Path, ws: GitWorkspace) -> None:
    """Built with plumbing, the commit's tree is still the one ``git add -A`` gives."""
    wt = await ws.create_worktree("job", branch="hydra/job")
    work = Path(wt.path)
    write_files(
        work,
        {
            ".gitignore": b"*.log\nbuild/\n",
            "debug.log": b"ignored\n",
            "build/out.bin": b"ignored\n",
            "README.md": None,  # deleted
            "src/util.py": b"changed\n",
            "new\nline.txt": b"odd\n",
            'back\\slash".txt': b"odd\n",
            "tool.sh": b"#!/bin/sh\n",
        },
    )
    (work / "tool.sh").chmod(0o755)
    (work / "link").symlink_to("src/app.py")
    (work / "src" / "app.py").unlink()
    (work / "src" / "app.py").mkdir()  # a file became a directory
    (work / "src" / "app.py" / "inner.py").write_bytes(b"x\n")
    (work / "docs" / "notes.md").unlink()
    (work / "docs").rmdir()
    (work / "docs").symlink_to(repo / "src")  # a directory became a symlink out of the worktree
    index = work.parent / "reference-index"
    env = {**os.environ, "GIT_INDEX_FILE": str(index)}
    for args in (["read-tree", "HEAD"], ["add", "-A"]):
        await anyio.run_process(["git", *args], cwd=work, env=env)
    expected = (await anyio.run_process(["git", "write-tree"], cwd=work, env=env)).stdout
    commit = await ws.commit("job", "everything")
    assert commit is not None
    assert git(repo, "rev-parse", f"{commit}^{{tree}}") == expected.decode().strip()
    assert git(repo, "ls-tree", commit, "tool.sh").startswith("100755")
    assert git(repo, "ls-tree", commit, "link").startswith("120000")
    assert git(repo, "ls-tree", commit, "docs").startswith("120000")


async def test_odd_file_names_come_back_exactly(ws: GitWorkspace) -> None:
    wt = await ws.create_worktree("job", branch="hydra/job")
    names = ["with space.txt", "ünïcode.txt", "tab\tname.txt", 'quote".txt', "new\nline.txt"]
    write_files(Path(wt.path), dict.fromkeys(names, b"x\n"))
    assert (await ws.diff("job")).paths == tuple(sorted(names))
    await ws.commit("job", "odd names")
    tracked = {f.path for f in await ws.tracked_files("job")}
    assert set(names) <= tracked


async def test_outputs_larger_than_the_runner_capture_arrive_whole(
    repo: Path, ws: GitWorkspace
) -> None:
    many = {f"generated/{'deep/' * 8}file_{n:05d}.txt": b"" for n in range(3_000)}
    write_files(repo, many)
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "many files")
    await ws.create_worktree("job", branch="hydra/job")
    tracked = await ws.tracked_files("job")
    assert len(tracked) == len(BASE_FILES) + len(many)


async def test_commits_use_hydras_identity_whatever_the_operator_configured(
    ws: GitWorkspace, tmp_path: Path
) -> None:
    (tmp_path / "home" / ".gitconfig").write_text(
        "[user]\n\tname = Operator\n\temail = op@example.com\n"
        "[author]\n\tname = Impostor\n"
        "[commit]\n\tgpgSign = true\n"
    )
    wt = await ws.create_worktree("job", branch="hydra/job")
    write_files(Path(wt.path), {"new.txt": b"x\n"})
    commit = await ws.commit("job", "# a message that looks like a comment")
    assert commit
    shown = git(Path(wt.path), "log", "-1", "--format=%an <%ae>|%cn <%ce>|%B", commit)
    assert (
        shown
        == "Hydra <hydra@localhost>|Hydra <hydra@localhost>|# a message that looks like a comment"
    )


async def test_blank_commit_message_is_invalid(ws: GitWorkspace) -> None:
    await ws.create_worktree("job", branch="hydra/job")
    with pytest.raises(PortError) as caught:
        await ws.commit("job", "  \n")
    assert caught.value.kind == "invalid"


# ---------------------------------------------------------------------- lifecycle
async def test_only_worktrees_under_the_root_made_by_the_port_are_listed(
    repo: Path, ws: GitWorkspace, root: Path, tmp_path: Path
) -> None:
    await ws.create_worktree("job", branch="hydra/job")
    git(repo, "worktree", "add", "-q", "-b", "mine", str(tmp_path / "operators"))
    git(repo, "worktree", "add", "-q", "-b", "manual", str(root / "manual"))
    assert [w.name for w in await ws.list_worktrees()] == ["job"]
    await ws.remove_worktree("manual")  # under the root, so still the port's to remove
    assert not (root / "manual").exists()
    assert (tmp_path / "operators").is_dir()


async def test_remove_takes_a_half_made_worktree_and_keeps_the_branch(
    repo: Path, ws: GitWorkspace, root: Path
) -> None:
    wt = await ws.create_worktree("job", branch="hydra/job")
    write_files(Path(wt.path), {"dirty.txt": b"uncommitted\n"})
    await ws.remove_worktree("job")
    assert not await anyio.Path(wt.path).exists()
    assert git(repo, "rev-parse", "--verify", "hydra/job")
    (root / "half").mkdir()
    (root / "half" / "leftover.txt").write_text("x")
    await ws.remove_worktree("half")
    assert not (root / "half").exists()
    assert str(root) not in git(repo, "worktree", "list")


def branches(repo: Path) -> set[str]:
    return set(git(repo, "for-each-ref", "--format=%(refname:short)", "refs/heads/").split())


async def test_delete_branch_takes_the_branch_it_made_even_after_the_agent_switched(
    repo: Path, ws: GitWorkspace
) -> None:
    wt = await ws.create_worktree("job", branch="hydra/job")
    write_files(Path(wt.path), {"work.txt": b"x\n"})
    await ws.commit("job", "work")
    assert "[exit 0]" in await agit(wt.path, "switch", "-q", "-c", "agent-made")
    await ws.remove_worktree("job", delete_branch=True)
    assert branches(repo) == {"main", "agent-made"}  # the agent's own branch is not the port's
    assert not (repo / ".git" / "logs" / "refs" / "heads" / "hydra" / "job").exists()


async def test_a_branch_checked_out_elsewhere_is_kept_and_said(
    repo: Path, ws: GitWorkspace, root: Path
) -> None:
    wt = await ws.create_worktree("job", branch="hydra/job")
    assert "[exit 0]" in await agit(wt.path, "switch", "-q", "--detach")
    git(repo, "checkout", "-q", "hydra/job")  # the operator looks at it in their checkout
    with pytest.raises(PortError) as caught:
        await ws.remove_worktree("job", delete_branch=True)
    assert caught.value.kind == "conflict"
    assert f"checked out at {repo}" in str(caught.value)
    assert not (root / "job").exists()
    assert await ws.list_worktrees() == []
    assert branches(repo) == {"main", "hydra/job"}
    await ws.remove_worktree("job", delete_branch=True)  # the worktree is gone: nothing to do


async def test_a_record_naming_the_operator_s_branch_never_deletes_it(
    repo: Path, ws: GitWorkspace
) -> None:
    wt = await ws.create_worktree("job", branch="hydra/job")
    git(Path(wt.path), "config", "--worktree", "hydra.branch", "main")
    with pytest.raises(PortError) as caught:
        await ws.remove_worktree("job", delete_branch=True)
    assert caught.value.kind == "conflict"
    assert branches(repo) == {"main", "hydra/job"}


async def test_delete_branch_keeps_the_branches_of_worktrees_it_did_not_make(
    repo: Path, ws: GitWorkspace, root: Path
) -> None:
    old = await ws.create_worktree("old", branch="hydra/old")
    git(Path(old.path), "config", "--worktree", "--unset", "hydra.branch")  # made before records
    git(repo, "worktree", "add", "-q", "-b", "manual", str(root / "manual"))
    await ws.remove_worktree("old", delete_branch=True)
    await ws.remove_worktree("manual", delete_branch=True)
    assert not (root / "old").exists()
    assert not (root / "manual").exists()
    assert branches(repo) == {"main", "hydra/old", "manual"}


async def test_a_branch_that_moves_while_its_worktree_is_removed_is_kept(
    repo: Path, ws: GitWorkspace
) -> None:
    wt = await ws.create_worktree("job", branch="hydra/job")
    read = ws._created_branch

    async def read_then_a_late_commit(path: Path) -> tuple[str, str] | None:
        found = await read(path)
        git(Path(wt.path), "commit", "-q", "--allow-empty", "-m", "a straggler's commit")
        return found

    ws._created_branch = read_then_a_late_commit  # type: ignore[method-assign]
    with pytest.raises(PortError) as caught:
        await ws.remove_worktree("job", delete_branch=True)
    assert caught.value.kind == "conflict"
    assert "moved" in str(caught.value)
    assert branches(repo) == {"main", "hydra/job"}
    assert git(repo, "log", "-1", "--format=%s", "hydra/job") == "a straggler's commit"


async def test_a_branch_already_gone_is_no_error(repo: Path, ws: GitWorkspace) -> None:
    wt = await ws.create_worktree("job", branch="hydra/job")
    assert "[exit 0]" in await agit(wt.path, "switch", "-q", "--detach")
    git(repo, "branch", "-q", "-D", "hydra/job")
    await ws.remove_worktree("job", delete_branch=True)
    assert branches(repo) == {"main"}
    assert await ws.list_worktrees() == []


async def test_cancelled_creation_leaves_nothing_behind(
    repo: Path, ws: GitWorkspace, root: Path
) -> None:
    outcomes = set()
    for n, delay in enumerate([0.0, 0.005, 0.01, 0.02, 0.04, 0.08, 0.16, 0.3, 2.0]):
        name, branch = f"w{n}", f"hydra/w{n}"
        with anyio.fail_after(10):
            with anyio.move_on_after(delay) as scope:
                await ws.create_worktree(name, branch=branch, exclude=["holdout"])
        assert list((repo / ".git").rglob("*.lock")) == []  # git was never killed mid-write
        exists = git(repo, "show-ref", "--verify", f"refs/heads/{branch}", check=False) != ""
        listed = name in {w.name for w in await ws.list_worktrees()}
        if scope.cancelled_caught:
            outcomes.add("cancelled")
            assert not exists
            assert not listed
            assert not (root / name).exists()
        else:
            outcomes.add("created")
            assert exists
            assert listed
    assert outcomes == {"cancelled", "created"}


async def test_cancelled_commits_never_wedge_the_repository(repo: Path, ws: GitWorkspace) -> None:
    wt = await ws.create_worktree("job", branch="hydra/job")
    for n, delay in enumerate([0.0, 0.003, 0.006, 0.01, 0.015, 0.02, 0.03, 0.05, 0.08]):
        write_files(Path(wt.path), {f"file{n}.txt": b"x\n"})
        with anyio.fail_after(15), anyio.move_on_after(delay):
            await ws.commit("job", f"commit {n}")
        assert list((repo / ".git").rglob("*.lock")) == []
    await ws.commit("job", "whatever the cancellations left uncommitted")
    assert (await ws.diff("job")).paths == tuple(f"file{n}.txt" for n in range(9))
    assert git(Path(wt.path), "status", "--porcelain") == ""


async def test_a_git_failure_names_the_command_and_leaves_nothing(
    repo: Path, ws: GitWorkspace, root: Path
) -> None:
    git(repo, "branch", "x/y")
    with pytest.raises(PortError) as caught:
        await ws.create_worktree("job", branch="x")
    assert caught.value.kind == "conflict"
    assert "git worktree add" in str(caught.value)
    assert "refs/heads/x/y" in str(caught.value)
    assert not (root / "job").exists()
    assert await ws.list_worktrees() == []


# ---------------------------------------------------------------------- info and costs
async def test_every_git_call_is_one_cost_record_with_the_source(
    ws: GitWorkspace, sink: RecordingSink, registry: CountingRegistry
) -> None:
    wt = await ws.create_worktree("job", branch="hydra/job", exclude=["holdout"])
    write_files(Path(wt.path), {"new.txt": b"x\n"})
    await ws.diff("job")
    await ws.commit("job", "work")
    await ws.tracked_files("job")
    await ws.list_worktrees()
    await ws.remove_worktree("job")
    assert registry.spawned > 10
    assert sink.sources == ["git.workspace:sample"] * registry.spawned


def test_info_names_git_and_the_repository(
    repo: Path, root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    runner = make_runner(RecordingSink())
    info = GitWorkspace(repo, "sample", root, runner).info()
    assert (info.implementation, info.state, info.detail) == ("git", "configured", str(repo))
    not_a_repo = GitWorkspace(tmp_path, "sample", root, runner).info()
    assert not_a_repo.state == "unconfigured"
    assert "not a git repository" in not_a_repo.detail
    monkeypatch.setenv("PATH", str(tmp_path / "empty-bin"))
    no_git = GitWorkspace(repo, "sample", root, runner).info()
    assert (no_git.state, no_git.detail) == (
        "unconfigured",
        "git is not installed (not found on PATH)",
    )


async def test_without_git_calls_fail_as_unconfigured(
    ws: GitWorkspace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "empty-bin"))
    with pytest.raises(PortError) as caught:
        await ws.list_worktrees()
    assert caught.value.kind == "unconfigured"


async def test_work_never_lands_on_a_branch_the_agent_switched_to(
    repo: Path, ws: GitWorkspace
) -> None:
    """An agent that switched to another branch, or detached HEAD, gets a conflict: nothing is
    committed, neither on the operator's branch nor on the worktree's own."""
    git(repo, "branch", "develop")
    develop = git(repo, "rev-parse", "develop")
    wt = await ws.create_worktree("job", branch="hydra/job")
    ours = git(repo, "rev-parse", "hydra/job")
    work = Path(wt.path)
    assert "[exit 0]" in await agit(work, "switch", "-q", "develop")
    write_files(work, {"src/util.py": b"edited on develop\n"})
    with pytest.raises(PortError) as caught:
        await ws.commit("job", "wip")
    assert caught.value.kind == "conflict"
    assert "refs/heads/develop" in str(caught.value)
    assert git(repo, "rev-parse", "develop") == develop
    assert git(repo, "rev-parse", "hydra/job") == ours
    assert "[exit 0]" in await agit(work, "switch", "-q", "--detach", "hydra/job")
    with pytest.raises(PortError, match="detached"):
        await ws.commit("job", "wip")
    assert git(repo, "rev-parse", "hydra/job") == ours
    assert "[exit 0]" in await agit(work, "switch", "-q", "hydra/job")
    assert await ws.commit("job", "back on its branch") is not None
    assert git(repo, "rev-parse", "hydra/job") != ours
