"""Port protocols and the plain value types that cross them. No I/O lives here.

Loops reach the world only through these protocols; the runtime hands each loop a
:class:`World` holding one implementation of each (real adapters or Fakes).
"""

from __future__ import annotations

from ports._info import TRUNCATION_MARKER, PortInfo, PortState
from ports._marks import Mutation, mutating, mutation_of
from ports.agent import STOPPED_AT_LIMIT, AgentLimits, AgentPort, AgentResult, AgentStatus
from ports.changes import (
    ChangedFile,
    ChangeRequest,
    ChangeRequestPort,
    ChangeState,
    FileStatus,
    Verdict,
)
from ports.clock import Clock
from ports.errors import AuthFailed, CreditExhausted, PortError, PortErrorKind, TerminalPortError
from ports.host import DiskUsage, HostPort, ProcessStats
from ports.issues import Comment, Issue, IssuePort, IssueState
from ports.sandbox import SandboxPort, Scenario, ScenarioResult, ScenarioStatus
from ports.workspace import TrackedFile, WorkspacePort, Worktree, WorktreeDiff
from ports.world import GLOBAL_PORTS, PORT_NAMES, REPO_PORTS, RepoPorts, World, WorldKind

__all__ = [
    "GLOBAL_PORTS",
    "PORT_NAMES",
    "REPO_PORTS",
    "STOPPED_AT_LIMIT",
    "TRUNCATION_MARKER",
    "AgentLimits",
    "AgentPort",
    "AgentResult",
    "AgentStatus",
    "AuthFailed",
    "ChangeRequest",
    "ChangeRequestPort",
    "ChangeState",
    "ChangedFile",
    "Clock",
    "Comment",
    "CreditExhausted",
    "DiskUsage",
    "FileStatus",
    "HostPort",
    "Issue",
    "IssuePort",
    "IssueState",
    "Mutation",
    "PortError",
    "PortErrorKind",
    "PortInfo",
    "PortState",
    "ProcessStats",
    "RepoPorts",
    "SandboxPort",
    "Scenario",
    "ScenarioResult",
    "ScenarioStatus",
    "TerminalPortError",
    "TrackedFile",
    "Verdict",
    "WorkspacePort",
    "Worktree",
    "WorktreeDiff",
    "World",
    "WorldKind",
    "mutating",
    "mutation_of",
]
