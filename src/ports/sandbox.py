"""The sandbox port: named scenario commands run in a workdir."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, Protocol, runtime_checkable

from ports._info import PortInfo

ScenarioStatus = Literal["passed", "failed", "timeout", "error"]


@dataclass(frozen=True)
class Scenario:
    name: str
    command: str
    """A shell command line, run with ``sh -c`` in the workdir."""
    expected_exit: int = 0
    holdout: bool = False
    """Holdout scenarios judge the agent's work but their content never reaches the agent."""
    timeout_s: float = 600.0
    files: tuple[str, ...] = ()
    """Paths (relative to the repository) that belong to this scenario."""


@dataclass(frozen=True)
class ScenarioResult:
    name: str
    status: ScenarioStatus
    exit_code: int | None
    duration_s: float
    output_tail: str
    """The last few KiB of combined output."""

    @property
    def passed(self) -> bool:
        return self.status == "passed"


@runtime_checkable
class SandboxPort(Protocol):
    """Runs scenarios; one result per scenario, in order, never an exception for a failing one.

    Raises :class:`ports.errors.PortError` only when the workdir is unusable. Cancellation kills
    the running scenario's process group.
    """

    def info(self) -> PortInfo:
        """Which sandbox this is."""
        ...

    async def run_scenarios(
        self, scenarios: Sequence[Scenario], *, workdir: str
    ) -> list[ScenarioResult]:
        """Run each scenario in ``workdir`` and report how it went."""
        ...
