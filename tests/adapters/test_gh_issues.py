"""GhIssues beyond the IssuePort contract: what GitHub and gh add (against the fake gh)."""

from __future__ import annotations

from pathlib import Path

import anyio
import pytest

from ports import PortError
from tests.adapters.gh_fake.rig import Rig, make_rig
from tests.contract.harness import BASE_FILES

pytestmark = pytest.mark.anyio


@pytest.fixture
def rig(tmp_path: Path) -> Rig:
    return make_rig(tmp_path, files=BASE_FILES)


async def test_missing_labels_are_created_once(rig: Rig) -> None:
    issues = rig.issues()
    with anyio.fail_after(20):
        await issues.create_issue("one", labels=["bug", "needs triage"])
        await issues.create_issue("two", labels=["bug", "needs triage"])
    assert sorted(rig.fake.state()["labels"]) == ["bug", "needs triage"]
    assert [argv[-1] for argv in rig.argvs() if argv[:2] == ["label", "create"]] == [
        "bug",
        "needs triage",
    ]


async def test_without_label_creation_a_missing_label_is_invalid(rig: Rig) -> None:
    issues = rig.issues(create_missing_labels=False)
    with anyio.fail_after(10), pytest.raises(PortError) as caught:
        await issues.create_issue("one", labels=["bug"])
    assert caught.value.kind == "invalid"
    assert "'bug' does not exist in acme/app" in str(caught.value)
    assert rig.fake.state()["issues"] == {}


async def test_labels_with_quotes_and_edges_survive_gh_s_csv_flags(rig: Rig) -> None:
    issues = rig.issues()
    odd = ['say "hi"', " padded ", "a'b"]
    with anyio.fail_after(20):
        issue = await issues.create_issue("odd", labels=odd)
        await issues.remove_label(issue.id, " padded ")
    assert (await issues.get_issue(issue.id)).labels == {'say "hi"', "a'b"}


async def test_a_pull_request_number_is_not_an_issue(rig: Rig) -> None:
    rig.fake.push_branch("topic", {"a.txt": b"a\n"})
    change = await rig.changes().open_change(branch="topic", base="main", title="t")
    issues = rig.issues()
    for call in (issues.get_issue(change.id), issues.add_label(change.id, "bug")):
        with anyio.fail_after(10), pytest.raises(PortError) as caught:
            await call
        assert caught.value.kind == "not_found"
    assert await issues.list_issues() == []


async def test_the_list_asks_github_search_for_order_limit_and_exclusions(rig: Rig) -> None:
    issues = rig.issues()
    with anyio.fail_after(20):
        await issues.list_issues(labels=["bug"], exclude_labels=["wontfix", "on hold"], limit=7)
    (argv,) = [a for a in rig.argvs() if a[:2] == ["issue", "list"]]
    assert '--search=sort:created-asc -label:"on hold" -label:"wontfix"' in argv
    assert "--label=bug" in argv
    assert "--limit=7" in argv


async def test_an_exclusion_search_cannot_express_is_filtered_here(rig: Rig) -> None:
    issues = rig.issues()
    with anyio.fail_after(20):
        keep = await issues.create_issue("keep", labels=["bug"])
        await issues.create_issue("drop", labels=["bug", 'no "quotes"'])
        found = await issues.list_issues(exclude_labels=['no "quotes"'], limit=1)
    assert [i.id for i in found] == [keep.id]
    (argv,) = [a for a in rig.argvs() if a[:2] == ["issue", "list"]]
    assert "--search=sort:created-asc" in argv
    assert "--limit=1000" in argv  # reads scan_limit, then filters and cuts


async def test_outputs_larger_than_the_runner_capture_are_read_whole(tmp_path: Path) -> None:
    rig = make_rig(tmp_path, capture_head_bytes=4_096, capture_tail_bytes=4_096)
    issues = rig.issues()
    bodies = [f"{n}<&>" + "é" * 60_000 for n in range(3)]
    with anyio.fail_after(30):
        made = [await issues.create_issue(f"big {n}", body) for n, body in enumerate(bodies)]
        for body in bodies:
            await issues.comment(made[0].id, body)
        listed = await issues.list_issues()
        got = await issues.get_issue(made[0].id)
    assert [i.body for i in listed] == bodies
    assert [c.body for c in got.comments] == bodies
    assert {c.author for c in got.comments} == {"hydra-bot"}


async def test_closing_twice_and_comments_on_closed_issues(rig: Rig) -> None:
    issues = rig.issues()
    with anyio.fail_after(20):
        issue = await issues.create_issue("x")
        await issues.close_issue(issue.id)
        await issues.close_issue(issue.id)  # gh: "! Issue #1 (x) is already closed", exit 0
        got = await issues.get_issue(issue.id)
    assert got.state == "closed"
    assert got.url == "https://github.com/acme/app/issues/1"


async def test_refused_input_never_reaches_gh(rig: Rig) -> None:
    issues = rig.issues()
    for call in (
        issues.create_issue("two\nlines"),
        issues.create_issue("ok", labels=["a,b"]),
        issues.comment("1", "   "),
        issues.list_issues(limit=-1),
        issues.list_issues(labels=["x" * 51]),
    ):
        with anyio.fail_after(10), pytest.raises(PortError) as caught:
            await call
        assert caught.value.kind == "invalid"
    assert rig.fake.calls() == []
