"""What a tick returns, and what the base class makes of a tick."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

TickStatus = Literal["ok", "idle", "warning", "failed", "unconfigured"]
"""How a tick that ran to completion went.

``ok``: work done. ``idle``: nothing to do. ``warning``: done, but something needs a look.
``failed``: the tick's work failed (an attempt failed; the loop itself is fine).
``unconfigured``: a dependency is missing (no agent CLI, say); visible, never silent.
"""

OutcomeKind = Literal["finished", "crashed", "timed_out", "terminal", "skipped"]


@dataclass(frozen=True)
class TickResult:
    """The typed result every tick returns: a status plus counts."""

    status: TickStatus
    counts: Mapping[str, int] = field(default_factory=dict)
    summary: str = ""
    details: Mapping[str, Any] = field(default_factory=dict)
    """JSON-serialisable facts worth keeping in the ``tick.finished`` record."""

    def to_payload(self) -> dict[str, Any]:
        payload: dict[str, Any] = {"status": self.status, "counts": dict(self.counts)}
        if self.summary:
            payload["summary"] = self.summary
        if self.details:
            payload["details"] = dict(self.details)
        return payload


@dataclass(frozen=True)
class TickOutcome:
    """What happened to one tick, as the orchestrator needs to know it."""

    kind: OutcomeKind
    run_id: str | None
    duration_s: float = 0.0
    result: TickResult | None = None
    error: str | None = None
    """Exception type and message for ``crashed`` / ``terminal``; why for ``skipped``."""
    terminal_reason: Literal["credit_exhausted", "auth_failed"] | None = None

    @property
    def failed(self) -> bool:
        """Whether the orchestrator should back off (the loop misbehaved, not its work)."""
        return self.kind in ("crashed", "timed_out")

    @property
    def status(self) -> str:
        """One word for tables: the tick status when it finished, else the outcome kind."""
        if self.kind == "finished" and self.result is not None:
            return self.result.status
        return self.kind
