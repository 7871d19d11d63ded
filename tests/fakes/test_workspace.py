from __future__ import annotations

import pytest

from fakes import Commit, FakeWorkspace
from ports import TRUNCATION_MARKER, PortError

pytestmark = pytest.mark.anyio

BASE = {"README.md": "# demo\n", "src/app.py": "x = 1\n", "secret/holdout.py": "assert 1\n"}


async def test_worktrees_are_virtual_paths_under_the_root() -> None:
    ws = FakeWorkspace(BASE, repo="shop")
    wt = await ws.create_worktree("job", branch="hydra/job")
    assert wt.path == "/fake/worktrees/shop/job"
    assert ws.info().detail == "/fake/worktrees/shop"
    assert ws.files_at(wt.path) is not None
    assert ws.files_at(wt.path + "/") is not None
    assert ws.files_at("/fake/worktrees/shop/other") is None
    assert ws.files_at("/elsewhere/job") is None
    custom = FakeWorkspace(root="/data/wt/")
    assert (await custom.create_worktree("a", branch="a")).path == "/data/wt/a"


async def test_write_delete_and_files_helpers() -> None:
    ws = FakeWorkspace(BASE)
    await ws.create_worktree("w", branch="b")
    ws.write("w", "./src//new.py", "y = 2\n")
    ws.delete("w", "README.md")
    ws.delete("w", "not-there")
    files = ws.files("w")
    assert files["src/new.py"] == b"y = 2\n"
    assert "README.md" not in files
    with pytest.raises(PortError) as caught:
        ws.write("w", "../escape", "x")
    assert caught.value.kind == "invalid"


async def test_commits_are_recorded_and_deterministic() -> None:
    async def run() -> list[Commit]:
        ws = FakeWorkspace(BASE)
        await ws.create_worktree("w", branch="b")
        ws.write("w", "src/app.py", "x = 2\n")
        await ws.commit("w", "bump x")
        ws.write("w", "src/more.py", "z = 3\n")
        ws.delete("w", "README.md")
        await ws.commit("w", "more")
        return ws.commits("w")

    first, second = await run(), await run()
    assert first == second
    assert [(c.message, c.paths) for c in first] == [
        ("bump x", ("src/app.py",)),
        ("more", ("README.md", "src/more.py")),
    ]
    assert all(len(c.id) == 40 and c.branch == "b" for c in first)


async def test_branch_tree_and_head_follow_commits() -> None:
    ws = FakeWorkspace(BASE)
    assert ws.branch_tree("HEAD") == ws.branch_tree("main")
    assert ws.branch_tree("nope") is None
    assert ws.branch_head("nope") is None
    await ws.create_worktree("w", branch="b")
    assert ws.branch_head("b") == ws.branch_head("main")
    ws.write("w", "src/app.py", "x = 2\n")
    commit = await ws.commit("w", "bump")
    assert ws.branch_head("b") == commit
    assert (ws.branch_tree("b") or {})["src/app.py"] == b"x = 2\n"
    assert (ws.branch_tree("main") or {})["src/app.py"] == b"x = 1\n"


async def test_a_commit_id_can_be_a_base() -> None:
    ws = FakeWorkspace(BASE)
    await ws.create_worktree("w", branch="b")
    ws.write("w", "src/app.py", "x = 2\n")
    commit = await ws.commit("w", "bump")
    assert commit is not None
    ws.write("w", "src/app.py", "x = 3\n")
    await ws.commit("w", "bump again")
    wt = await ws.create_worktree("old", branch="old", base=commit)
    assert wt.base == commit
    assert await ws.read_file("old", "src/app.py") == b"x = 2\n"


async def test_seed_files_commits_onto_the_default_branch() -> None:
    ws = FakeWorkspace(BASE)
    head = ws.seed_files({"NEW.md": "hi\n", "README.md": None})
    assert ws.branch_head("main") == head
    await ws.create_worktree("w", branch="b")
    assert set(ws.files("w")) == {"NEW.md", "src/app.py", "secret/holdout.py"}


async def test_excluded_files_stay_on_the_branch_but_out_of_sight() -> None:
    ws = FakeWorkspace(BASE)
    await ws.create_worktree("w", branch="b", exclude=["secret"])
    assert "secret/holdout.py" not in ws.files("w")
    ws.write("w", "src/app.py", "x = 2\n")
    await ws.commit("w", "work")
    assert (ws.branch_tree("b") or {})["secret/holdout.py"] == b"assert 1\n"


async def test_binary_files_diff_as_binary() -> None:
    ws = FakeWorkspace({"img.png": b"\x89PNG\x00\xff"})
    await ws.create_worktree("w", branch="b")
    ws.write("w", "img.png", b"\x89PNG\x00\xfe")
    diff = await ws.diff("w")
    assert diff.paths == ("img.png",)
    assert "Binary files a/img.png and b/img.png differ" in diff.patch


async def test_patch_headers_for_new_and_deleted_files() -> None:
    ws = FakeWorkspace(BASE)
    await ws.create_worktree("w", branch="b")
    ws.write("w", "added.txt", "new\n")
    ws.delete("w", "README.md")
    patch = (await ws.diff("w")).patch
    assert "--- /dev/null\n+++ b/added.txt" in patch
    assert "--- a/README.md\n+++ /dev/null" in patch
    assert TRUNCATION_MARKER.format(max_bytes=10) in (await ws.diff("w", max_bytes=10)).patch


@pytest.mark.parametrize(
    "branch", ["", "HEAD", "-x", "a..b", "has space", "end/", "x.lock", "a~1", "/a"]
)
async def test_bad_branch_names_are_invalid(branch: str) -> None:
    ws = FakeWorkspace(BASE)
    with pytest.raises(PortError) as caught:
        await ws.create_worktree("w", branch=branch)
    assert caught.value.kind == "invalid"


async def test_empty_commit_message_is_invalid() -> None:
    ws = FakeWorkspace(BASE)
    await ws.create_worktree("w", branch="b")
    ws.write("w", "a", "a")
    with pytest.raises(PortError) as caught:
        await ws.commit("w", "  ")
    assert caught.value.kind == "invalid"


async def test_faults_and_unknown_helpers() -> None:
    ws = FakeWorkspace(BASE)
    ws.faults.inject("create_worktree", PortError("failed", "disk full"))
    with pytest.raises(PortError, match="disk full"):
        await ws.create_worktree("w", branch="b")
    assert await ws.list_worktrees() == []
    with pytest.raises(PortError) as caught:
        ws.files("ghost")
    assert caught.value.kind == "not_found"


async def test_cutting_a_patch_keeps_whole_lines_and_characters() -> None:
    ws = FakeWorkspace({"t.txt": ""})
    await ws.create_worktree("w", branch="b")
    ws.write("w", "t.txt", "".join(f"ligne {n} — élève\n" for n in range(100)))
    full = (await ws.diff("w")).patch
    for limit in (0, 1, 37, 200, len(full.encode()) - 1):
        cut = (await ws.diff("w", max_bytes=limit)).patch
        body, marker = cut[: cut.rstrip("\n").rfind("\n") + 1], cut.rstrip("\n").rsplit("\n", 1)[-1]
        assert marker == TRUNCATION_MARKER.format(max_bytes=limit)
        assert len(body.encode()) <= limit
        assert full.startswith(body)
    assert (await ws.diff("w", max_bytes=len(full.encode()))).patch == full
