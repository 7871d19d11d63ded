from __future__ import annotations

from datetime import timedelta

import pytest

from fakes import EPOCH, FakeClock, FakeIssues
from ports import Comment, PortError

pytestmark = pytest.mark.anyio


async def test_state_after_a_round_of_work() -> None:
    clock = FakeClock()
    issues = FakeIssues(clock=clock, author="triage-bot")
    issue = await issues.create_issue("Flaky test", "fails sometimes", ["bug"])
    clock.advance(60)
    await issues.add_label(issue.id, "triaged")
    await issues.comment(issue.id, "Seen three times this week.")
    clock.advance(60)
    await issues.close_issue(issue.id)
    final = issues.issue(issue.id)
    assert final.labels == {"bug", "triaged"}
    assert final.state == "closed"
    assert final.comments == (
        Comment("triage-bot", "Seen three times this week.", EPOCH + timedelta(seconds=60)),
    )
    assert final.created_at == EPOCH
    assert final.updated_at == EPOCH + timedelta(seconds=120)


async def test_no_op_mutations_leave_updated_at_alone() -> None:
    clock = FakeClock()
    issues = FakeIssues(clock=clock)
    issue = await issues.create_issue("x", labels=["bug"])
    clock.advance(10)
    await issues.add_label(issue.id, "bug")
    await issues.remove_label(issue.id, "absent")
    assert issues.issue(issue.id).updated_at == EPOCH
    await issues.close_issue(issue.id)
    clock.advance(10)
    await issues.close_issue(issue.id)
    assert issues.issue(issue.id).updated_at == EPOCH + timedelta(seconds=10)


async def test_seeded_history_orders_by_creation_time() -> None:
    issues = FakeIssues()
    new = issues.seed_issue("new", created_at=EPOCH + timedelta(days=2))
    old = issues.seed_issue(
        "old",
        "body",
        ["escalation"],
        created_at=EPOCH - timedelta(days=30),
        comments=[Comment("alice", "ping", EPOCH - timedelta(days=29))],
    )
    closed = issues.seed_issue("done", state="closed")
    assert [i.id for i in await issues.list_issues()] == [old.id, new.id]
    assert [i.id for i in await issues.list_issues(state="closed")] == [closed.id]
    assert [i.title for i in issues.all_issues()] == ["old", "done", "new"]
    assert issues.issue(old.id).comments[0].author == "alice"


async def test_ids_count_up_from_one() -> None:
    issues = FakeIssues()
    made = [await issues.create_issue(f"n{n}") for n in range(3)]
    assert [i.id for i in made] == ["1", "2", "3"]


async def test_injected_faults_fail_the_call_and_change_nothing() -> None:
    issues = FakeIssues()
    issue = await issues.create_issue("x")
    issues.faults.inject("add_label", PortError("rate_limited", "slow down"))
    with pytest.raises(PortError) as caught:
        await issues.add_label(issue.id, "bug")
    assert caught.value.kind == "rate_limited"
    assert issues.issue(issue.id).labels == frozenset()
    await issues.add_label(issue.id, "bug")
    assert issues.issue(issue.id).labels == {"bug"}


@pytest.mark.parametrize(
    ("title", "body", "labels"),
    [
        ("a\nb", "", ()),
        ("x" * 257, "", ()),
        ("ok", "", ("a,b",)),
        ("ok", "", ("x" * 51,)),
    ],
)
async def test_tracker_limits(title: str, body: str, labels: tuple[str, ...]) -> None:
    issues = FakeIssues()
    with pytest.raises(PortError) as caught:
        await issues.create_issue(title, body, labels)
    assert caught.value.kind == "invalid"
    assert issues.all_issues() == []


async def test_bad_comment_label_and_limit_are_invalid() -> None:
    issues = FakeIssues()
    issue = await issues.create_issue("x")
    for call in (
        issues.comment(issue.id, "  "),
        issues.add_label(issue.id, ""),
        issues.list_issues(limit=-1),
    ):
        with pytest.raises(PortError) as caught:
            await call
        assert caught.value.kind == "invalid"


async def test_info_and_unknown_issue_helper() -> None:
    issues = FakeIssues()
    assert issues.info().implementation == "fake"
    with pytest.raises(PortError) as caught:
        issues.issue("7")
    assert caught.value.kind == "not_found"
