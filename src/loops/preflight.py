"""The ``preflight`` loop: every escalated issue gets an autonomous fix attempt first.

Per managed repository, issues labelled ``trigger_label`` (and none of the deny-list labels,
``human_required_label`` or ``resolved_label``) are attempted, at most ``max_parallel`` per tick
and never the same issue twice at once. An attempt runs the agent in a fresh worktree
(``preflight-<issue>-<n>``, branch ``hydra/preflight/<issue>-<n>``) under the wall-clock and
cost caps, then checks the diff against the protected paths (see
:mod:`loops._preflight_attempt`).

* Success: the work is committed on its branch, a change request is opened (where the world has
  them), the issue gets a comment with the summary, gains ``resolved_label`` and loses
  ``trigger_label``.
* Failure: recorded. After ``max_attempts`` counted failures — counted from the audit stream, so
  a restart forgets nothing (:mod:`loops._attempts`) — the issue gains ``human_required_label``
  and a comment summarising every attempt.
* An agent stopped at the wall-clock or cost cap fails the attempt as ``timeout`` /
  ``budget_exceeded``; the work it did so far stays on the attempt's branch as a WIP commit
  (recorded with ``wip``; no change request).
* An attempt cut short by the tick timeout fails as ``timed_out``, counted (or a timeout
  shorter than the agent's would retry the issue for ever). Its work so far is kept as at a
  cap — a WIP commit on its branch, recorded with ``commit`` and ``wip`` — before the worktree
  is removed; with nothing changed, its branch is deleted.
* Shadow mode: the agent is not run (its shadow result says so); the attempt is recorded as
  ``shadow``, not counted, and the same version of an issue is previewed only once. The
  preview's branch is deleted with its worktree, as is that of an attempt otherwise cancelled
  mid-run (``aborted``, not counted: a switch-off, shutdown, the repository switched off or a
  sibling's terminal error) or without a configured agent: a preview leaves the repository as
  it was.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final

import anyio
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from hydra.sdk import Loop, TickContext, TickResult, TickStatus
from loops._agent_support import CLEANUP_TIMEOUT_S, agent_unconfigured, clip, reap_worktrees
from loops._attempts import IssueMemory, escalation_comment, load_memories
from loops._globs import check_globs
from loops._preflight_attempt import (
    AttemptOutcome,
    AttemptPlan,
    AttemptRules,
    CutShort,
    run_attempt,
)
from loops._tally import Tally
from ports import Issue, PortError, RepoPorts
from ports.issues import MAX_LABEL

__all__ = ["PreflightLoop", "PreflightOptions"]

DEFAULT_PROTECTED: Final = ("src/loops/**", "src/hydra/audit/**", "src/hydra/sdk/**")
_COUNTS: Final = (
    "candidates",
    "attempted",
    "succeeded",
    "resolved",
    "failed",
    "escalated",
    "shadowed",
    "deferred",
    "skipped",
    "unchanged",
    "errors",
)
_FAILED: Final = frozenset(
    {"failed", "timeout", "budget_exceeded", "crashed", "protected_path", "no_changes", "error"}
)


def _check_label(label: str) -> str:
    if not label.strip() or len(label) > MAX_LABEL or "," in label or "\n" in label:
        raise ValueError(f"label {label!r}: 1 to {MAX_LABEL} characters, no comma or newline")
    return label


class PreflightOptions(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)

    trigger_label: str = "hitl-escalation"
    """Issues with this label are attempted; a successful attempt removes it."""
    deny_labels: tuple[str, ...] = ("principles-stuck", "cultural-check")
    """Issues with any of these labels are never attempted (the agent must not "fix" the
    system that judges it)."""
    human_required_label: str = "human-required"
    """Added after `max_attempts` failed attempts; issues with it are skipped."""
    resolved_label: str = "auto-resolved"
    """Added when an attempt succeeds; issues with it are skipped."""
    max_attempts: int = Field(default=3, ge=1)
    """Failed attempts per issue (counted from the audit stream, so restarts do not reset
    them) before it is handed to a human."""
    max_parallel: int = Field(default=1, ge=1)
    """Issues attempted per tick, run at the same time (across all repositories)."""
    base_branch: str = Field(default="main", min_length=1)
    """Branch every attempt starts from and its change request targets."""
    protected_paths: tuple[str, ...] = DEFAULT_PROTECTED
    """Path globs the agent's diff must not touch (`*` within a directory, `**` across
    directories); touching one fails the attempt as `protected_path`."""
    wall_clock_s: float = Field(default=1800.0, gt=0)
    """Wall-clock cap of one agent run, in seconds (keep it below the tick timeout)."""
    max_usd: float | None = Field(default=None, gt=0)
    """Cost cap of one agent run in USD; none unless set."""

    @field_validator("trigger_label", "human_required_label", "resolved_label")
    @classmethod
    def _label(cls, value: str) -> str:
        return _check_label(value)

    @field_validator("deny_labels")
    @classmethod
    def _labels(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(_check_label(v) for v in value)

    _globs = field_validator("protected_paths")(check_globs)

    @model_validator(mode="after")
    def _distinct(self) -> PreflightOptions:
        if self.trigger_label in self.excluded_labels:
            raise ValueError("trigger_label must differ from the labels that exclude an issue")
        return self

    @property
    def excluded_labels(self) -> tuple[str, ...]:
        return (*self.deny_labels, self.human_required_label, self.resolved_label)


class PreflightLoop(Loop[PreflightOptions]):
    name = "preflight"
    description = "Gives every escalated issue an autonomous agent fix attempt before a human."
    area = "delivery"
    default_interval_s = 600.0
    interval_bounds = (30.0, 86_400.0)
    ports = ("issues", "changes", "workspace", "agent")
    Options = PreflightOptions
    default_timeout_s = 3600.0
    default_mode = "shadow"
    audit_actions = (
        "attempt.started",
        "attempt.finished",
        "issue.resolved",
        "issue.escalated",
        "worktree.reaped",
    )

    def __init__(self, options: PreflightOptions) -> None:
        super().__init__(options)
        self._busy: set[tuple[str, str]] = set()
        """(repository, issue) pairs with an attempt in flight in this process."""

    async def tick(self, ctx: TickContext[PreflightOptions]) -> TickResult:
        why = agent_unconfigured(ctx.world.agent)
        if why is not None:
            return TickResult(status="unconfigured", summary=f"no agent to run: {why}")
        run = _Tick(ctx, self._busy)
        await run.run()
        return run.result()


@dataclass(frozen=True)
class _Candidate:
    repo: str
    issue: Issue
    memory: IssueMemory

    @property
    def key(self) -> tuple[str, str]:
        return (self.repo, self.issue.id)


class _Tick:
    """One tick: survey every repository, pick the issues to attempt, attempt them."""

    def __init__(self, ctx: TickContext[PreflightOptions], busy: set[tuple[str, str]]) -> None:
        self.ctx = ctx
        self.opts = ctx.options
        self.busy = busy
        self.limiter = anyio.CapacityLimiter(ctx.options.max_parallel)
        self.tally = Tally(_COUNTS)
        self.unconfigured: str | None = None
        self.rules = AttemptRules(
            base=self.opts.base_branch,
            wall_clock_s=self.opts.wall_clock_s,
            max_usd=self.opts.max_usd,
            protected_paths=self.opts.protected_paths,
            max_attempts=self.opts.max_attempts,
        )

    async def run(self) -> None:
        candidates: list[_Candidate] = []
        for name in self.ctx.repos:
            async with self.ctx.repo(name) as repo:
                await self._guarded(self._survey, name, repo, candidates)
        # Fewest attempts first, then oldest: a stubborn issue cannot starve the others.
        candidates.sort(key=lambda c: (c.memory.started, c.issue.created_at))
        chosen = candidates[: self.opts.max_parallel]
        self.tally.add("deferred", len(candidates) - len(chosen))
        self.busy.update(c.key for c in chosen)
        try:
            async with anyio.create_task_group() as tg:
                for candidate in chosen:
                    tg.start_soon(
                        self._attempt_in_repo,
                        candidate,
                        name=f"preflight:{candidate.repo}#{candidate.issue.id}",
                    )
        finally:
            self.busy.difference_update(c.key for c in chosen)

    async def _survey(self, name: str, repo: RepoPorts, candidates: list[_Candidate]) -> None:
        """Finish what earlier ticks left half done; collect the issues worth an attempt."""
        await reap_worktrees(self.ctx, name, repo.workspace, "preflight-")
        issues = await repo.issues.list_issues(
            labels=[self.opts.trigger_label], exclude_labels=self.opts.excluded_labels
        )
        memories = await load_memories(self.ctx.history, name)
        self.tally.add("candidates", len(issues))
        for issue in issues:
            memory = memories.get(issue.id, IssueMemory())
            if (name, issue.id) in self.busy:
                self.tally.add("skipped")
            elif memory.unresolved_success is not None:
                await self._guarded(self._resolve, name, repo, issue.id, memory.unresolved_success)
            elif memory.failures >= self.opts.max_attempts:
                await self._guarded(self._escalate, name, repo, issue.id, memory.window)
            elif self.ctx.mode == "shadow" and issue.updated_at.isoformat() in memory.previewed:
                self.tally.add("unchanged")  # this version was previewed already
            else:
                candidates.append(_Candidate(name, issue, memory))

    async def _attempt_in_repo(self, candidate: _Candidate) -> None:
        async with self.ctx.repo(candidate.repo) as repo:
            await self._guarded(
                self._attempt, candidate.repo, repo, candidate.issue, candidate.memory
            )

    async def _guarded(self, work: Callable[..., Awaitable[None]], name: str, *args: Any) -> None:
        try:
            await work(name, *args)
        except PortError as exc:
            self.tally.error(f"{name}: {exc}")

    def _qualifies(self, issue: Issue) -> bool:
        return (
            issue.state == "open"
            and self.opts.trigger_label in issue.labels
            and not issue.labels & set(self.opts.excluded_labels)
        )

    async def _attempt(self, name: str, repo: RepoPorts, issue: Issue, memory: IssueMemory) -> None:
        async with self.limiter:
            fresh = await repo.issues.get_issue(issue.id)
            if not self._qualifies(fresh):
                self.tally.add("skipped")  # relabelled since it was listed
                return
            plan = AttemptPlan(name, fresh, memory.started + 1, memory.earlier())
            await self.ctx.audit("attempt.started", plan.started_payload())
            self.tally.add("attempted")
            cut_short = CutShort(timed_out=self.ctx.timed_out)
            try:
                outcome = await run_attempt(
                    repo, self.ctx.world.agent, plan, self.rules, self.ctx.log, cut_short=cut_short
                )
            except BaseException as exc:
                # A switch or shutdown stops the attempt uncounted; the tick timeout counts it,
                # or a timeout shorter than the agent's would retry the issue for ever (and the
                # work done so far was kept: cut_short.kept).
                timed_out = (
                    isinstance(exc, anyio.get_cancelled_exc_class()) and self.ctx.timed_out()
                )
                aborted = cut_short.kept or AttemptOutcome(
                    "timed_out" if timed_out else "aborted",
                    counted=timed_out,
                    error=repr(exc)[:500],
                )
                with anyio.CancelScope(shield=True), anyio.move_on_after(CLEANUP_TIMEOUT_S):
                    await self.ctx.audit("attempt.finished", aborted.payload(plan))
                raise
            payload = outcome.payload(plan)
            await self.ctx.audit("attempt.finished", payload)
        await self._after(name, repo, fresh, outcome=outcome, payload=payload, memory=memory)

    async def _after(
        self,
        name: str,
        repo: RepoPorts,
        issue: Issue,
        *,
        outcome: AttemptOutcome,
        payload: Mapping[str, Any],
        memory: IssueMemory,
    ) -> None:
        if outcome.outcome == "succeeded":
            self.tally.add("succeeded")
            await self._resolve(name, repo, issue.id, payload)
        elif outcome.outcome == "shadow":
            self.tally.add("shadowed")
        elif outcome.outcome == "unconfigured":
            self.unconfigured = outcome.summary or "the agent is not configured"
        elif outcome.outcome in _FAILED:
            self.tally.add("failed")
            if outcome.outcome == "error":
                self.tally.error(f"{name}#{issue.id}: {outcome.error}")
            window = [*memory.window, payload] if outcome.counted else memory.window
            if len(window) >= self.opts.max_attempts:
                await self._escalate(name, repo, issue.id, window)

    async def _resolve(
        self, name: str, repo: RepoPorts, issue_id: str, payload: Mapping[str, Any]
    ) -> None:
        await repo.issues.comment(issue_id, _resolution_comment(payload))
        await repo.issues.add_label(issue_id, self.opts.resolved_label)
        await repo.issues.remove_label(issue_id, self.opts.trigger_label)
        self.tally.add("resolved")
        if self.ctx.mode == "live":  # in shadow mode the would.* records say it; live finishes it
            facts = {"repo": name, "issue": issue_id, "attempt": payload.get("attempt")}
            await self.ctx.audit("issue.resolved", {**facts, "change": payload.get("change")})

    async def _escalate(
        self, name: str, repo: RepoPorts, issue_id: str, window: list[Mapping[str, Any]]
    ) -> None:
        label = self.opts.human_required_label
        text = clip(
            escalation_comment(window, max_attempts=self.opts.max_attempts, label=label), 60_000
        )
        await repo.issues.comment(issue_id, text)
        await repo.issues.add_label(issue_id, label)
        self.tally.add("escalated")
        if self.ctx.mode == "live":  # as for resolutions: only a live escalation is a fact
            attempts = [p.get("attempt") for p in window]
            facts = {"repo": name, "issue": issue_id, "attempts": attempts, "label": label}
            await self.ctx.audit("issue.escalated", facts)

    def result(self) -> TickResult:
        t = self.tally
        status: TickStatus
        if self.unconfigured is not None:
            status = "unconfigured"
        elif t["failed"]:
            status = "failed"
        elif t["errors"] or t["escalated"]:
            status = "warning"
        elif t["attempted"] or t["resolved"] or t["deferred"]:
            status = "ok"
        else:
            status = "idle"
        summary = (
            f"{t['attempted']} attempted, {t['succeeded']} succeeded, {t['failed']} failed, "
            f"{t['escalated']} escalated"
        )
        if self.unconfigured is not None:
            summary += f"; agent unconfigured: {self.unconfigured}"
        details = {"errors": t.errors} if t.errors else {}
        return TickResult(status=status, counts=t.counts, summary=summary, details=details)


def _resolution_comment(payload: Mapping[str, Any]) -> str:
    change = payload.get("change")
    if isinstance(change, Mapping):
        where = f"change request {change.get('url') or '#' + str(change.get('id'))}"
    else:
        where = f"branch `{payload.get('branch')}` (commit `{payload.get('commit')}`)"
    return (
        f"Hydra preflight resolved this automatically (attempt {payload.get('attempt')}): "
        f"see {where}.\n\n{clip(str(payload.get('summary') or ''), 4_000)}"
    )
