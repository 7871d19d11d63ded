"""One audit of one repository: a throwaway worktree of the base and every rule run over it.

The worktree is created from ``HEAD`` (the default branch) so the audit sees what is committed,
not the operator's working tree: an untracked secret in a local checkout is not "committed".
File rules read tracked files through the WorkspacePort; command rules run through the
SandboxPort in the worktree, all in one ``run_scenarios`` call.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Final, Literal

import anyio

from hydra.sdk import Logger
from loops._principles_rules import CommandRule, FileRule, Finding, Rule
from ports import PortError, RepoPorts, Scenario, ScenarioResult, TrackedFile, WorkspacePort
from ports import Worktree as WorktreeInfo

__all__ = ["WORKTREE_PREFIX", "Outcome", "RuleResult", "audit_checkout", "audit_worktree"]

WORKTREE_PREFIX: Final = "principles-"
BRANCH_PREFIX: Final = "hydra/principles/"
CLEANUP_TIMEOUT_S: Final = 30.0

Outcome = Literal["passed", "failed", "error"]
"""``error``: the rule could not be checked (a port failed); it neither passes nor fails."""


@dataclass(frozen=True)
class RuleResult:
    rule: Rule
    outcome: Outcome
    finding: Finding


class _WorktreeTree:
    """:class:`loops._principles_rules.Tree` over a worktree's committed files."""

    def __init__(self, workspace: WorkspacePort, name: str, files: Sequence[TrackedFile]) -> None:
        self._workspace = workspace
        self._name = name
        self._files = tuple(files)

    @property
    def files(self) -> Sequence[TrackedFile]:
        return self._files

    async def read(self, path: str, max_bytes: int) -> bytes | None:
        try:
            return await self._workspace.read_file(self._name, path, max_bytes=max_bytes)
        except PortError as exc:
            if exc.kind == "not_found":
                return None
            raise


@asynccontextmanager
async def audit_worktree(
    workspace: WorkspacePort, run_id: str, *, log: Logger
) -> AsyncIterator[WorktreeInfo]:
    """A fresh worktree of ``HEAD`` for one audit, removed afterwards whatever happens.

    Leftovers of audits that never finished (a daemon killed mid-audit) are removed first.
    """
    name = f"{WORKTREE_PREFIX}{run_id}"
    for stale in await workspace.list_worktrees():
        if stale.name.startswith(WORKTREE_PREFIX) and stale.name != name:
            try:
                await workspace.remove_worktree(stale.name, delete_branch=True)
            except PortError as exc:
                log.warning("worktree.remove_failed", worktree=stale.name, error=str(exc))
    worktree = await workspace.create_worktree(name, branch=f"{BRANCH_PREFIX}{run_id}")
    try:
        yield worktree
    finally:
        with anyio.CancelScope(shield=True), anyio.move_on_after(CLEANUP_TIMEOUT_S):
            try:
                await workspace.remove_worktree(name, delete_branch=True)
            except PortError as exc:
                log.warning("worktree.remove_failed", worktree=name, error=str(exc))


async def audit_checkout(
    repo: RepoPorts, worktree: WorktreeInfo, rules: Sequence[Rule]
) -> list[RuleResult]:
    """Every rule's result, in the order of ``rules``.

    Raises :class:`ports.PortError` only when the checkout's files cannot be listed; a rule
    whose check hits a port failure gets outcome ``error``.
    """
    files = await repo.workspace.tracked_files(worktree.name)
    tree = _WorktreeTree(repo.workspace, worktree.name, files)
    results: dict[str, RuleResult] = {}
    for rule in rules:
        if isinstance(rule, FileRule):
            results[rule.id] = await _check(rule, tree)
    commands = [rule for rule in rules if isinstance(rule, CommandRule)]
    for rule, result in zip(commands, await _run_commands(repo, worktree, commands), strict=True):
        results[rule.id] = result
    return [results[rule.id] for rule in rules]


async def _check(rule: FileRule, tree: _WorktreeTree) -> RuleResult:
    try:
        finding = await rule.check(tree)
    except PortError as exc:
        return RuleResult(rule, "error", Finding(False, f"could not be checked: {exc}"))
    return RuleResult(rule, "passed" if finding.passed else "failed", finding)


async def _run_commands(
    repo: RepoPorts, worktree: WorktreeInfo, rules: Sequence[CommandRule]
) -> list[RuleResult]:
    if not rules:
        return []
    scenarios = [
        Scenario(
            name=rule.id,
            command=rule.command,
            expected_exit=rule.expected_exit,
            timeout_s=rule.timeout_s,
        )
        for rule in rules
    ]
    try:
        ran = await repo.sandbox.run_scenarios(scenarios, workdir=worktree.path)
    except PortError as exc:
        failure = Finding(False, f"could not be run: {exc}")
        return [RuleResult(rule, "error", failure) for rule in rules]
    by_name = {result.name: result for result in ran}
    return [_command_result(rule, by_name.get(rule.id)) for rule in rules]


def _command_result(rule: CommandRule, ran: ScenarioResult | None) -> RuleResult:
    if ran is None:
        return RuleResult(rule, "error", Finding(False, "the sandbox returned no result"))
    if ran.passed:
        return RuleResult(rule, "passed", Finding(True, f"exited {ran.exit_code} as expected"))
    if ran.status == "timeout":
        summary = f"timed out after {rule.timeout_s:g} s"
    elif ran.status == "error":
        summary = "the command could not be started"
    else:
        summary = f"exited {ran.exit_code}, expected {rule.expected_exit}"
    return RuleResult(rule, "failed", Finding(False, summary, output=ran.output_tail))
