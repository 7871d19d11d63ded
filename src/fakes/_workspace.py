"""Worktrees as in-memory file trees over a tiny branch history: git's behaviour, no git."""

from __future__ import annotations

import re
from collections.abc import Mapping, MutableMapping, Sequence
from dataclasses import dataclass, field

from fakes._faults import Faults
from fakes._files import (
    Content,
    as_bytes,
    changed_paths,
    check_relpath,
    cut_patch,
    tree_id,
    tree_of,
    unified_patch,
    within,
    without,
)
from ports import PortError, PortInfo, TrackedFile, WorkspacePort, Worktree, WorktreeDiff

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")
_BAD_BRANCH = re.compile(r"(^[-/.])|\.\.|[\s~^:?*\[\\]|@\{|//|/$|\.lock$|\.$")

_METHODS = (
    "create_worktree",
    "list_worktrees",
    "remove_worktree",
    "diff",
    "commit",
    "tracked_files",
    "read_file",
)


@dataclass(frozen=True)
class Commit:
    """One commit made through :meth:`FakeWorkspace.commit` (or by seeding base files)."""

    id: str
    branch: str
    message: str
    paths: tuple[str, ...]
    """Paths this commit changed against its parent."""


@dataclass
class _Branch:
    head: str
    tree: dict[str, bytes]


@dataclass
class _Checkout:
    worktree: Worktree
    base_tree: dict[str, bytes]
    files: dict[str, bytes]
    exclude: tuple[str, ...]
    commits: list[Commit] = field(default_factory=list)


class FakeWorkspace(WorkspacePort):
    """:class:`ports.WorkspacePort` over in-memory trees of one repository.

    The repository starts with ``base_files`` on ``default_branch`` (``HEAD`` names it).
    Worktree paths are virtual (``<root>/<name>``), nothing touches the disk. Stage an agent's
    edits with :meth:`write` / :meth:`delete` and inspect the result with :meth:`files`,
    :meth:`commits` and :meth:`branch_tree`.
    """

    def __init__(
        self,
        base_files: Mapping[str, Content] | None = None,
        *,
        repo: str = "demo",
        root: str | None = None,
        default_branch: str = "main",
    ) -> None:
        self.repo = repo
        self.root = (root or f"/fake/worktrees/{repo}").rstrip("/")
        self.default_branch = default_branch
        tree = tree_of(base_files or {}, port="workspace")
        self._branches = {default_branch: _Branch(tree_id(tree, "base"), tree)}
        self._commits: dict[str, dict[str, bytes]] = {self._branches[default_branch].head: tree}
        self._checkouts: dict[str, _Checkout] = {}
        self.faults = Faults(_METHODS)

    # ------------------------------------------------------------------ the port
    def info(self) -> PortInfo:
        return PortInfo(implementation="fake", state="configured", detail=self.root)

    async def create_worktree(
        self, name: str, *, branch: str, base: str = "HEAD", exclude: Sequence[str] = ()
    ) -> Worktree:
        self.faults.check("create_worktree")
        _check_name(name)
        if not branch or branch == "HEAD" or _BAD_BRANCH.search(branch):
            raise PortError("invalid", f"{branch!r} is not a valid branch name", port="workspace")
        hidden = tuple(check_relpath(path, port="workspace") for path in exclude)
        if name in self._checkouts:
            raise PortError("conflict", f"worktree {name!r} already exists", port="workspace")
        if branch in self._branches:
            raise PortError("conflict", f"branch {branch!r} already exists", port="workspace")
        start = self._resolve(base)
        self._branches[branch] = _Branch(self._head_of(base), dict(start))
        worktree = Worktree(name=name, path=f"{self.root}/{name}", branch=branch, base=base)
        self._checkouts[name] = _Checkout(
            worktree=worktree, base_tree=dict(start), files=without(start, hidden), exclude=hidden
        )
        return worktree

    async def list_worktrees(self) -> list[Worktree]:
        self.faults.check("list_worktrees")
        return [c.worktree for _, c in sorted(self._checkouts.items())]

    async def remove_worktree(self, name: str, *, delete_branch: bool = False) -> None:
        self.faults.check("remove_worktree")
        _check_name(name)
        checkout = self._checkouts.pop(name, None)
        if checkout is not None and delete_branch:
            # The branch create_worktree made for it (a fake checkout never switches branches);
            # its commits stay reachable by id, as git keeps objects until they are collected.
            branch = checkout.worktree.branch
            if branch != self.default_branch:
                self._branches.pop(branch, None)

    async def diff(self, name: str, *, max_bytes: int = 1_000_000) -> WorktreeDiff:
        self.faults.check("diff")
        checkout = self._checkout(name)
        old = without(checkout.base_tree, checkout.exclude)
        new = without(checkout.files, checkout.exclude)
        return WorktreeDiff(
            paths=tuple(changed_paths(old, new)),
            patch=cut_patch(unified_patch(old, new), max_bytes),
        )

    async def commit(self, name: str, message: str) -> str | None:
        self.faults.check("commit")
        checkout = self._checkout(name)
        if not message.strip():
            raise PortError("invalid", "a commit needs a message", port="workspace")
        branch = self._branches[checkout.worktree.branch]
        # Excluded paths keep whatever the branch holds: an agent can neither add nor delete them.
        tree = without(checkout.files, checkout.exclude) | within(branch.tree, checkout.exclude)
        if tree == branch.tree:
            return None
        commit_id = tree_id(tree, branch.head, message)
        paths = tuple(changed_paths(branch.tree, tree))
        branch.head, branch.tree = commit_id, tree
        self._commits[commit_id] = dict(tree)
        checkout.commits.append(Commit(commit_id, checkout.worktree.branch, message, paths))
        return commit_id

    async def tracked_files(self, name: str) -> list[TrackedFile]:
        self.faults.check("tracked_files")
        checkout = self._checkout(name)
        committed = without(self._branches[checkout.worktree.branch].tree, checkout.exclude)
        return [
            TrackedFile(path=path, size=len(checkout.files[path]))
            for path in sorted(committed)
            if path in checkout.files
        ]

    async def read_file(self, name: str, path: str, *, max_bytes: int = 1_000_000) -> bytes:
        self.faults.check("read_file")
        checkout = self._checkout(name)
        rel = check_relpath(path, port="workspace")
        try:
            return checkout.files[rel][: max(max_bytes, 0)]
        except KeyError:
            raise PortError("not_found", f"{name}: no file {rel!r}", port="workspace") from None

    # ------------------------------------------------------------------ for tests
    def write(self, name: str, path: str, data: Content) -> None:
        """Write a file into worktree ``name`` (as an agent would, uncommitted)."""
        self._checkout(name).files[check_relpath(path, port="workspace")] = as_bytes(data)

    def delete(self, name: str, path: str) -> None:
        """Delete a file from worktree ``name`` (missing files are ignored)."""
        self._checkout(name).files.pop(check_relpath(path, port="workspace"), None)

    def files(self, name: str) -> dict[str, bytes]:
        """A copy of what worktree ``name`` holds now."""
        return dict(self._checkout(name).files)

    def commits(self, name: str) -> list[Commit]:
        """Commits made in worktree ``name``, oldest first."""
        return list(self._checkout(name).commits)

    def files_at(self, workdir: str) -> MutableMapping[str, bytes] | None:
        """The live file tree of the worktree at path ``workdir``, or ``None``."""
        prefix = self.root + "/"
        if not workdir.startswith(prefix):
            return None
        checkout = self._checkouts.get(workdir.removeprefix(prefix).rstrip("/"))
        return checkout.files if checkout else None

    def branch_tree(self, branch: str) -> dict[str, bytes] | None:
        """The committed tree of ``branch`` (``HEAD`` is the default branch), or ``None``."""
        found = self._branches.get(self.default_branch if branch == "HEAD" else branch)
        return dict(found.tree) if found else None

    def branch_head(self, branch: str) -> str | None:
        """The commit id at the tip of ``branch``, or ``None``."""
        found = self._branches.get(self.default_branch if branch == "HEAD" else branch)
        return found.head if found else None

    def seed_files(self, files: Mapping[str, Content | None], *, branch: str | None = None) -> str:
        """Commit ``files`` (``None`` deletes a path) straight onto a branch; the commit id."""
        target = self._branches[branch or self.default_branch]
        tree = dict(target.tree)
        for path, data in files.items():
            rel = check_relpath(path, port="workspace")
            if data is None:
                tree.pop(rel, None)
            else:
                tree[rel] = as_bytes(data)
        target.head = tree_id(tree, target.head, "seed")
        target.tree = tree
        self._commits[target.head] = dict(tree)
        return target.head

    # ------------------------------------------------------------------ internals
    def _checkout(self, name: str) -> _Checkout:
        _check_name(name)
        try:
            return self._checkouts[name]
        except KeyError:
            raise PortError("not_found", f"no worktree {name!r}", port="workspace") from None

    def _resolve(self, base: str) -> dict[str, bytes]:
        tree = self.branch_tree(base)
        if tree is None:
            tree = self._commits.get(base)
        if tree is None:
            raise PortError("not_found", f"unknown base {base!r}", port="workspace")
        return dict(tree)

    def _head_of(self, base: str) -> str:
        return self.branch_head(base) or base


def _check_name(name: str) -> None:
    if not _NAME.fullmatch(name) or ".." in name:
        raise PortError(
            "invalid",
            f"worktree name {name!r}: letters, digits, '.', '_' or '-', no path parts",
            port="workspace",
        )
