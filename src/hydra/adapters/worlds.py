"""Builds the :class:`ports.World` that settings choose: ``local``, ``github`` or ``fake``.

* ``local`` (the default): each managed repository's git checkout, the local issue inbox under
  the data dir, local branches as change requests, shell scenarios, agent CLIs from PATH.
  A failed fsync of an inbox file pulls ``fatal``, the daemon's :class:`hydra.fatal.FatalSignal`.
* ``github``: issues and pull requests through the ``gh`` CLI; worktrees and scenarios as in
  ``local``. Every repository needs ``github = "owner/name"``.
* ``fake``: the in-memory :class:`fakes.MockWorld` (``hydra run --demo``), seeded so the loops
  have something to do, its agent's spend metered into the cost ledger.
"""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from hydra.adapters.agent_claude import ClaudeAgent
from hydra.adapters.agent_codex import CodexAgent
from hydra.adapters.agent_select import choose_agent
from hydra.adapters.gh_changes import GhChanges
from hydra.adapters.gh_issues import GhIssues
from hydra.adapters.git_workspace import GitWorkspace
from hydra.adapters.host import PsutilHost
from hydra.adapters.inbox import LocalInbox
from hydra.adapters.local_changes import LocalChanges
from hydra.adapters.metered import CostSink, MeteredAgent
from hydra.adapters.shell_sandbox import ShellSandbox
from hydra.clock import SystemClock
from hydra.repos import ManagedRepo
from hydra.runner import Runner, Secret
from hydra.settings import HydraSettings
from hydra.statefile import UNLOCKED_TEMP_MIN_AGE_S, StateDir
from ports import AgentPort, ChangeRequestPort, IssuePort, RepoPorts, World

if TYPE_CHECKING:
    from hydra.fatal import FatalSignal

OnChangeEvent = Callable[[str, dict[str, object]], Awaitable[None]]


class WorldError(Exception):
    """The settings do not describe a usable world (one line for the operator)."""


def build_world(
    settings: HydraSettings,
    data_dir: Path,
    repos: Sequence[ManagedRepo],
    *,
    runner: Runner,
    cost_sink: CostSink,
    on_change_event: OnChangeEvent | None = None,
    fatal: FatalSignal | None = None,
) -> World:
    host = PsutilHost(data_dir, data_dir / "audit")
    if settings.world == "fake":
        return _fake_world(repos, host, cost_sink)
    ports: dict[str, RepoPorts] = {}
    for repo in repos:
        issues, changes = _tracker(
            settings, data_dir, repo, runner, on_change_event=on_change_event, fatal=fatal
        )
        ports[repo.name] = RepoPorts(
            name=repo.name,
            issues=issues,
            changes=changes,
            workspace=GitWorkspace(
                repo.path, repo.name, worktree_root(data_dir, repo.name), runner, fatal=fatal
            ),
            sandbox=ShellSandbox(runner, source=f"sandbox.shell:{repo.name}"),
        )
    return World(
        kind=settings.world,
        agent=_agent(settings, data_dir, runner),
        host=host,
        clock=SystemClock(),
        repos=ports,
    )


def worktree_root(data_dir: Path, repo: str) -> Path:
    """Where the worktrees of ``repo`` live (its :class:`GitWorkspace` root)."""
    return data_dir / "worktrees" / repo


def repo_state_dirs(data_dir: Path, repo: str) -> list[StateDir]:
    """The directories where this world's adapters of ``repo`` replace files through
    :func:`hydra.statefile.temp_path` temp files: the local inbox, the isolated checkouts'
    records and the worktrees' hooks (the daemon sweeps dead writers' temp files at start-up).

    The inbox is the one that writers without the data dir's lock share (``hydra issue``,
    maybe from another pid namespace): only temp files older than
    :data:`~hydra.statefile.UNLOCKED_TEMP_MIN_AGE_S` are stale there."""
    hydra = worktree_root(data_dir, repo) / ".hydra"
    return [
        StateDir(data_dir / "inbox" / repo, UNLOCKED_TEMP_MIN_AGE_S),
        StateDir(hydra / "isolated"),
        StateDir(hydra / "hooks"),
    ]


def stored_repos(data_dir: Path) -> list[str]:
    """The repositories with an inbox or a worktrees directory under ``data_dir``, configured
    or not: ``hydra issue`` files issues for any name, and a repository removed from the
    settings keeps its directories. Sorted, no duplicates; a directory that cannot be listed
    adds none, and a symlink is not followed out of the data dir."""
    names: set[str] = set()
    for parent in (data_dir / "inbox", data_dir / "worktrees"):
        try:
            with os.scandir(parent) as scan:
                names.update(e.name for e in scan if e.is_dir(follow_symlinks=False))
        except OSError:  # missing, or not listable: no repository to add
            continue
    return sorted(names)


def _tracker(
    settings: HydraSettings,
    data_dir: Path,
    repo: ManagedRepo,
    runner: Runner,
    *,
    on_change_event: OnChangeEvent | None,
    fatal: FatalSignal | None,
) -> tuple[IssuePort, ChangeRequestPort]:
    if settings.world == "github":
        if repo.github is None:
            raise WorldError(_missing_github(settings, repo))
        env = _secrets(settings.github.pass_env)
        gh = settings.github.command
        return (
            GhIssues(repo.github, runner, executable=gh, env=env),
            GhChanges(repo.github, runner, executable=gh, env=env),
        )
    return (
        LocalInbox(data_dir, repo.name, fatal=fatal),
        LocalChanges(repo.path, repo.name, runner, on_event=on_change_event),
    )


def _missing_github(settings: HydraSettings, repo: ManagedRepo) -> str:
    if repo.name in settings.repos:
        return f'repos.{repo.name}.github: required in the github world (github = "owner/name")'
    # No [repos] table: the daemon would manage the checkout it runs in, which names no
    # GitHub repository; say which table to add instead of naming one that does not exist.
    return (
        'world = "github" needs each repository to name its GitHub repository: add '
        f'[repos.{repo.name}] with path = "{repo.path}" and github = "owner/name"'
    )


def _agent(settings: HydraSettings, data_dir: Path, runner: Runner) -> AgentPort:
    agent = settings.agent
    keys = _secrets(agent.pass_env)
    transcripts = data_dir / "transcripts"
    claude = ClaudeAgent(
        runner=runner,
        transcripts_dir=transcripts,
        command=agent.claude.command,
        model=agent.claude.model,
        api_key=keys.get("ANTHROPIC_API_KEY"),
        permission_mode=agent.claude.permission_mode,
        allowed_tools=agent.claude.allowed_tools,
        max_turns=agent.claude.max_turns,
    )
    codex = CodexAgent(
        runner=runner,
        transcripts_dir=transcripts,
        command=agent.codex.command,
        model=agent.codex.model,
        api_key=keys.get("CODEX_API_KEY") or keys.get("OPENAI_API_KEY"),
        sandbox=agent.codex.sandbox,
    )
    return choose_agent(agent.provider, claude, codex)


def _secrets(names: Sequence[str]) -> dict[str, Secret]:
    return {name: Secret(os.environ[name]) for name in names if os.environ.get(name)}


def _fake_world(repos: Sequence[ManagedRepo], host: PsutilHost, cost_sink: CostSink) -> World:
    from fakes import MockWorld
    from hydra.adapters.demo import seed_demo

    mock = MockWorld(repos=[r.name for r in repos], now=datetime.now(UTC))
    seed_demo(mock)
    world = mock.world
    return World(
        kind="fake",
        agent=MeteredAgent(world.agent, cost_sink),
        host=host,
        clock=SystemClock(),
        repos=world.repos,
    )
