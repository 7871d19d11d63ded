"""What a contract suite needs from an implementation besides the port itself.

A factory (registered in ``conftest.py``) builds one of these for its implementation; the
suites only ever talk to the port and to these hooks, never to an implementation's internals.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from ports import AgentPort, ChangeRequestPort, SandboxPort, Scenario, WorkspacePort, Worktree

BASE_FILES: Mapping[str, bytes] = {
    "README.md": b"# sample\n\nA repository for contract tests.\n",
    "src/app.py": b"def answer():\n    return 41\n",
    "src/util.py": b"def double(x):\n    return 2 * x\n",
    "holdout/test_answer.py": (
        b"from src.app import answer\n\n\ndef test():\n    assert answer() == 42\n"
    ),
    "docs/notes.md": b"private notes\n",
}
"""The repository every workspace and change-request implementation starts from: committed on
its default branch, which ``ChangesHarness.base`` names and ``HEAD`` points at."""

SUCCESS_FILE = "AGENT_NOTES.md"
SUCCESS_TEXT = b"done\n"
"""What an agent told to ``succeed`` writes into its workdir."""


@dataclass(frozen=True)
class FactoryContext:
    tmp_path: Path
    """A fresh directory for this test only."""
    add_finalizer: Callable[[Callable[[], object]], None]
    """Register cleanup (stop a server, kill a process) to run after the test."""


Factory = Callable[[FactoryContext], Any]
"""Builds the port (issues, host, clock) or the harness (the others) a suite expects."""


@dataclass(frozen=True)
class WorkspaceHarness:
    port: WorkspacePort
    """A workspace of a repository holding :data:`BASE_FILES`, with no worktree yet."""
    write: Callable[[Worktree, str, bytes], None]
    """Write a file into a worktree the way an agent would (uncommitted)."""
    delete: Callable[[Worktree, str], None]
    """Delete a file from a worktree the way an agent would (uncommitted)."""


@dataclass(frozen=True)
class ChangesHarness:
    port: ChangeRequestPort
    """Change requests of a repository holding :data:`BASE_FILES`, none open yet."""
    base: str
    """The default branch's name."""
    push_branch: Callable[[str, Mapping[str, bytes | None]], Awaitable[str]]
    """Create ``branch`` from ``base`` with these changes committed (``None`` deletes a path)
    and publish it where the port can see it; returns the branch's head commit id."""
    push_commit: Callable[[str, Mapping[str, bytes | None]], Awaitable[str]]
    """Add a commit with these changes on top of the existing pushed ``branch`` (someone pushing
    again); returns the branch's new head commit id."""


AgentBehaviour = Literal["succeed", "fail", "timeout", "budget", "crash", "credit", "auth"]


@dataclass(frozen=True)
class AgentHarness:
    make: Callable[[AgentBehaviour], AgentPort]
    """An agent whose next run does this. ``succeed`` writes :data:`SUCCESS_FILE`;
    ``timeout`` runs past ``limits.wall_clock_s`` and ``budget`` past ``limits.max_usd`` (the
    suite passes small limits); ``credit`` and ``auth`` meet those terminal conditions."""
    unconfigured: Callable[[], AgentPort]
    """An agent with no CLI available."""
    workdir: str
    """A usable workdir for the runs."""
    read: Callable[[str], bytes | None]
    """A file of ``workdir`` after a run, ``None`` if absent."""


SandboxExpectation = Literal["pass", "fail", "timeout"]


@dataclass(frozen=True)
class SandboxHarness:
    port: SandboxPort
    workdir: str
    """A usable workdir."""
    missing_workdir: str
    """A workdir that does not exist."""
    scenario: Callable[[str, SandboxExpectation], Scenario]
    """A scenario named so that will pass, fail (exit code 3) or outlive its timeout there."""
