"""The workspace port: isolated git worktrees where agents and audits do their work."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from ports._info import PortInfo
from ports._marks import mutating


@dataclass(frozen=True)
class Worktree:
    name: str
    path: str
    """Absolute path, always inside the data dir's worktree root."""
    branch: str
    base: str
    """The commit-ish the branch was created from."""


@dataclass(frozen=True)
class TrackedFile:
    path: str
    """Relative to the worktree root, ``/``-separated."""
    size: int


@dataclass(frozen=True)
class WorktreeDiff:
    paths: tuple[str, ...]
    """Every path changed against the base, committed or not (untracked files included)."""
    patch: str
    """Unified diff, cut at the requested size with a marker line."""


def _shadow_commit(name: str, message: str) -> str | None:
    return None


@runtime_checkable
class WorkspacePort(Protocol):
    """Git worktrees of one repository under the data dir's worktree root.

    Worktrees refuse pushes, ``git push --no-verify`` included (a pre-push hook, and no
    transport to another repository in their git configuration): publishing work is the
    change-request port's job. That configuration stops mistakes, not a determined agent, which
    can override it on git's command line. Worktrees are no sandbox: an agent runs as the
    daemon's user and can read, on disk, whatever that user can, the operator's checkout and
    repository included. Every
    name and path is validated to stay inside the worktree root; a name that would escape it
    raises ``PortError("invalid", …)``. Other failures raise :class:`ports.errors.PortError`.
    Cancellation aborts the git call; a half-created worktree is removed by ``remove_worktree``.
    """

    def info(self) -> PortInfo:
        """Which repository this is and whether it is usable."""
        ...

    async def create_worktree(
        self, name: str, *, branch: str, base: str = "HEAD", exclude: Sequence[str] = ()
    ) -> Worktree:
        """Create worktree ``name`` on a new ``branch`` from ``base`` (``"HEAD"``: the default
        branch). An existing name or branch raises ``PortError("conflict")``.

        Paths in ``exclude`` (files or directories, relative) are absent from the worktree's
        directory, never appear in :meth:`diff`, and are neither added nor deleted by
        :meth:`commit`, so its commits leave them as they were. Nor are they in the git object
        store the worktree uses (no ``git show <base>:<path>``, no ``git log -p`` from inside),
        while its commits still land on ``branch`` of the repository. What that does not
        stop: a process that reads the operator's checkout or repository directly, or points
        git at it (``git -C <path>``, a fetch with transports re-enabled on the command line).
        Keeping excluded content from an agent entirely needs an OS-level sandbox.
        """
        ...

    async def list_worktrees(self) -> list[Worktree]:
        """Worktrees this port created and that still exist."""
        ...

    async def remove_worktree(self, name: str, *, delete_branch: bool = False) -> None:
        """Remove worktree ``name`` with its files, uncommitted work included. Removing a missing
        one is not an error and does nothing (whatever ``delete_branch`` says).

        The worktree's branch stays unless ``delete_branch`` is true: then the branch this port
        created for it (the ``branch`` given to :meth:`create_worktree`) is deleted as well,
        merged or not (the caller is done with it). Only that branch, ever: not one the
        worktree's checkout was switched to since, not its base, and nothing for a worktree
        this port did not create (those branches stay). A branch that is already gone is not an
        error. A branch checked out by another worktree, or moved by someone else while the
        worktree was being removed, is kept, and the call raises ``PortError("conflict")`` once
        the worktree itself is removed. The branch is known through its worktree only: once the
        worktree is gone, a later call cannot delete it.
        """
        ...

    async def diff(self, name: str, *, max_bytes: int = 1_000_000) -> WorktreeDiff:
        """Changes in the worktree against its base, including uncommitted and untracked files.

        A patch longer than ``max_bytes`` is cut and ends with :data:`ports.TRUNCATION_MARKER`.
        """
        ...

    @mutating("commit", shadow=_shadow_commit)
    async def commit(self, name: str, message: str) -> str | None:
        """Commit everything in the worktree; the new commit id, or ``None`` if nothing changed."""
        ...

    async def tracked_files(self, name: str) -> list[TrackedFile]:
        """Committed files of the worktree's branch (not uncommitted ones), with sizes."""
        ...

    async def read_file(self, name: str, path: str, *, max_bytes: int = 1_000_000) -> bytes:
        """Up to ``max_bytes`` of one file of the worktree."""
        ...
