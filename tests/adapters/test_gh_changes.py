"""GhChanges beyond the ChangeRequestPort contract: GitHub's review and merge rules."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import anyio
import pytest

from hydra.adapters.gh_changes import GhChanges
from ports import ChangeRequest, PortError
from tests.adapters.gh_fake.fakegh_state import State
from tests.adapters.gh_fake.rig import Rig, make_rig
from tests.contract.harness import BASE_FILES

pytestmark = pytest.mark.anyio

MARKER = "<!-- hydra:verdict={} -->"


@pytest.fixture
def rig(tmp_path: Path) -> Rig:
    return make_rig(tmp_path, files=BASE_FILES)


async def _open(rig: Rig, branch: str = "topic", **files: bytes | None) -> ChangeRequest:
    rig.fake.push_branch(branch, files or {"a.txt": b"a\n"})
    with anyio.fail_after(10):
        return await rig.changes().open_change(branch=branch, base="main", title=branch)


def _reviews(rig: Rig, number: str) -> list[dict[str, object]]:
    return list(rig.fake.state()["pulls"][number]["reviews"])


async def test_on_its_own_pull_request_the_verdict_is_posted_as_a_marked_comment(
    rig: Rig,
) -> None:
    change = await _open(rig)
    with anyio.fail_after(10):
        await rig.changes().post_review(change.id, "veto", "Breaks the build.")
    (review,) = _reviews(rig, change.id)
    assert review["state"] == "COMMENTED"
    assert review["body"] == "Breaks the build.\n\n" + MARKER.format("veto") + "\n"
    flags = [a[4] for a in rig.argvs() if a[:2] == ["pr", "review"]]
    assert flags == ["--request-changes", "--comment"]


async def test_on_someone_else_s_pull_request_the_review_is_formal(rig: Rig) -> None:
    change = await _open(rig)

    def by_someone(state: State) -> None:
        state["pulls"][change.id]["author"] = "octocat"

    rig.fake.edit(by_someone)
    with anyio.fail_after(10):
        await rig.changes().post_review(change.id, "approve", "")
        await rig.changes().merge(change.id)
    (review,) = _reviews(rig, change.id)
    assert (review["state"], review["body"]) == ("APPROVED", MARKER.format("approve") + "\n")
    assert rig.fake.state()["pulls"][change.id]["state"] == "MERGED"


async def test_another_reviewer_s_veto_blocks_even_after_hydra_approves(rig: Rig) -> None:
    change = await _open(rig)
    rig.fake.add_review(change.id, author="octocat", state="CHANGES_REQUESTED", body="no")
    changes = rig.changes()
    with anyio.fail_after(10):
        await changes.post_review(change.id, "approve", "fine by me")
        with pytest.raises(PortError) as caught:
            await changes.merge(change.id)
    assert caught.value.kind == "conflict"
    assert "vetoed by octocat" in str(caught.value)
    rig.fake.add_review(change.id, author="octocat", state="APPROVED")
    with anyio.fail_after(10):
        await changes.merge(change.id)
    assert (await changes.get_change(change.id)).state == "merged"


async def test_dismissed_reviews_and_plain_comments_carry_no_verdict(rig: Rig) -> None:
    change = await _open(rig)
    rig.fake.add_review(change.id, author="octocat", state="DISMISSED", body="was a veto")
    rig.fake.add_review(change.id, author="mona", state="COMMENTED", body="nit: naming")
    forged = "looks fine\n\n" + MARKER.format("veto") + "\n<!-- and more -->"
    rig.fake.add_review(change.id, author="eve", state="COMMENTED", body=forged)
    with anyio.fail_after(10):
        await rig.changes().merge(change.id)  # a marker counts only as a review's last line
    assert rig.fake.state()["pulls"][change.id]["state"] == "MERGED"


async def test_merge_pins_the_head_it_checked(rig: Rig) -> None:
    change = await _open(rig)
    with anyio.fail_after(10):
        await rig.changes().merge(change.id)
    (argv,) = [a for a in rig.argvs() if a[:2] == ["pr", "merge"]]
    assert argv[3:] == ["--repo=acme/app", "--merge", f"--match-head-commit={change.head_sha}"]


def _meanwhile(changes: GhChanges, act: Callable[[], object]) -> None:
    """Make ``act`` happen right after ``merge`` has checked the pull request (a race)."""
    check = changes._merge_facts
    done: list[bool] = []

    async def checked(number: str) -> tuple[str, str, list[str]]:
        facts = await check(number)
        if not done:
            done.append(True)
            act()
        return facts

    changes._merge_facts = checked  # type: ignore[method-assign]


async def test_merge_pins_the_expected_head(rig: Rig) -> None:
    change = await _open(rig)
    with anyio.fail_after(10):
        await rig.changes().merge(change.id, expected_head=change.head_sha)
    (argv,) = [a for a in rig.argvs() if a[:2] == ["pr", "merge"]]
    assert argv[-1] == f"--match-head-commit={change.head_sha}"
    assert rig.fake.state()["pulls"][change.id]["state"] == "MERGED"


async def test_a_stale_expected_head_never_reaches_gh_pr_merge(rig: Rig) -> None:
    change = await _open(rig)
    rig.fake.push_commit("topic", {"b.txt": b"b\n"})
    with anyio.fail_after(10), pytest.raises(PortError) as caught:
        await rig.changes().merge(change.id, expected_head=change.head_sha)
    assert caught.value.kind == "conflict"
    assert "head moved" in str(caught.value)
    assert [a for a in rig.argvs() if a[:2] == ["pr", "merge"]] == []


async def test_a_head_pushed_after_the_check_is_refused_by_github(rig: Rig) -> None:
    change = await _open(rig)
    changes = rig.changes()
    _meanwhile(changes, lambda: rig.fake.push_commit("topic", {"b.txt": b"b\n"}))
    with anyio.fail_after(10), pytest.raises(PortError) as caught:
        await changes.merge(change.id, expected_head=change.head_sha)
    assert caught.value.kind == "conflict"
    assert "head moved" in str(caught.value)
    assert "Head branch was modified" in str(caught.value)
    assert rig.fake.state()["pulls"][change.id]["state"] == "OPEN"


async def test_merged_by_someone_else_at_another_head_after_the_check_is_a_conflict(
    rig: Rig,
) -> None:
    change = await _open(rig)
    changes = rig.changes()

    def push_and_merge(state: State) -> None:
        state["branches"]["topic"]["sha"] = "f" * 40
        state["pulls"][change.id]["state"] = "MERGED"

    _meanwhile(changes, lambda: rig.fake.edit(push_and_merge))
    with anyio.fail_after(10), pytest.raises(PortError) as caught:
        await changes.merge(change.id, expected_head=change.head_sha)
    assert caught.value.kind == "conflict"
    assert f"merged at {'f' * 40}" in str(caught.value)


@pytest.mark.parametrize(
    "reason",
    ["the base branch policy prohibits the merge", "the merge commit cannot be cleanly created"],
)
async def test_github_refusing_the_merge_is_a_conflict(rig: Rig, reason: str) -> None:
    change = await _open(rig)
    rig.fake.block_merge(change.id, reason)
    with anyio.fail_after(10), pytest.raises(PortError) as caught:
        await rig.changes().merge(change.id)
    assert caught.value.kind == "conflict"
    assert f"is not mergeable: {reason}" in str(caught.value)
    assert rig.fake.state()["pulls"][change.id]["state"] == "OPEN"


async def test_a_base_that_moved_under_the_change_is_a_conflict(rig: Rig) -> None:
    first = await _open(rig, "first", **{"README.md": b"first\n"})
    second = await _open(rig, "second", **{"README.md": b"second\n"})
    changes = rig.changes()
    with anyio.fail_after(10):
        await changes.merge(first.id)
        with pytest.raises(PortError) as caught:
            await changes.merge(second.id)
    assert caught.value.kind == "conflict"


async def test_merged_is_done_and_closed_is_a_conflict(rig: Rig) -> None:
    merged, closed = await _open(rig, "merged"), await _open(rig, "closed")

    def close(state: State) -> None:
        state["pulls"][closed.id]["state"] = "CLOSED"

    rig.fake.edit(close)
    changes = rig.changes()
    with anyio.fail_after(10):
        await changes.merge(merged.id)
        await changes.merge(merged.id)
        with pytest.raises(PortError) as caught:
            await changes.merge(closed.id)
    assert caught.value.kind == "conflict"
    assert len([a for a in rig.argvs() if a[:2] == ["pr", "merge"]]) == 1


async def test_a_big_diff_is_read_past_the_runner_capture_and_cut_on_a_line(
    tmp_path: Path,
) -> None:
    rig = make_rig(tmp_path, files=BASE_FILES, capture_head_bytes=1_024, capture_tail_bytes=1_024)
    big = b"".join(b"line %05d\n" % n for n in range(20_000))
    change = await _open(rig, "big", **{"big.txt": big})
    changes = rig.changes()
    with anyio.fail_after(20):
        whole = await changes.diff(change.id)
        cut = await changes.diff(change.id, max_bytes=10_000)
    assert whole.count("\n+line ") == 20_000
    body, marker = cut.rstrip("\n").rsplit("\n", 1)
    assert marker == "[diff truncated at 10000 bytes]"
    assert len(body.encode()) + 1 <= 10_000
    assert whole.startswith(body + "\n")


async def test_changed_files_come_from_the_rest_api_with_statuses(rig: Rig) -> None:
    change = await _open(rig, **{"src/util.py": None, "new.md": b"x\ny\n", "README.md": b"hi\n"})
    with anyio.fail_after(10):
        files = await rig.changes().changed_files(change.id)
    assert [(f.path, f.status, f.additions, f.deletions) for f in files] == [
        ("README.md", "modified", 1, 3),
        ("new.md", "added", 2, 0),
        ("src/util.py", "deleted", 0, 2),
    ]
    (argv,) = [a for a in rig.argvs() if a[0] == "api"]
    assert argv[1] == f"repos/acme/app/pulls/{change.id}/files?per_page=100"
    assert "--paginate" in argv


async def test_opening_checks_its_input_before_gh(rig: Rig) -> None:
    rig.fake.push_branch("topic", {"a.txt": b"a\n"})
    changes = rig.changes()
    for title, base in (("", "main"), ("a\nb", "main"), ("x" * 257, "main"), ("ok", " ")):
        with anyio.fail_after(10), pytest.raises(PortError) as caught:
            await changes.open_change(branch="topic", base=base, title=title)
        assert caught.value.kind == "invalid"
    assert not [a for a in rig.argvs() if a[:2] == ["pr", "create"]]


async def test_an_unknown_branch_is_not_found(rig: Rig) -> None:
    with anyio.fail_after(10), pytest.raises(PortError) as caught:
        await rig.changes().open_change(branch="no/such", base="main", title="t")
    assert caught.value.kind == "not_found"
    assert "Head sha can't be blank" in str(caught.value)
