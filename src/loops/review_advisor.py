"""The ``review_advisor`` loop: the post-verify gate every change request passes.

For each open change request of each managed repository, once per head commit:

1. **risk** from the changed paths and the size (:mod:`loops._risk`, rules in the options);
2. **self-modification guard**: a change to Hydra's own repository touching any path of
   :data:`SELF_PATHS` (the single source of truth for "the advisor's own files",
   :mod:`loops._review_guard`), or a change to any repository touching ``protected_paths``, is
   vetoed, the agent is not even asked, and the review says why;
3. **the advisor**: the agent reviews the (bounded) diff and answers with a JSON verdict
   somewhere in its prose (:mod:`loops._verdict`). If it is unavailable — no agent, a timeout, a
   crash, a failed run, no parseable verdict — the verdict is ``approve`` (``veto`` with
   ``fail_as_veto``): failure-soft. Credit exhaustion and auth failures still stop the loop;
4. **policy**: risk below ``auto_approve_below`` and verdict ``approve`` is auto-approvable —
   merged when ``auto_merge`` is on (at the reviewed head commit only: a change pushed to since
   is refused by the port and recorded as ``review.merge_failed``), else approved and left to
   merge. Everything else is posted for a human: a veto as a veto, anything else as a comment
   (never a formal approval).

The advisor runs in a scratch worktree (``review-<change>-<run>`` on branch
``hydra/review/<change>-<run>``) that is removed with its branch afterwards.

Every verdict is audited as ``review.verdict`` before the review is posted.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any, Final

from pydantic import BaseModel, ConfigDict, Field, field_validator

from hydra.sdk import Loop, TickContext, TickResult, TickStatus
from loops._agent_support import (
    agent_facts,
    agent_unconfigured,
    clip,
    reap_worktrees,
    safe_ref,
    scratch_worktree,
)
from loops._globs import check_globs, matching_paths
from loops._review_guard import SELF_PATHS, SelfRepos
from loops._review_text import (
    Decision,
    build_review_prompt,
    diff_paths,
    listing,
    policy,
    review_body,
)
from loops._risk import (
    DEFAULT_FILES_UP_TO,
    DEFAULT_LINES_UP_TO,
    DEFAULT_PATH_RISK,
    Risk,
    RiskAssessment,
    check_thresholds,
    classify,
)
from loops._tally import Tally
from loops._verdict import find_verdict
from ports import AgentLimits, ChangeRequest, PortError, RepoPorts, Verdict

__all__ = ["SELF_PATHS", "ReviewAdvisorLoop", "ReviewAdvisorOptions"]

AGENT_SOURCE: Final = "review_advisor"
WORKTREE_PREFIX: Final = "review-"
_COUNTS: Final = (
    "open",
    "reviewed",
    "unchanged",
    "approved",
    "vetoed",
    "commented",
    "auto_approvable",
    "merged",
    "merge_failed",
    "guarded",
    "failure_soft",
    "errors",
)


class ReviewAdvisorOptions(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)

    auto_approve_below: Risk = "low"
    """Changes whose risk is below this level and whose verdict is `approve` are
    auto-approvable (with the default, only `trivial` ones)."""
    auto_merge: bool = False
    """Merge auto-approvable changes; when off they get an approving review and wait."""
    fail_as_veto: bool = False
    """When the advisor is unavailable (no agent, timeout, crash, failed run, no parseable
    verdict) veto instead of approving."""
    protected_paths: tuple[str, ...] = ()
    """Extra path globs that, in every managed repository, get a veto whatever else is said."""
    self_repos: tuple[str, ...] = ()
    """Managed repositories that hold Hydra's own source: there, a change touching the
    advisor's own files (its modules, the SDK, runtime, adapters and ports that run it,
    `pyproject.toml`) is vetoed. A repository is also taken for Hydra's own, whatever this
    says, when the base of a change holds `src/loops/review_advisor.py` and
    `src/hydra/sdk/__init__.py`; name it here if its layout differs. In other repositories
    those paths are ordinary files and only `protected_paths` guard them."""
    path_risk: dict[str, Risk] = Field(default_factory=lambda: dict(DEFAULT_PATH_RISK))
    """Path glob to risk, first match wins (`*` within a directory, `**` across directories,
    a pattern without `/` matches the file name anywhere). Defaults: secrets `critical`; CI,
    Dockerfiles and migrations `high`; dependency manifests and lock files `medium`; `tests/**`
    `low`; `docs/**`, `*.md`, `*.rst` `trivial`."""
    default_path_risk: Risk = "low"
    """Risk of a changed path that no `path_risk` rule matches."""
    lines_up_to: dict[Risk, int] = Field(default_factory=lambda: dict(DEFAULT_LINES_UP_TO))
    """Lines changed (added + deleted) up to which a change is at most this risky; past the
    last threshold it is `critical`."""
    files_up_to: dict[Risk, int] = Field(default_factory=lambda: dict(DEFAULT_FILES_UP_TO))
    """Files changed up to which a change is at most this risky; past the last threshold it is
    `critical`."""
    wall_clock_s: float = Field(default=600.0, gt=0)
    """Wall-clock cap of one advisor run, in seconds."""
    max_usd: float | None = Field(default=None, gt=0)
    """Cost cap of one advisor run in USD; none unless set."""
    max_diff_bytes: int = Field(default=100_000, ge=1_000)
    """The diff shown to the advisor is cut at this many bytes (and says so)."""

    _globs = field_validator("protected_paths", "path_risk")(check_globs)
    _thresholds = field_validator("lines_up_to", "files_up_to")(check_thresholds)


class ReviewAdvisorLoop(Loop[ReviewAdvisorOptions]):
    name = "review_advisor"
    description = "Rates each open change request's risk and gates it on an agent's review."
    area = "delivery"
    default_interval_s = 300.0
    interval_bounds = (30.0, 86_400.0)
    ports = ("changes", "workspace", "agent")
    Options = ReviewAdvisorOptions
    default_timeout_s = 3600.0
    default_mode = "shadow"
    audit_actions = ("review.verdict", "review.merged", "review.merge_failed", "worktree.reaped")

    async def tick(self, ctx: TickContext[ReviewAdvisorOptions]) -> TickResult:
        run = _Tick(ctx)
        for name in ctx.repos:
            async with ctx.repo(name) as repo:
                try:
                    await run.repo(name, repo)
                except PortError as exc:
                    run.tally.error(f"{name}: {exc}")
        return run.result()


@dataclass(frozen=True)
class _Item:
    """One change request under review."""

    name: str
    repo: RepoPorts
    change: ChangeRequest
    head: str
    """The head commit, or a digest of the diff when the world gives no head."""
    risk: RiskAssessment
    diff: str


class _Tick:
    def __init__(self, ctx: TickContext[ReviewAdvisorOptions]) -> None:
        self.ctx = ctx
        self.opts = ctx.options
        self.tally = Tally(_COUNTS)
        self.unconfigured = agent_unconfigured(ctx.world.agent)
        self.self_repos = SelfRepos(self.opts.self_repos, run_id=ctx.run_id, log=ctx.log)

    async def repo(self, name: str, repo: RepoPorts) -> None:
        await reap_worktrees(self.ctx, name, repo.workspace, WORKTREE_PREFIX, delete_branch=True)
        changes = await repo.changes.list_open()
        self.tally.add("open", len(changes))
        await self._forget_closed(name, {c.id for c in changes})
        for change in changes:
            try:
                await self._review(name, repo, change)
            except PortError as exc:
                self.tally.error(f"{name} change {change.id}: {exc}")

    async def _forget_closed(self, name: str, open_ids: set[str]) -> None:
        prefix = f"reviewed:{name}:"
        for key in await self.ctx.state.items():
            if key.startswith(prefix) and key.removeprefix(prefix) not in open_ids:
                await self.ctx.state.delete(key)

    async def _seen(self, key: str, fingerprint: str) -> bool:
        """Whether this head was reviewed already (a shadow review does not count once live)."""
        stored = await self.ctx.state.get(key)
        if not isinstance(stored, dict) or stored.get("head") != fingerprint:
            return False
        return stored.get("mode") == "live" or self.ctx.mode == "shadow"

    async def _review(self, name: str, repo: RepoPorts, change: ChangeRequest) -> None:
        key = f"reviewed:{name}:{change.id}"
        if change.head_sha and await self._seen(key, change.head_sha):
            self.tally.add("unchanged")
            return
        diff = await repo.changes.diff(change.id, max_bytes=self.opts.max_diff_bytes)
        fingerprint = change.head_sha or "diff:" + hashlib.sha256(diff.encode()).hexdigest()
        if not change.head_sha and await self._seen(key, fingerprint):
            self.tally.add("unchanged")
            return
        files = await repo.changes.changed_files(change.id)
        risk = classify(
            files,
            path_risk=self.opts.path_risk,
            default_path_risk=self.opts.default_path_risk,
            lines_up_to=self.opts.lines_up_to,
            files_up_to=self.opts.files_up_to,
        )
        item = _Item(name, repo, change, fingerprint, risk, diff)
        guarded = await self._guard(item, {f.path for f in files} | diff_paths(diff))
        if guarded is not None:
            decision, ran = guarded, None
        elif self.unconfigured is not None:
            decision, ran = (
                self._failure_soft(f"no agent is configured ({self.unconfigured})"),
                None,
            )
        else:
            decision, ran = await self._ask(item)
        await self._act(item, decision, ran)
        await self.ctx.state.put(key, {"head": fingerprint, "mode": self.ctx.mode})

    async def _guard(self, item: _Item, paths: set[str]) -> Decision | None:
        """The guard's veto, or ``None`` when the change touches nothing guarded."""
        why: list[str] = []
        own = matching_paths(paths, SELF_PATHS)
        if own and await self.self_repos.is_hydra(item.name, item.repo, item.change.base or "HEAD"):
            why.append(
                f"touches the review advisor's own files in {item.name}, Hydra's own "
                f"repository: {listing(own)}"
            )
        protected = matching_paths(paths, self.opts.protected_paths)
        if protected:
            why.append(f"touches protected paths: {listing(protected)}")
        if not why:
            return None
        return Decision("veto", "guard", ("; ".join(why) + "; changes to the gate need a human",))

    async def _ask(self, item: _Item) -> tuple[Decision, dict[str, Any] | None]:
        """The advisor agent's verdict on the change, or the failure-soft one."""
        ref = f"{safe_ref(item.change.id)}-{self.ctx.run_id[-8:]}"
        try:
            async with scratch_worktree(
                item.repo.workspace,
                f"{WORKTREE_PREFIX}{ref}",
                branch=f"hydra/review/{ref}",
                base=item.change.base,
                log=self.ctx.log,
                delete_branch=True,  # a scratch branch: the review carries nothing on it
            ) as worktree:
                prompt = build_review_prompt(
                    repo=item.name,
                    change=item.change,
                    risk=item.risk,
                    diff=item.diff,
                    workdir=worktree.path,
                )
                result = await self.ctx.world.agent.run(
                    prompt=prompt,
                    workdir=worktree.path,
                    limits=AgentLimits(self.opts.wall_clock_s, self.opts.max_usd),
                    source=AGENT_SOURCE,
                )
        except PortError as exc:
            return self._failure_soft(f"no workspace for the advisor ({exc})"), None
        ran = agent_facts(result)
        if result.status == "shadow":
            return Decision("comment", "shadow", ("shadow mode: the advisor was not run",)), ran
        if not result.ok:
            why = f"the advisor run ended `{result.status}`: {clip(result.summary, 300)}"
            return self._failure_soft(why), ran
        parsed = find_verdict(result.summary)
        if parsed is None:
            return self._failure_soft("the advisor's answer held no JSON verdict"), ran
        return Decision(parsed.verdict, "advisor", parsed.reasons), ran

    def _failure_soft(self, why: str) -> Decision:
        self.tally.add("failure_soft")
        verdict: Verdict = "veto" if self.opts.fail_as_veto else "approve"
        return Decision(verdict, "failure-soft", (why,))

    async def _act(self, item: _Item, decision: Decision, ran: dict[str, Any] | None) -> None:
        gate = policy(
            decision,
            risk=item.risk.risk,
            threshold=self.opts.auto_approve_below,
            auto_merge=self.opts.auto_merge,
        )
        facts: dict[str, Any] = {"repo": item.name, "change": item.change.id, "head_sha": item.head}
        await self.ctx.audit(
            "review.verdict",
            {
                **facts,
                "risk": item.risk.risk,
                "risk_detail": item.risk.explain(),
                "verdict": decision.verdict,
                "reasons": list(decision.reasons),
                "source": decision.source,
                "auto_approvable": gate.auto,
                "posted": gate.posted,
                **({"agent": ran} if ran is not None else {}),
            },
        )
        body = review_body(
            decision, risk=item.risk, posted=gate.posted, note=gate.note, head_sha=item.head
        )
        await item.repo.changes.post_review(item.change.id, gate.posted, body)
        self._count(decision, gate.auto)
        if gate.auto and self.opts.auto_merge:
            await self._merge(item.repo, item.change, facts)

    async def _merge(self, repo: RepoPorts, change: ChangeRequest, facts: dict[str, Any]) -> None:
        try:
            # Exactly the reviewed head or nothing: the port refuses (conflict) once it moved.
            await repo.changes.merge(change.id, expected_head=change.head_sha or None)
        except PortError as exc:
            self.tally.add("merge_failed")
            await self.ctx.audit("review.merge_failed", {**facts, "error": str(exc)})
            return
        if self.ctx.mode == "live":  # in shadow mode the would.merge record says it all
            self.tally.add("merged")
            await self.ctx.audit("review.merged", facts)

    def _count(self, decision: Decision, auto: bool) -> None:
        self.tally.add("reviewed")
        self.tally.add({"approve": "approved", "veto": "vetoed"}.get(decision.verdict, "commented"))
        if decision.source == "guard":
            self.tally.add("guarded")
        if auto:
            self.tally.add("auto_approvable")

    def result(self) -> TickResult:
        t = self.tally
        status: TickStatus
        if self.unconfigured is not None:
            status = "unconfigured"
        elif t["errors"] or t["merge_failed"] or t["failure_soft"]:
            status = "warning"
        else:
            status = "ok" if t["reviewed"] else "idle"
        summary = (
            f"{t['reviewed']} reviewed ({t['approved']} approved, {t['vetoed']} vetoed, "
            f"{t['commented']} commented), {t['merged']} merged, {t['unchanged']} unchanged"
        )
        if self.unconfigured is not None:
            summary += f"; agent unconfigured: {self.unconfigured}"
        details = {"errors": t.errors} if t.errors else {}
        return TickResult(status=status, counts=t.counts, summary=summary, details=details)
