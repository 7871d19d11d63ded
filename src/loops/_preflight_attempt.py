"""One preflight attempt: worktree, prompt, agent run, protected-path check, commit, change.

The attempt never raises for an ordinary failure; its :class:`AttemptOutcome` says what
happened and whether it counts against ``max_attempts`` (it counts once the agent ran, i.e.
once money was spent). Cancellation, :class:`ports.CreditExhausted` and :class:`ports.AuthFailed`
propagate. The worktree is removed in every case.

The branch stays when the attempt left something on it or counts: a fix, a failed attempt the
escalation comment names, and the work of an agent stopped at its wall-clock or cost cap, which
is committed there as a clearly marked WIP commit (nothing paid for is thrown away; no change
request is opened for it). A branch nothing happened on — a shadow preview, an agent that is
not configured, an attempt cancelled before the agent returned — is deleted with its worktree,
so previews leave the operator's repository as they found it.

An attempt cancelled because the *tick timed out* (:meth:`hydra.sdk.TickContext.timed_out`, asked
through :class:`CutShort`) is the exception: before its worktree goes, what the agent changed so
far is committed as a WIP commit (``WIP (timed_out): …``) exactly as at a cap, and the branch
stays with it; with no change there is nothing to keep and the branch is deleted as above. This
runs shielded from the cancellation and bounded by ``CLEANUP_TIMEOUT_S``; the cancellation
still propagates (a failure to keep the work is recorded, never raised in its place; when
keeping runs out of time or fails unexpectedly, the branch is kept as it is), so the outcome
(``timed_out``, counted) is handed back in :attr:`CutShort.kept`. Any other cancellation — a
switch-off, shutdown, the repository switched off, a sibling's terminal error — keeps nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any, Final

import anyio

from hydra.sdk import Logger
from loops._agent_support import (
    CLEANUP_TIMEOUT_S,
    agent_facts,
    clip,
    one_line,
    safe_ref,
    scratch_worktree,
)
from loops._envelope import Envelope, build_prompt, repo_context
from loops._globs import matching_paths
from ports import (
    STOPPED_AT_LIMIT,
    AgentLimits,
    AgentPort,
    ChangeRequest,
    Issue,
    PortError,
    RepoPorts,
)

__all__ = [
    "AGENT_SOURCE",
    "AttemptOutcome",
    "AttemptPlan",
    "AttemptRules",
    "CutShort",
    "run_attempt",
]

AGENT_SOURCE: Final = "preflight"
"""The ``source`` of every agent run, so the cost ledger names this loop."""
MAX_SUMMARY_CHARS: Final = 4_000
MAX_TITLE_CHARS: Final = 200
_PATHS_ONLY: Final = 4_096
"""The patch itself is not used (only its paths): keep what the port returns small."""
_AGENT_FAILURES: Final = frozenset({"failed", "timeout", "budget_exceeded", "crashed"})
"""The agent was stopped at a cap mid-work: what it did so far is kept as a WIP commit."""
_CUT_SHORT_SUMMARY: Final = "the tick timed out before the attempt was done"


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
    ``unconfigured``; ``aborted`` (stopped by a switch, shutdown or a terminal error: not
    counted); ``timed_out`` (cut short by the tick timeout: counted)."""
    counted: bool
    wip: bool = False
    """``commit`` holds the partial work of an agent stopped at a cap or cut short by the tick
    timeout (not a fix)."""
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
            "wip": self.wip or None,
            "change": _change_facts(self.change),
            "error": self.error,
        }
        data.update({k: v for k, v in optional.items() if v is not None})
        return data


@dataclass
class CutShort:
    """What :func:`run_attempt` and its caller share about the tick timeout.

    The attempt asks :attr:`timed_out` when it is cancelled. When the answer is yes it keeps the
    agent's work (see the module docstring) and leaves the outcome in :attr:`kept`: the
    cancellation propagates, so the attempt cannot return it.
    """

    timed_out: Callable[[], bool]
    """Whether the cancellation under way is the tick timeout (``TickContext.timed_out``)."""
    kept: AttemptOutcome | None = None
    """The ``timed_out`` outcome (with ``commit`` and ``wip`` when work was kept, ``error`` when
    keeping it failed), or ``None`` when the timeout did not cut the attempt short."""
    committed: str | None = None
    """The attempt's fix, once committed (before its change request is opened)."""
    uncertain: bool = False
    """Keeping ran out of time or failed unexpectedly: a commit may have landed, so the branch
    is kept as it is."""


def _change_facts(change: ChangeRequest | None) -> dict[str, Any] | None:
    if change is None:
        return None
    return {"id": change.id, "url": change.url, "branch": change.branch}


async def run_attempt(
    repo: RepoPorts,
    agent: AgentPort,
    plan: AttemptPlan,
    rules: AttemptRules,
    log: Logger,
    *,
    cut_short: CutShort,
) -> AttemptOutcome:
    """Carry out one attempt (see the module docstring)."""
    ran: dict[str, Any] | None = None
    outcome: AttemptOutcome | None = None

    def scratch_branch() -> bool:
        """Whether the branch goes with the worktree (decided once the attempt is over)."""
        if outcome is None:  # raised: an agent that ran failed counted, its branch is named;
            kept = cut_short.kept  # and a tick timeout may have left a WIP commit on it
            return ran is None and not cut_short.uncertain and (kept is None or kept.commit is None)
        return not outcome.counted and outcome.commit is None

    try:
        async with scratch_worktree(
            repo.workspace,
            plan.worktree,
            branch=plan.branch,
            base=rules.base,
            log=log,
            delete_branch=scratch_branch,
        ) as worktree:
            try:
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
                    outcome = AttemptOutcome(result.status, counted=False, summary=result.summary)
                elif result.status in STOPPED_AT_LIMIT:
                    outcome = await _keep_partial(
                        repo, plan, rules, ran, status=result.status, summary=result.summary
                    )
                elif result.status in _AGENT_FAILURES:
                    outcome = AttemptOutcome(
                        result.status, counted=True, summary=result.summary, agent=ran
                    )
                else:
                    outcome = await _keep(
                        repo, plan, rules, result.summary, ran, cut_short=cut_short
                    )
            except anyio.get_cancelled_exc_class():
                if cut_short.timed_out():
                    await _keep_cut_short(repo, plan, rules, ran, log=log, cut_short=cut_short)
                raise
    except PortError as exc:
        outcome = AttemptOutcome("error", counted=ran is not None, agent=ran, error=str(exc))
    return outcome


async def _keep_cut_short(
    repo: RepoPorts,
    plan: AttemptPlan,
    rules: AttemptRules,
    ran: dict[str, Any] | None,
    *,
    log: Logger,
    cut_short: CutShort,
) -> None:
    """The tick timed out mid-attempt: keep the work so far, as at a cap, before the worktree
    goes, and leave the outcome in ``cut_short``. Shielded from the cancellation under way and
    bounded by ``CLEANUP_TIMEOUT_S``; never raises (the cancellation must propagate). Running
    out of time or an unexpected error is the outcome's ``error`` and leaves it uncertain
    whether a commit landed, so the branch is then kept as it is."""
    error = f"keeping the unfinished work ran out of time ({CLEANUP_TIMEOUT_S:g} s)"
    try:
        with anyio.CancelScope(shield=True), anyio.move_on_after(CLEANUP_TIMEOUT_S):
            kept = await _keep_partial(
                repo, plan, rules, ran, status="timed_out", summary=_CUT_SHORT_SUMMARY
            )
            if kept.commit is None and cut_short.committed is not None:
                # cut while its change request was being opened: the fix is on the branch
                kept = replace(kept, commit=cut_short.committed)
            cut_short.kept = kept
            return
    except Exception as exc:  # noqa: BLE001 - a bug here must not replace the cancellation
        error = f"the unfinished work could not be kept: {type(exc).__name__}: {exc}"
    log.warning("attempt.keep_failed", issue=plan.issue.id, error=error)
    cut_short.uncertain = True
    cut_short.kept = AttemptOutcome(
        "timed_out",
        counted=True,
        summary=_CUT_SHORT_SUMMARY,
        agent=ran,
        commit=cut_short.committed,  # a fix committed before the cut is on the branch
        error=error[:500],
    )


async def _keep_partial(
    repo: RepoPorts,
    plan: AttemptPlan,
    rules: AttemptRules,
    ran: dict[str, Any] | None,
    *,
    status: str,
    summary: str,
) -> AttemptOutcome:
    """After a run stopped at a cap (or cut short by the tick timeout): commit what the agent
    did so far as WIP on the branch.

    The attempt still fails as ``status``, counted; no change request is opened (the work is
    unfinished and unchecked). Protected paths it touched are recorded, not refused: nothing is
    proposed. A port error is recorded as the outcome's ``error``, never raised.
    """
    try:
        diff = await repo.workspace.diff(plan.worktree, max_bytes=_PATHS_ONLY)
        common: dict[str, Any] = {"summary": summary, "agent": ran, "paths": diff.paths}
        if not diff.paths:
            return AttemptOutcome(status, counted=True, **common)
        protected = tuple(matching_paths(diff.paths, rules.protected_paths))
        title = one_line(f"WIP ({status}): preflight: {plan.issue.title}", MAX_TITLE_CHARS)
        message = (
            f"{title}\n\nUnfinished work of attempt {plan.number} for issue #{plan.issue.id}: "
            f"the agent was stopped ({status}) before it was done. Kept so nothing paid for is "
            "lost; not checked, not proposed (no change request).\n"
        )
        commit = await repo.workspace.commit(plan.worktree, message)
    except PortError as exc:
        error = f"the unfinished work could not be kept: {exc}"
        return AttemptOutcome(status, counted=True, summary=summary, agent=ran, error=error)
    return AttemptOutcome(
        status, counted=True, commit=commit, wip=commit is not None, protected=protected, **common
    )


async def _keep(
    repo: RepoPorts,
    plan: AttemptPlan,
    rules: AttemptRules,
    summary: str,
    ran: dict[str, Any],
    *,
    cut_short: CutShort,
) -> AttemptOutcome:
    """After a succeeded run: check the diff, commit it, open the change request. The commit
    is noted in ``cut_short`` at once, so a tick timeout while the change request is being
    opened still names it."""
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
    cut_short.committed = commit
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
