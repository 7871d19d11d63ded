"""``MockWorld``: every Fake wired into one :class:`ports.World`, with seeding helpers."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, MutableMapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from types import MappingProxyType

from fakes._agent import FakeAgent
from fakes._changes import FakeChanges
from fakes._clock import EPOCH, FakeClock
from fakes._files import Content
from fakes._host import FakeHost
from fakes._issues import FakeIssues
from fakes._sandbox import FakeSandbox
from fakes._workspace import FakeWorkspace
from ports import ChangeRequest, Comment, Issue, IssueState, RepoPorts, World

DEFAULT_REPO = "demo"
DEFAULT_FILES: Mapping[str, Content] = {"README.md": "# demo\n"}


@dataclass(frozen=True)
class FakeRepo:
    """The Fakes of one managed repository, typed as Fakes for assertions."""

    name: str
    issues: FakeIssues
    changes: FakeChanges
    workspace: FakeWorkspace
    sandbox: FakeSandbox

    def ports(self) -> RepoPorts:
        return RepoPorts(self.name, self.issues, self.changes, self.workspace, self.sandbox)


class MockWorld:
    """A deterministic in-memory world: one clock, host and agent; per repository the issues,
    change requests, workspace and sandbox Fakes, wired together.

    The agent and the sandboxes see the worktrees of every repository's workspace, change
    requests read branches from their repository's workspace, and everything tells time by
    :attr:`clock`. :attr:`world` is a live view: repositories added later appear in it.

    Repository-scoped helpers take ``repo=None`` to mean the first repository.
    """

    def __init__(
        self,
        repos: Sequence[str] | Mapping[str, Mapping[str, Content]] = (DEFAULT_REPO,),
        *,
        now: datetime = EPOCH,
    ) -> None:
        self.clock = FakeClock(now)
        self.host = FakeHost()
        self.agent = FakeAgent(workdirs=self, clock=self.clock)
        self._repos: dict[str, FakeRepo] = {}
        self._ports: dict[str, RepoPorts] = {}
        self.world = World(
            kind="fake",
            agent=self.agent,
            host=self.host,
            clock=self.clock,
            repos=MappingProxyType(self._ports),
        )
        for name in repos:
            files = repos[name] if isinstance(repos, Mapping) else DEFAULT_FILES
            self.add_repo(name, base_files=files)

    def add_repo(self, name: str, *, base_files: Mapping[str, Content] | None = None) -> FakeRepo:
        """Manage one more repository, its default branch holding ``base_files``."""
        if name in self._repos:
            raise ValueError(f"repository {name!r} already exists")
        workspace = FakeWorkspace(base_files, repo=name)
        repo = FakeRepo(
            name=name,
            issues=FakeIssues(clock=self.clock),
            changes=FakeChanges(source=workspace),
            workspace=workspace,
            sandbox=FakeSandbox(workdirs=self, clock=self.clock),
        )
        self._repos[name] = repo
        self._ports[name] = repo.ports()
        return repo

    # ------------------------------------------------------------------ access
    def repo(self, name: str | None = None) -> FakeRepo:
        """The Fakes of repository ``name`` (the first one when ``None``)."""
        if name is None:
            if not self._repos:
                raise LookupError("this MockWorld has no repository")
            return next(iter(self._repos.values()))
        try:
            return self._repos[name]
        except KeyError:
            raise KeyError(f"unknown repository {name!r}") from None

    def issues(self, repo: str | None = None) -> FakeIssues:
        return self.repo(repo).issues

    def changes(self, repo: str | None = None) -> FakeChanges:
        return self.repo(repo).changes

    def workspace(self, repo: str | None = None) -> FakeWorkspace:
        return self.repo(repo).workspace

    def sandbox(self, repo: str | None = None) -> FakeSandbox:
        return self.repo(repo).sandbox

    def files_at(self, workdir: str) -> MutableMapping[str, bytes] | None:
        """The live files of whichever repository's worktree lives at ``workdir``."""
        for repo in self._repos.values():
            found = repo.workspace.files_at(workdir)
            if found is not None:
                return found
        return None

    # ------------------------------------------------------------------ seeding
    def seed_issue(
        self,
        title: str,
        body: str = "",
        labels: Iterable[str] = (),
        *,
        repo: str | None = None,
        state: IssueState = "open",
        comments: Iterable[Comment] = (),
        created_at: datetime | None = None,
    ) -> Issue:
        return self.issues(repo).seed_issue(
            title, body, labels, state=state, comments=comments, created_at=created_at
        )

    def seed_change(
        self,
        title: str,
        *,
        repo: str | None = None,
        branch: str | None = None,
        base: str = "main",
        files: Mapping[str, Content | None] | None = None,
        body: str = "",
        author: str = "someone",
    ) -> ChangeRequest:
        return self.changes(repo).seed_change(
            title, branch=branch, base=base, files=files, body=body, author=author
        )

    def seed_files(self, files: Mapping[str, Content | None], *, repo: str | None = None) -> str:
        """Commit ``files`` onto the repository's default branch; the commit id."""
        return self.workspace(repo).seed_files(files)
