"""LocalInbox beyond the IssuePort contract: the files on disk, their format and their errors."""

from __future__ import annotations

import json
import os
from datetime import timedelta
from pathlib import Path

import pytest

from fakes import EPOCH, FakeClock
from hydra.adapters.inbox import LocalInbox
from ports import PortError

pytestmark = pytest.mark.anyio


def _inbox(tmp_path: Path, repo: str = "shop", **kw: object) -> LocalInbox:
    return LocalInbox(tmp_path, repo, clock=FakeClock(), **kw)  # type: ignore[arg-type]


async def test_one_json_file_per_issue_numbered_per_repository(tmp_path: Path) -> None:
    shop, blog = _inbox(tmp_path, "shop"), _inbox(tmp_path, "blog")
    assert [(await shop.create_issue(t)).id for t in ("a", "b", "c")] == ["1", "2", "3"]
    assert (await blog.create_issue("first post")).id == "1"
    assert sorted(p.name for p in (tmp_path / "inbox" / "shop").glob("*.json")) == [
        "1.json",
        "2.json",
        "3.json",
    ]
    assert (tmp_path / "inbox" / "blog" / "1.json").is_file()
    assert shop.info().implementation == "local-inbox"
    assert shop.info().detail == str(tmp_path / "inbox" / "shop")


async def test_the_file_format(tmp_path: Path) -> None:
    clock = FakeClock()
    inbox = LocalInbox(tmp_path, "shop", author="triage", clock=clock)
    issue = await inbox.create_issue("Flaky", "sometimes", ["ci", "bug", "ci"])
    clock.advance(30)
    await inbox.comment(issue.id, "again today")
    clock.advance(30)
    await inbox.close_issue(issue.id)
    raw = (tmp_path / "inbox" / "shop" / "1.json").read_text()
    assert raw.endswith("}\n")
    assert json.loads(raw) == {
        "version": 1,
        "id": 1,
        "title": "Flaky",
        "body": "sometimes",
        "labels": ["bug", "ci"],
        "state": "closed",
        "author": "triage",
        "created_at": "2025-01-01T00:00:00Z",
        "updated_at": "2025-01-01T00:01:00Z",
        "closed_at": "2025-01-01T00:01:00Z",
        "comments": [
            {"author": "triage", "body": "again today", "created_at": "2025-01-01T00:00:30Z"}
        ],
    }
    got = await inbox.get_issue(issue.id)
    assert got.url == (tmp_path / "inbox" / "shop" / "1.json").as_uri()
    assert got.created_at == EPOCH
    assert got.comments[0].created_at == EPOCH + timedelta(seconds=30)


async def test_instances_on_the_same_directory_share_issues(tmp_path: Path) -> None:
    daemon = LocalInbox(tmp_path, "shop", author="hydra")
    human = LocalInbox(tmp_path, "shop", author="alice")
    issue = await human.create_issue("Please look", labels=["hydra-escalation"])
    assert [i.id for i in await daemon.list_issues(labels=["hydra-escalation"])] == [issue.id]
    await daemon.comment(issue.id, "on it")
    await human.comment(issue.id, "thanks")
    notes = (await human.get_issue(issue.id)).comments
    assert [(c.author, c.body) for c in notes] == [("hydra", "on it"), ("alice", "thanks")]


async def test_no_op_changes_do_not_rewrite_the_file(tmp_path: Path) -> None:
    inbox = _inbox(tmp_path)
    issue = await inbox.create_issue("x", labels=["bug"])
    path = tmp_path / "inbox" / "shop" / "1.json"
    os.utime(path, ns=(1, 1))
    await inbox.add_label(issue.id, "bug")
    await inbox.remove_label(issue.id, "absent")
    assert path.stat().st_mtime_ns == 1
    await inbox.close_issue(issue.id)
    assert path.stat().st_mtime_ns != 1
    os.utime(path, ns=(1, 1))
    await inbox.close_issue(issue.id)
    assert path.stat().st_mtime_ns == 1


async def test_writes_leave_no_temporary_files(tmp_path: Path) -> None:
    inbox = _inbox(tmp_path)
    issue = await inbox.create_issue("x")
    for n in range(5):
        await inbox.comment(issue.id, f"note {n}")
    names = sorted(p.name for p in (tmp_path / "inbox" / "shop").iterdir())
    assert names == [".lock", "1.json"]


async def test_stray_files_are_ignored(tmp_path: Path) -> None:
    inbox = _inbox(tmp_path)
    await inbox.create_issue("real")
    folder = tmp_path / "inbox" / "shop"
    for name in ("notes.txt", "01.json", "0.json", ".2.json.123.tmp", "x.json"):
        (folder / name).write_text("not an issue")
    (folder / "7.json.bak").write_text("{}")
    assert [i.title for i in await inbox.list_issues()] == ["real"]
    assert (await inbox.create_issue("next")).id == "2"


async def test_an_empty_inbox_lists_nothing_and_finds_nothing(tmp_path: Path) -> None:
    inbox = _inbox(tmp_path)
    assert await inbox.list_issues(state="closed") == []
    with pytest.raises(PortError) as caught:
        await inbox.get_issue("1")
    assert caught.value.kind == "not_found"
    assert not (tmp_path / "inbox").exists()


@pytest.mark.parametrize(
    ("content", "why"),
    [
        (b"{not json", "corrupt issue file"),
        (b"", "corrupt issue file"),
        (b'{"version": 1, "id": 1}', "title"),
        (
            b'{"version": 2, "id": 1, "title": "t", "author": "a", '
            b'"created_at": "2025-01-01T00:00:00Z", "updated_at": "2025-01-01T00:00:00Z"}',
            "version",
        ),
        (
            b'{"version": 1, "id": 1, "title": "t", "author": "a", "surprise": 1, '
            b'"created_at": "2025-01-01T00:00:00Z", "updated_at": "2025-01-01T00:00:00Z"}',
            "surprise",
        ),
        (
            b'{"version": 1, "id": 1, "title": "t", "author": "a", '
            b'"created_at": "2025-01-01T00:00:00", "updated_at": "2025-01-01T00:00:00Z"}',
            "created_at",
        ),
    ],
    ids=["garbage", "empty", "missing-fields", "newer-version", "unknown-key", "naive-time"],
)
async def test_a_corrupt_file_fails_naming_the_file(
    tmp_path: Path, content: bytes, why: str
) -> None:
    inbox = _inbox(tmp_path)
    await inbox.create_issue("x")
    path = tmp_path / "inbox" / "shop" / "1.json"
    path.write_bytes(content)
    for call in (inbox.get_issue("1"), inbox.list_issues(), inbox.add_label("1", "bug")):
        with pytest.raises(PortError) as caught:
            await call
        assert caught.value.kind == "failed"
        assert str(path) in str(caught.value)
        assert why in str(caught.value)


async def test_a_file_holding_another_issue_is_corrupt(tmp_path: Path) -> None:
    inbox = _inbox(tmp_path)
    await inbox.create_issue("one")
    await inbox.create_issue("two")
    folder = tmp_path / "inbox" / "shop"
    (folder / "2.json").write_bytes((folder / "1.json").read_bytes())
    with pytest.raises(PortError, match="holds issue 1") as caught:
        await inbox.get_issue("2")
    assert caught.value.kind == "failed"


async def test_an_unreadable_file_fails(tmp_path: Path) -> None:
    inbox = _inbox(tmp_path)
    await inbox.create_issue("x")
    path = tmp_path / "inbox" / "shop" / "1.json"
    path.unlink()
    path.mkdir()
    with pytest.raises(PortError) as caught:
        await inbox.get_issue("1")
    assert caught.value.kind == "failed"
    assert "cannot read" in str(caught.value)


@pytest.mark.parametrize("repo", ["", ".", "..", "a/b", "a\\b", "nul\0"])
def test_repository_names_must_name_one_directory(tmp_path: Path, repo: str) -> None:
    with pytest.raises(ValueError, match="cannot name an inbox directory"):
        LocalInbox(tmp_path, repo)


async def test_limits_like_github(tmp_path: Path) -> None:
    inbox = _inbox(tmp_path)
    issue = await inbox.create_issue("t" * 256, "b" * 65_536, ["l" * 50])
    for call in (
        inbox.create_issue("t" * 257),
        inbox.create_issue("two\nlines"),
        inbox.create_issue("ok", labels=["a,b"]),
        inbox.add_label(issue.id, "l" * 51),
        inbox.comment(issue.id, ""),
        inbox.comment(issue.id, "c" * 65_537),
        inbox.list_issues(limit=-1),
    ):
        with pytest.raises(PortError) as caught:
            await call
        assert caught.value.kind == "invalid"
    assert len(await inbox.list_issues()) == 1
