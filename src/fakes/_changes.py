"""Change requests in memory: opened from a fake workspace's branches or seeded with their files."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Protocol

from fakes._faults import Faults
from fakes._files import (
    Content,
    as_bytes,
    changed_paths,
    check_relpath,
    cut_patch,
    line_counts,
    tree_id,
    unified_patch,
)
from ports import ChangedFile, ChangeRequest, ChangeRequestPort, PortError, PortInfo, Verdict
from ports.changes import FileStatus

_METHODS = (
    "list_open",
    "get_change",
    "changed_files",
    "diff",
    "open_change",
    "post_review",
    "merge",
)
_VERDICTS = ("approve", "veto", "comment")


class BranchSource(Protocol):
    """Where branch contents come from (a :class:`fakes.FakeWorkspace`)."""

    def branch_tree(self, branch: str) -> dict[str, bytes] | None: ...
    def branch_head(self, branch: str) -> str | None: ...
    def seed_files(
        self, files: Mapping[str, Content | None], *, branch: str | None = None
    ) -> str: ...


@dataclass(frozen=True)
class Review:
    """One review posted through the port."""

    verdict: Verdict
    body: str
    author: str


@dataclass
class _Change:
    request: ChangeRequest
    base_tree: dict[str, bytes]
    tree: dict[str, bytes] | None
    """The change's files when seeded; ``None`` means "read the branch from the source"."""
    reviews: list[Review] = field(default_factory=list)
    blocked: str | None = None
    merged_head: str | None = None
    """The head commit that was merged (set by ``merge``)."""


class FakeChanges(ChangeRequestPort):
    """:class:`ports.ChangeRequestPort` in memory. Ids are ``"1"``, ``"2"``… like pull requests.

    With a ``source`` (the repository's :class:`FakeWorkspace`), ``open_change`` reads the branch
    (live, so later commits show up) against the base as it was when the change was opened,
    and ``merge`` applies the change onto the base branch. A ``veto`` as the latest verdict
    blocks the merge until an ``approve`` follows; :meth:`block_merge` stages other conflicts.
    """

    def __init__(self, *, source: BranchSource | None = None, author: str = "hydra") -> None:
        self._source = source
        self.author = author
        self._changes: dict[str, _Change] = {}
        self.merged: list[str] = []
        """Ids of merged changes, in merge order."""
        self.faults = Faults(_METHODS)

    # ------------------------------------------------------------------ the port
    def info(self) -> PortInfo:
        return PortInfo(implementation="fake", state="configured", detail="in-memory changes")

    async def list_open(self) -> list[ChangeRequest]:
        self.faults.check("list_open")
        return [self.change(cid) for cid, c in self._changes.items() if c.request.state == "open"]

    async def get_change(self, change_id: str) -> ChangeRequest:
        self.faults.check("get_change")
        return self.change(change_id)

    async def changed_files(self, change_id: str) -> list[ChangedFile]:
        self.faults.check("changed_files")
        change = self._change(change_id)
        old, new = change.base_tree, self._tree(change)
        files: list[ChangedFile] = []
        for path in changed_paths(old, new):
            before, after = old.get(path), new.get(path)
            added, deleted = line_counts(before, after)
            status: FileStatus = (
                "added" if before is None else "deleted" if after is None else "modified"
            )
            files.append(ChangedFile(path, status, added, deleted))
        return files

    async def diff(self, change_id: str, *, max_bytes: int = 1_000_000) -> str:
        self.faults.check("diff")
        change = self._change(change_id)
        return cut_patch(unified_patch(change.base_tree, self._tree(change)), max_bytes)

    async def open_change(
        self, *, branch: str, base: str, title: str, body: str = ""
    ) -> ChangeRequest:
        self.faults.check("open_change")
        for cid, change in self._changes.items():
            if change.request.branch == branch and change.request.state == "open":
                return self.change(cid)
        if not title.strip():
            raise PortError("invalid", "a change request needs a title", port="changes")
        base_tree: dict[str, bytes] = {}
        if self._source is not None:
            if self._source.branch_tree(branch) is None:
                raise PortError("not_found", f"no branch {branch!r}", port="changes")
            found = self._source.branch_tree(base)
            if found is None:
                raise PortError("not_found", f"no base branch {base!r}", port="changes")
            base_tree = found
        request = ChangeRequest(
            id=str(len(self._changes) + 1),
            title=title,
            branch=branch,
            base=base,
            head_sha="",
            state="open",
            author=self.author,
            body=body,
        )
        self._changes[request.id] = _Change(request, base_tree, None if self._source else {})
        return self.change(request.id)

    async def post_review(self, change_id: str, verdict: Verdict, body: str) -> None:
        self.faults.check("post_review")
        change = self._change(change_id)
        if verdict not in _VERDICTS:
            raise PortError("invalid", f"unknown verdict {verdict!r}", port="changes")
        change.reviews.append(Review(verdict=verdict, body=body, author=self.author))

    async def merge(self, change_id: str, *, expected_head: str | None = None) -> None:
        self.faults.check("merge")
        change = self._change(change_id)
        state = change.request.state
        if state == "merged":
            if expected_head is not None and change.merged_head != expected_head:
                raise PortError(
                    "conflict",
                    f"change {change_id} was merged at {change.merged_head}, "
                    f"not at the expected head {expected_head}",
                    port="changes",
                )
            return
        if state == "closed":
            raise PortError("conflict", f"change {change_id} is closed", port="changes")
        head = self._head(change)
        if expected_head is not None and head != expected_head:
            raise PortError(
                "conflict",
                f"change {change_id}: its head moved to {head} (expected {expected_head})",
                port="changes",
            )
        reason = change.blocked or self._veto(change)
        if reason:
            raise PortError("conflict", f"change {change_id}: {reason}", port="changes")
        if self._source is not None:
            tree = self._tree(change)
            edits = {p: tree.get(p) for p in changed_paths(change.base_tree, tree)}
            self._source.seed_files(edits, branch=change.request.base)
        change.request = replace(change.request, state="merged")
        change.merged_head = head
        self.merged.append(change_id)

    # ------------------------------------------------------------------ for tests
    def seed_change(
        self,
        title: str,
        *,
        branch: str | None = None,
        base: str = "main",
        files: Mapping[str, Content | None] | None = None,
        body: str = "",
        author: str = "someone",
    ) -> ChangeRequest:
        """An open change whose files are given here (``None`` deletes a path of the base)."""
        base_tree = (self._source.branch_tree(base) if self._source else None) or {}
        tree = dict(base_tree)
        for path, data in (files or {}).items():
            rel = check_relpath(path, port="changes")
            if data is None:
                tree.pop(rel, None)
            else:
                tree[rel] = as_bytes(data)
        cid = str(len(self._changes) + 1)
        request = ChangeRequest(
            id=cid,
            title=title,
            branch=branch or f"change-{cid}",
            base=base,
            head_sha="",
            state="open",
            author=author,
            body=body,
        )
        self._changes[cid] = _Change(request, base_tree, tree)
        return self.change(cid)

    def change(self, change_id: str) -> ChangeRequest:
        """A change request as ``get_change`` returns it."""
        change = self._change(change_id)
        return replace(change.request, head_sha=self._head(change))

    def reviews(self, change_id: str) -> list[Review]:
        """Reviews posted on a change, oldest first."""
        return list(self._change(change_id).reviews)

    def close(self, change_id: str) -> None:
        """Close a change without merging it (as a human would)."""
        change = self._change(change_id)
        change.request = replace(change.request, state="closed")

    def block_merge(self, change_id: str, reason: str | None = "merge conflict") -> None:
        """Make merging fail with ``PortError("conflict")``; ``None`` unblocks."""
        self._change(change_id).blocked = reason

    # ------------------------------------------------------------------ internals
    def _change(self, change_id: str) -> _Change:
        try:
            return self._changes[change_id]
        except KeyError:
            raise PortError(
                "not_found", f"no change request {change_id!r}", port="changes"
            ) from None

    def _tree(self, change: _Change) -> dict[str, bytes]:
        if change.tree is not None or self._source is None:
            return change.tree or {}
        return self._source.branch_tree(change.request.branch) or {}

    def _head(self, change: _Change) -> str:
        if change.tree is None and self._source is not None:
            head = self._source.branch_head(change.request.branch)
            if head:
                return head
        return tree_id(self._tree(change), change.request.branch)

    @staticmethod
    def _veto(change: _Change) -> str | None:
        verdicts = [r.verdict for r in change.reviews if r.verdict != "comment"]
        return "vetoed by review" if verdicts and verdicts[-1] == "veto" else None
