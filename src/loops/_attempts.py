"""Preflight's memory, read back from its own audit stream (so a restart forgets nothing).

Records, all carrying ``repo`` and ``issue``:

* ``attempt.started`` — ``attempt`` (number), ``worktree``, ``branch``;
* ``attempt.finished`` — ``attempt``, ``outcome``, ``counted`` (whether it counts against
  ``max_attempts``), ``summary``, ``branch`` and, by outcome, ``agent``, ``paths``,
  ``protected``, ``commit`` (with ``wip`` when it holds the unfinished work of an agent stopped
  at a cap or cut short by the tick timeout), ``change``, ``error``, ``issue_updated_at``;
* ``issue.resolved`` — the issue was commented and relabelled after a successful attempt;
* ``issue.escalated`` — the issue was handed to a human after ``max_attempts`` failures.

An issue's *window* is its counted failures since it was last escalated or resolved: a human
who removes ``human-required`` to ask for another round gets ``max_attempts`` fresh attempts.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from hydra.sdk import LoopHistory

__all__ = ["ACTIONS", "IssueMemory", "escalation_comment", "load_memories"]

ACTIONS: Final = ("attempt.started", "attempt.finished", "issue.resolved", "issue.escalated")
MAX_SUMMARY_CHARS: Final = 600


@dataclass
class IssueMemory:
    """What the stream says about one issue."""

    started: int = 0
    """Attempts ever started (numbers the next worktree and branch)."""
    window: list[Mapping[str, Any]] = field(default_factory=list)
    """Payloads of the counted failures since the last escalation or resolution."""
    unresolved_success: Mapping[str, Any] | None = None
    """A succeeded attempt whose issue was not commented and relabelled yet."""
    previewed: set[str] = field(default_factory=set)
    """``updated_at`` of the issue versions a shadow-mode attempt already previewed."""

    def fold(self, action: str, payload: Mapping[str, Any]) -> None:
        if action == "attempt.started":
            self.started = max(self.started, int(payload.get("attempt", 0)))
        elif action == "attempt.finished":
            outcome = payload.get("outcome")
            if outcome == "succeeded":
                self.unresolved_success = payload
            elif outcome == "shadow" and payload.get("issue_updated_at"):
                self.previewed.add(str(payload["issue_updated_at"]))
            elif payload.get("counted"):
                self.window.append(payload)
        elif action == "issue.resolved":
            self.unresolved_success = None
            self.window = []
        elif action == "issue.escalated":
            self.window = []

    @property
    def failures(self) -> int:
        return len(self.window)

    def earlier(self) -> tuple[str, ...]:
        """One line per failure in the window, for the next prompt."""
        return tuple(_line(p, MAX_SUMMARY_CHARS) for p in self.window)


async def load_memories(history: LoopHistory, repo: str) -> dict[str, IssueMemory]:
    """Every issue of ``repo`` the stream knows about."""
    memories: dict[str, IssueMemory] = {}
    for record in await history.find(ACTIONS, where={"repo": repo}):
        payload = record.get("payload") or {}
        issue = str(payload.get("issue", ""))
        if issue:
            memories.setdefault(issue, IssueMemory()).fold(str(record.get("action")), payload)
    return memories


def escalation_comment(window: list[Mapping[str, Any]], *, max_attempts: int, label: str) -> str:
    """The comment that hands an issue to a human, summarising every attempt of the window."""
    lines = [
        f"Hydra preflight gave up after {len(window)} failed attempts "
        f"(limit {max_attempts}); this issue is now `{label}`.",
        "",
        "| attempt | outcome | branch | cost | summary |",
        "|---|---|---|---|---|",
    ]
    for payload in window:
        agent = payload.get("agent") or {}
        usd = agent.get("usd") if isinstance(agent, Mapping) else None
        cost = f"${usd:.2f}" if isinstance(usd, int | float) else "-"
        summary = _cell(_detail(payload), 300)
        lines.append(
            f"| {payload.get('attempt', '?')} | `{payload.get('outcome', '?')}` | "
            f"`{payload.get('branch', '?')}` | {cost} | {summary} |"
        )
    lines += [
        "",
        f"Remove `{label}` and keep the trigger label to give preflight another "
        f"{max_attempts} attempts.",
    ]
    return "\n".join(lines)


def _detail(payload: Mapping[str, Any]) -> str:
    protected = payload.get("protected")
    if payload.get("outcome") == "protected_path" and protected:
        return "touched protected paths: " + ", ".join(str(p) for p in protected)
    text = str(payload.get("error") or payload.get("summary") or "")
    if payload.get("wip"):
        text = f"unfinished work kept as WIP commit {str(payload.get('commit'))[:12]}; {text}"
    return text


def _line(payload: Mapping[str, Any], limit: int) -> str:
    text = " ".join(_detail(payload).split())
    if len(text) > limit:
        text = text[:limit] + " …"
    head = f"attempt {payload.get('attempt', '?')}: {payload.get('outcome', '?')}"
    return f"{head} — {text}" if text else head


def _cell(text: str, limit: int) -> str:
    flat = " ".join(text.split()).replace("|", "\\|")
    return flat if len(flat) <= limit else flat[:limit] + " …"
