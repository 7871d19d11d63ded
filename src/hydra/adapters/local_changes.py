"""``LocalChanges``: the ``local`` world's change requests, which are branches of one repository.

A change request is a local branch opened with ``open_change`` (its id is the branch name).
What git does not know about it (title, body, base, the latest verdict, the merge) is a record
under ``refs/hydra/changes/`` (:mod:`._gitrecords`). Its state is read from git each time:

* ``merged`` once merged here, or when its head has reached its base by other means;
* ``closed`` when its branch (or base) has been deleted without a merge;
* ``open`` otherwise; ``list_open`` lists these, oldest first.

Reviews are appended as git notes to the reviewed head under ``refs/notes/hydra-reviews``
(``git notes --ref refs/notes/hydra-reviews show <head>``) and handed to ``on_event``. The
merge gate reads the record's latest verdict, so a veto still blocks after new commits, an
amend or a rebase, until an ``approve`` follows. Merging is described in :mod:`._gitmerge`: the
change's side of the merge is the head commit read (and compared with ``expected_head``) before
the merge commit is made, never the branch name, so a commit pushed meanwhile is not merged.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Awaitable, Callable
from dataclasses import replace
from pathlib import Path
from typing import Final

from hydra.adapters._gitbranches import Branches, Heads
from hydra.adapters._gitchanges import file_changes
from hydra.adapters._gitcli import HYDRA_IDENTITY, Git, GitIdentity
from hydra.adapters._gitfiles import is_repository
from hydra.adapters._gitmerge import advance, merge_commit
from hydra.adapters._gitpatch import PatchSink
from hydra.adapters._gitpaths import check_branch
from hydra.adapters._gitrecords import ChangeRecord, Merged, RecordStore
from hydra.clock import SystemClock
from hydra.runner import Runner
from ports import (
    ChangedFile,
    ChangeRequest,
    ChangeRequestPort,
    ChangeState,
    Clock,
    PortError,
    PortInfo,
    Verdict,
)

PORT = "changes"
NOTES_REF: Final = "refs/notes/hydra-reviews"
OnEvent = Callable[[str, dict[str, object]], Awaitable[None]]
"""``on_event(action, payload)``: ``open_change``, ``review`` or ``merge``, after it happened."""
_VERDICTS: Final = ("approve", "veto", "comment")
_ATTEMPTS: Final = 5
_DIFF: Final = ("--no-color", "--no-ext-diff", "--no-textconv", "-M")


class LocalChanges(ChangeRequestPort):
    """Change requests of the repository at ``repo`` (named ``repo_name``).

    ``runner`` makes every git call (cost source ``source``, default
    ``git.changes:<repo_name>``); merges, notes and records are made as ``identity``; reviews
    and changes are signed ``author``; ``clock`` stamps them.
    """

    def __init__(
        self,
        repo: str | os.PathLike[str],
        repo_name: str,
        runner: Runner,
        *,
        on_event: OnEvent | None = None,
        source: str | None = None,
        author: str = "hydra",
        identity: GitIdentity = HYDRA_IDENTITY,
        clock: Clock | None = None,
        timeout_s: float = 120.0,
    ) -> None:
        self.repo = Path(repo).absolute()
        self.repo_name = repo_name
        self.author = author
        self._on_event = on_event
        self._clock = clock or SystemClock()
        self._git = Git(
            runner,
            source=source or f"git.changes:{repo_name}",
            port=PORT,
            identity=identity,
            timeout_s=timeout_s,
        )
        self._store = RecordStore(self._git, self.repo)
        self._branches = Branches(self._git, self.repo)

    def info(self) -> PortInfo:
        if shutil.which("git") is None:
            return PortInfo("local-git", "unconfigured", "git is not installed (not on PATH)")
        if not is_repository(self.repo):
            return PortInfo("local-git", "unconfigured", f"{self.repo} is not a git repository")
        return PortInfo("local-git", "configured", str(self.repo))

    async def list_open(self) -> list[ChangeRequest]:
        records = sorted(await self._store.all(), key=lambda r: (r.opened_at, r.branch))
        heads = await self._branches.heads()
        ahead: dict[str, set[str]] = {}
        found = []
        for record in records:
            if record.merged or record.branch not in heads or record.base not in heads:
                continue
            if record.base not in ahead:
                ahead[record.base] = await self._branches.not_merged_into(heads[record.base])
            if record.branch in ahead[record.base]:
                found.append(self._view(record, heads, "open"))
        return found

    async def get_change(self, change_id: str) -> ChangeRequest:
        record = await self._record(change_id)
        heads = await self._branches.heads()
        return self._view(record, heads, await self._state(record, heads))

    async def changed_files(self, change_id: str) -> list[ChangedFile]:
        old, new = await self._range(await self._record(change_id))
        return await file_changes(self._git, self.repo, f"{old}...{new}")

    async def diff(self, change_id: str, *, max_bytes: int = 1_000_000) -> str:
        old, new = await self._range(await self._record(change_id))
        sink = PatchSink(max_bytes)
        args = ["diff", *_DIFF, "--src-prefix=a/", "--dst-prefix=b/", f"{old}...{new}", "--"]
        await self._git.run(args, cwd=self.repo, sink=sink)
        return sink.patch()

    async def open_change(
        self, *, branch: str, base: str, title: str, body: str = ""
    ) -> ChangeRequest:
        check_branch(branch, port=PORT)
        check_branch(base, port=PORT, what="base")
        if not title.strip():
            raise PortError("invalid", "a change request needs a title", port=PORT)
        for _ in range(_ATTEMPTS):
            existing = await self._store.get(branch)
            heads = await self._branches.heads()
            if existing is not None and await self._state(existing, heads) == "open":
                return self._view(existing, heads, "open")
            for name in (branch, base):
                if name not in heads:
                    raise PortError("not_found", f"no branch {name!r} in {self.repo}", port=PORT)
            if branch == base or await self._branches.is_ancestor(heads[branch], heads[base]):
                raise PortError(
                    "invalid", f"{branch!r} has no commits that {base!r} lacks", port=PORT
                )
            record = ChangeRecord(
                branch=branch,
                base=base,
                title=title,
                body=body,
                author=self.author,
                opened_at=self._clock.now().isoformat(),
                oid=existing.oid if existing else "",
            )
            if await self._store.put(record) is not None:
                change = self._view(record, heads, "open")
                event: dict[str, object] = {"change": branch, "base": base, "title": title}
                await self._emit("open_change", {**event, "head": change.head_sha})
                return change
        raise PortError("conflict", f"change {branch!r} kept changing; try again", port=PORT)

    async def post_review(self, change_id: str, verdict: Verdict, body: str) -> None:
        record = await self._record(change_id)
        if verdict not in _VERDICTS:
            raise PortError("invalid", f"unknown verdict {verdict!r}", port=PORT)
        heads = await self._branches.heads()
        head = record.merged.head if record.merged else heads.get(record.branch)
        if verdict != "comment":
            await self._update(record.branch, lambda r: replace(r, verdict=verdict))
        if head:
            note = (
                f"Hydra review: {verdict}\nChange: {record.branch} -> {record.base}\n"
                f"Author: {self.author}\nDate: {self._clock.now().isoformat()}\n\n{body}\n"
            )
            await self._git.run(
                ["notes", f"--ref={NOTES_REF}", "append", "--file=-", head],
                cwd=self.repo,
                stdin=note.encode(),
            )
        await self._emit(
            "review", {"change": record.branch, "verdict": verdict, "body": body, "head": head}
        )

    async def merge(self, change_id: str, *, expected_head: str | None = None) -> None:
        record = await self._record(change_id)
        heads = await self._branches.heads()
        state = await self._state(record, heads)
        if state == "merged":
            merged_at = self._view(record, heads, state).head_sha
            if expected_head is not None and merged_at != expected_head:
                raise PortError(
                    "conflict",
                    f"change {change_id!r} was merged at {merged_at or 'an unknown head'}, "
                    f"not at the expected head {expected_head}",
                    port=PORT,
                )
            return
        if state == "closed":
            raise PortError("conflict", f"change {change_id!r} is closed", port=PORT)
        old, head = heads[record.base], heads[record.branch]
        if expected_head is not None and head != expected_head:
            raise PortError(
                "conflict",
                f"change {change_id!r}: its head moved to {head} (expected {expected_head})",
                port=PORT,
            )
        if record.verdict == "veto":
            raise PortError("conflict", f"change {change_id!r} is vetoed by review", port=PORT)
        message = f"Merge branch '{record.branch}' into {record.base}\n\n{record.title}\n"
        commit = await merge_commit(
            self._git, self.repo, base_commit=old, head=head, message=message
        )
        holder = await advance(self._git, self.repo, base=record.base, old=old, new=commit)
        merged = Merged(commit=commit, base=old, head=head)
        await self._update(record.branch, lambda r: replace(r, merged=merged))
        await self._emit(
            "merge",
            {
                "change": record.branch,
                "base": record.base,
                "commit": commit,
                "head": head,
                "worktree": str(holder) if holder else None,
            },
        )

    # ------------------------------------------------------------------ internals
    async def _record(self, change_id: str) -> ChangeRecord:
        try:
            check_branch(change_id, port=PORT)
        except PortError:
            record = None  # not a branch name, so no change of ours
        else:
            record = await self._store.get(change_id)
        if record is None:
            raise PortError("not_found", f"no change request {change_id!r}", port=PORT)
        return record

    async def _update(self, branch: str, change: Callable[[ChangeRecord], ChangeRecord]) -> None:
        for _ in range(_ATTEMPTS):
            current = await self._record(branch)
            if await self._store.put(change(current)) is not None:
                return
        raise PortError("conflict", f"change {branch!r} kept changing; try again", port=PORT)

    async def _state(self, record: ChangeRecord, heads: Heads) -> ChangeState:
        if record.merged is not None:
            return "merged"
        head, base = heads.get(record.branch), heads.get(record.base)
        if head is None or base is None:
            return "closed"
        return "merged" if await self._branches.is_ancestor(head, base) else "open"

    def _view(self, record: ChangeRecord, heads: Heads, state: ChangeState) -> ChangeRequest:
        head = record.merged.head if record.merged else heads.get(record.branch, "")
        return ChangeRequest(
            id=record.branch,
            title=record.title,
            branch=record.branch,
            base=record.base,
            head_sha=head,
            state=state,
            author=record.author,
            body=record.body,
        )

    async def _range(self, record: ChangeRecord) -> tuple[str, str]:
        if record.merged is not None:
            return record.merged.base, record.merged.head
        heads = await self._branches.heads()
        for name in (record.branch, record.base):
            if name not in heads:
                raise PortError("not_found", f"branch {name!r} no longer exists", port=PORT)
        return heads[record.base], heads[record.branch]

    async def _emit(self, action: str, payload: dict[str, object]) -> None:
        if self._on_event is not None:
            await self._on_event(action, {"repo": self.repo_name, **payload})
