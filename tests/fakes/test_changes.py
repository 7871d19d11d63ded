from __future__ import annotations

import pytest

from fakes import FakeChanges, MockWorld, Review
from ports import ChangedFile, PortError

pytestmark = pytest.mark.anyio


async def _branch(mock: MockWorld, branch: str, files: dict[str, str | None]) -> str:
    ws = mock.workspace()
    await ws.create_worktree(branch, branch=branch)
    for path, data in files.items():
        if data is None:
            ws.delete(branch, path)
        else:
            ws.write(branch, path, data)
    head = await ws.commit(branch, f"work on {branch}")
    assert head is not None
    return head


async def test_seeded_change_reports_its_files() -> None:
    mock = MockWorld({"shop": {"a.py": "one\ntwo\n", "b.py": "gone\n"}})
    change = mock.seed_change(
        "Refactor",
        files={"a.py": "one\nTWO\nthree\n", "b.py": None, "c.py": "new\n"},
        author="alice",
    )
    assert (change.id, change.branch, change.base, change.author) == (
        "1",
        "change-1",
        "main",
        "alice",
    )
    assert len(change.head_sha) == 40
    changes = mock.changes()
    assert await changes.changed_files(change.id) == [
        ChangedFile("a.py", "modified", 2, 1),
        ChangedFile("b.py", "deleted", 0, 1),
        ChangedFile("c.py", "added", 1, 0),
    ]
    assert "+TWO" in await changes.diff(change.id)


async def test_an_opened_change_follows_its_branch_live() -> None:
    mock = MockWorld()
    await _branch(mock, "fix", {"README.md": "# fixed\n"})
    changes = mock.changes()
    change = await changes.open_change(branch="fix", base="main", title="Fix", body="b")
    assert change.author == "hydra"
    mock.workspace().write("fix", "extra.txt", "more\n")
    later = await mock.workspace().commit("fix", "more")
    assert (await changes.get_change(change.id)).head_sha == later
    assert [f.path for f in await changes.changed_files(change.id)] == ["README.md", "extra.txt"]


async def test_reviews_are_recorded_and_the_latest_verdict_decides() -> None:
    mock = MockWorld()
    await _branch(mock, "fix", {"README.md": "# fixed\n"})
    changes = mock.changes()
    change = await changes.open_change(branch="fix", base="main", title="Fix")
    await changes.post_review(change.id, "veto", "breaks the build")
    await changes.post_review(change.id, "comment", "still looking")
    with pytest.raises(PortError, match="vetoed"):
        await changes.merge(change.id)
    await changes.post_review(change.id, "approve", "fixed now")
    await changes.merge(change.id)
    assert changes.reviews(change.id) == [
        Review("veto", "breaks the build", "hydra"),
        Review("comment", "still looking", "hydra"),
        Review("approve", "fixed now", "hydra"),
    ]
    assert changes.merged == [change.id]


async def test_merge_lands_on_the_base_branch() -> None:
    mock = MockWorld()
    await _branch(mock, "fix", {"README.md": "# fixed\n", "new.txt": "n\n"})
    changes = mock.changes()
    change = await changes.open_change(branch="fix", base="main", title="Fix")
    await changes.merge(change.id)
    await changes.merge(change.id)
    assert changes.merged == [change.id]
    assert mock.workspace().branch_tree("main") == {"README.md": b"# fixed\n", "new.txt": b"n\n"}
    assert await changes.list_open() == []
    reopened = await changes.open_change(branch="fix", base="main", title="Fix again")
    assert reopened.id != change.id


async def test_closed_and_blocked_changes_do_not_merge() -> None:
    mock = MockWorld()
    one = mock.seed_change("one", files={"x": "1"})
    two = mock.seed_change("two", files={"y": "2"})
    changes = mock.changes()
    changes.close(one.id)
    changes.block_merge(two.id, "CI is red")
    for cid, why in ((one.id, "closed"), (two.id, "CI is red")):
        with pytest.raises(PortError, match=why) as caught:
            await changes.merge(cid)
        assert caught.value.kind == "conflict"
    changes.block_merge(two.id, None)
    await changes.merge(two.id)
    assert mock.workspace().branch_tree("main") == {"README.md": b"# demo\n", "y": b"2"}


async def test_without_a_source_changes_are_standalone() -> None:
    changes = FakeChanges(author="bot")
    opened = await changes.open_change(branch="anything", base="main", title="T")
    assert await changes.changed_files(opened.id) == []
    assert await changes.diff(opened.id) == ""
    seeded = changes.seed_change("S", files={"a.txt": "a\n"})
    assert [f.status for f in await changes.changed_files(seeded.id)] == ["added"]
    await changes.merge(seeded.id)
    assert changes.change(seeded.id).state == "merged"


async def test_invalid_input_and_faults() -> None:
    mock = MockWorld()
    await _branch(mock, "fix", {"README.md": "x\n"})
    changes = mock.changes()
    with pytest.raises(PortError) as caught:
        await changes.open_change(branch="fix", base="main", title=" ")
    assert caught.value.kind == "invalid"
    with pytest.raises(PortError) as caught:
        await changes.open_change(branch="fix", base="no-base", title="t")
    assert caught.value.kind == "not_found"
    change = await changes.open_change(branch="fix", base="main", title="t")
    with pytest.raises(PortError) as caught:
        await changes.post_review(change.id, "lgtm", "")  # type: ignore[arg-type]
    assert caught.value.kind == "invalid"
    changes.faults.inject("merge", PortError("rate_limited", "later"))
    with pytest.raises(PortError, match="later"):
        await changes.merge(change.id)
    assert changes.info().implementation == "fake"
