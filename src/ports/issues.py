"""The issue port: the tracker the factory reads escalations from and writes outcomes to."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Literal, Protocol, runtime_checkable

from ports._info import PortInfo
from ports._marks import mutating

IssueState = Literal["open", "closed"]


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
    (``not_found`` for an unknown id) and :class:`ports.errors.AuthFailed` when the tracker
    refuses the credentials for good. Cancellation aborts the call; a mutation that was already
    sent may or may not have been applied (callers re-read before retrying).
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
