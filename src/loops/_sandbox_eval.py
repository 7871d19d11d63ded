"""Judging one candidate (the base, or an attempt's commit) against every scenario.

Where each scenario runs is what keeps holdouts away from the agent:

* **visible** scenarios run in the agent's worktree, from which the holdout files are absent
  (``create_worktree(..., exclude=<holdout files>)``: not on disk, and out of reach of git run
  there too). The agent sees exactly the checkout they ran in, so their output (the agent's
  feedback) can name nothing a holdout holds — not even when a visible command collects a whole
  test directory a holdout lives in.
* **holdout** scenarios run in a throwaway worktree checked out fresh *with* every file from
  the candidate commit (the base branch, or the commit an attempt just made), removed right
  after. Their commands, files and output never touch the agent's worktree or prompt.

A candidate is always committed before it is judged, so the holdouts judge exactly what a
change request would carry.
"""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Final

import anyio

from hydra.sdk import Logger
from ports import PortError, RepoPorts, Scenario, ScenarioResult, WorkspacePort, Worktree

__all__ = [
    "CLEANUP_TIMEOUT_S",
    "WORKTREE_PREFIX",
    "Evaluation",
    "evaluate",
    "reap_worktrees",
    "scratch_worktree",
]

WORKTREE_PREFIX: Final = "sandbox-fixer-"
CLEANUP_TIMEOUT_S: Final = 30.0


@dataclass(frozen=True)
class Evaluation:
    """Every scenario's result on one candidate, in configured order."""

    runs: tuple[tuple[Scenario, ScenarioResult], ...]

    @property
    def total(self) -> int:
        return len(self.runs)

    @property
    def passed(self) -> int:
        return sum(result.passed for _, result in self.runs)

    @property
    def score(self) -> float:
        return self.passed / self.total if self.total else 1.0

    @property
    def failing(self) -> list[tuple[Scenario, ScenarioResult]]:
        return [(s, r) for s, r in self.runs if not r.passed]

    @property
    def visible_failures(self) -> list[tuple[Scenario, ScenarioResult]]:
        """Failing non-holdout scenarios: the only ones whose details reach the agent."""
        return [(s, r) for s, r in self.failing if not s.holdout]

    @property
    def holdout_total(self) -> int:
        return sum(s.holdout for s, _ in self.runs)

    @property
    def holdout_failed(self) -> int:
        return sum(s.holdout for s, _ in self.failing)

    @property
    def signature(self) -> str:
        """A stable hash of the failing scenarios' names and exit codes (empty: none fail)."""
        failing = sorted(f"{s.name}\0{r.status}\0{r.exit_code}" for s, r in self.failing)
        if not failing:
            return ""
        return hashlib.sha256("\n".join(failing).encode()).hexdigest()[:16]

    def facts(self) -> dict[str, object]:
        """For the audit stream (operators see holdout names there; the agent never does)."""
        return {
            "score": round(self.score, 4),
            "passed": self.passed,
            "total": self.total,
            "signature": self.signature,
            "failing": [s.name for s, _ in self.visible_failures],
            "holdouts_failing": [s.name for s, _ in self.failing if s.holdout],
        }


@asynccontextmanager
async def scratch_worktree(
    workspace: WorkspacePort,
    name: str,
    *,
    branch: str,
    base: str,
    exclude: Sequence[str] = (),
    log: Logger,
    delete_branch: Callable[[], bool] = lambda: True,
) -> AsyncIterator[Worktree]:
    """A worktree removed afterwards whatever happens, even when the work is cancelled.

    Its branch goes with it unless ``delete_branch()`` says otherwise at removal time (a
    branch that received a fix carries a change request and must stay).
    """
    worktree = await workspace.create_worktree(name, branch=branch, base=base, exclude=exclude)
    try:
        yield worktree
    finally:
        with anyio.CancelScope(shield=True), anyio.move_on_after(CLEANUP_TIMEOUT_S):
            try:
                await workspace.remove_worktree(name, delete_branch=delete_branch())
            except PortError as exc:
                log.warning("worktree.remove_failed", worktree=name, error=str(exc))


async def reap_worktrees(workspace: WorkspacePort, *, log: Logger) -> None:
    """Remove worktrees of earlier ticks that never finished (a daemon killed mid-tick)."""
    for stale in await workspace.list_worktrees():
        if stale.name.startswith(WORKTREE_PREFIX):
            try:
                await workspace.remove_worktree(stale.name)
            except PortError as exc:
                log.warning("worktree.remove_failed", worktree=stale.name, error=str(exc))


async def evaluate(
    repo: RepoPorts,
    scenarios: Sequence[Scenario],
    *,
    agent_worktree: Worktree,
    candidate: str,
    holdout_name: str,
    holdout_branch: str,
    log: Logger,
) -> Evaluation:
    """Judge ``candidate`` (a branch or commit, checked out in ``agent_worktree`` without the
    holdout files): visible scenarios there, holdouts in a fresh full checkout of it.

    Raises :class:`ports.PortError` when a worktree or the sandbox is unusable.
    """
    visible = [s for s in scenarios if not s.holdout]
    hidden = [s for s in scenarios if s.holdout]
    results: dict[str, ScenarioResult] = {}
    if visible:
        ran = await repo.sandbox.run_scenarios(visible, workdir=agent_worktree.path)
        results.update((r.name, r) for r in ran)
    if hidden:
        async with scratch_worktree(
            repo.workspace, holdout_name, branch=holdout_branch, base=candidate, log=log
        ) as full:
            ran = await repo.sandbox.run_scenarios(hidden, workdir=full.path)
        results.update((r.name, r) for r in ran)
    return Evaluation(tuple((s, results.get(s.name) or _missing(s)) for s in scenarios))


def _missing(scenario: Scenario) -> ScenarioResult:
    return ScenarioResult(
        name=scenario.name,
        status="error",
        exit_code=None,
        duration_s=0.0,
        output_tail="the sandbox returned no result for this scenario",
    )
