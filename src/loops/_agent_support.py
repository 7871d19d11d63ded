"""What the loops that run a coding agent share: availability, scratch worktrees, bounded text.

Nothing here catches :class:`ports.CreditExhausted` or :class:`ports.AuthFailed`: they stop the
calling loop (the runtime switches it off, audited).
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any, Final

import anyio

from hydra.sdk import Logger, TickContext
from ports import AgentPort, AgentResult, PortError, WorkspacePort, Worktree

__all__ = [
    "CLEANUP_TIMEOUT_S",
    "agent_facts",
    "agent_unconfigured",
    "clip",
    "one_line",
    "reap_worktrees",
    "safe_ref",
    "scratch_worktree",
]

CLEANUP_TIMEOUT_S: Final = 10.0
"""How long removing a worktree may take after the work in it was cancelled."""
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def agent_unconfigured(agent: AgentPort) -> str | None:
    """Why the agent cannot run (its port says ``unconfigured``), or ``None`` when it can."""
    info = agent.info()
    if info.state == "unconfigured":
        return info.detail or f"{info.implementation} agent is not configured"
    return None


def agent_facts(result: AgentResult) -> dict[str, Any]:
    """The facts of one agent run worth an audit record (never its prompt or transcript)."""
    return {
        "status": result.status,
        "provider": result.provider,
        "model": result.model,
        "usd": round(result.usd, 6),
        "duration_s": round(result.duration_s, 3),
        "input_tokens": result.input_tokens,
        "output_tokens": result.output_tokens,
    }


def clip(text: str, limit: int, *, marker: str = "[… {n} more characters]") -> str:
    """``text`` cut to about ``limit`` characters, saying how much was left out."""
    if len(text) <= limit:
        return text
    return text[:limit].rstrip() + "\n" + marker.format(n=len(text) - limit)


def one_line(text: str, limit: int) -> str:
    """``text`` on one line (whitespace runs become one space), cut to ``limit`` with ``…``."""
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1].rstrip() + "…"


def safe_ref(text: str) -> str:
    """``text`` usable inside a worktree or branch name (letters, digits, ``._-``)."""
    cleaned = _UNSAFE.sub("-", text).strip(".-_")
    return cleaned[:40] or "x"


@asynccontextmanager
async def scratch_worktree(
    workspace: WorkspacePort,
    name: str,
    *,
    branch: str,
    base: str,
    log: Logger,
    delete_branch: bool | Callable[[], bool] = False,
) -> AsyncIterator[Worktree]:
    """A worktree for one piece of agent work, removed afterwards whatever happens (even when
    the work is cancelled). Its branch stays (it carries the work) unless ``delete_branch`` (or
    what it returns when called at removal time, once the work's outcome is known)."""
    worktree = await workspace.create_worktree(name, branch=branch, base=base)
    try:
        yield worktree
    finally:
        with anyio.CancelScope(shield=True), anyio.move_on_after(CLEANUP_TIMEOUT_S):
            drop = delete_branch() if callable(delete_branch) else delete_branch
            try:
                await workspace.remove_worktree(name, delete_branch=drop)
            except PortError as exc:
                log.warning("worktree.remove_failed", worktree=name, error=str(exc))


async def reap_worktrees(
    ctx: TickContext[Any],
    repo: str,
    workspace: WorkspacePort,
    prefix: str,
    *,
    delete_branch: bool = False,
) -> None:
    """Remove leftovers of earlier work (a daemon killed mid-attempt): every worktree whose
    name starts with ``prefix`` (with its branch when ``delete_branch``, as
    :func:`scratch_worktree` would have). Call it before the tick's own work in ``repo`` starts.

    Removals are audited as ``worktree.reaped``; a workspace that cannot list its worktrees is
    logged (quietly when it is merely unconfigured: the work that follows reports that), and so
    is a worktree that cannot be removed (the others still are).
    """
    try:
        leftovers = [w.name for w in await workspace.list_worktrees() if w.name.startswith(prefix)]
    except PortError as exc:
        level = ctx.log.debug if exc.kind == "unconfigured" else ctx.log.warning
        level("worktree.reap_failed", repo=repo, error=str(exc))
        return
    removed = []
    for name in leftovers:
        try:
            await workspace.remove_worktree(name, delete_branch=delete_branch)
        except PortError as exc:
            ctx.log.warning("worktree.reap_failed", repo=repo, worktree=name, error=str(exc))
            continue
        removed.append(name)
    if removed:
        await ctx.audit("worktree.reaped", {"repo": repo, "worktrees": removed})
