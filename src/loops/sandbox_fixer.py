"""The ``sandbox_fixer`` loop: failing sandbox scenarios are repaired, or handed to a human.

Each tick, per managed repository (those in ``repos``, or all): the configured scenarios judge
the base branch and the satisfaction score (passed / total, holdouts included) is recorded
(``score.recorded``; the trajectory is kept, bounded, in the loop's state). Below
``satisfaction_threshold`` the agent is sent to fix it, attempt after attempt, until the score
reaches the threshold (a change request is opened), an attempt fails, or the failure is
escalated: after ``max_attempts`` on one failure signature, or early after
``stall_iterations`` attempts that did not improve the score. See
:mod:`loops._sandbox_converge` for the steps and :mod:`loops._sandbox_eval` for how holdouts
are kept from the agent: absent from its worktree, judged in a separate fresh checkout, and
reported to it only as counts (:mod:`loops._sandbox_feedback`).

Records: ``score.recorded``, ``attempt.started`` / ``attempt.finished`` (``attempt``: its
number since the base began to fail this way; ``signature_attempt``: its number on the failure
it set out to fix; ``outcome``; whether it ``counted``), ``change.opened`` / ``change.failed``,
``escalated``,
``episode.reopened`` (a human resolved the escalation), ``issue.filed`` / ``issue.updated`` /
``issue.closed`` / ``issue.failed`` and ``repo.failed``.
"""

from __future__ import annotations

from collections import Counter
from typing import Final

from hydra.sdk import Loop, TickContext, TickResult, TickStatus
from loops._sandbox_converge import Convergence, RepoOutcome, RepoReport
from loops._sandbox_options import SandboxFixerOptions, ScenarioSpec

__all__ = ["SandboxFixerLoop", "SandboxFixerOptions", "ScenarioSpec"]

_STATUS: Final[dict[RepoOutcome, TickStatus]] = {
    "satisfied": "ok",
    "fixed": "ok",
    "shadow": "warning",
    "waiting": "warning",
    "escalated": "warning",
    "error": "warning",
    "attempting": "failed",
    "unconfigured": "unconfigured",
}
_RANK: Final[dict[TickStatus, int]] = {
    "idle": 0,
    "ok": 1,
    "warning": 2,
    "failed": 3,
    "unconfigured": 4,
}
_COUNTS: Final = (
    "repos",
    "scenarios",
    "passed",
    "attempts",
    "fixed",
    "changes_opened",
    "escalations",
    "escalated",
    "errors",
)


class SandboxFixerLoop(Loop[SandboxFixerOptions]):
    name = "sandbox_fixer"
    description = "Runs the sandbox scenarios; sends the agent until they pass, else escalates."
    area = "quality"
    default_interval_s = 3600.0
    interval_bounds = (60.0, 7 * 86_400.0)
    ports = ("workspace", "sandbox", "changes", "issues", "agent", "clock")
    Options = SandboxFixerOptions
    default_timeout_s = 4 * 3600.0
    default_mode = "shadow"
    audit_actions = (
        "score.recorded",
        "attempt.started",
        "attempt.finished",
        "change.opened",
        "change.failed",
        "escalated",
        "episode.reopened",
        "issue.filed",
        "issue.updated",
        "issue.closed",
        "issue.failed",
        "repo.failed",
    )

    async def tick(self, ctx: TickContext[SandboxFixerOptions]) -> TickResult:
        opts = ctx.options
        if not opts.scenarios:
            return TickResult(status="unconfigured", summary="no scenarios configured")
        scenarios = tuple(spec.scenario() for spec in opts.scenarios)
        names = [name for name in ctx.repos if not opts.repos or name in opts.repos]
        reports: dict[str, RepoReport] = {}
        for name in names:
            async with ctx.repo(name) as repo:
                work = await Convergence.load(ctx, repo, scenarios)
                reports[name] = await work.run()
        return _result(len(scenarios), reports)


def _result(scenarios: int, reports: dict[str, RepoReport]) -> TickResult:
    tally: Counter[str] = Counter(repos=len(reports))
    for report in reports.values():
        tally["scenarios"] += scenarios
        tally["passed"] += report.evaluation.passed if report.evaluation else 0
        tally["attempts"] += report.attempts
        tally["changes_opened"] += report.changes
        tally["escalations"] += report.escalations
        tally["fixed"] += report.outcome == "fixed"
        tally["escalated"] += report.outcome == "escalated"
        tally["errors"] += report.outcome == "error"
    statuses = [_STATUS[r.outcome] for r in reports.values()]
    status: TickStatus = max(statuses, key=_RANK.__getitem__) if statuses else "idle"
    summary = "; ".join(
        f"{name}: {r.outcome}"
        + (f" ({r.evaluation.passed}/{r.evaluation.total})" if r.evaluation else "")
        for name, r in reports.items()
    )
    return TickResult(
        status=status,
        counts={key: tally[key] for key in _COUNTS},
        summary=summary or "no managed repository",
        details={"repos": {name: r.details() for name, r in reports.items()}},
    )
