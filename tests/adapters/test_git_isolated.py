"""GitWorkspace's isolated checkouts (worktrees with excluded paths) on real repositories:
git run inside cannot reveal an excluded file, while the work still lands on the real branch."""

from __future__ import annotations

from pathlib import Path

import anyio
import pytest

from hydra.adapters.git_workspace import GitWorkspace
from hydra.fatal import FatalSignal
from hydra.statefile import DurabilityError
from ports import PortError
from tests.contract.factories_git import (
    RecordingSink,
    git,
    isolated_environ,
    make_repo,
    make_runner,
    write_files,
)
from tests.contract.harness import BASE_FILES
from tests.helpers.faults import failing_fsync

pytestmark = pytest.mark.anyio

SECRET = BASE_FILES["holdout/test_answer.py"]
NOTES = BASE_FILES["docs/notes.md"]


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name, value in isolated_environ(tmp_path / "home").items():
        monkeypatch.setenv(name, value)
    return make_repo(tmp_path / "repo")


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return tmp_path / "data" / "worktrees" / "sample"


@pytest.fixture
def ws(repo: Path, root: Path) -> GitWorkspace:
    return GitWorkspace(repo, "sample", root, make_runner(RecordingSink()))


async def agit(cwd: str | Path, *args: str) -> tuple[int, bytes]:
    """git as an agent runs it in its workdir: exit status and everything it printed."""
    done = await anyio.run_process(["git", *args], cwd=cwd, check=False)
    return done.returncode, done.stdout + done.stderr


def branches(repo: Path) -> set[str]:
    return set(git(repo, "for-each-ref", "--format=%(refname:short)", "refs/heads/").split())


async def test_git_inside_the_checkout_cannot_reveal_an_excluded_file(
    repo: Path, ws: GitWorkspace
) -> None:
    base = git(repo, "rev-parse", "main")
    wt = await ws.create_worktree("job", branch="hydra/job", exclude=["holdout", "docs/notes.md"])
    work = Path(wt.path)
    assert wt.base == base
    assert not (work / "holdout").exists()
    assert (work / "src" / "app.py").read_bytes() == BASE_FILES["src/app.py"]
    probes = [
        ["show", f"{base}:holdout/test_answer.py"],
        ["show", "main:holdout/test_answer.py"],
        ["cat-file", "-p", f"{base}:docs/notes.md"],
        ["log", "--all", "-p"],
        ["cat-file", "--batch-all-objects", "--batch"],
        ["rev-list", "--all", "--objects"],
        ["fetch", str(repo), "main"],  # no transport: the operator's objects stay out of reach
        ["fetch", f"file://{repo}", "main"],
        ["--git-dir", str(work / ".git"), "log", "--all", "--format=%H"],
    ]
    for probe in probes:
        _, out = await agit(work, *probe)
        assert SECRET not in out, probe
        assert NOTES not in out, probe
        if "holdout/test_answer.py" not in " ".join(probe):  # not merely echoed back
            assert b"test_answer" not in out, probe
    # Its own repository: no remote, no alternates, not a worktree of the operator's.
    code, common = await agit(work, "rev-parse", "--path-format=absolute", "--git-common-dir")
    assert code == 0
    assert Path(common.decode().strip()) == work / ".git"
    assert (await agit(work, "remote"))[1] == b""
    assert not (work / ".git" / "objects" / "info" / "alternates").exists()
    assert (await agit(work, "status", "--porcelain"))[1] == b""  # a clean start
    code, rev = await agit(work, "rev-parse", "--abbrev-ref", "HEAD")
    assert rev.decode().strip() == "hydra/job"
    assert str(repo) not in git(work, "worktree", "list")


async def test_the_work_lands_on_the_real_branch_with_the_excluded_files_untouched(
    repo: Path, ws: GitWorkspace
) -> None:
    wt = await ws.create_worktree("job", branch="hydra/job", exclude=["holdout", "docs/notes.md"])
    work = Path(wt.path)
    # The agent rewrites the holdout, adds a test beside it, even stages it; and fixes the code.
    write_files(
        work,
        {
            "holdout/test_answer.py": b"def test():\n    pass\n",
            "holdout/test_more.py": b"X = 1\n",
            "src/app.py": b"def answer():\n    return 42\n",
        },
    )
    git(work, "add", "holdout/test_more.py")
    diff = await ws.diff("job")
    assert diff.paths == ("src/app.py",)
    assert "holdout" not in diff.patch
    assert [f.path for f in await ws.tracked_files("job")] == [
        "README.md",
        "src/app.py",
        "src/util.py",
    ]

    commit = await ws.commit("job", "fix the answer")
    assert commit
    assert git(repo, "rev-parse", "hydra/job") == commit
    assert git(repo, "rev-parse", f"{commit}~1") == git(repo, "rev-parse", "main")
    assert git(repo, "show", "--name-only", "--format=", commit) == "src/app.py"
    assert git(repo, "show", f"{commit}:holdout/test_answer.py") + "\n" == SECRET.decode()
    assert "holdout/test_more.py" not in git(repo, "ls-tree", "-r", "--name-only", commit)
    assert git(repo, "log", "-1", "--format=%an|%B", commit) == "Hydra|fix the answer"
    # The checkout's own repository has the work too (and still no excluded content).
    assert git(work, "status", "--porcelain", "--", "src") == ""
    assert git(work, "log", "-1", "--format=%B") == "fix the answer"
    assert await ws.commit("job", "nothing new") is None

    write_files(work, {"src/util.py": b"def double(x):\n    return x + x\n"})
    second = await ws.commit("job", "more")
    assert second
    assert git(repo, "rev-parse", f"{second}~1") == commit
    assert (await ws.diff("job")).paths == ("src/app.py", "src/util.py")

    # Holdouts are judged in a fresh full checkout of the commit: every file is there.
    full = await ws.create_worktree("judge", branch="judge", base=second)
    assert (Path(full.path) / "holdout" / "test_answer.py").read_bytes() == SECRET
    assert (
        Path(full.path) / "src" / "util.py"
    ).read_bytes() == b"def double(x):\n    return x + x\n"


async def test_a_push_from_an_isolated_checkout_is_refused(
    repo: Path, ws: GitWorkspace, tmp_path: Path
) -> None:
    remote = tmp_path / "remote.git"
    git(tmp_path, "init", "-q", "--bare", str(remote))
    wt = await ws.create_worktree("job", branch="hydra/job", exclude=["holdout"])
    write_files(Path(wt.path), {"new.txt": b"x\n"})
    await ws.commit("job", "work")
    for push in (
        ["push", "--no-verify", str(remote), "hydra/job"],
        ["push", "--no-verify", str(repo), "HEAD:refs/heads/smuggled"],
        ["-c", "protocol.allow=always", "push", str(remote), "hydra/job"],  # the hook
    ):
        code, out = await agit(wt.path, *push)
        assert code != 0, (push, out)
    assert git(remote, "for-each-ref") == ""
    assert branches(repo) == {"main", "hydra/job"}


async def test_isolated_checkouts_are_listed_and_removed_with_or_without_their_branch(
    repo: Path, ws: GitWorkspace, root: Path
) -> None:
    one = await ws.create_worktree("one", branch="hydra/one", exclude=["holdout"])
    await ws.create_worktree("two", branch="hydra/two", exclude=["holdout"])
    await ws.create_worktree("plain", branch="hydra/plain")
    listed = {w.name: w for w in await ws.list_worktrees()}
    assert set(listed) == {"one", "plain", "two"}
    assert listed["one"] == one
    write_files(Path(one.path), {"new.txt": b"x\n"})
    await ws.commit("one", "work")
    with pytest.raises(PortError) as caught:  # names stay unique across both kinds
        await ws.create_worktree("one", branch="other", exclude=["holdout"])
    assert caught.value.kind == "conflict"
    with pytest.raises(PortError) as caught:
        await ws.create_worktree("three", branch="hydra/two", exclude=["holdout"])
    assert caught.value.kind == "conflict"
    assert not (root / "three").exists()

    await ws.remove_worktree("one")  # the branch keeps the work
    await ws.remove_worktree("two", delete_branch=True)
    await ws.remove_worktree("two", delete_branch=True)  # gone: nothing to do
    assert not (root / "one").exists()
    assert not (root / "two").exists()
    assert [w.name for w in await ws.list_worktrees()] == ["plain"]
    assert branches(repo) == {"main", "hydra/one", "hydra/plain"}
    assert git(repo, "show", "hydra/one:new.txt") == "x"
    with pytest.raises(PortError) as caught:
        await ws.diff("one")
    assert caught.value.kind == "not_found"
    # The name is free again, for either kind.
    again = await ws.create_worktree("two", branch="hydra/two")
    assert (Path(again.path) / "holdout" / "test_answer.py").read_bytes() == SECRET


async def test_a_branch_checked_out_elsewhere_is_kept(repo: Path, ws: GitWorkspace) -> None:
    await ws.create_worktree("job", branch="hydra/job", exclude=["holdout"])
    git(repo, "checkout", "-q", "hydra/job")
    with pytest.raises(PortError) as caught:
        await ws.remove_worktree("job", delete_branch=True)
    assert caught.value.kind == "conflict"
    assert branches(repo) == {"main", "hydra/job"}
    assert await ws.list_worktrees() == []


def poison(work: Path, marker: Path, *, scope: str = "--local") -> None:
    """What an agent may leave in its checkout's git config: filters, hooks, an fsmonitor and
    diff drivers that each append their name to ``marker`` whenever git runs them."""
    hooks = marker.parent / "agent-hooks"
    hooks.mkdir(exist_ok=True)
    names = ["pre-commit", "commit-msg", "post-commit", "reference-transaction"]
    names += ["post-index-change", "post-checkout", "post-rewrite", "fsmonitor"]
    for hook in names:
        script = hooks / hook
        script.write_text(f"#!/bin/sh\necho {hook} >> '{marker}'\ncat >/dev/null\n")
        script.chmod(0o755)
    run = f"echo ran >> '{marker}'; cat"
    for key, value in (
        ("filter.x.clean", run),
        ("filter.x.smudge", run),
        ("filter.x.required", "true"),
        ("filter.y.process", f"sh -c \"echo process >> '{marker}'\""),
        ("diff.x.textconv", run),
        ("diff.x.command", run),
        ("core.hooksPath", str(hooks)),
        ("core.fsmonitor", str(hooks / "fsmonitor")),
        ("core.pager", run),
    ):
        git(work, "config", scope, key, value)


async def test_the_agents_filters_and_hooks_never_run_for_the_daemon(
    repo: Path, ws: GitWorkspace, tmp_path: Path
) -> None:
    wt = await ws.create_worktree("job", branch="hydra/job", exclude=["holdout"])
    work = Path(wt.path)
    marker = tmp_path / "ran"
    poison(work, marker)
    write_files(
        work,
        {
            ".gitattributes": b"* filter=x diff=x\n*.y filter=y\n",
            "src/app.py": b"def answer():\n    return 42\n",
            "new.y": b"y\n",
        },
    )
    diff = await ws.diff("job")
    assert diff.paths == (".gitattributes", "new.y", "src/app.py")
    commit = await ws.commit("job", "work")
    assert commit
    await ws.tracked_files("job")
    write_files(work, {"src/util.py": None})
    assert await ws.commit("job", "more")
    assert not marker.exists(), marker.read_text()
    # The bytes on disk, unfiltered, on the real branch; the excluded files untouched.
    assert git(repo, "show", f"{commit}:src/app.py") == "def answer():\n    return 42"
    assert git(repo, "show", f"{commit}:holdout/test_answer.py") + "\n" == SECRET.decode()
    assert "src/util.py" not in git(repo, "ls-tree", "-r", "--name-only", "hydra/job")
    # The checkout's own repository and index follow (read without a work tree: no filter).
    own = ["--git-dir", str(work / ".git")]  # git as the agent runs it: its config applies
    assert git(work, *own, "log", "-2", "--format=%s") == "more\nwork"
    assert git(work, *own, "diff-index", "--cached", "--name-only", "HEAD") == ""
    visible = git(work, *own, "ls-tree", "-r", "--name-only", "HEAD").split()
    assert "new.y" in visible
    assert not any(path.startswith("holdout") for path in visible)


async def test_records_are_written_whole_and_a_failed_write_leaves_nothing(
    repo: Path, ws: GitWorkspace, root: Path
) -> None:
    await ws.create_worktree("job", branch="hydra/job", exclude=["holdout"])
    records = root / ".hydra" / "isolated"
    assert [p.name for p in records.iterdir()] == ["job.json"]
    (records / "bad.json").mkdir()  # the rename onto it fails, after the temp file was written
    with pytest.raises(PortError) as caught:
        await ws.create_worktree("bad", branch="hydra/bad", exclude=["holdout"])
    assert caught.value.kind == "failed"
    assert sorted(p.name for p in records.iterdir()) == ["bad.json", "job.json"]  # no temp file
    assert not (root / "bad").exists()
    assert branches(repo) == {"main", "hydra/job"}


async def test_a_record_that_cannot_be_made_durable_pulls_the_fatal_signal(
    repo: Path, root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fatal = FatalSignal()
    ws = GitWorkspace(repo, "sample", root, make_runner(RecordingSink()), fatal=fatal)
    refused = failing_fsync(monkeypatch, "/.hydra/isolated/")
    with pytest.raises(DurabilityError):
        await ws.create_worktree("job", branch="hydra/job", exclude=["holdout"])
    assert refused
    assert isinstance(fatal.error, DurabilityError)  # a loop's crash isolation cannot hide it
    assert not (root / "job").exists()
    assert branches(repo) == {"main"}


async def test_an_unreadable_record_breaks_neither_listing_nor_removal(
    repo: Path, ws: GitWorkspace, root: Path
) -> None:
    await ws.create_worktree("one", branch="hydra/one", exclude=["holdout"])
    await ws.create_worktree("two", branch="hydra/two", exclude=["holdout"])
    records = root / ".hydra" / "isolated"
    (records / "two.json").write_text("{not json")
    for foreign in ("Not a name.json", "..json", "-x.json"):
        (records / foreign).write_text("{}")
    (root / "Not a name").mkdir()
    assert [w.name for w in await ws.list_worktrees()] == ["one"]
    with pytest.raises(PortError) as caught:
        await ws.remove_worktree("two", delete_branch=True)
    assert "branch is kept" in str(caught.value)
    assert not (root / "two").exists()
    assert not (records / "two.json").exists()
    assert branches(repo) == {"main", "hydra/one", "hydra/two"}
    await ws.remove_worktree("one", delete_branch=True)
    assert await ws.list_worktrees() == []
    assert branches(repo) == {"main", "hydra/two"}
    assert (records / "Not a name.json").exists()  # not Hydra's: left alone


async def test_a_record_whose_directory_is_gone_still_has_its_branch_deleted(
    repo: Path, ws: GitWorkspace, root: Path
) -> None:
    await ws.create_worktree("job", branch="hydra/job", exclude=["holdout"])
    await ws.create_worktree("kept", branch="hydra/kept", exclude=["holdout"])
    git(root, "init", "-q")  # something that still works after rmtree below
    for name in ("job", "kept"):
        await anyio.to_thread.run_sync(_rmtree, root / name)
    await ws.remove_worktree("job", delete_branch=True)
    await ws.remove_worktree("kept")
    assert branches(repo) == {"main", "hydra/kept"}
    assert not (root / ".hydra" / "isolated" / "job.json").exists()
    assert not (root / ".hydra" / "isolated" / "kept.json").exists()


async def test_a_directory_left_by_a_crashed_creation_is_reaped(
    repo: Path, ws: GitWorkspace, root: Path
) -> None:
    await ws.create_worktree("job", branch="hydra/job", exclude=["holdout"])
    for name in ("crashed", "Not a name", "theirs", "half"):
        (root / name).mkdir()
    (root / "theirs" / "file.txt").write_text("not ours to delete\n")
    assert [w.name for w in await ws.list_worktrees()] == ["job"]
    assert not (root / "crashed").exists()
    assert not (root / "half").exists()
    assert (root / "Not a name").is_dir()
    assert (root / "theirs" / "file.txt").exists()
    (root / "half").mkdir()
    await ws.remove_worktree("half", delete_branch=True)  # reaping one by name works too
    assert not (root / "half").exists()
    again = await ws.create_worktree("crashed", branch="hydra/crashed", exclude=["holdout"])
    assert (Path(again.path) / "src" / "app.py").exists()


def _rmtree(path: Path) -> None:
    import shutil

    shutil.rmtree(path)
