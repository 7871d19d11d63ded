"""Handing a repository whose scenarios do not converge to a human, and taking it back.

Escalating puts (or updates) one entry in the human-escalation queue per repository (key
``sandbox_fixer:<repo>``) and files (or comments on) one issue labelled ``escalation_label``,
found again by the id in the loop's state verified against the open labelled issues and a
marker in their body. Issue texts name failing holdouts only by count: an issue tracker is a
place agents read. When the scenarios pass again the issue is commented and closed.

In shadow mode the queue is left alone (it is no port, so the runtime cannot shadow it) and the
issue calls become ``would.*`` records.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from hydra.sdk import TickContext
from loops._sandbox_eval import Evaluation
from loops._sandbox_memory import EscalationReason, RepoMemory
from loops._sandbox_options import SandboxFixerOptions
from ports import PortError, RepoPorts

__all__ = ["EscalationFacts", "HumanDesk", "escalation_key"]

SHADOW_ID: Final = "shadow"
_LIST_LIMIT: Final = 1_000
_REASONS: Final[dict[EscalationReason, str]] = {
    "max_attempts": "the attempts allowed on this failure are used up",
    "stalled": "the last attempts did not improve the score",
}


def escalation_key(repo: str) -> str:
    return f"sandbox_fixer:{repo}"


def _marker(repo: str) -> str:
    return f"<!-- hydra:sandbox-fixer repo={repo} -->"


def _title(repo: str) -> str:
    return f"Sandbox scenarios of {repo} do not converge"


@dataclass(frozen=True)
class EscalationFacts:
    reason: EscalationReason
    evaluation: Evaluation
    attempts: int
    """Counted attempts since the base began to fail this way (the episode)."""
    stall: int
    best: float
    branch: str | None
    """Branch holding the last attempt's commits, if one was made."""

    def lines(self) -> list[str]:
        ev = self.evaluation
        visible = ", ".join(f"`{s.name}`" for s, _ in ev.visible_failures) or "none"
        lines = [
            f"- score: {ev.passed}/{ev.total} ({ev.score:.0%}); best in this episode "
            f"{self.best:.0%}",
            f"- failing visible scenarios: {visible}",
            f"- failing holdout scenarios: {ev.holdout_failed} of {ev.holdout_total} "
            "(names in the escalation queue and the audit stream)",
            f"- attempts since the base began to fail this way: {self.attempts} "
            f"({self.stall} in a row without a better score)",
        ]
        if self.branch:
            lines.append(f"- the last attempt's work: branch `{self.branch}`")
        return lines


class HumanDesk:
    """Escalation and its issue for one repository."""

    def __init__(
        self, ctx: TickContext[SandboxFixerOptions], repo: RepoPorts, memory: RepoMemory
    ) -> None:
        self._ctx = ctx
        self._repo = repo
        self._memory = memory
        self._label = ctx.options.escalation_label

    async def escalate(self, facts: EscalationFacts) -> None:
        """Queue entry, audit record and issue; marks the episode escalated."""
        ctx, repo = self._ctx, self._repo.name
        self._memory.escalated = facts.reason
        entry_id: str | None = None
        if ctx.mode != "shadow":
            entry = await ctx.escalations.escalate(
                key=escalation_key(repo),
                title=_title(repo),
                summary=f"{_REASONS[facts.reason]}.\n" + "\n".join(facts.lines()),
                repo=repo,
                details={
                    **facts.evaluation.facts(),
                    "reason": facts.reason,
                    "attempts": facts.attempts,
                    "stall": facts.stall,
                    "branch": facts.branch,
                },
            )
            entry_id = entry.id
        await ctx.audit(
            "escalated",
            {
                "repo": repo,
                "reason": facts.reason,
                "signature": facts.evaluation.signature,
                "attempts": facts.attempts,
                "stall": facts.stall,
                "escalation": entry_id,
            },
        )
        await self.ensure_issue(facts)

    async def ensure_issue(self, facts: EscalationFacts) -> None:
        """File the issue, or comment on the open one; a tracker failure is recorded and the
        filing retried on the next tick."""
        ctx, repo = self._ctx, self._repo.name
        text = [f"Escalated: {_REASONS[facts.reason]}.", "", *facts.lines()]
        try:
            found = await self._find()
            if found is None:
                body = [
                    _marker(repo),
                    f"Hydra's `sandbox_fixer` could not make the scenarios of `{repo}` pass.",
                    "",
                    *text,
                    "",
                    "It makes no further attempt until the failing scenarios change or the "
                    "escalation is resolved in the queue, and closes this issue when the "
                    "scenarios pass again.",
                ]
                issue = await self._repo.issues.create_issue(
                    _title(repo), "\n".join(body), labels=[self._label]
                )
                found, action = issue.id, "issue.filed"
            else:
                await self._repo.issues.comment(found, "\n".join(text))
                action = "issue.updated"
        except PortError as exc:
            await ctx.audit("issue.failed", {"repo": repo, "error": str(exc)})
            return
        self._memory.issue = None if found == SHADOW_ID else found
        await ctx.audit(action, {"repo": repo, "issue": found})

    async def settle(self) -> None:
        """The scenarios pass again: comment on and close the issue, if there is one (looked
        up by its marker too when the episode was escalated, in case its id was never kept)."""
        issue = self._memory.issue
        try:
            if issue is None and self._memory.escalated is not None:
                issue = self._memory.issue = await self._find()
            if issue is None:
                return
            await self._repo.issues.comment(issue, "The scenarios pass again. Closing.")
            await self._repo.issues.close_issue(issue)
        except PortError as exc:
            await self._ctx.audit("issue.failed", {"repo": self._repo.name, "error": str(exc)})
            return
        self._memory.issue = None
        await self._ctx.audit("issue.closed", {"repo": self._repo.name, "issue": issue})

    async def _find(self) -> str | None:
        repo = self._repo.name
        open_issues = await self._repo.issues.list_issues(labels=[self._label], limit=_LIST_LIMIT)
        found = [i.id for i in open_issues if _marker(repo) in i.body or i.title == _title(repo)]
        if self._memory.issue in found:
            return self._memory.issue
        return found[0] if found else None
