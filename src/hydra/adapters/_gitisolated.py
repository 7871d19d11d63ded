"""Isolated checkouts: worktrees whose excluded paths are absent from their git object store.

A linked worktree shares the repository's object store, so an agent in one that lacks the
holdout files on disk could still read them with ``git show <base>:<path>``, ``git log -p``
or ``git cat-file``. A worktree created with excluded paths is therefore a repository of its
own at ``<root>/<name>``, sharing no object store with the operator's:

* **Its objects**: the base commit's tree is read into a scratch index, the excluded paths are
  removed from it and the rest written as a tree; ``git pack-objects --revs`` packs the objects
  reachable from that tree alone straight into the new repository's object directory. It gets
  one commit of that tree on a branch named like the real one, checked out. No remote, no
  alternates, no other history: no object in it holds an excluded path's content.
* **Its config**: ``core.hooksPath`` names Hydra's hooks (the refusing ``pre-push``) and
  ``protocol.allow = never`` stops every transport, so a plain ``git push`` (``--no-verify``
  included) or ``git fetch`` fails. The agent can override both (``git -c protocol.allow=always
  fetch <operator repository>``, or edit the file): they stop mistakes, not a determined agent.
* **The branch** lives in the operator's repository, created at the base commit. ``commit``
  builds the commit there from the checkout's files with plumbing only (:mod:`._gitstage`: no
  filter, hook or other command the checkout's config or ``.gitattributes`` name runs), the
  excluded paths keeping the branch's version, then ``commit-tree`` and an ``update-ref`` that
  only moves the branch from the head it read. The checkout's own repository then gets the same
  work, best effort and again with plumbing only, so the agent's ``git status`` starts clean.
* **Its record** (``branch``, ``base``, ``exclude``) is a JSON file under
  ``<root>/.hydra/isolated/``, written atomically and durably, not in the checkout's own config,
  which the agent can rewrite.

What this guarantees: the excluded files are not in the checkout's directory and no object of
theirs is in its repository, so git run in the checkout *as configured* cannot show them. What
it does not: it is no sandbox. The agent runs as the daemon's user, so it can read the
operator's checkout and repository on disk directly, or point git at them (``git -C <path>``,
a fetch with the transport re-enabled on the command line); by default the worktree root lies
inside the operator's repository, one ``git -C ..`` away. Agent adapters set
``GIT_CEILING_DIRECTORIES`` so git does not find that repository by walking up from the
workdir by accident.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Final

import anyio
import anyio.to_thread

from hydra.adapters._gitcli import Git
from hydra.adapters._gitfiles import rmtree, scratch_index
from hydra.adapters._gitpaths import (
    check_branch,
    check_name,
    check_relpath,
    is_name,
    is_under,
    literal,
)
from hydra.adapters._gitstage import UNTRUSTED, stage_tree
from hydra.adapters._gitworktree import NO_TRANSPORT
from hydra.statefile import DurabilityError, write_json_atomic

if TYPE_CHECKING:
    from hydra.fatal import FatalSignal
from ports import PortError

__all__ = ["Isolated", "IsolatedMeta"]

_CLEANUP_LIMIT_S: Final = 30.0
_BASE_MESSAGE: Final = "Hydra worktree base\n\nThe files this worktree starts from.\n"


@dataclass(frozen=True)
class IsolatedMeta:
    branch: str
    """The operator's-repository branch the checkout's commits land on."""
    base: str
    """The commit the branch started from."""
    exclude: tuple[str, ...]


class Isolated:
    """Isolated checkouts of ``repo`` under ``root`` (see the module docstring)."""

    def __init__(
        self, git: Git, repo: Path, root: Path, hooks: Path, *, fatal: FatalSignal | None = None
    ) -> None:
        self._fatal = fatal
        self._git = git
        self.repo = repo
        self.root = root
        self.hooks = hooks
        self.records = root / ".hydra" / "isolated"
        self._git_dir: str | None = None

    # ------------------------------------------------------------------ records
    def _record(self, name: str) -> Path:
        return self.records / f"{check_name(name, port=self._git.port)}.json"

    async def meta(self, name: str) -> IsolatedMeta | None:
        """The record of checkout ``name``; ``None`` when it is no isolated checkout."""
        try:
            raw = await anyio.to_thread.run_sync(self._record(name).read_text)
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise self._git.error(
                "failed", f"worktree {name!r}: unreadable record: {exc}"
            ) from None
        try:
            data = json.loads(raw)
            exclude = tuple(check_relpath(p, port=self._git.port) for p in data["exclude"])
            return IsolatedMeta(
                branch=check_branch(str(data["branch"]), port=self._git.port),
                base=str(data["base"]),
                exclude=exclude,
            )
        except (ValueError, KeyError, TypeError, PortError):
            raise self._git.error("failed", f"worktree {name!r}: corrupt record") from None

    async def names(self) -> list[str]:
        """Names of the isolated checkouts that have a record and a directory (a record file
        whose name is no worktree name is not Hydra's and is passed over)."""

        def scan() -> list[str]:
            if not self.records.is_dir():
                return []
            found = []
            for record in self.records.glob("*.json"):
                if is_name(record.stem) and (self.root / record.stem).is_dir():
                    found.append(record.stem)
            return sorted(found)

        return await anyio.to_thread.run_sync(scan)

    def has_record(self, name: str) -> bool:
        """Whether checkout ``name`` has a record file, readable or not (blocking)."""
        return self._record(name).exists()

    def _write_record(self, name: str, meta: IsolatedMeta) -> None:
        """Atomically and durably: temp file, fsync, rename, directory fsync (blocking)."""
        data = {"branch": meta.branch, "base": meta.base, "exclude": list(meta.exclude)}
        write_json_atomic(self._record(name), data, mode=0o600)  # leaves no temp file behind

    def _drop_record(self, name: str) -> None:
        self._record(name).unlink(missing_ok=True)

    # ------------------------------------------------------------------ lifecycle
    async def create(self, name: str, path: Path, meta: IsolatedMeta) -> None:
        """Make checkout ``name`` at ``path`` (which must not exist) and its branch. Anything
        half made is undone when this fails or is cancelled."""
        try:
            await anyio.to_thread.run_sync(path.mkdir)
        except FileExistsError:
            raise self._git.error("conflict", f"worktree {name!r} already exists") from None
        try:
            await anyio.to_thread.run_sync(self._write_record, name, meta)
        except DurabilityError as exc:  # the daemon's business: not made durable, not retried
            if self._fatal is not None:
                self._fatal.trigger(exc)  # a loop's crash isolation must not swallow it
            await self._discard(name, path, meta, branch_made=False)
            raise
        except OSError as exc:
            await self._discard(name, path, meta, branch_made=False)
            raise self._git.error(
                "failed", f"worktree {name!r}: cannot write its record: {exc}"
            ) from None
        except BaseException:
            await self._discard(name, path, meta, branch_made=False)
            raise
        try:
            ref = f"refs/heads/{meta.branch}"
            await self._git.run(["update-ref", ref, meta.base, ""], cwd=self.repo)
        except PortError as exc:
            # A conflict: the branch appeared meanwhile, someone else's. Otherwise it is ours.
            await self._discard(name, path, meta, branch_made=exc.kind != "conflict")
            raise
        except BaseException:  # cancelled, maybe right after the branch was made
            await self._discard(name, path, meta, branch_made=True)
            raise
        try:
            await self._populate(path, meta)
        except BaseException:
            await self._discard(name, path, meta, branch_made=True)
            raise

    async def _populate(self, path: Path, meta: IsolatedMeta) -> None:
        tree = await self._visible_tree(meta.base, meta.exclude)
        await self._git.run(
            ["init", "-q", "--template=", f"--initial-branch={meta.branch}", str(path)],
            cwd=path,
        )
        await self._pack_into(path, f"{tree}\n")  # only what the filtered tree reaches
        for key, value in (("core.hooksPath", str(self.hooks)), NO_TRANSPORT):
            await self._git.run(["config", key, value], cwd=path)
        start = ["commit-tree", tree, "-F", "-"]
        commit = (await self._git.run(start, cwd=path, stdin=_BASE_MESSAGE.encode())).text()
        await self._git.run(["update-ref", f"refs/heads/{meta.branch}", commit], cwd=path)
        # Porcelain once, before any agent ran: the repository, its config and the base tree
        # are the daemon's and the operator's (from here on, plumbing only: see ``commit``).
        await self._git.run(["reset", "-q", "--hard", "HEAD"], cwd=path, config=UNTRUSTED)

    async def _visible_tree(self, tree_ish: str, exclude: Sequence[str]) -> str:
        """The tree of ``tree_ish`` without ``exclude``, written in the operator's repository."""
        async with scratch_index() as index:
            env = {"GIT_INDEX_FILE": index}

            async def run(args: list[str], stdin: bytes | None = None) -> bytes:
                out = await self._git.run(args, cwd=self.repo, env=env, stdin=stdin)
                return out.stdout

            await run(["read-tree", tree_ish])
            listed = await run(["ls-files", "-z", "--full-name", "--", *map(literal, exclude)])
            if listed:
                await run(["update-index", "-z", "--force-remove", "--stdin"], listed)
            return (await run(["write-tree"])).decode().strip()

    async def remove(self, name: str, path: Path, meta: IsolatedMeta) -> str | None:
        """Remove checkout ``name`` and its record; the head its branch had just before (to
        delete it), ``None`` when the branch is gone already."""
        ref = ["rev-parse", "--verify", "--quiet", f"refs/heads/{meta.branch}"]
        head = await self._git.run(ref, cwd=self.repo, ok=(0, 1))
        await anyio.to_thread.run_sync(rmtree, path)
        await anyio.to_thread.run_sync(self._drop_record, name)
        return head.text() if head.code == 0 and head.text() else None

    async def forget(self, name: str) -> None:
        """Drop the record of a checkout whose directory is gone (or whose record is corrupt)."""
        await anyio.to_thread.run_sync(self._drop_record, name)

    async def _discard(
        self, name: str, path: Path, meta: IsolatedMeta, *, branch_made: bool
    ) -> None:
        with anyio.CancelScope(shield=True), anyio.move_on_after(_CLEANUP_LIMIT_S):
            with contextlib.suppress(OSError):
                await anyio.to_thread.run_sync(rmtree, path)
            with contextlib.suppress(OSError):
                await anyio.to_thread.run_sync(self._drop_record, name)
            if branch_made:  # only while it is still where this call created it
                forget = ["update-ref", "-d", f"refs/heads/{meta.branch}", meta.base]
                with contextlib.suppress(PortError):
                    await self._git.run(forget, cwd=self.repo, ok=(0, 1, 128))

    # ------------------------------------------------------------------ work
    async def work_tree(self, path: Path, meta: IsolatedMeta, index: str, start: str) -> str:
        """``start``'s tree with the checkout's files over it (excluded paths keep ``start``'s
        version), hashed into the operator's repository with plumbing only: nothing of the
        checkout's config, hooks or attributes runs (:mod:`._gitstage`)."""
        if self._git_dir is None:
            where = ["rev-parse", "--absolute-git-dir"]
            self._git_dir = (await self._git.run(where, cwd=self.repo)).text()
        env = {"GIT_DIR": self._git_dir, "GIT_WORK_TREE": str(path)}
        return await stage_tree(
            self._git, path, start=start, exclude=meta.exclude, index=index, env=env
        )

    async def commit(self, name: str, path: Path, meta: IsolatedMeta, message: str) -> str | None:
        ref = f"refs/heads/{meta.branch}"
        found = await self._git.run(
            ["rev-parse", "--verify", "--quiet", ref], cwd=self.repo, ok=(0, 1)
        )
        if found.code != 0 or not found.text():
            raise self._git.error("not_found", f"worktree {name!r}: branch {meta.branch!r} is gone")
        head = found.text()
        async with scratch_index() as index:
            tree = await self.work_tree(path, meta, index, head)
        before = ["rev-parse", "--verify", f"{head}^{{tree}}"]
        if tree == (await self._git.run(before, cwd=self.repo)).text():
            return None
        made = ["commit-tree", tree, "-p", head, "-F", "-"]
        commit = (await self._git.run(made, cwd=self.repo, stdin=message.encode())).text()
        move = ["update-ref", "-m", "hydra: commit", ref, commit, head]
        if (await self._git.run(move, cwd=self.repo, ok=(0, 1, 128))).code != 0:
            raise self._git.error(
                "conflict", f"worktree {name!r}: branch {meta.branch!r} moved from {head}"
            )
        with contextlib.suppress(PortError, OSError):
            await self._mirror(path, meta, tree, message)
        return commit

    async def _mirror(self, path: Path, meta: IsolatedMeta, tree: str, message: str) -> None:
        """The same work committed in the checkout's own repository, so the agent's ``git
        status`` starts clean (best effort: the agent may have broken that repository).

        Plumbing only, with the checkout's repository as ``GIT_DIR`` and no work tree: the
        objects of the tree minus the excluded paths are packed into it from the operator's
        repository, then ``commit-tree``, ``update-ref HEAD`` and ``read-tree`` (its index)."""
        own = path / ".git"
        if own.is_symlink() or not own.is_dir():
            return
        visible = await self._visible_tree(tree, meta.exclude)
        env = {"GIT_DIR": str(own)}

        async def inside(args: list[str], *, stdin: bytes | None = None) -> str:
            out = await self._git.run(args, cwd=path, env=env, config=UNTRUSTED, stdin=stdin)
            return out.text()

        parent = await self._git.run(
            ["rev-parse", "--verify", "--quiet", "HEAD^{commit}"],
            cwd=path, env=env, config=UNTRUSTED, ok=(0, 1, 128),
        )  # fmt: skip
        revs = f"{visible}\n"
        if parent.code == 0 and parent.text():  # what it has already need not be packed again
            had = await inside(["rev-parse", "--verify", f"{parent.text()}^{{tree}}"])
            known = ["cat-file", "-e", had]
            if (await self._git.run(known, cwd=self.repo, ok=(0, 1, 128))).code == 0:
                revs += f"^{had}\n"
        await self._pack_into(path, revs)
        parents = ["-p", parent.text()] if parent.code == 0 and parent.text() else []
        commit = await inside(["commit-tree", visible, *parents, "-F", "-"], stdin=message.encode())
        await inside(["update-ref", "-m", "hydra: commit", "HEAD", commit])
        await inside(["read-tree", commit])

    async def _pack_into(self, path: Path, revs: str) -> None:
        """The objects ``revs`` (rev-list arguments) reach, from the operator's repository into
        the checkout's object directory."""
        pack = ["pack-objects", "--revs", "-q", str(path / ".git" / "objects" / "pack" / "pack")]
        await self._git.run(pack, cwd=self.repo, stdin=revs.encode())

    async def tracked(self, meta: IsolatedMeta) -> list[str]:
        """Paths committed on the branch, excluded ones left out."""
        tree = ["ls-tree", "-r", "--name-only", "--full-tree", f"refs/heads/{meta.branch}"]
        out = await self._git.run(tree, cwd=self.repo)
        return [p for p in out.lines() if not is_under(p, meta.exclude)]
