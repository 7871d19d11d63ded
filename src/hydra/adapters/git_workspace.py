"""``GitWorkspace``: :class:`ports.WorkspacePort` over ``git worktree``, through the Runner.

Worktree ``N`` of the repository lives at ``<root>/N`` on its own new branch. How each rule of
the port is kept (see :mod:`._gitworktree` for the per-worktree config):

* **No pushes**: the worktree's own ``core.hooksPath`` names Hydra's hooks directory
  (``<root>/.hydra/hooks``), whose ``pre-push`` refuses. The repository's hooks and its main
  worktree are untouched (consequence: the repository's other hooks do not run in Hydra
  worktrees either).
* **Excluded paths**: a sparse checkout keeps them off the disk; every ``diff`` and ``commit``
  also names them as ``exclude`` pathspecs and ``commit`` resets their index entries to the
  branch's version, so neither an agent's file at that path nor anything it staged there
  reaches a commit or a diff.
* **Diff**: taken in a temporary index (``GIT_INDEX_FILE``) built from the branch head plus
  ``git add -A`` of the worktree, so untracked files show up and what the agent staged is
  left alone. The blobs this hashes are loose objects that ``git gc`` reclaims.
* **Commit**: ``git add -A`` into the worktree's own index, then ``git commit`` with Hydra's
  identity from the environment; no signing, no hooks.
* **Removal with its branch**: the branch comes from the worktree's ``hydra.branch`` record
  (the one ``create_worktree`` made, whatever the checkout was switched to since), read with
  its head before the worktree goes. Once the worktree is removed, the branch is deleted only if
  no other worktree has it checked out and only while it still points at that head
  (``git update-ref -d <ref> <head>``); a worktree without the record keeps its branch.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Sequence
from pathlib import Path

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
from hydra.adapters._gitpatch import PatchSink
from hydra.adapters._gitpaths import (
    check_branch,
    check_name,
    check_relpath,
    contained,
    is_under,
    literal,
    pathspec,
)
from hydra.adapters._gitworktree import (
    configure,
    enable_worktree_config,
    install_hooks,
    parse_worktree_list,
    read_meta,
)
from hydra.runner import Runner
from ports import PortError, PortInfo, TrackedFile, WorkspacePort, Worktree, WorktreeDiff

PORT = "workspace"
_DIFF = ("--no-renames", "--no-color", "--no-ext-diff", "--no-textconv")
_CLEANUP_LIMIT_S = 30.0


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
        await anyio.to_thread.run_sync(install_hooks, self.hooks)
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
            await configure(
                self._git, path, base=commit, branch=branch, exclude=hidden, hooks=self.hooks
            )
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
        return sorted(found, key=lambda w: w.name)

    async def remove_worktree(self, name: str, *, delete_branch: bool = False) -> None:
        check_name(name, port=PORT)
        path = self.root / name
        contained(self.root, path, port=PORT, what="worktree")
        owned: tuple[str, str] | None = None
        unreadable: PortError | None = None
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
        if unreadable is not None:
            raise PortError(
                unreadable.kind,
                f"worktree {name!r} removed, but its branch is kept: which branch it was made "
                f"with cannot be read ({unreadable})",
                port=PORT,
            )
        if owned is not None:
            await self._delete_branch(name, *owned)

    async def diff(self, name: str, *, max_bytes: int = 1_000_000) -> WorktreeDiff:
        path = self._locate(name)
        meta = await read_meta(self._git, path, name)
        spec = ["--", *pathspec(meta.exclude)]
        async with scratch_index() as index:
            env = {"GIT_INDEX_FILE": index}
            await self._git.run(["read-tree", "HEAD"], cwd=path, env=env)
            await self._git.run(["add", "-A", *spec], cwd=path, env=env)
            names = await self._git.run(
                ["diff", "--cached", "--name-only", *_DIFF, meta.base, *spec], cwd=path, env=env
            )
            sink = PatchSink(max_bytes)
            patch = ["diff", "--cached", *_DIFF, "--src-prefix=a/", "--dst-prefix=b/", meta.base]
            await self._git.run([*patch, *spec], cwd=path, env=env, sink=sink)
        return WorktreeDiff(paths=tuple(sorted(names.lines())), patch=sink.patch())

    async def commit(self, name: str, message: str) -> str | None:
        if not message.strip():
            raise PortError("invalid", "a commit needs a message", port=PORT)
        path = self._locate(name)
        meta = await read_meta(self._git, path, name)
        await self._git.run(["add", "-A", "--", *pathspec(meta.exclude)], cwd=path)
        if meta.exclude:
            keep = ["reset", "-q", "HEAD", "--", *map(literal, meta.exclude)]
            await self._git.run(keep, cwd=path)
        staged = await self._git.run(
            ["diff-index", "--cached", "--quiet", "HEAD", "--"], cwd=path, ok=(0, 1)
        )
        if staged.code == 0:
            return None
        await self._git.run(
            ["commit", "--no-verify", "--cleanup=verbatim", "--quiet", "--file=-"],
            cwd=path,
            stdin=message.encode(),
        )
        return (await self._git.run(["rev-parse", "--verify", "HEAD"], cwd=path)).text()

    async def tracked_files(self, name: str) -> list[TrackedFile]:
        path = self._locate(name)
        meta = await read_meta(self._git, path, name)
        out = await self._git.run(["ls-tree", "-r", "--name-only", "--full-tree", "HEAD"], cwd=path)
        paths = [p for p in out.lines() if not is_under(p, meta.exclude)]
        return await anyio.to_thread.run_sync(files_on_disk, path, sorted(paths))

    async def read_file(self, name: str, path: str, *, max_bytes: int = 1_000_000) -> bytes:
        root = self._locate(name)
        rel = check_relpath(path, port=PORT)
        target = contained(root, root / rel, port=PORT, what="path")
        try:
            return await anyio.to_thread.run_sync(read_bounded, target, max(max_bytes, 0))
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
            raise PortError("not_found", f"{name}: no file {rel!r}", port=PORT) from None
        except OSError as exc:
            raise PortError("failed", f"{name}: cannot read {rel!r}: {exc}", port=PORT) from None

    # ------------------------------------------------------------------ internals
    def _locate(self, name: str) -> Path:
        check_name(name, port=PORT)
        path = contained(self.root, self.root / name, port=PORT, what="worktree")
        if not (path / ".git").is_file():
            raise PortError("not_found", f"no worktree {name!r} under {self.root}", port=PORT)
        return path

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
