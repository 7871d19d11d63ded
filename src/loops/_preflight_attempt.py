"""One preflight attempt: worktree, prompt, agent run, protected-path check, commit, change.

The attempt never raises for an ordinary failure; its :class:`AttemptOutcome` says what
happened and whether it counts against ``max_attempts`` (it counts once the agent ran, i.e.
once money was spent). Cancellation, :class:`ports.CreditExhausted` and :class:`ports.AuthFailed`
propagate; the worktree is removed in every case and the branch stays.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

from hydra.sdk import Logger
from loops._agent_support import agent_facts, clip, one_line, safe_ref, scratch_worktree
from loops._envelope import Envelope, build_prompt, repo_context
from loops._globs import matching_paths
from ports import AgentLimits, AgentPort, ChangeRequest, Issue, PortError, RepoPorts

__all__ = ["AGENT_SOURCE", "AttemptOutcome", "AttemptPlan", "AttemptRules", "run_attempt"]

AGENT_SOURCE: Final = "preflight"
"""The ``source`` of every agent run, so the cost ledger names this loop."""
MAX_SUMMARY_CHARS: Final = 4_000
MAX_TITLE_CHARS: Final = 200
_PATHS_ONLY: Final = 4_096
"""The patch itself is not used (only its paths): keep what the port returns small."""
_AGENT_FAILURES: Final = frozenset({"failed", "timeout", "budget_exceeded", "crashed"})


@dataclass(frozen=True)
class AttemptRules:
    base: str
    wall_clock_s: float
    max_usd: float | None
    protected_paths: tuple[str, ...]
    max_attempts: int


@dataclass(frozen=True)
class AttemptPlan:
    repo: str
    issue: Issue
    number: int
    earlier: tuple[str, ...]

    @property
    def ref(self) -> str:
        return f"{safe_ref(self.issue.id)}-{self.number}"

    @property
    def worktree(self) -> str:
        return f"preflight-{self.ref}"

    @property
    def branch(self) -> str:
        return f"hydra/preflight/{self.ref}"

    def started_payload(self) -> dict[str, Any]:
        return {
            "repo": self.repo,
            "issue": self.issue.id,
            "attempt": self.number,
            "worktree": self.worktree,
            "branch": self.branch,
        }


@dataclass(frozen=True)
class AttemptOutcome:
    outcome: str
    """``succeeded``; ``failed`` / ``timeout`` / ``budget_exceeded`` / ``crashed`` (the agent's
    status); ``protected_path``; ``no_changes``; ``error`` (a port call failed); ``shadow``;
    ``unconfigured``; ``aborted`` (cancelled or stopped by a terminal error)."""
    counted: bool
    summary: str = ""
    agent: dict[str, Any] | None = None
    paths: tuple[str, ...] = ()
    protected: tuple[str, ...] = ()
    commit: str | None = None
    change: ChangeRequest | None = None
    error: str | None = None

    def payload(self, plan: AttemptPlan) -> dict[str, Any]:
        data: dict[str, Any] = {
            **plan.started_payload(),
            "outcome": self.outcome,
            "counted": self.counted,
            "summary": clip(self.summary, MAX_SUMMARY_CHARS),
            "issue_updated_at": plan.issue.updated_at.isoformat(),
        }
        optional: dict[str, Any] = {
            "agent": self.agent,
            "paths": list(self.paths[:100]) or None,
            "protected": list(self.protected) or None,
            "commit": self.commit,
            "change": _change_facts(self.change),
            "error": self.error,
        }
        data.update({k: v for k, v in optional.items() if v is not None})
        return data


def _change_facts(change: ChangeRequest | None) -> dict[str, Any] | None:
    if change is None:
        return None
    return {"id": change.id, "url": change.url, "branch": change.branch}


async def run_attempt(
    repo: RepoPorts, agent: AgentPort, plan: AttemptPlan, rules: AttemptRules, log: Logger
) -> AttemptOutcome:
    """Carry out one attempt (see the module docstring)."""
    ran: dict[str, Any] | None = None
    try:
        async with scratch_worktree(
            repo.workspace, plan.worktree, branch=plan.branch, base=rules.base, log=log
        ) as worktree:
            envelope = Envelope(
                repo=plan.repo,
                issue=plan.issue,
                workdir=worktree.path,
                branch=plan.branch,
                base=rules.base,
                attempt=plan.number,
                max_attempts=rules.max_attempts,
                wall_clock_s=rules.wall_clock_s,
                max_usd=rules.max_usd,
                protected_paths=rules.protected_paths,
                context=await repo_context(repo.workspace, worktree.name),
                earlier=plan.earlier,
            )
            result = await agent.run(
                prompt=build_prompt(envelope),
                workdir=worktree.path,
                limits=AgentLimits(wall_clock_s=rules.wall_clock_s, max_usd=rules.max_usd),
                source=AGENT_SOURCE,
            )
            ran = agent_facts(result)
            if result.status in ("shadow", "unconfigured"):
                return AttemptOutcome(result.status, counted=False, summary=result.summary)
            if result.status in _AGENT_FAILURES:
                return AttemptOutcome(
                    result.status, counted=True, summary=result.summary, agent=ran
                )
            return await _keep(repo, plan, rules, result.summary, ran)
    except PortError as exc:
        return AttemptOutcome("error", counted=ran is not None, agent=ran, error=str(exc))


async def _keep(
    repo: RepoPorts, plan: AttemptPlan, rules: AttemptRules, summary: str, ran: dict[str, Any]
) -> AttemptOutcome:
    """After a succeeded run: check the diff, commit it, open the change request."""
    diff = await repo.workspace.diff(plan.worktree, max_bytes=_PATHS_ONLY)
    protected = tuple(matching_paths(diff.paths, rules.protected_paths))
    common: dict[str, Any] = {"summary": summary, "agent": ran, "paths": diff.paths}
    if protected:
        return AttemptOutcome("protected_path", counted=True, protected=protected, **common)
    if not diff.paths:
        return AttemptOutcome("no_changes", counted=True, **common)
    title = one_line(f"preflight: {plan.issue.title}", MAX_TITLE_CHARS)
    commit = await repo.workspace.commit(
        plan.worktree, f"{title}\n\nAttempt {plan.number} for issue #{plan.issue.id}.\n"
    )
    if commit is None:
        return AttemptOutcome("no_changes", counted=True, **common)
    body = (
        f"Automated fix attempt {plan.number} by Hydra preflight for issue #{plan.issue.id}.\n\n"
        f"{clip(summary, MAX_SUMMARY_CHARS)}"
    )
    try:
        change = await repo.changes.open_change(
            branch=plan.branch, base=rules.base, title=title, body=body
        )
    except PortError as exc:
        if exc.kind != "unconfigured":
            return AttemptOutcome("error", counted=True, commit=commit, error=str(exc), **common)
        change = None  # this world has no change requests: the commit on the branch is the fix
    return AttemptOutcome("succeeded", counted=False, commit=commit, change=change, **common)
