"""``LocalInbox``: the ``local`` world's issue tracker, JSON files under the data dir.

Issues of repository ``R`` live in ``<data_dir>/inbox/R/<id>.json`` (ids 1, 2, 3… per
repository). The daemon and ``hydra issue`` share the files: :mod:`._inbox_record` is the
format, :mod:`._inbox_store` the atomic writes and the cross-process lock. File I/O runs in a
worker thread, so a cancelled call may still complete its write (as the port allows).

A failed fsync raises :class:`hydra.statefile.DurabilityError` and, in the daemon, also pulls
its :class:`hydra.fatal.FatalSignal` (given as ``fatal``): a loop's crash isolation may catch
the exception, the signal still stops the daemon (exit 70), like a failed audit or state fsync.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar, TypeVarTuple

import anyio.to_thread

from hydra.adapters._inbox_record import CommentRecord, IssueRecord, updated
from hydra.adapters._inbox_store import InboxStore
from hydra.clock import SystemClock
from hydra.statefile import DurabilityError
from ports import Clock, Issue, IssuePort, IssueState, PortError, PortInfo
from ports.issues import check_body, check_label, check_title

if TYPE_CHECKING:
    from hydra.fatal import FatalSignal

_ID = re.compile(r"[1-9][0-9]{0,17}")
T = TypeVar("T")
Args = TypeVarTuple("Args")


def check_repo_name(repo: str) -> str:
    """``repo`` if it is usable as one directory name, else ``ValueError``."""
    if not repo or repo in (".", "..") or any(c in repo for c in "/\\\0"):
        raise ValueError(f"repository name {repo!r} cannot name an inbox directory")
    return repo


class LocalInbox(IssuePort):
    """:class:`ports.IssuePort` over ``<data_dir>/inbox/<repo>/``.

    Comments are signed ``author`` and stamped by ``clock`` (UTC). A malformed or unknown id
    raises ``PortError("not_found")``; an unreadable or corrupt file ``PortError("failed")``
    naming the file; a lock held longer than ``lock_timeout_s`` ``PortError("timeout")``.
    A failed fsync raises :class:`hydra.statefile.DurabilityError` and pulls ``fatal`` (the
    daemon's signal; ``None`` for the CLI, which reports the error and exits).
    """

    def __init__(
        self,
        data_dir: Path,
        repo: str,
        *,
        author: str = "hydra",
        clock: Clock | None = None,
        lock_timeout_s: float = 30.0,
        fatal: FatalSignal | None = None,
    ) -> None:
        self.repo = check_repo_name(repo)
        self.author = author
        self._clock = clock or SystemClock()
        self._fatal = fatal
        self._store = InboxStore(data_dir / "inbox" / repo, lock_timeout_s=lock_timeout_s)

    @property
    def directory(self) -> Path:
        return self._store.directory

    def info(self) -> PortInfo:
        return PortInfo(
            implementation="local-inbox", state="configured", detail=str(self.directory)
        )

    async def list_issues(
        self,
        *,
        labels: Sequence[str] = (),
        exclude_labels: Sequence[str] = (),
        state: IssueState = "open",
        limit: int = 100,
    ) -> list[Issue]:
        if limit < 0:
            raise PortError("invalid", f"limit must not be negative, got {limit}", port="issues")
        wanted, unwanted = frozenset(labels), frozenset(exclude_labels)
        records = await self._run(self._store.load_all)
        found = [
            self._issue(r, with_comments=False)
            for r in records
            if r.state == state and wanted <= set(r.labels) and not unwanted & set(r.labels)
        ]
        return found[:limit]

    async def get_issue(self, issue_id: str) -> Issue:
        number = _number(issue_id)
        record = await self._run(self._store.load, number)
        return self._issue(record, with_comments=True)

    async def create_issue(self, title: str, body: str = "", labels: Sequence[str] = ()) -> Issue:
        check_title(title)
        check_body(body, what="a body", allow_empty=True)
        tags = tuple(sorted({check_label(label) for label in labels}))
        now = self._clock.now()

        def build(number: int) -> IssueRecord:
            return IssueRecord(
                id=number,
                title=title,
                body=body,
                labels=tags,
                author=self.author,
                created_at=now,
                updated_at=now,
            )

        record = await self._run(self._store.create, build)
        return self._issue(record, with_comments=True)

    async def comment(self, issue_id: str, body: str) -> None:
        number = _number(issue_id)
        check_body(body, what="a comment", allow_empty=False)
        now = self._clock.now()
        note = CommentRecord(author=self.author, body=body, created_at=now)
        await self._update(number, lambda r: updated(r, now, comments=(*r.comments, note)))

    async def add_label(self, issue_id: str, label: str) -> None:
        number = _number(issue_id)
        check_label(label)
        now = self._clock.now()

        def add(r: IssueRecord) -> IssueRecord | None:
            if label in r.labels:
                return None
            return updated(r, now, labels=tuple(sorted({*r.labels, label})))

        await self._update(number, add)

    async def remove_label(self, issue_id: str, label: str) -> None:
        number = _number(issue_id)
        now = self._clock.now()

        def remove(r: IssueRecord) -> IssueRecord | None:
            if label not in r.labels:
                return None
            return updated(r, now, labels=tuple(x for x in r.labels if x != label))

        await self._update(number, remove)

    async def close_issue(self, issue_id: str) -> None:
        number = _number(issue_id)
        now = self._clock.now()

        def close(r: IssueRecord) -> IssueRecord | None:
            return None if r.state == "closed" else updated(r, now, state="closed", closed_at=now)

        await self._update(number, close)

    # ------------------------------------------------------------------ internals
    async def _update(
        self, number: int, change: Callable[[IssueRecord], IssueRecord | None]
    ) -> None:
        await self._run(self._store.update, number, change)

    async def _run(self, fn: Callable[[*Args], T], *args: *Args) -> T:
        try:
            return await anyio.to_thread.run_sync(fn, *args)
        except DurabilityError as exc:
            # Pulled here, on the event loop's thread (the signal's event is not thread-safe).
            if self._fatal is not None:
                self._fatal.trigger(exc)
            raise

    def _issue(self, record: IssueRecord, *, with_comments: bool) -> Issue:
        url = self._store.path(record.id).as_uri()
        return record.to_issue(url=url, with_comments=with_comments)


def _number(issue_id: str) -> int:
    if not isinstance(issue_id, str) or not _ID.fullmatch(issue_id):
        raise PortError("not_found", f"no issue {issue_id!r} (ids are 1, 2, 3…)", port="issues")
    return int(issue_id)
