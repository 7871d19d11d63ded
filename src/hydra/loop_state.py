"""A loop's health as the orchestrator sees it: a state with a recoverable flag, plus counters."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from enum import StrEnum

from hydra.sdk import TickOutcome


class LoopState(StrEnum):
    WAITING = "waiting"
    """Enabled, waiting for its next tick."""
    RUNNING = "running"
    BACKING_OFF = "backing_off"
    """The last tick crashed or timed out; the next one is delayed (recoverable)."""
    DISABLED = "disabled"
    """A switch or the static config keeps it off (recoverable by an operator)."""
    STOPPED = "stopped"
    """Cannot run until an operator repairs something (its audit stream is damaged)."""
    BROKEN = "broken"
    """The plugin failed to import."""

    @property
    def recoverable(self) -> bool:
        """Whether the loop gets better by itself or by flipping a switch."""
        return self not in (LoopState.STOPPED, LoopState.BROKEN)


_LATENESS_WINDOW = 256


@dataclass
class LoopStatus:
    """Live status of one loop, read by the API and the dashboard."""

    name: str
    state: LoopState = LoopState.WAITING
    blocked_reason: str | None = None
    running_run_id: str | None = None
    last_outcome: TickOutcome | None = None
    last_started_at: float | None = None
    """Wall-clock epoch seconds (formatted by the views)."""
    last_finished_at: float | None = None
    next_due_at: float | None = None
    consecutive_failures: int = 0
    backoff_s: float = 0.0
    ticks: int = 0
    stop_reason: str | None = None
    lateness_ms: deque[float] = field(default_factory=lambda: deque(maxlen=_LATENESS_WINDOW))
