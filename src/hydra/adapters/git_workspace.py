"""``GitWorkspace``: :class:`ports.WorkspacePort` over ``git worktree``, through the Runner.

Worktree ``N`` of the repository lives at ``<root>/N`` on its own new branch. How each rule of
the port is kept (see :mod:`._gitworktree` for the per-worktree config):

* **No pushes**: the worktree's own ``core.hooksPath`` names Hydra's hooks directory
  (``<root>/.hydra/hooks``), whose ``pre-push`` refuses, and its ``protocol.allow = never``
  stops every transport, so ``git push --no-verify`` fails too. The repository's hooks and its
  main worktree are untouched (consequence: the repository's other hooks do not run in Hydra
  worktrees either).
* **Excluded paths**: a worktree created with ``exclude`` is no linked worktree but an isolated
  checkout, a repository of its own holding none of their objects (:mod:`._gitisolated`);
  ``diff`` and ``commit`` name them as ``exclude`` pathspecs, so they keep the branch's version.
* **Nothing of the agent's runs**: once an agent has worked in a checkout, its git config,
  hooks and ``.gitattributes`` are the agent's, so the daemon reads and commits the work with
  plumbing only (:mod:`._gitstage`: no ``add``, ``commit``, ``status`` or ``checkout``, no
  clean/smudge filter, no hook).
* **Diff**: the worktree's files hashed over the branch head in a temporary index
  (``GIT_INDEX_FILE``), so untracked files show up and what the agent staged is left alone;
  the tree is diffed against the base. The blobs this hashes are loose objects that
  ``git gc`` reclaims.
* **Commit**: the same tree, committed with ``commit-tree`` (Hydra's identity from the
  environment; no signing, no hooks) and ``update-ref`` from the head it was built on.
* **Removal with its branch**: the branch comes from the worktree's ``hydra.branch`` record
  (the one ``create_worktree`` made, whatever the checkout was switched to since), read with
  its head before the worktree goes. Once the worktree is removed, the branch is deleted only if
  no other worktree has it checked out and only while it still points at that head
  (``git update-ref -d <ref> <head>``); a worktree without the record keeps its branch.
* **Leftovers**: an isolated checkout whose record cannot be read is still removed (its branch
  kept, and said); one whose directory is gone still has its branch deleted when asked; an
  empty directory with a worktree's name but neither record nor ``.git`` (a creation that
  crashed) is removed by :meth:`GitWorkspace.list_worktrees`.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import anyio
import anyio.to_thread

from hydra.adapters._gitcli import HYDRA_IDENTITY, Git, GitIdentity
from hydra.adapters._gitfiles import (
    files_on_disk,
    is_repository,
    read_bounded,
    rmtree,
    scratch_index,
)
from hydra.adapters._gitisolated import Isolated, IsolatedMeta
from hydra.adapters._gitpatch import PatchSink
from hydra.adapters._gitpaths import (
    check_branch,
    check_name,
    check_relpath,
    contained,
    is_name,
    is_under,
    pathspec,
)
from hydra.adapters._gitstage import stage_tree
from hydra.adapters._gitworktree import (
    commit_checkout,
    configure,
    enable_worktree_config,
    install_hooks,
    parse_worktree_list,
    read_meta,
)
from hydra.logs import get_logger
from hydra.runner import Runner
from ports import PortError, PortInfo, TrackedFile, WorkspacePort, Worktree, WorktreeDiff

if TYPE_CHECKING:
    from hydra.fatal import FatalSignal

PORT = "workspace"
_DIFF = ("--no-renames", "--no-color", "--no-ext-diff", "--no-textconv")
_CLEANUP_LIMIT_S = 30.0

_log = get_logger("hydra.adapters.workspace")


class GitWorkspace(WorkspacePort):
    """Worktrees of the repository at ``repo`` (named ``repo_name``) under ``root``.

    Every git call is made by ``runner`` with cost source ``source`` (default
    ``git.workspace:<repo_name>``) and times out after ``timeout_s``. ``Worktree.base`` is the
    commit id the branch started from; diffs are taken against it.
    """

    def __init__(
        self,
        repo: str | os.PathLike[str],
        repo_name: str,
        root: str | os.PathLike[str],
        runner: Runner,
        *,
        source: str | None = None,
        identity: GitIdentity = HYDRA_IDENTITY,
        timeout_s: float = 120.0,
        fatal: FatalSignal | None = None,
    ) -> None:
        self.repo = Path(repo).absolute()
        self.repo_name = repo_name
        self.root = Path(root).resolve()
        self.hooks = self.root / ".hydra" / "hooks"
        self._git = Git(
            runner,
            source=source or f"git.workspace:{repo_name}",
            port=PORT,
            identity=identity,
            timeout_s=timeout_s,
        )
        self._worktree_config = False
        self._isolated = Isolated(self._git, self.repo, self.root, self.hooks, fatal=fatal)
        self._creating: set[str] = set()
        """Names being created by this instance: their directory may be empty for a while."""

    def info(self) -> PortInfo:
        if shutil.which("git") is None:
            return PortInfo("git", "unconfigured", "git is not installed (not found on PATH)")
        if not is_repository(self.repo):
            return PortInfo("git", "unconfigured", f"{self.repo} is not a git repository")
        return PortInfo("git", "configured", str(self.repo))

    async def create_worktree(
        self, name: str, *, branch: str, base: str = "HEAD", exclude: Sequence[str] = ()
    ) -> Worktree:
        check_name(name, port=PORT)
        check_branch(branch, port=PORT)
        hidden = tuple(dict.fromkeys(check_relpath(path, port=PORT) for path in exclude))
        path = self.root / name
        if path.is_symlink() or path.exists():
            raise PortError("conflict", f"worktree {name!r} already exists at {path}", port=PORT)
        commit = await self._resolve(base)
        if (await self._git.run(self._ref_check(branch), cwd=self.repo, ok=(0, 1))).code == 0:
            raise PortError("conflict", f"branch {branch!r} already exists", port=PORT)
        if name in self._creating:
            raise PortError("conflict", f"worktree {name!r} is being created", port=PORT)
        self._creating.add(name)
        try:
            return await self._create(name, path, branch, commit, hidden)
        finally:
            self._creating.discard(name)

    async def _create(
        self, name: str, path: Path, branch: str, commit: str, hidden: tuple[str, ...]
    ) -> Worktree:
        await anyio.to_thread.run_sync(install_hooks, self.hooks)
        with contextlib.suppress(OSError):  # one that cannot go makes the record write fail
            await self._isolated.forget(name)  # the record of a checkout whose directory is gone
        if hidden:
            await anyio.to_thread.run_sync(lambda: self.root.mkdir(parents=True, exist_ok=True))
            meta = IsolatedMeta(branch=branch, base=commit, exclude=hidden)
            await self._isolated.create(name, path, meta)
            return Worktree(name=name, path=str(path), branch=branch, base=commit)
        if not self._worktree_config:
            await enable_worktree_config(self._git, self.repo)
            self._worktree_config = True
        add = ["worktree", "add", "--no-checkout", "-b", branch, str(path), commit]
        try:
            await self._git.run(add, cwd=self.repo)
        except PortError as exc:
            if exc.kind != "conflict":  # a conflict means the name or branch is someone else's
                await self._discard(path, branch, commit)
            raise
        except BaseException:
            await self._discard(path, branch, commit)
            raise
        try:
            await configure(self._git, path, base=commit, branch=branch, hooks=self.hooks)
        except BaseException:
            await self._discard(path, branch, commit)
            raise
        return Worktree(name=name, path=str(path), branch=branch, base=commit)

    async def list_worktrees(self) -> list[Worktree]:
        out = await self._git.run(["worktree", "list", "--porcelain", "-z"], cwd=self.repo)
        found: list[Worktree] = []
        for entry in parse_worktree_list(out.fields()):
            name = entry.path.name
            if entry.path.parent != self.root or entry.prunable or entry.branch is None:
                continue
            try:
                check_name(name, port=PORT)
                meta = await read_meta(self._git, entry.path, name)
            except PortError:
                continue  # not one of ours (or half made): remove_worktree still takes it
            found.append(Worktree(name, str(entry.path), entry.branch, meta.base))
        for name in await self._isolated.names():
            try:
                isolated = await self._isolated.meta(name)
            except PortError as exc:  # remove_worktree still takes it
                _log.warning("workspace.record_unreadable", worktree=name, error=str(exc))
                continue
            if isolated is not None:
                path = str(self.root / name)
                found.append(Worktree(name, path, isolated.branch, isolated.base))
        await anyio.to_thread.run_sync(self._reap_orphans)
        return sorted(found, key=lambda w: w.name)

    def _reap_orphans(self) -> None:
        """Remove the empty directories under the root that bear a worktree's name but have
        neither a record nor ``.git``: left by a creation that crashed (blocking)."""
        try:
            children = list(self.root.iterdir())
        except OSError:
            return
        for child in children:
            name = child.name
            if not is_name(name) or name in self._creating or child.is_symlink():
                continue
            if not child.is_dir() or (child / ".git").exists() or self._isolated.has_record(name):
                continue
            try:
                child.rmdir()  # empty ones only: never anybody's files
            except OSError:
                continue
            _log.warning("workspace.orphan_removed", worktree=name, path=str(child))

    async def remove_worktree(self, name: str, *, delete_branch: bool = False) -> None:
        check_name(name, port=PORT)
        path = self.root / name
        contained(self.root, path, port=PORT, what="worktree")
        unreadable: PortError | None = None
        try:
            isolated = await self._isolated.meta(name)
        except PortError as exc:  # removed all the same, like a half-made linked worktree
            _log.warning("workspace.record_unreadable", worktree=name, error=str(exc))
            isolated, unreadable = None, exc
            with contextlib.suppress(OSError):
                await self._isolated.forget(name)
        if isolated is not None:
            head = await self._isolated.remove(name, path, isolated)  # the directory may be gone
            if delete_branch and head is not None:
                await self._delete_branch(name, isolated.branch, head)
            return
        owned: tuple[str, str] | None = None
        if delete_branch and (path / ".git").is_file():
            try:
                owned = await self._created_branch(path)
            except PortError as exc:
                unreadable = exc  # the worktree still goes; its branch stays (see below)
        if path.exists():
            force = ["worktree", "remove", "--force", "--force", str(path)]
            await self._git.run(force, cwd=self.repo, ok=(0, 128))
            await anyio.to_thread.run_sync(rmtree, path)
        await self._git.run(["worktree", "prune"], cwd=self.repo)
        if unreadable is not None and delete_branch:
            raise PortError(
                unreadable.kind,
                f"worktree {name!r} removed, but its branch is kept: which branch it was made "
                f"with cannot be read ({unreadable})",
                port=PORT,
            )
        if owned is not None:
            await self._delete_branch(name, *owned)

    async def diff(self, name: str, *, max_bytes: int = 1_000_000) -> WorktreeDiff:
        path, isolated = await self._locate(name)
        async with scratch_index() as index:
            if isolated is not None:
                base, exclude = isolated.base, isolated.exclude
                tree = await self._isolated.work_tree(path, isolated, index, base)
            else:
                meta = await read_meta(self._git, path, name)
                base, exclude = meta.base, meta.exclude
                tree = await stage_tree(self._git, path, start="HEAD", exclude=exclude, index=index)
        # Two trees of the shared object store: read in the operator's repository.
        spec = ["--", *pathspec(exclude)]
        names = await self._git.run(
            ["diff", "--name-only", "-z", *_DIFF, base, tree, *spec], cwd=self.repo
        )
        sink = PatchSink(max_bytes)
        patch = ["diff", *_DIFF, "--src-prefix=a/", "--dst-prefix=b/", base, tree]
        await self._git.run([*patch, *spec], cwd=self.repo, sink=sink)
        return WorktreeDiff(paths=tuple(sorted(names.fields())), patch=sink.patch())

    async def commit(self, name: str, message: str) -> str | None:
        if not message.strip():
            raise PortError("invalid", "a commit needs a message", port=PORT)
        path, isolated = await self._locate(name)
        if isolated is not None:
            return await self._isolated.commit(name, path, isolated, message)
        meta = await read_meta(self._git, path, name)
        return await commit_checkout(self._git, path, meta.exclude, message, branch=meta.branch)

    async def tracked_files(self, name: str) -> list[TrackedFile]:
        path, isolated = await self._locate(name)
        if isolated is not None:
            paths = await self._isolated.tracked(isolated)
        else:
            meta = await read_meta(self._git, path, name)
            tree = ["ls-tree", "-r", "--name-only", "--full-tree", "HEAD"]
            out = await self._git.run(tree, cwd=path)
            paths = [p for p in out.lines() if not is_under(p, meta.exclude)]
        return await anyio.to_thread.run_sync(files_on_disk, path, sorted(paths))

    async def read_file(self, name: str, path: str, *, max_bytes: int = 1_000_000) -> bytes:
        root, _ = await self._locate(name)
        rel = check_relpath(path, port=PORT)
        target = contained(root, root / rel, port=PORT, what="path")
        try:
            return await anyio.to_thread.run_sync(read_bounded, target, max(max_bytes, 0))
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
            raise PortError("not_found", f"{name}: no file {rel!r}", port=PORT) from None
        except OSError as exc:
            raise PortError("failed", f"{name}: cannot read {rel!r}: {exc}", port=PORT) from None

    # ------------------------------------------------------------------ internals
    async def _locate(self, name: str) -> tuple[Path, IsolatedMeta | None]:
        """The worktree's path, with its record when it is an isolated checkout."""
        check_name(name, port=PORT)
        path = contained(self.root, self.root / name, port=PORT, what="worktree")
        isolated = await self._isolated.meta(name)
        if isolated is not None and path.is_dir():
            return path, isolated
        if isolated is None and (path / ".git").is_file():
            return path, None
        raise PortError("not_found", f"no worktree {name!r} under {self.root}", port=PORT)

    async def _resolve(self, base: str) -> str:
        if not base or base.startswith("-"):
            raise PortError("invalid", f"base {base!r} is not a commit-ish", port=PORT)
        args = ["rev-parse", "--verify", "--quiet", "--end-of-options", f"{base}^{{commit}}"]
        out = await self._git.run(args, cwd=self.repo, ok=(0, 1))
        if out.code != 0 or not out.text():
            raise PortError("not_found", f"unknown base {base!r} in {self.repo}", port=PORT)
        return out.text()

    async def _created_branch(self, path: Path) -> tuple[str, str] | None:
        """``(branch, head)`` of the branch made for the worktree at ``path``; ``None`` when it
        is no worktree of this repository, has no ``hydra.branch`` record (not made by this
        port, or half made) or its branch is gone already."""
        listed = await self._git.run(["worktree", "list", "--porcelain", "-z"], cwd=self.repo)
        if all(entry.path != path for entry in parse_worktree_list(listed.fields())):
            return None
        # The worktree's own config file, read directly: no fallback to the shared config.
        where = await self._git.run(["rev-parse", "--git-path", "config.worktree"], cwd=path)
        record = ["config", "--file", str(path / where.text()), "--get-all", "hydra.branch"]
        found = (await self._git.run(record, cwd=path, ok=(0, 1))).lines()
        if not found:
            return None
        if len(found) > 1:
            raise PortError("failed", f"{len(found)} hydra.branch records in {path}", port=PORT)
        branch = check_branch(found[0], port=PORT)
        ref = ["rev-parse", "--verify", "--quiet", f"refs/heads/{branch}"]
        head = await self._git.run(ref, cwd=self.repo, ok=(0, 1))
        return (branch, head.text()) if head.code == 0 and head.text() else None

    async def _delete_branch(self, name: str, branch: str, head: str) -> None:
        """Delete ``branch`` if nobody has it checked out and it is still at ``head``."""
        listed = await self._git.run(["worktree", "list", "--porcelain", "-z"], cwd=self.repo)
        holders = [
            entry.path
            for entry in parse_worktree_list(listed.fields())
            if entry.branch == branch and not entry.prunable
        ]
        if holders:
            raise PortError(
                "conflict",
                f"worktree {name!r} removed, but its branch {branch!r} is kept: it is checked "
                f"out at {holders[0]}",
                port=PORT,
            )
        delete = ["update-ref", "-m", "hydra: worktree removed", "-d", f"refs/heads/{branch}"]
        if (await self._git.run([*delete, head], cwd=self.repo, ok=(0, 1))).code == 0:
            return
        now = await self._git.run(self._ref_check(branch), cwd=self.repo, ok=(0, 1))
        if now.code == 0:  # moved since the worktree was read: someone else's commit now
            raise PortError(
                "conflict",
                f"worktree {name!r} removed, but its branch {branch!r} is kept: it moved from "
                f"{head} while the worktree was being removed",
                port=PORT,
            )

    @staticmethod
    def _ref_check(branch: str) -> list[str]:
        return ["show-ref", "--verify", "--quiet", f"refs/heads/{branch}"]

    async def _discard(self, path: Path, branch: str, commit: str) -> None:
        """Undo a half-made worktree (also when cancelled): directory, registration, branch."""
        with anyio.CancelScope(shield=True), anyio.move_on_after(_CLEANUP_LIMIT_S):
            remove = ["worktree", "remove", "--force", "--force", str(path)]
            with contextlib.suppress(PortError):
                await self._git.run(remove, cwd=self.repo, ok=(0, 128))
            with contextlib.suppress(OSError):
                await anyio.to_thread.run_sync(rmtree, path)
            with contextlib.suppress(PortError):
                await self._git.run(["worktree", "prune"], cwd=self.repo)
            # Only while the branch is still where this call created it: nobody's work yet.
            forget = ["update-ref", "-d", f"refs/heads/{branch}", commit]
            with contextlib.suppress(PortError):
                await self._git.run(forget, cwd=self.repo, ok=(0, 1, 128))
