"""Keeping each stuck rule's issue in line with the latest audit of a repository.

Per rule: failing ``stuck_after`` audits in a row files its issue (or comments on it when the
finding changed since the loop last wrote); passing again comments and closes it; a rule no
longer audited (disabled or removed) gets its issue closed too. A tracker failure is recorded
(``issue.failed``) and the rule's issue is brought in line on a later audit.
"""

from __future__ import annotations

from collections import Counter
from typing import Literal

from hydra.sdk import TickContext
from loops._principles_checkout import RuleResult
from loops._principles_issues import StuckIssues, finding_digest
from loops._principles_memory import RepoMemory, state_key
from loops._principles_options import PrinciplesOptions
from ports import PortError, RepoPorts

__all__ = ["track_issues"]

Action = Literal["filed", "updated", "closed"]


async def track_issues(
    ctx: TickContext[PrinciplesOptions],
    repo: RepoPorts,
    results: list[RuleResult],
    memory: RepoMemory,
) -> Counter[str]:
    """Bring every stuck-rule issue of ``repo`` in line; counts of issues filed/updated/closed."""
    tracker = StuckIssues(
        repo.issues, repo=repo.name, label=ctx.options.stuck_label, shadow=ctx.mode == "shadow"
    )
    tally: Counter[str] = Counter()
    try:
        await tracker.load()
    except PortError as exc:
        await ctx.audit("issue.failed", {"repo": repo.name, "error": str(exc)})
        return tally
    sync = _Sync(ctx, repo, tracker, memory, tally)
    audited = {r.rule.id for r in results}
    for rule_id in sorted(set(memory.issues) - audited):
        await sync.retire(rule_id)
    for result in results:
        await sync.settle(result)
    return tally


class _Sync:
    def __init__(
        self,
        ctx: TickContext[PrinciplesOptions],
        repo: RepoPorts,
        tracker: StuckIssues,
        memory: RepoMemory,
        tally: Counter[str],
    ) -> None:
        self.ctx = ctx
        self.repo = repo
        self.tracker = tracker
        self.memory = memory
        self.tally = tally

    async def retire(self, rule_id: str) -> None:
        issue_id = self.tracker.locate(rule_id, self.memory.issues[rule_id]["id"])
        try:
            if issue_id is not None:
                await self.tracker.retire(issue_id, rule_id)
        except PortError as exc:
            await self._failed(rule_id, exc)
            return
        del self.memory.issues[rule_id]
        await self._changed(rule_id, "closed" if issue_id else None, issue_id, retired=True)

    async def settle(self, result: RuleResult) -> None:
        rule_id = result.rule.id
        failures = self.memory.failures.get(rule_id, 0)
        stored = self.memory.issues.get(rule_id)
        issue_id = self.tracker.locate(rule_id, stored["id"] if stored else None)
        action: Action | None
        try:
            if result.outcome == "failed" and failures >= self.ctx.options.stuck_after:
                digest = finding_digest(result)
                if issue_id is None:
                    issue_id, action = await self.tracker.file(result, failures), "filed"
                elif stored != {"id": issue_id, "digest": digest}:
                    await self.tracker.update(issue_id, result, failures)
                    action = "updated"
                else:
                    return
                self.memory.issues[rule_id] = {"id": issue_id, "digest": digest}
            elif result.outcome == "passed" and (issue_id is not None or stored):
                action = None  # an issue closed by someone else is only forgotten
                if issue_id is not None:
                    await self.tracker.close(issue_id, result)
                    action = "closed"
                self.memory.issues.pop(rule_id, None)
            else:
                return
        except PortError as exc:
            await self._failed(rule_id, exc)
            return
        await self._changed(rule_id, action, issue_id, consecutive_failures=failures)

    async def _changed(
        self, rule_id: str, action: Action | None, issue_id: str | None, **facts: object
    ) -> None:
        await self.ctx.state.put(state_key(self.repo.name), self.memory.dump())
        if action is None:
            return
        self.tally[f"issues_{action}"] += 1  # in shadow mode: what the live loop would do
        if self.ctx.mode == "shadow":  # the runtime's would.* record says it; nothing happened
            return
        payload = {"repo": self.repo.name, "rule": rule_id, "issue": issue_id, **facts}
        await self.ctx.audit(f"issue.{action}", payload)

    async def _failed(self, rule_id: str, exc: PortError) -> None:
        payload = {"repo": self.repo.name, "rule": rule_id, "error": str(exc)}
        await self.ctx.audit("issue.failed", payload)
