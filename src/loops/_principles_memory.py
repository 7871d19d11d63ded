"""What ``principles_audit`` remembers per repository (durable state key ``repo:<name>``), and
how an audit's results decide the onboarding status."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from loops._principles_checkout import RuleResult
from loops._principles_rules import blocks

__all__ = ["Onboarding", "RepoMemory", "onboarding", "state_key"]

Onboarding = Literal["pending", "ready", "blocked"]


def state_key(repo: str) -> str:
    return f"repo:{repo}"


@dataclass
class RepoMemory:
    """What the loop keeps per repository in its state (key ``repo:<name>``)."""

    status: Onboarding = "pending"
    audits: int = 0
    last_audit: str | None = None
    outcomes: dict[str, str] = field(default_factory=dict)
    failures: dict[str, int] = field(default_factory=dict)
    """Consecutive failing audits per rule."""
    issues: dict[str, dict[str, str]] = field(default_factory=dict)
    """Per stuck rule: the issue ``id`` and the ``digest`` of the finding last reported."""

    @classmethod
    def load(cls, raw: Any) -> RepoMemory:
        if not isinstance(raw, dict):
            return cls()
        status = raw.get("status")
        return cls(
            status=status if status in ("pending", "ready", "blocked") else "pending",
            audits=int(raw.get("audits", 0)),
            last_audit=raw.get("last_audit"),
            outcomes=dict(raw.get("outcomes", {})),
            failures={k: int(v) for k, v in raw.get("failures", {}).items()},
            issues={k: dict(v) for k, v in raw.get("issues", {}).items()},
        )

    def dump(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "audits": self.audits,
            "last_audit": self.last_audit,
            "outcomes": self.outcomes,
            "failures": self.failures,
            "issues": self.issues,
        }


def onboarding(results: list[RuleResult], previous: Onboarding) -> Onboarding:
    if any(r.outcome == "failed" and blocks(r.rule.severity) for r in results):
        return "blocked"
    if any(r.outcome == "error" and blocks(r.rule.severity) for r in results):
        return previous
    return "ready"
