"""Deterministic in-memory Fakes, one per port, and the ``MockWorld`` that bundles them.

Fakes are product code: ``hydra run --demo`` acts on a ``MockWorld`` and every loop test uses
one. They record what happened (issues with their labels and comments, reviews per change,
merges, worktree files and commits, agent runs, sandbox runs, sleeps) so tests assert on
state, and they honour their port's documented errors. Nothing here does I/O, waits in real
time or draws random numbers.
"""

from __future__ import annotations

from fakes._agent import AgentCall, AgentOutcome, AgentRun, FakeAgent
from fakes._changes import BranchSource, FakeChanges, Review
from fakes._clock import EPOCH, FakeClock
from fakes._faults import Faults
from fakes._files import Workdirs
from fakes._host import FakeHost
from fakes._issues import FakeIssues
from fakes._sandbox import FakeSandbox, SandboxOutcome, SandboxRun
from fakes._workspace import Commit, FakeWorkspace
from fakes._world import FakeRepo, MockWorld

__all__ = [
    "EPOCH",
    "AgentCall",
    "AgentOutcome",
    "AgentRun",
    "BranchSource",
    "Commit",
    "FakeAgent",
    "FakeChanges",
    "FakeClock",
    "FakeHost",
    "FakeIssues",
    "FakeRepo",
    "FakeSandbox",
    "FakeWorkspace",
    "Faults",
    "MockWorld",
    "Review",
    "SandboxOutcome",
    "SandboxRun",
    "Workdirs",
]
