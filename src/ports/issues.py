"""The issue port: the tracker the factory reads escalations from and writes outcomes to."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Literal, Protocol, runtime_checkable

from ports._info import PortInfo
from ports._marks import mutating
from ports.errors import PortError

IssueState = Literal["open", "closed"]

MAX_TITLE = 256
MAX_BODY = 65_536
MAX_LABEL = 50
"""GitHub's limits on issues; every IssuePort refuses what the github world would refuse."""


def check_title(title: str) -> str:
    """``title`` if it is 1 to 256 characters on one line, else ``PortError("invalid")``."""
    if not title.strip() or len(title) > MAX_TITLE or "\n" in title:
        raise PortError(
            "invalid", f"a title needs 1 to {MAX_TITLE} characters on one line", port="issues"
        )
    return title


def check_body(body: str, *, what: str = "a body", allow_empty: bool = True) -> str:
    """``body`` if it fits the tracker (and is non-blank unless ``allow_empty``)."""
    if len(body) > MAX_BODY or (not allow_empty and not body.strip()):
        low = 0 if allow_empty else 1
        raise PortError("invalid", f"{what} needs {low} to {MAX_BODY} characters", port="issues")
    return body


def check_label(label: str) -> str:
    """``label`` if it is 1 to 50 characters with no comma or newline."""
    if not label.strip() or len(label) > MAX_LABEL or "," in label or "\n" in label:
        raise PortError(
            "invalid",
            f"label {label!r}: 1 to {MAX_LABEL} characters, no comma or newline",
            port="issues",
        )
    return label


@dataclass(frozen=True)
class Comment:
    author: str
    body: str
    created_at: datetime


@dataclass(frozen=True)
class Issue:
    id: str
    """Stable identifier in its tracker (``"42"`` on GitHub, ``"7"`` in the local inbox)."""
    title: str
    body: str
    labels: frozenset[str]
    state: IssueState
    created_at: datetime
    updated_at: datetime
    url: str | None = None
    comments: tuple[Comment, ...] = field(default=())


def _shadow_issue(title: str, body: str = "", labels: Sequence[str] = ()) -> Issue:
    now = datetime.now(UTC)
    return Issue(
        id="shadow",
        title=title,
        body=body,
        labels=frozenset(labels),
        state="open",
        created_at=now,
        updated_at=now,
    )


@runtime_checkable
class IssuePort(Protocol):
    """Issues of one repository's tracker.

    Every method raises :class:`ports.errors.PortError` for a failure of the call
    (``not_found`` for an unknown id, ``invalid`` for a title, body, comment or label outside
    :func:`check_title` / :func:`check_body` / :func:`check_label`) and
    :class:`ports.errors.AuthFailed` when the tracker refuses the credentials for good.
    Cancellation aborts the call; a mutation that was already sent may or may not have been
    applied (callers re-read before retrying).
    """

    def info(self) -> PortInfo:
        """Which tracker this is and whether it is usable."""
        ...

    async def list_issues(
        self,
        *,
        labels: Sequence[str] = (),
        exclude_labels: Sequence[str] = (),
        state: IssueState = "open",
        limit: int = 100,
    ) -> list[Issue]:
        """Issues carrying every label of ``labels`` and none of ``exclude_labels``.

        Ordered oldest first; at most ``limit``. Comments are not included (use ``get_issue``).
        """
        ...

    async def get_issue(self, issue_id: str) -> Issue:
        """One issue with its comments."""
        ...

    @mutating("create_issue", shadow=_shadow_issue)
    async def create_issue(self, title: str, body: str = "", labels: Sequence[str] = ()) -> Issue:
        """Open a new issue and return it."""
        ...

    @mutating("comment")
    async def comment(self, issue_id: str, body: str) -> None:
        """Add a comment."""
        ...

    @mutating("add_label")
    async def add_label(self, issue_id: str, label: str) -> None:
        """Add a label; adding a label the issue already has is not an error."""
        ...

    @mutating("remove_label")
    async def remove_label(self, issue_id: str, label: str) -> None:
        """Remove a label; removing a label the issue lacks is not an error."""
        ...

    @mutating("close_issue")
    async def close_issue(self, issue_id: str) -> None:
        """Close the issue; closing a closed issue is not an error."""
        ...
