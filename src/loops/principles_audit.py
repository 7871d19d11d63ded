"""The ``principles_audit`` loop: every managed repository, audited against its principles.

Per repository and tick: a fresh worktree of the default branch (:mod:`._principles_checkout`),
every rule of the rule set (:mod:`._principles_options`) run over its tracked files or in it,
then the worktree is removed. The loop remembers per repository (durable state, so a restart
forgets nothing) each rule's last outcome and consecutive failures, the onboarding status and
the issue of each stuck rule.

* Onboarding: ``pending`` until an audit decides; ``blocked`` while a rule of severity ``error``
  or ``critical`` fails; ``ready`` when none does. A blocking rule that could not be checked
  (outcome ``error``) leaves the status as it was.
* A rule failing ``stuck_after`` (3) consecutive audits gets one issue labelled ``stuck_label``
  per (repository, rule), commented when its finding changes, commented and closed when the
  rule passes again or is no longer audited (:mod:`._principles_tracking`). A rule that could
  not be checked keeps its count.
* Records: ``rule.changed`` when a rule's outcome changes, ``onboarding.changed``,
  ``issue.filed`` / ``issue.updated`` / ``issue.closed`` / ``issue.failed``, and
  ``audit.failed`` when no checkout could be made. Findings name paths, never file content.
"""

from __future__ import annotations

from collections import Counter
from typing import Any, Final

from hydra.sdk import Loop, TickContext, TickResult, TickStatus
from loops._principles_checkout import RuleResult, audit_checkout, audit_worktree
from loops._principles_memory import RepoMemory, onboarding, state_key
from loops._principles_options import CommandRuleSpec, PrinciplesOptions, ruleset
from loops._principles_rules import Rule, blocks
from loops._principles_tracking import track_issues
from ports import PortError, RepoPorts

__all__ = ["CommandRuleSpec", "PrinciplesAuditLoop", "PrinciplesOptions"]

_RULE_COUNTS: Final = {"passed": "rules_passed", "failed": "rules_failed", "error": "rules_errored"}
_COUNTS: Final = (
    "repos",
    "ready",
    "blocked",
    "pending",
    "rules_passed",
    "rules_failed",
    "rules_errored",
    "issues_filed",
    "issues_updated",
    "issues_closed",
    "audit_failures",
)


class PrinciplesAuditLoop(Loop[PrinciplesOptions]):
    name = "principles_audit"
    description = "Audits each managed repository against its principles; tracks onboarding."
    area = "quality"
    default_interval_s = 6 * 3600.0
    interval_bounds = (60.0, 7 * 86_400.0)
    ports = ("workspace", "sandbox", "issues", "clock")
    Options = PrinciplesOptions
    default_timeout_s = 3600.0
    default_mode = "live"
    audit_actions = (
        "rule.changed",
        "onboarding.changed",
        "audit.failed",
        "issue.filed",
        "issue.updated",
        "issue.closed",
        "issue.failed",
    )

    async def tick(self, ctx: TickContext[PrinciplesOptions]) -> TickResult:
        rules = ruleset(ctx.options)
        tally: Counter[str] = Counter()
        reports: dict[str, Any] = {}
        for name in ctx.repos:
            async with ctx.repo(name) as repo:
                reports[name] = await self._audit(ctx, repo, rules, tally)
        statuses = Counter(str(r["status"]) for r in reports.values())
        tally.update(repos=len(ctx.repos), **statuses)
        return TickResult(
            status=_status(ctx.repos, tally),
            counts={key: tally[key] for key in _COUNTS},
            summary=_summary(reports),
            details={"repos": reports},
        )

    async def _audit(
        self,
        ctx: TickContext[PrinciplesOptions],
        repo: RepoPorts,
        rules: tuple[Rule, ...],
        tally: Counter[str],
    ) -> dict[str, Any]:
        key = state_key(repo.name)
        memory = RepoMemory.load(await ctx.state.get(key))
        try:
            async with audit_worktree(repo.workspace, ctx.run_id, log=ctx.log) as worktree:
                results = await audit_checkout(repo, worktree, rules)
        except PortError as exc:
            tally["audit_failures"] += 1
            await ctx.audit("audit.failed", {"repo": repo.name, "error": str(exc)})
            return {"status": memory.status, "error": str(exc)}
        await self._remember(ctx, repo.name, results, memory)
        await ctx.state.put(key, memory.dump())
        tally.update(await track_issues(ctx, repo, results, memory))
        tally.update(_RULE_COUNTS[r.outcome] for r in results)
        return {
            "status": memory.status,
            "passed": sum(r.outcome == "passed" for r in results),
            "failed": [r.rule.id for r in results if r.outcome == "failed"],
            "errored": [r.rule.id for r in results if r.outcome == "error"],
            "blocking": [
                r.rule.id for r in results if r.outcome == "failed" and blocks(r.rule.severity)
            ],
        }

    async def _remember(
        self,
        ctx: TickContext[PrinciplesOptions],
        repo: str,
        results: list[RuleResult],
        memory: RepoMemory,
    ) -> None:
        outcomes: dict[str, str] = {}
        failures: dict[str, int] = {}
        for result in results:
            rule_id, outcome = result.rule.id, result.outcome
            previous = memory.failures.get(rule_id, 0)
            failures[rule_id] = {"passed": 0, "failed": previous + 1}.get(outcome, previous)
            outcomes[rule_id] = outcome
            if memory.outcomes.get(rule_id) != outcome:
                await ctx.audit(
                    "rule.changed",
                    {
                        "repo": repo,
                        "rule": rule_id,
                        "severity": result.rule.severity,
                        "from": memory.outcomes.get(rule_id),
                        "to": outcome,
                        "summary": result.finding.summary,
                        "consecutive_failures": failures[rule_id],
                    },
                )
        status = onboarding(results, memory.status)
        if status != memory.status:
            await ctx.audit(
                "onboarding.changed", {"repo": repo, "from": memory.status, "to": status}
            )
        memory.status, memory.outcomes, memory.failures = status, outcomes, failures
        memory.audits += 1
        memory.last_audit = ctx.world.clock.now().isoformat()


def _status(repos: tuple[str, ...], tally: Counter[str]) -> TickStatus:
    if not repos:
        return "idle"
    if tally["audit_failures"] and tally["audit_failures"] >= len(repos):
        return "failed"
    if tally["audit_failures"] or tally["rules_failed"] or tally["rules_errored"]:
        return "warning"
    return "ok"


def _summary(reports: dict[str, Any]) -> str:
    if not reports:
        return "no managed repository"
    parts = []
    for name, report in reports.items():
        if "error" in report:
            parts.append(f"{name}: audit failed")
        else:
            parts.append(f"{name}: {report['status']} ({len(report['failed'])} failing)")
    return "; ".join(parts)
