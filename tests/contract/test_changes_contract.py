"""ChangeRequestPort contract: open, read, review and merge changes of pushed branches.

Runs against: ``fake`` (fakes.FakeChanges wired to a FakeWorkspace by MockWorld). The local
branches adapter and ``gh`` (through a fake CLI) join by registering a ``"changes"`` factory in
conftest.py that can push branches (``ChangesHarness.push_branch``).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import pytest

from ports import PortError
from tests.contract.harness import BASE_FILES, ChangesHarness

PORT = "changes"
pytestmark = pytest.mark.anyio

FIX = {
    "src/app.py": b"def answer():\n    return 42\n",
    "src/extra.py": b"A = 1\nB = 2\n",
    "src/util.py": None,
}


async def test_info_says_configured(impl: ChangesHarness) -> None:
    assert impl.port.info().state == "configured"


async def test_nothing_is_open_at_first(impl: ChangesHarness) -> None:
    assert await impl.port.list_open() == []


async def test_open_change_describes_the_branch(impl: ChangesHarness) -> None:
    head = await impl.push_branch("hydra/fix", FIX)
    change = await impl.port.open_change(
        branch="hydra/fix", base=impl.base, title="Fix the answer", body="Closes #1."
    )
    assert change.id
    assert (change.branch, change.base, change.state) == ("hydra/fix", impl.base, "open")
    assert (change.title, change.body) == ("Fix the answer", "Closes #1.")
    assert change.head_sha == head
    got = await impl.port.get_change(change.id)
    assert (got.id, got.branch, got.title, got.head_sha) == (
        change.id,
        "hydra/fix",
        "Fix the answer",
        head,
    )


async def test_opening_an_open_branch_again_returns_the_same_change(
    impl: ChangesHarness,
) -> None:
    await impl.push_branch("hydra/fix", FIX)
    first = await impl.port.open_change(branch="hydra/fix", base=impl.base, title="Fix")
    again = await impl.port.open_change(branch="hydra/fix", base=impl.base, title="Fix again")
    assert again.id == first.id
    assert [c.id for c in await impl.port.list_open()] == [first.id]


async def test_list_open_is_oldest_first(impl: ChangesHarness) -> None:
    ids = []
    for n in range(3):
        await impl.push_branch(f"hydra/c{n}", {f"file{n}.txt": b"x\n"})
        change = await impl.port.open_change(branch=f"hydra/c{n}", base=impl.base, title=f"c{n}")
        ids.append(change.id)
    assert [c.id for c in await impl.port.list_open()] == ids


async def test_changed_files_with_statuses_and_line_counts(impl: ChangesHarness) -> None:
    await impl.push_branch("hydra/fix", FIX)
    change = await impl.port.open_change(branch="hydra/fix", base=impl.base, title="Fix")
    files = {f.path: f for f in await impl.port.changed_files(change.id)}
    assert set(files) == {"src/app.py", "src/extra.py", "src/util.py"}
    assert (files["src/app.py"].status, files["src/app.py"].additions) == ("modified", 1)
    assert files["src/app.py"].deletions == 1
    assert (files["src/extra.py"].status, files["src/extra.py"].additions) == ("added", 2)
    assert files["src/extra.py"].deletions == 0
    assert files["src/util.py"].status == "deleted"
    assert files["src/util.py"].deletions == BASE_FILES["src/util.py"].count(b"\n")


async def test_diff_against_the_base(impl: ChangesHarness) -> None:
    await impl.push_branch("hydra/fix", FIX)
    change = await impl.port.open_change(branch="hydra/fix", base=impl.base, title="Fix")
    diff = await impl.port.diff(change.id)
    for path in FIX:
        assert path in diff
    assert "+    return 42" in diff
    assert "-    return 41" in diff


async def test_diff_is_cut_with_a_marker_line(impl: ChangesHarness) -> None:
    big = b"".join(b"line %d\n" % n for n in range(2_000))
    await impl.push_branch("hydra/big", {"big.txt": big})
    change = await impl.port.open_change(branch="hydra/big", base=impl.base, title="Big")
    full = await impl.port.diff(change.id)
    cut = await impl.port.diff(change.id, max_bytes=400)
    assert len(cut) < len(full)
    body, marker = cut.rstrip("\n").rsplit("\n", 1)
    assert "truncated" in marker
    assert len(body.encode()) <= 400


async def test_approved_change_merges_and_leaves_the_open_list(impl: ChangesHarness) -> None:
    await impl.push_branch("hydra/fix", FIX)
    change = await impl.port.open_change(branch="hydra/fix", base=impl.base, title="Fix")
    await impl.port.post_review(change.id, "comment", "Looks plausible.")
    await impl.port.post_review(change.id, "approve", "Tests pass.")
    await impl.port.merge(change.id)
    assert (await impl.port.get_change(change.id)).state == "merged"
    assert await impl.port.list_open() == []


async def test_a_veto_blocks_the_merge(impl: ChangesHarness) -> None:
    await impl.push_branch("hydra/fix", FIX)
    change = await impl.port.open_change(branch="hydra/fix", base=impl.base, title="Fix")
    await impl.port.post_review(change.id, "veto", "Deletes util.py, which is still used.")
    with pytest.raises(PortError) as caught:
        await impl.port.merge(change.id)
    assert caught.value.kind == "conflict"
    assert (await impl.port.get_change(change.id)).state == "open"


async def test_merge_at_a_stale_expected_head_is_a_conflict_and_changes_nothing(
    impl: ChangesHarness,
) -> None:
    reviewed = await impl.push_branch("hydra/fix", FIX)
    change = await impl.port.open_change(branch="hydra/fix", base=impl.base, title="Fix")
    await impl.port.post_review(change.id, "approve", "Reviewed at the first head.")
    pushed = await impl.push_commit("hydra/fix", {"src/late.py": b"UNREVIEWED = True\n"})
    assert pushed != reviewed
    with pytest.raises(PortError) as caught:
        await impl.port.merge(change.id, expected_head=reviewed)
    assert caught.value.kind == "conflict"
    assert "moved" in str(caught.value)
    after = await impl.port.get_change(change.id)
    assert (after.state, after.head_sha) == ("open", pushed)
    assert [c.id for c in await impl.port.list_open()] == [change.id]
    assert "src/late.py" in {f.path for f in await impl.port.changed_files(change.id)}


async def test_merge_at_the_expected_head_merges(impl: ChangesHarness) -> None:
    await impl.push_branch("hydra/fix", FIX)
    change = await impl.port.open_change(branch="hydra/fix", base=impl.base, title="Fix")
    await impl.port.post_review(change.id, "approve", "Reviewed at the first head.")
    head = await impl.push_commit("hydra/fix", {"src/late.py": b"REVIEWED = True\n"})
    await impl.port.post_review(change.id, "approve", "Reviewed again at the new head.")
    await impl.port.merge(change.id, expected_head=head)
    merged = await impl.port.get_change(change.id)
    assert (merged.state, merged.head_sha) == ("merged", head)
    assert await impl.port.list_open() == []
    await impl.port.merge(change.id, expected_head=head)  # merged at that head: nothing to do
    await impl.port.merge(change.id)
    with pytest.raises(PortError) as caught:  # ... but it was not merged at another one
        await impl.port.merge(change.id, expected_head=change.head_sha)
    assert caught.value.kind == "conflict"


async def test_the_expected_head_does_not_lift_a_veto(impl: ChangesHarness) -> None:
    head = await impl.push_branch("hydra/fix", FIX)
    change = await impl.port.open_change(branch="hydra/fix", base=impl.base, title="Fix")
    await impl.port.post_review(change.id, "veto", "No.")
    with pytest.raises(PortError) as caught:
        await impl.port.merge(change.id, expected_head=head)
    assert caught.value.kind == "conflict"
    assert (await impl.port.get_change(change.id)).state == "open"


@pytest.mark.parametrize("method", ["get_change", "changed_files", "diff", "post_review", "merge"])
async def test_unknown_change_is_not_found(impl: ChangesHarness, method: str) -> None:
    calls: dict[str, Callable[[], Awaitable[object]]] = {
        "get_change": lambda: impl.port.get_change("999999"),
        "changed_files": lambda: impl.port.changed_files("999999"),
        "diff": lambda: impl.port.diff("999999"),
        "post_review": lambda: impl.port.post_review("999999", "approve", "ok"),
        "merge": lambda: impl.port.merge("999999"),
    }
    with pytest.raises(PortError) as caught:
        await calls[method]()
    assert caught.value.kind == "not_found"


async def test_opening_an_unknown_branch_is_refused(impl: ChangesHarness) -> None:
    with pytest.raises(PortError):
        await impl.port.open_change(branch="no/such/branch", base=impl.base, title="Nothing")
    assert await impl.port.list_open() == []
