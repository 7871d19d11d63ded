"""IssuePort contract: what every issue tracker does, as the port's docstrings promise.

Runs against: ``fake`` (fakes.FakeIssues) and ``local-inbox`` (hydra.adapters.inbox.LocalInbox).
To add one (``gh`` through a fake CLI, say), register a factory for ``"issues"`` in conftest.py.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import anyio
import pytest

from ports import Issue, IssuePort, PortError

PORT = "issues"
pytestmark = pytest.mark.anyio


async def _make(impl: IssuePort, *specs: tuple[str, tuple[str, ...]]) -> list[Issue]:
    return [await impl.create_issue(title, f"about {title}", labels) for title, labels in specs]


def _ids(issues: list[Issue]) -> list[str]:
    return [i.id for i in issues]


async def test_info_says_configured(impl: IssuePort) -> None:
    info = impl.info()
    assert info.state == "configured"
    assert info.implementation


async def test_create_returns_the_new_open_issue(impl: IssuePort) -> None:
    issue = await impl.create_issue("Flaky test", "It fails one run in ten.", ["bug", "ci"])
    assert issue.id
    assert (issue.title, issue.body, issue.state) == (
        "Flaky test",
        "It fails one run in ten.",
        "open",
    )
    assert issue.labels == {"bug", "ci"}
    assert issue.created_at.utcoffset() is not None
    assert issue.updated_at >= issue.created_at
    assert issue.comments == ()


async def test_ids_are_distinct_and_get_returns_the_issue(impl: IssuePort) -> None:
    first, second = await _make(impl, ("one", ()), ("two", ("x",)))
    assert first.id != second.id
    got = await impl.get_issue(second.id)
    assert (got.id, got.title, got.body, got.labels) == (
        second.id,
        "two",
        "about two",
        frozenset({"x"}),
    )
    assert got.state == "open"


async def test_list_is_open_issues_oldest_first(impl: IssuePort) -> None:
    made = await _make(impl, ("a", ()), ("b", ()), ("c", ()))
    assert _ids(await impl.list_issues()) == _ids(made)


async def test_list_needs_every_label(impl: IssuePort) -> None:
    bug, both, urgent, _plain = await _make(
        impl, ("bug", ("bug",)), ("both", ("bug", "urgent")), ("urgent", ("urgent",)), ("none", ())
    )
    assert _ids(await impl.list_issues(labels=["bug"])) == [bug.id, both.id]
    assert _ids(await impl.list_issues(labels=["bug", "urgent"])) == [both.id]
    assert _ids(await impl.list_issues(labels=["urgent"])) == [both.id, urgent.id]
    assert await impl.list_issues(labels=["nobody-has-this"]) == []


async def test_list_leaves_out_excluded_labels(impl: IssuePort) -> None:
    bug, _both, _urgent, plain = await _make(
        impl, ("bug", ("bug",)), ("both", ("bug", "urgent")), ("urgent", ("urgent",)), ("none", ())
    )
    assert _ids(await impl.list_issues(exclude_labels=["urgent"])) == [bug.id, plain.id]
    found = await impl.list_issues(labels=["bug"], exclude_labels=["urgent"])
    assert _ids(found) == [bug.id]


async def test_list_by_state(impl: IssuePort) -> None:
    a, b, c = await _make(impl, ("a", ()), ("b", ()), ("c", ()))
    await impl.close_issue(b.id)
    assert _ids(await impl.list_issues()) == [a.id, c.id]
    assert _ids(await impl.list_issues(state="open")) == [a.id, c.id]
    closed = await impl.list_issues(state="closed")
    assert _ids(closed) == [b.id]
    assert closed[0].state == "closed"


async def test_list_limit_keeps_the_oldest(impl: IssuePort) -> None:
    made = await _make(impl, *[(f"issue {n}", ()) for n in range(5)])
    assert _ids(await impl.list_issues(limit=2)) == _ids(made[:2])
    assert await impl.list_issues(limit=0) == []
    assert len(await impl.list_issues(limit=100)) == 5


async def test_list_leaves_comments_out_and_get_has_them(impl: IssuePort) -> None:
    (issue,) = await _make(impl, ("talk", ()))
    await impl.comment(issue.id, "first")
    await impl.comment(issue.id, "second\nwith two lines")
    (listed,) = await impl.list_issues()
    assert listed.comments == ()
    got = await impl.get_issue(issue.id)
    assert [c.body for c in got.comments] == ["first", "second\nwith two lines"]
    for note in got.comments:
        assert note.author
        assert note.created_at.utcoffset() is not None
    assert got.comments[0].created_at <= got.comments[1].created_at
    assert got.updated_at >= issue.updated_at


async def test_add_label_is_idempotent(impl: IssuePort) -> None:
    (issue,) = await _make(impl, ("x", ("bug",)))
    await impl.add_label(issue.id, "triaged")
    await impl.add_label(issue.id, "triaged")
    assert (await impl.get_issue(issue.id)).labels == {"bug", "triaged"}
    assert _ids(await impl.list_issues(labels=["triaged"])) == [issue.id]


async def test_remove_label_is_idempotent(impl: IssuePort) -> None:
    (issue,) = await _make(impl, ("x", ("bug", "urgent")))
    await impl.remove_label(issue.id, "urgent")
    await impl.remove_label(issue.id, "urgent")
    await impl.remove_label(issue.id, "never-there")
    assert (await impl.get_issue(issue.id)).labels == {"bug"}


async def test_close_is_idempotent(impl: IssuePort) -> None:
    (issue,) = await _make(impl, ("x", ()))
    await impl.close_issue(issue.id)
    await impl.close_issue(issue.id)
    assert (await impl.get_issue(issue.id)).state == "closed"


async def test_closed_issues_can_still_be_read_and_commented(impl: IssuePort) -> None:
    (issue,) = await _make(impl, ("x", ()))
    await impl.close_issue(issue.id)
    await impl.comment(issue.id, "closing note")
    got = await impl.get_issue(issue.id)
    assert (got.state, [c.body for c in got.comments]) == ("closed", ["closing note"])


_BY_ID: dict[str, Callable[[IssuePort, str], Awaitable[object]]] = {
    "get_issue": lambda p, i: p.get_issue(i),
    "comment": lambda p, i: p.comment(i, "hello"),
    "add_label": lambda p, i: p.add_label(i, "bug"),
    "remove_label": lambda p, i: p.remove_label(i, "bug"),
    "close_issue": lambda p, i: p.close_issue(i),
}


@pytest.mark.parametrize("method", sorted(_BY_ID))
@pytest.mark.parametrize("issue_id", ["999", "abc", "0", "-1", "../1", ""])
async def test_unknown_ids_are_not_found(impl: IssuePort, method: str, issue_id: str) -> None:
    await _make(impl, ("exists", ()))
    with pytest.raises(PortError) as caught:
        await _BY_ID[method](impl, issue_id)
    assert caught.value.kind == "not_found"


@pytest.mark.parametrize(
    ("title", "body", "labels"),
    [("", "", ()), ("   ", "", ()), ("ok", "", ("",)), ("ok", "x" * 65_537, ())],
    ids=["empty-title", "blank-title", "empty-label", "huge-body"],
)
async def test_refused_input_raises_port_error(
    impl: IssuePort, title: str, body: str, labels: tuple[str, ...]
) -> None:
    with pytest.raises(PortError):
        await impl.create_issue(title, body, labels)
    assert await impl.list_issues(state="open") == []


async def test_concurrent_creates_get_distinct_ids(impl: IssuePort) -> None:
    made: list[Issue] = []

    async def create(n: int) -> None:
        made.append(await impl.create_issue(f"issue {n}"))

    with anyio.fail_after(10):
        async with anyio.create_task_group() as tg:
            for n in range(20):
                tg.start_soon(create, n)
    assert len({i.id for i in made}) == 20
    assert len(await impl.list_issues()) == 20
