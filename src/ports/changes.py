"""The change-request port: pull requests on GitHub, local branches in the local world."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Protocol, runtime_checkable

from ports._info import PortInfo
from ports._marks import mutating

ChangeState = Literal["open", "merged", "closed"]
FileStatus = Literal["added", "modified", "deleted", "renamed"]
Verdict = Literal["approve", "veto", "comment"]


@dataclass(frozen=True)
class ChangeRequest:
    id: str
    """``"17"`` for a pull request; the branch name in the local world."""
    title: str
    branch: str
    base: str
    head_sha: str
    state: ChangeState
    author: str = ""
    url: str | None = None
    body: str = ""


@dataclass(frozen=True)
class ChangedFile:
    path: str
    status: FileStatus
    additions: int
    deletions: int


def _shadow_change(*, branch: str, base: str, title: str, body: str = "") -> ChangeRequest:
    return ChangeRequest(
        id="shadow", title=title, branch=branch, base=base, head_sha="", state="open", body=body
    )


@runtime_checkable
class ChangeRequestPort(Protocol):
    """Open change requests of one repository, their diffs, reviews and merges.

    Raises :class:`ports.errors.PortError` (``not_found`` for an unknown id, ``conflict`` when a
    merge cannot be done) and :class:`ports.errors.AuthFailed`. Cancellation aborts the call.
    """

    def info(self) -> PortInfo:
        """Which implementation this is and whether it is usable."""
        ...

    async def list_open(self) -> list[ChangeRequest]:
        """Every open change request, oldest first."""
        ...

    async def get_change(self, change_id: str) -> ChangeRequest:
        """Metadata of one change request."""
        ...

    async def changed_files(self, change_id: str) -> list[ChangedFile]:
        """Paths the change touches against its base, with line counts."""
        ...

    async def diff(self, change_id: str, *, max_bytes: int = 1_000_000) -> str:
        """Unified diff against the base.

        Cut at ``max_bytes``, ending with :data:`ports.TRUNCATION_MARKER`.
        """
        ...

    @mutating("open_change", shadow=_shadow_change)
    async def open_change(
        self, *, branch: str, base: str, title: str, body: str = ""
    ) -> ChangeRequest:
        """Open a change request for ``branch`` (returns the existing one if already open)."""
        ...

    @mutating("review")
    async def post_review(self, change_id: str, verdict: Verdict, body: str) -> None:
        """Record a review with a verdict; ``veto`` blocks the change (request changes)."""
        ...

    @mutating("merge")
    async def merge(self, change_id: str, *, expected_head: str | None = None) -> None:
        """Merge the change into its base; merging a merged change does nothing.

        With ``expected_head`` (a full commit id, as :attr:`ChangeRequest.head_sha` gives it)
        exactly that commit is merged or nothing is: when the change's head is no longer
        ``expected_head`` the call raises ``PortError("conflict")`` saying the head moved, and
        changes nothing. The check holds up to the merge itself, so a commit pushed after it is
        never merged unseen. A change already merged at another head is such a conflict too
        (at ``expected_head`` it does nothing). Without it the head is merged as it is then.

        Raises ``PortError("conflict")`` while the change is closed, the latest verdict is a
        veto, or git (or the hosting service) cannot merge.
        """
        ...
