"""An in-memory issue tracker with the limits a real tracker puts on titles, bodies and labels."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime

from fakes._clock import FakeClock
from fakes._faults import Faults
from ports import Clock, Comment, Issue, IssuePort, IssueState, PortError, PortInfo
from ports.issues import MAX_BODY, check_body, check_label, check_title

_METHODS = (
    "list_issues",
    "get_issue",
    "create_issue",
    "comment",
    "add_label",
    "remove_label",
    "close_issue",
)


@dataclass
class _Record:
    issue: Issue
    seq: int
    comments: list[Comment] = field(default_factory=list)


class FakeIssues(IssuePort):
    """:class:`ports.IssuePort` in memory. Ids are ``"1"``, ``"2"``… in creation order.

    Assert on state with :meth:`issue` (labels, comments, state of one issue) and
    :meth:`all_issues`; stage history with :meth:`seed_issue`; make calls fail with
    :attr:`faults`. Comments made through the port are signed ``author``.
    """

    def __init__(self, *, clock: Clock | None = None, author: str = "hydra") -> None:
        self._clock = clock or FakeClock()
        self.author = author
        self._records: dict[str, _Record] = {}
        self._seq = 0
        self.faults = Faults(_METHODS)

    # ------------------------------------------------------------------ the port
    def info(self) -> PortInfo:
        return PortInfo(implementation="fake", state="configured", detail="in-memory issues")

    async def list_issues(
        self,
        *,
        labels: Sequence[str] = (),
        exclude_labels: Sequence[str] = (),
        state: IssueState = "open",
        limit: int = 100,
    ) -> list[Issue]:
        self.faults.check("list_issues")
        if limit < 0:
            raise PortError("invalid", f"limit must not be negative, got {limit}", port="issues")
        wanted, unwanted = frozenset(labels), frozenset(exclude_labels)
        found = [
            r.issue
            for r in self._oldest_first()
            if r.issue.state == state
            and wanted <= r.issue.labels
            and not (unwanted & r.issue.labels)
        ]
        return found[:limit]

    async def get_issue(self, issue_id: str) -> Issue:
        self.faults.check("get_issue")
        return self.issue(issue_id)

    async def create_issue(self, title: str, body: str = "", labels: Sequence[str] = ()) -> Issue:
        self.faults.check("create_issue")
        check_title(title)
        check_body(body)
        for label in labels:
            check_label(label)
        return self.seed_issue(title, body, labels)

    async def comment(self, issue_id: str, body: str) -> None:
        self.faults.check("comment")
        record = self._record(issue_id)
        if not body.strip() or len(body) > MAX_BODY:
            raise PortError("invalid", f"a comment needs 1 to {MAX_BODY} characters", port="issues")
        now = self._clock.now()
        record.comments.append(Comment(author=self.author, body=body, created_at=now))
        record.issue = replace(record.issue, updated_at=now)

    async def add_label(self, issue_id: str, label: str) -> None:
        self.faults.check("add_label")
        record = self._record(issue_id)
        check_label(label)
        if label not in record.issue.labels:
            self._change(record, labels=record.issue.labels | {label})

    async def remove_label(self, issue_id: str, label: str) -> None:
        self.faults.check("remove_label")
        record = self._record(issue_id)
        if label in record.issue.labels:
            self._change(record, labels=record.issue.labels - {label})

    async def close_issue(self, issue_id: str) -> None:
        self.faults.check("close_issue")
        record = self._record(issue_id)
        if record.issue.state != "closed":
            self._change(record, state="closed")

    # ------------------------------------------------------------------ for tests
    def seed_issue(
        self,
        title: str,
        body: str = "",
        labels: Iterable[str] = (),
        *,
        state: IssueState = "open",
        comments: Iterable[Comment] = (),
        created_at: datetime | None = None,
    ) -> Issue:
        """Add an issue as it already stands (no validation, no fault injection)."""
        self._seq += 1
        issue_id = str(self._seq)
        when = created_at or self._clock.now()
        record = _Record(
            issue=Issue(
                id=issue_id,
                title=title,
                body=body,
                labels=frozenset(labels),
                state=state,
                created_at=when,
                updated_at=when,
            ),
            seq=self._seq,
            comments=list(comments),
        )
        self._records[issue_id] = record
        return record.issue

    def issue(self, issue_id: str) -> Issue:
        """One issue with its comments, as ``get_issue`` returns it."""
        record = self._record(issue_id)
        return replace(record.issue, comments=tuple(record.comments))

    def all_issues(self) -> list[Issue]:
        """Every issue, open or closed, oldest first, with comments."""
        return [self.issue(r.issue.id) for r in self._oldest_first()]

    # ------------------------------------------------------------------ internals
    def _record(self, issue_id: str) -> _Record:
        try:
            return self._records[issue_id]
        except KeyError:
            raise PortError("not_found", f"no issue {issue_id!r}", port="issues") from None

    def _oldest_first(self) -> list[_Record]:
        return sorted(self._records.values(), key=lambda r: (r.issue.created_at, r.seq))

    def _change(
        self,
        record: _Record,
        *,
        labels: frozenset[str] | None = None,
        state: IssueState | None = None,
    ) -> None:
        record.issue = replace(
            record.issue,
            labels=record.issue.labels if labels is None else labels,
            state=record.issue.state if state is None else state,
            updated_at=self._clock.now(),
        )
