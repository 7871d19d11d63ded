"""Ports for a world that lacks a dependency: they say ``unconfigured`` and do nothing.

Used when, say, no agent CLI is on PATH or ``gh`` is missing. Loops surface the condition as
their tick status (``unconfigured``) instead of crashing; the health loop lists these ports.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NoReturn

from ports import (
    AgentLimits,
    AgentPort,
    AgentResult,
    ChangedFile,
    ChangeRequest,
    ChangeRequestPort,
    Issue,
    IssuePort,
    IssueState,
    PortError,
    PortInfo,
    SandboxPort,
    Scenario,
    ScenarioResult,
    TrackedFile,
    Verdict,
    WorkspacePort,
    Worktree,
    WorktreeDiff,
)


class _Unconfigured:
    port = "port"

    def __init__(self, why: str) -> None:
        self._why = why

    def info(self) -> PortInfo:
        return PortInfo(implementation="none", state="unconfigured", detail=self._why)

    def _refuse(self) -> NoReturn:
        raise PortError("unconfigured", self._why, port=self.port)


class UnconfiguredAgent(_Unconfigured, AgentPort):
    port = "agent"

    async def run(
        self, *, prompt: str, workdir: str, limits: AgentLimits, source: str
    ) -> AgentResult:
        return AgentResult(status="unconfigured", summary=self._why, provider="none")


class UnconfiguredIssues(_Unconfigured, IssuePort):
    port = "issues"

    async def list_issues(
        self,
        *,
        labels: Sequence[str] = (),
        exclude_labels: Sequence[str] = (),
        state: IssueState = "open",
        limit: int = 100,
    ) -> list[Issue]:
        self._refuse()

    async def get_issue(self, issue_id: str) -> Issue:
        self._refuse()

    async def create_issue(self, title: str, body: str = "", labels: Sequence[str] = ()) -> Issue:
        self._refuse()

    async def comment(self, issue_id: str, body: str) -> None:
        self._refuse()

    async def add_label(self, issue_id: str, label: str) -> None:
        self._refuse()

    async def remove_label(self, issue_id: str, label: str) -> None:
        self._refuse()

    async def close_issue(self, issue_id: str) -> None:
        self._refuse()


class UnconfiguredChanges(_Unconfigured, ChangeRequestPort):
    port = "changes"

    async def list_open(self) -> list[ChangeRequest]:
        self._refuse()

    async def get_change(self, change_id: str) -> ChangeRequest:
        self._refuse()

    async def changed_files(self, change_id: str) -> list[ChangedFile]:
        self._refuse()

    async def diff(self, change_id: str, *, max_bytes: int = 1_000_000) -> str:
        self._refuse()

    async def open_change(
        self, *, branch: str, base: str, title: str, body: str = ""
    ) -> ChangeRequest:
        self._refuse()

    async def post_review(self, change_id: str, verdict: Verdict, body: str) -> None:
        self._refuse()

    async def merge(self, change_id: str, *, expected_head: str | None = None) -> None:
        self._refuse()


class UnconfiguredWorkspace(_Unconfigured, WorkspacePort):
    port = "workspace"

    async def create_worktree(
        self, name: str, *, branch: str, base: str = "HEAD", exclude: Sequence[str] = ()
    ) -> Worktree:
        self._refuse()

    async def list_worktrees(self) -> list[Worktree]:
        self._refuse()

    async def remove_worktree(self, name: str, *, delete_branch: bool = False) -> None:
        self._refuse()

    async def diff(self, name: str, *, max_bytes: int = 1_000_000) -> WorktreeDiff:
        self._refuse()

    async def commit(self, name: str, message: str) -> str | None:
        self._refuse()

    async def tracked_files(self, name: str) -> list[TrackedFile]:
        self._refuse()

    async def read_file(self, name: str, path: str, *, max_bytes: int = 1_000_000) -> bytes:
        self._refuse()


class UnconfiguredSandbox(_Unconfigured, SandboxPort):
    port = "sandbox"

    async def run_scenarios(
        self, scenarios: Sequence[Scenario], *, workdir: str
    ) -> list[ScenarioResult]:
        self._refuse()
