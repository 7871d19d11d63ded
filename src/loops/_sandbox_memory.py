"""What ``sandbox_fixer`` remembers per repository (durable state key ``repo:<name>``).

An *episode* is the work on one failure of the base: it starts when the base fails with a
signature the loop was not already working on, and ends when the base satisfies the threshold.
Within it the loop keeps the best score seen and the attempts since that score last improved
(stall detection), whether it escalated, and a change request it opened that is not merged yet.
Attempts are counted per failure signature and survive episodes and restarts; they are counted
*before* the agent runs, so a daemon killed mid-attempt never gets a free retry.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Final, Literal

__all__ = ["EscalationReason", "RepoMemory"]

EscalationReason = Literal["max_attempts", "stalled"]
_MAX_SIGNATURES: Final = 50


@dataclass
class RepoMemory:
    episode: str | None = None
    """Failure signature of the base when the current episode began."""
    best: float = 0.0
    stall: int = 0
    """Counted attempts since ``best`` last improved."""
    tried: int = 0
    """Counted attempts in this episode."""
    escalated: EscalationReason | None = None
    """Why the episode was handed to a human (no attempts until it ends or is resolved)."""
    attempts: dict[str, int] = field(default_factory=dict)
    """Counted attempts per failure signature (the newest signatures, bounded)."""
    change: dict[str, Any] | None = None
    """``signature``, ``branch`` and ``id`` (``None`` until opened) of a fix not merged yet."""
    issue: str | None = None
    """The ``human-required`` issue filed on escalation, until the scenarios pass again."""
    trajectory: list[dict[str, Any]] = field(default_factory=list)

    @classmethod
    def load(cls, raw: Any) -> RepoMemory:
        if not isinstance(raw, dict):
            return cls()
        return cls(
            episode=raw.get("episode"),
            best=float(raw.get("best", 0.0)),
            stall=int(raw.get("stall", 0)),
            tried=int(raw.get("tried", 0)),
            escalated=_reason(raw.get("escalated")),
            attempts={str(k): int(v) for k, v in raw.get("attempts", {}).items()},
            change=raw.get("change"),
            issue=raw.get("issue"),
            trajectory=list(raw.get("trajectory", [])),
        )

    def dump(self) -> dict[str, Any]:
        return {
            "episode": self.episode,
            "best": self.best,
            "stall": self.stall,
            "tried": self.tried,
            "escalated": self.escalated,
            "attempts": self.attempts,
            "change": self.change,
            "issue": self.issue,
            "trajectory": self.trajectory,
        }

    def record(self, point: dict[str, Any], limit: int) -> None:
        self.trajectory = [*self.trajectory, point][-limit:]

    def begin(self, signature: str, score: float) -> None:
        """The base fails with ``signature``: carry on with its episode or start a new one."""
        if self.episode != signature:
            self.episode, self.best, self.escalated = signature, score, None
            self.stall = self.tried = 0

    def satisfied(self) -> None:
        """The base meets the threshold: the episode and every attempt count are over."""
        self.episode, self.best, self.escalated = None, 0.0, None
        self.stall = self.tried = 0
        self.attempts, self.change = {}, None

    def retry(self) -> None:
        """A human resolved the escalation without fixing the failure: fresh attempts."""
        self.stall = self.tried = 0
        self.escalated, self.attempts = None, {}

    def count(self, signature: str) -> int:
        """Count an attempt on ``signature``; its number."""
        number = self.attempts.pop(signature, 0) + 1
        self.attempts[signature] = number
        self.tried += 1
        while len(self.attempts) > _MAX_SIGNATURES:
            del self.attempts[next(iter(self.attempts))]
        return number

    def uncount(self, signature: str) -> None:
        """The attempt did not happen after all (shadow mode, no agent)."""
        self.tried = max(self.tried - 1, 0)
        left = self.attempts.get(signature, 0) - 1
        if left > 0:
            self.attempts[signature] = left
        else:
            self.attempts.pop(signature, None)

    def judge(self, score: float | None) -> bool:
        """Fold a counted attempt's score in (``None``: nothing to judge); whether it improved."""
        if score is not None and score > self.best:
            self.best, self.stall = score, 0
            return True
        self.stall += 1
        return False

    def blocked(
        self, signature: str, *, max_attempts: int, stall_iterations: int
    ) -> EscalationReason | None:
        """Why no further attempt may be made on ``signature``, or ``None``."""
        if self.attempts.get(signature, 0) >= max_attempts:
            return "max_attempts"
        if self.stall >= stall_iterations:
            return "stalled"
        return None


def _reason(value: Any) -> EscalationReason | None:
    if value == "max_attempts":
        return "max_attempts"
    if value == "stalled":
        return "stalled"
    return None
