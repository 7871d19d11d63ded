"""The agent port: a coding-agent CLI run with a prompt in a workdir, under limits."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Protocol, runtime_checkable

from ports._info import PortInfo
from ports._marks import mutating

AgentStatus = Literal[
    "succeeded", "failed", "timeout", "budget_exceeded", "crashed", "unconfigured", "shadow"
]
STOPPED_AT_LIMIT: frozenset[AgentStatus] = frozenset({"timeout", "budget_exceeded"})
"""Statuses of a run the port stopped at one of its :class:`AgentLimits` (wall clock, cost):
the work done so far is still in the workdir."""


@dataclass(frozen=True)
class AgentLimits:
    wall_clock_s: float
    max_usd: float | None = None
    """Cost cap for this run; the run is stopped the moment it would be passed."""


@dataclass(frozen=True)
class AgentResult:
    status: AgentStatus
    summary: str
    """The agent's final message (bounded), or why it did not finish."""
    provider: str
    model: str | None = None
    input_tokens: int = 0
    output_tokens: int = 0
    usd: float = 0.0
    duration_s: float = 0.0
    transcript_path: str | None = None
    """Where the full event stream was kept, if anywhere."""

    @property
    def ok(self) -> bool:
        return self.status == "succeeded"


def _shadow_agent(*, prompt: str, workdir: str, limits: AgentLimits, source: str) -> AgentResult:
    return AgentResult(
        status="shadow", summary="shadow mode: the agent was not run", provider="shadow"
    )


@runtime_checkable
class AgentPort(Protocol):
    """A coding agent (``claude``, ``codex``, a fake).

    ``run`` never raises for an ordinary failure: the result's status says what happened
    (``unconfigured`` when no agent CLI is available). It raises
    :class:`ports.errors.CreditExhausted` and :class:`ports.errors.AuthFailed`, which stop the
    calling loop. Cost is metered while the agent runs and the run is stopped (status
    ``budget_exceeded``) before it passes ``limits.max_usd`` by more than one streamed event.
    Cancellation kills the agent's whole process group; work already written stays on disk.
    """

    def info(self) -> PortInfo:
        """Which agent CLI this is (or why there is none)."""
        ...

    @mutating("agent_run", shadow=_shadow_agent)
    async def run(
        self, *, prompt: str, workdir: str, limits: AgentLimits, source: str
    ) -> AgentResult:
        """Run the agent once; ``source`` names the caller in the cost ledger."""
        ...
