"""The local inbox's file format: one issue as a JSON object (``version`` 1).

Parsed by hand (no pydantic) so ``hydra issue`` starts fast. Parsing is strict: a missing or
unknown key, a wrong type or a time without a timezone is :class:`CorruptRecord`, never a
silently repaired or dropped field.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any, Literal

from ports import Comment, Issue

VERSION = 1
_REQUIRED = frozenset({"version", "id", "title", "author", "created_at", "updated_at"})
_OPTIONAL = frozenset({"body", "labels", "state", "closed_at", "comments"})
_COMMENT = frozenset({"author", "body", "created_at"})


class CorruptRecord(ValueError):
    """The JSON is not an issue record of a version this code knows."""


@dataclass(frozen=True)
class CommentRecord:
    author: str
    body: str
    created_at: datetime


@dataclass(frozen=True)
class IssueRecord:
    id: int
    title: str
    author: str
    """Who filed it (the inbox's author: ``hydra``, or the CLI user)."""
    created_at: datetime
    updated_at: datetime
    body: str = ""
    labels: tuple[str, ...] = ()
    """Sorted, no duplicates."""
    state: Literal["open", "closed"] = "open"
    closed_at: datetime | None = None
    comments: tuple[CommentRecord, ...] = ()

    def to_issue(self, *, url: str, with_comments: bool) -> Issue:
        notes = tuple(Comment(c.author, c.body, c.created_at) for c in self.comments)
        return Issue(
            id=str(self.id),
            title=self.title,
            body=self.body,
            labels=frozenset(self.labels),
            state=self.state,
            created_at=self.created_at,
            updated_at=self.updated_at,
            url=url,
            comments=notes if with_comments else (),
        )


def updated(record: IssueRecord, now: datetime, **changes: Any) -> IssueRecord:
    """``record`` with ``changes`` applied and ``updated_at`` set to ``now``."""
    return replace(record, **changes, updated_at=now)


def to_json(record: IssueRecord) -> dict[str, Any]:
    return {
        "version": VERSION,
        "id": record.id,
        "title": record.title,
        "body": record.body,
        "labels": list(record.labels),
        "state": record.state,
        "author": record.author,
        "created_at": _time(record.created_at),
        "updated_at": _time(record.updated_at),
        "closed_at": _time(record.closed_at) if record.closed_at else None,
        "comments": [
            {"author": c.author, "body": c.body, "created_at": _time(c.created_at)}
            for c in record.comments
        ],
    }


def from_json(data: Any) -> IssueRecord:
    """The record in ``data`` (parsed JSON), or :class:`CorruptRecord` saying what is wrong."""
    fields = _object(data, "file", _REQUIRED, _OPTIONAL)
    if fields["version"] != VERSION:
        raise CorruptRecord(f"version: {fields['version']!r} is not {VERSION}")
    number = fields["id"]
    if not isinstance(number, int) or isinstance(number, bool) or number <= 0:
        raise CorruptRecord(f"id: {number!r} is not a positive integer")
    state = fields.get("state", "open")
    if state not in ("open", "closed"):
        raise CorruptRecord(f"state: {state!r} is neither 'open' nor 'closed'")
    closed_at = fields.get("closed_at")
    return IssueRecord(
        id=number,
        title=_text(fields, "title"),
        author=_text(fields, "author"),
        created_at=_when(fields, "created_at"),
        updated_at=_when(fields, "updated_at"),
        body=_text(fields, "body", ""),
        labels=tuple(sorted(set(_texts(fields.get("labels", []), "labels")))),
        state=state,
        closed_at=None if closed_at is None else _when(fields, "closed_at"),
        comments=tuple(_comment(c, n) for n, c in enumerate(_list(fields, "comments"))),
    )


def _comment(data: Any, n: int) -> CommentRecord:
    where = f"comments.{n}"
    fields = _object(data, where, _COMMENT, frozenset())
    return CommentRecord(
        author=_text(fields, "author", where=where),
        body=_text(fields, "body", where=where),
        created_at=_when(fields, "created_at", where=where),
    )


def _object(
    data: Any, where: str, required: frozenset[str], optional: frozenset[str]
) -> Mapping[str, Any]:
    if not isinstance(data, dict):
        raise CorruptRecord(f"{where}: not a JSON object")
    if missing := sorted(required - data.keys()):
        raise CorruptRecord(f"{where}: missing {', '.join(missing)}")
    if unknown := sorted(data.keys() - required - optional):
        raise CorruptRecord(f"{where}: unknown key {', '.join(unknown)}")
    return data


def _text(
    fields: Mapping[str, Any], key: str, default: str | None = None, *, where: str = ""
) -> str:
    value = fields.get(key, default)
    if not isinstance(value, str):
        raise CorruptRecord(f"{where + '.' if where else ''}{key}: {value!r} is not a string")
    return value


def _list(fields: Mapping[str, Any], key: str) -> list[Any]:
    value = fields.get(key, [])
    if not isinstance(value, list):
        raise CorruptRecord(f"{key}: {value!r} is not a list")
    return value


def _texts(values: Any, key: str) -> list[str]:
    if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
        raise CorruptRecord(f"{key}: {values!r} is not a list of strings")
    return values


def _when(fields: Mapping[str, Any], key: str, *, where: str = "") -> datetime:
    raw = _text(fields, key, where=where)
    try:
        moment = datetime.fromisoformat(raw)
    except ValueError:
        raise CorruptRecord(f"{key}: {raw!r} is not an ISO 8601 time") from None
    if moment.tzinfo is None:
        raise CorruptRecord(f"{key}: {raw!r} has no timezone")
    return moment.astimezone(UTC)


def _time(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")
