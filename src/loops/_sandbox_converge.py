"""One repository's convergence within a tick: judge the base, attempt fixes, escalate.

The tick's work happens in one agent worktree (``sandbox-fixer-<run>`` on branch
``hydra/sandbox-fixer/<run>``, from the base branch, holdout files excluded). The base is
judged first (:func:`loops._sandbox_eval.evaluate`). Below the threshold, attempts follow one
another in that worktree, each building on the last: the agent runs with feedback on the
failing visible scenarios, its work is committed and judged again. The work on the repository
ends for this tick when

* the score reaches the threshold: a change request is opened for the branch (``fixed``);
* an attempt fails (the agent did not succeed, or touched a visible scenario's files): its
  uncommitted edits are not trusted, the next tick starts afresh (``attempting``). An agent
  stopped at its wall-clock or cost cap is the exception: the work it paid for is committed on
  the branch as a WIP commit (``wip_commit`` in the record) and the branch is kept, but nothing
  is judged or proposed;
* the tick is cancelled while the agent runs (a switch-off): the attempt is recorded as
  ``aborted`` and not counted;
* the failure has used ``max_attempts`` or the score stalled for ``stall_iterations``
  attempts: the repository is escalated (``escalated``), and no attempt is made until the
  failure changes or a human resolves the escalation;
* the agent is not available (``unconfigured``) or shadow mode kept it from running
  (``shadow``): neither counts as an attempt.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final, Literal

import anyio

from hydra.sdk import TickContext
from loops._sandbox_escalate import EscalationFacts, HumanDesk, escalation_key
from loops._sandbox_eval import (
    CLEANUP_TIMEOUT_S,
    WORKTREE_PREFIX,
    Evaluation,
    evaluate,
    reap_worktrees,
    scratch_worktree,
)
from loops._sandbox_feedback import PromptFacts, compile_prompt
from loops._sandbox_memory import EscalationReason, RepoMemory
from loops._sandbox_options import SandboxFixerOptions
from ports import STOPPED_AT_LIMIT, AgentLimits, AgentResult, PortError, RepoPorts, Scenario
from ports import Worktree as WorktreeInfo

__all__ = ["BRANCH_PREFIX", "Convergence", "RepoOutcome", "RepoReport", "state_key"]

BRANCH_PREFIX: Final = "hydra/sandbox-fixer/"
_SUMMARY_CHARS: Final = 2_000
"""Agent statuses of a run stopped at a cap: its unfinished work is kept as a WIP commit."""
_DIFF_BYTES: Final = 4_096
"""Only the diff's paths are used: keep the patch the port returns small."""

RepoOutcome = Literal[
    "satisfied", "fixed", "attempting", "escalated", "waiting", "shadow", "unconfigured", "error"
]
Step = Literal["improved", "not_improved", "no_change", "failed", "fixed", "shadow", "unconfigured"]
_FINAL: Final[dict[Step, RepoOutcome]] = {
    "fixed": "fixed",
    "shadow": "shadow",
    "unconfigured": "unconfigured",
}
"""Attempt steps that end the repository's work for this tick."""


@dataclass
class RepoReport:
    outcome: RepoOutcome = "error"
    evaluation: Evaluation | None = None
    attempts: int = 0
    changes: int = 0
    escalations: int = 0
    evaluations: int = 0
    """Candidates judged this tick (numbers the holdout checkouts)."""

    def details(self) -> dict[str, Any]:
        facts: dict[str, Any] = {"outcome": self.outcome, "attempts": self.attempts}
        if self.evaluation is not None:
            ev = self.evaluation
            facts.update(score=round(ev.score, 4), passed=ev.passed, total=ev.total)
        return facts


def state_key(repo: str) -> str:
    return f"repo:{repo}"


class Convergence:
    """The work of one tick on one repository."""

    def __init__(
        self,
        ctx: TickContext[SandboxFixerOptions],
        repo: RepoPorts,
        scenarios: tuple[Scenario, ...],
        memory: RepoMemory,
    ) -> None:
        self.ctx = ctx
        self.opts = ctx.options
        self.repo = repo
        self.scenarios = scenarios
        self.key = state_key(repo.name)
        self.name = f"{WORKTREE_PREFIX}{ctx.run_id}"
        self.branch = f"{BRANCH_PREFIX}{ctx.run_id}"
        self.memory = memory
        self.desk = HumanDesk(ctx, repo, memory)
        self.report = RepoReport()
        self.committed = False

    @classmethod
    async def load(
        cls,
        ctx: TickContext[SandboxFixerOptions],
        repo: RepoPorts,
        scenarios: tuple[Scenario, ...],
    ) -> Convergence:
        """The repository's work for this tick, with what the loop remembers about it."""
        memory = RepoMemory.load(await ctx.state.get(state_key(repo.name)))
        return cls(ctx, repo, scenarios, memory)

    async def run(self) -> RepoReport:
        """Converge; a port failure ends the work on the repository (``error``, recorded).
        Credit exhaustion and terminal auth failures propagate."""
        log = self.ctx.log
        try:
            await reap_worktrees(self.repo.workspace, log=log)
            async with scratch_worktree(
                self.repo.workspace,
                self.name,
                branch=self.branch,
                base=self.opts.base_branch,
                exclude=self.opts.holdout_files,
                log=log,
                delete_branch=lambda: not self.committed,
            ) as work:
                self.report.outcome = await self._converge(work)
        except PortError as exc:
            await self.ctx.audit("repo.failed", {"repo": self.repo.name, "error": str(exc)})
            self.report.outcome = "error"
        await self._save()
        return self.report

    async def _converge(self, work: WorktreeInfo) -> RepoOutcome:
        ev = await self._evaluate(work, self.opts.base_branch, attempt=None)
        held = await self._hold(ev)
        if held is not None:
            return held
        while not await self._escalate_if_blocked(ev):
            step, after = await self._attempt(work, ev)
            if step in _FINAL:
                return _FINAL[step]
            if step == "failed":
                return "escalated" if await self._escalate_if_blocked(ev) else "attempting"
            ev = after
        return "escalated"

    async def _hold(self, ev: Evaluation) -> RepoOutcome | None:
        """Why no attempt is made this tick, or ``None`` when attempts may begin."""
        if ev.score >= self.opts.satisfaction_threshold:
            await self.desk.settle()
            self.memory.satisfied()
            return "satisfied"
        self.memory.begin(ev.signature, ev.score)
        if await self._change_pending(ev.signature):
            return "waiting"
        if self.memory.escalated is not None:
            entry = await self.ctx.escalations.find(escalation_key(self.repo.name))
            if entry is None or entry.state != "resolved":
                if self.memory.issue is None:  # the tracker failed last time
                    await self.desk.ensure_issue(self._facts(self.memory.escalated, ev))
                return "escalated"
            self.memory.retry()
            await self.ctx.audit("episode.reopened", {"repo": self.repo.name, "by": entry.by})
        if self.ctx.world.agent.info().state == "unconfigured":
            return "unconfigured"
        return None

    async def _attempt(self, work: WorktreeInfo, ev: Evaluation) -> tuple[Step, Evaluation]:
        ctx, memory, repo = self.ctx, self.memory, self.repo.name
        signature = ev.signature
        on_signature = memory.count(signature)
        number = memory.tried
        await self._save()
        start = {
            "repo": repo,
            "attempt": number,
            "signature": signature,
            "signature_attempt": on_signature,
            "branch": work.branch,
        }
        await ctx.audit("attempt.started", start)
        prompt = compile_prompt(ev, self._prompt_facts(work, on_signature))
        limits = AgentLimits(self.opts.agent_timeout_s, self.opts.max_usd_per_attempt)
        try:
            result = await ctx.world.agent.run(
                prompt=prompt, workdir=work.path, limits=limits, source=f"sandbox_fixer:{repo}"
            )
        except BaseException as exc:
            # Stopped by a switch or shutdown, or a terminal error about to switch the loop
            # off: the attempt did not happen as far as the caps go. Cut short by the tick
            # timeout it did: it counts, or a too-short timeout would retry for ever.
            timed_out = isinstance(exc, anyio.get_cancelled_exc_class()) and ctx.timed_out()
            await self._aborted(start, signature, exc, counted=timed_out)
            raise
        if result.status in ("shadow", "unconfigured"):
            memory.uncount(signature)
            await self._finished(start, result.status, result, counted=False)
            return ("shadow" if result.status == "shadow" else "unconfigured"), ev
        self.report.attempts += 1
        if not result.ok:
            memory.judge(None)
            wip = await self._keep_unfinished(work, number, result)
            await self._finished(start, "failed", result, **wip)
            return "failed", ev
        touched = await self._touched(work)
        if touched:
            memory.judge(None)
            await self._finished(start, "tampered", result, paths=touched)
            return "failed", ev
        commit = await self.repo.workspace.commit(work.name, self._message(number, result))
        if commit is None:
            memory.judge(None)
            await self._finished(start, "no_change", result)
            return "no_change", ev
        self.committed = True
        after = await self._evaluate(work, commit, attempt=number)
        improved = memory.judge(after.score)
        if after.score >= self.opts.satisfaction_threshold:
            await self._finished(start, "fixed", result, commit=commit, score=after.score)
            await self._publish(work.branch)
            return "fixed", after
        step: Step = "improved" if improved else "not_improved"
        await self._finished(start, step, result, commit=commit, score=after.score)
        return step, after

    async def _evaluate(
        self, work: WorktreeInfo, candidate: str, *, attempt: int | None
    ) -> Evaluation:
        suffix = f"-h{self.report.evaluations}"
        self.report.evaluations += 1
        ev = await evaluate(
            self.repo,
            self.scenarios,
            agent_worktree=work,
            candidate=candidate,
            holdout_name=self.name + suffix,
            holdout_branch=self.branch + suffix,
            log=self.ctx.log,
        )
        self.report.evaluation = ev
        point = {
            "at": self.ctx.world.clock.now().isoformat(),
            "run": self.ctx.run_id,
            "attempt": attempt,
            "score": round(ev.score, 4),
            "passed": ev.passed,
            "total": ev.total,
        }
        self.memory.record(point, self.opts.trajectory_limit)
        await self._save()
        payload = {"repo": self.repo.name, "attempt": attempt, **ev.facts()}
        await self.ctx.audit("score.recorded", payload)
        return ev

    async def _escalate_if_blocked(self, ev: Evaluation) -> bool:
        reason = self.memory.blocked(
            ev.signature,
            max_attempts=self.opts.max_attempts,
            stall_iterations=self.opts.stall_iterations,
        )
        if reason is None:
            return False
        await self.desk.escalate(self._facts(reason, ev))
        self.report.escalations += 1
        await self._save()
        return True

    async def _change_pending(self, signature: str) -> bool:
        """Whether a fix for this failure awaits review (opening it now if that failed)."""
        change = self.memory.change
        if change is None or change.get("signature") != signature:
            self.memory.change = None
            return False
        if change.get("id") is None:
            await self._publish(str(change["branch"]))
            return True
        try:
            state = (await self.repo.changes.get_change(str(change["id"]))).state
        except PortError as exc:
            if exc.kind != "not_found":
                raise
            state = "closed"
        if state == "open":
            return True
        self.memory.change = None  # merged or closed, and the base still fails the same way
        return False

    async def _publish(self, branch: str) -> None:
        ev = self.report.evaluation
        self.memory.change = {"signature": self.memory.episode, "branch": branch, "id": None}
        body = (
            "Opened by Hydra's `sandbox_fixer`: on this branch "
            + (f"{ev.passed} of {ev.total} scenarios pass" if ev else "the scenarios pass")
            + f" (threshold {self.opts.satisfaction_threshold:.0%})."
        )
        title = f"sandbox_fixer: make the scenarios of {self.repo.name} pass"
        try:
            change = await self.repo.changes.open_change(
                branch=branch, base=self.opts.base_branch, title=title, body=body
            )
        except PortError as exc:
            payload = {"repo": self.repo.name, "branch": branch, "error": str(exc)}
            await self.ctx.audit("change.failed", payload)
            return
        self.memory.change["id"] = change.id
        self.report.changes += 1
        payload = {"repo": self.repo.name, "branch": branch, "change": change.id}
        await self.ctx.audit("change.opened", payload)

    async def _touched(self, work: WorktreeInfo) -> list[str]:
        protected = self.opts.visible_files
        if not (self.opts.protect_scenario_files and protected):
            return []
        diff = await self.repo.workspace.diff(work.name, max_bytes=_DIFF_BYTES)
        return [p for p in diff.paths if any(p == f or p.startswith(f + "/") for f in protected)]

    async def _finished(
        self, start: dict[str, Any], outcome: str, result: AgentResult, **facts: Any
    ) -> None:
        await self._save()
        agent = {
            "status": result.status,
            "provider": result.provider,
            "usd": round(result.usd, 6),
            "duration_s": round(result.duration_s, 3),
        }
        counted = facts.pop("counted", True)
        payload = {**start, "outcome": outcome, "counted": counted, "agent": agent, **facts}
        payload.update(best=self.memory.best, stall=self.memory.stall)
        await self.ctx.audit("attempt.finished", payload)

    async def _aborted(
        self, start: dict[str, Any], signature: str, exc: BaseException, *, counted: bool
    ) -> None:
        """Record an attempt that never finished (shielded, time-limited: the tick is being
        cancelled); ``counted`` when the tick timeout cut it short."""
        with anyio.CancelScope(shield=True), anyio.move_on_after(CLEANUP_TIMEOUT_S):
            if counted:
                self.memory.judge(None)
            else:
                self.memory.uncount(signature)
            await self._save()
            outcome = "timed_out" if counted else "aborted"
            payload = {**start, "outcome": outcome, "counted": counted, "error": repr(exc)[:500]}
            payload.update(best=self.memory.best, stall=self.memory.stall)
            await self.ctx.audit("attempt.finished", payload)

    async def _keep_unfinished(
        self, work: WorktreeInfo, number: int, result: AgentResult
    ) -> dict[str, Any]:
        """The work of an agent stopped at a cap, committed as WIP on the branch (kept); the
        facts for the attempt's record. Nothing else: it is neither judged nor proposed."""
        if result.status not in STOPPED_AT_LIMIT:
            return {}
        summary = result.summary.strip()[:_SUMMARY_CHARS] or "no summary"
        message = (
            f"WIP ({result.status}): sandbox_fixer attempt {number} on {self.repo.name}\n\n"
            f"Unfinished: the agent was stopped ({result.status}) before it was done. Kept so "
            f"nothing paid for is lost; not judged, not proposed.\n\n{summary}\n"
        )
        try:
            commit = await self.repo.workspace.commit(work.name, message)
        except PortError as exc:
            return {"error": f"the unfinished work could not be kept: {exc}"}
        if commit is None:
            return {}
        self.committed = True  # the branch stays with its worktree's removal
        return {"wip_commit": commit}

    def _facts(self, reason: EscalationReason, ev: Evaluation) -> EscalationFacts:
        return EscalationFacts(
            reason=reason,
            evaluation=ev,
            attempts=self.memory.tried,
            stall=self.memory.stall,
            best=self.memory.best,
            branch=self.branch if self.committed else None,
        )

    def _prompt_facts(self, work: WorktreeInfo, number: int) -> PromptFacts:
        return PromptFacts(
            repo=self.repo.name,
            branch=work.branch,
            threshold=self.opts.satisfaction_threshold,
            attempt=number,
            max_attempts=self.opts.max_attempts,
            tail_chars=self.opts.output_tail_chars,
            protected=self.opts.visible_files,
        )

    def _message(self, number: int, result: AgentResult) -> str:
        summary = result.summary.strip()[:_SUMMARY_CHARS] or "no summary"
        return f"sandbox_fixer: attempt {number} on {self.repo.name}\n\n{summary}\n"

    async def _save(self) -> None:
        await self.ctx.state.put(self.key, self.memory.dump())
