"""gh's JSON (the ``--json`` fields and REST bodies) read into port values.

Shapes, as gh documents them: an issue ``{"number", "title", "body", "labels": [{"name", …}],
"state": "OPEN"|"CLOSED", "createdAt", "updatedAt", "url"}``; a comment ``{"author":
{"login"}, "body", "createdAt", …}``; a pull request ``{"number", "title", "headRefName",
"baseRefName", "headRefOid", "state": "OPEN"|"CLOSED"|"MERGED", "author": {"login"}, "url",
"body", "createdAt"}``; a REST pull-request file ``{"filename", "status", "additions",
"deletions"}``. Anything else raises ``PortError("failed")`` naming the field.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Final, TypeVar

from ports import ChangedFile, ChangeRequest, ChangeState, Comment, Issue, IssueState, PortError
from ports.changes import FileStatus

T = TypeVar("T")
_NUMBER = re.compile(r"[1-9][0-9]{0,9}")
_ISSUE_STATES: Final[Mapping[str, IssueState]] = {"OPEN": "open", "CLOSED": "closed"}
_CHANGE_STATES: Final[Mapping[str, ChangeState]] = {
    "OPEN": "open",
    "CLOSED": "closed",
    "MERGED": "merged",
}
_FILE_STATUSES: Final[Mapping[str, FileStatus]] = {
    "added": "added",
    "copied": "added",  # a new path holding a copy
    "removed": "deleted",
    "renamed": "renamed",
}
"""REST file statuses; the rest (``modified``, ``changed``, ``unchanged``) are ``modified``."""


def check_number(item_id: str, *, port: str, what: str) -> str:
    """``item_id`` if it can be an issue or pull-request number, else ``PortError("not_found")``.

    Checked before gh sees it, so an id never reaches gh's argv as a flag or a branch name.
    """
    if not isinstance(item_id, str) or not _NUMBER.fullmatch(item_id):
        raise PortError("not_found", f"no {what} {item_id!r} (numbers are 1, 2, 3…)", port=port)
    return item_id


def number_in_url(text: str, kind: str, *, port: str) -> str:
    """The number at the end of the ``…/issues/N`` or ``…/pull/N`` URL gh printed."""
    found = re.findall(rf"/{kind}/([1-9][0-9]*)\s*$", text.strip(), re.MULTILINE)
    if not found:
        raise PortError("failed", f"gh printed no {kind} URL: {text[-200:]!r}", port=port)
    return str(found[-1])


def _field(obj: Mapping[str, object], key: str, kind: type[T], port: str) -> T:
    value = obj.get(key)
    if not isinstance(value, kind):
        got = type(value).__name__
        raise PortError(
            "failed", f"gh output: {key!r} should be {kind.__name__}, got {got}", port=port
        )
    return value


def _text(obj: Mapping[str, object], key: str, port: str) -> str:
    return _field(obj, key, str, port)


def _count(obj: Mapping[str, object], key: str, port: str) -> int:
    return _field(obj, key, int, port)


def _login(obj: Mapping[str, object]) -> str:
    author = obj.get("author")
    if isinstance(author, Mapping):
        login = author.get("login")
        return login if isinstance(login, str) else ""
    return ""


def parse_time(value: object, *, port: str) -> datetime:
    """An ISO 8601 timestamp (``2024-05-01T12:00:00Z``) as an aware UTC datetime."""
    try:
        moment = datetime.fromisoformat(str(value))
    except ValueError:
        raise PortError("failed", f"gh output: bad timestamp {value!r}", port=port) from None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def labels_of(obj: Mapping[str, object], *, port: str) -> frozenset[str]:
    raw: list[object] = _field(obj, "labels", list, port)
    return frozenset(_text(label, "name", port) for label in raw if isinstance(label, Mapping))


def is_pull_request(obj: Mapping[str, object]) -> bool:
    return "/pull/" in str(obj.get("url") or "")


def issue(obj: Mapping[str, object], *, comments: tuple[Comment, ...] = ()) -> Issue:
    port = "issues"
    state = _ISSUE_STATES.get(_text(obj, "state", port))
    if state is None:
        raise PortError("failed", f"gh output: unknown issue state {obj.get('state')!r}", port=port)
    return Issue(
        id=str(_count(obj, "number", port)),
        title=_text(obj, "title", port),
        body=_text(obj, "body", port),
        labels=labels_of(obj, port=port),
        state=state,
        created_at=parse_time(obj.get("createdAt"), port=port),
        updated_at=parse_time(obj.get("updatedAt"), port=port),
        url=str(obj.get("url") or "") or None,
        comments=comments,
    )


def comment(obj: Mapping[str, object]) -> Comment:
    return Comment(
        author=_login(obj) or "ghost",  # GitHub shows deleted accounts as "ghost"
        body=_text(obj, "body", "issues"),
        created_at=parse_time(obj.get("createdAt"), port="issues"),
    )


def change(obj: Mapping[str, object]) -> ChangeRequest:
    port = "changes"
    state = _CHANGE_STATES.get(_text(obj, "state", port))
    if state is None:
        raise PortError("failed", f"gh output: unknown PR state {obj.get('state')!r}", port=port)
    return ChangeRequest(
        id=str(_count(obj, "number", port)),
        title=_text(obj, "title", port),
        branch=_text(obj, "headRefName", port),
        base=_text(obj, "baseRefName", port),
        head_sha=_text(obj, "headRefOid", port),
        state=state,
        author=_login(obj),
        url=str(obj.get("url") or "") or None,
        body=_text(obj, "body", port),
    )


def change_head(obj: Mapping[str, object]) -> str:
    """A pull request's ``headRefOid``."""
    return _text(obj, "headRefOid", "changes")


def changed_file(obj: Mapping[str, object]) -> ChangedFile:
    port = "changes"
    return ChangedFile(
        path=_text(obj, "filename", port),
        status=_FILE_STATUSES.get(_text(obj, "status", port), "modified"),
        additions=_count(obj, "additions", port),
        deletions=_count(obj, "deletions", port),
    )
