"""Which loop and run the current task works for, so costs are attributed without plumbing.

The base class sets :data:`CURRENT_TICK` around every tick; tasks started inside the tick
inherit it, so every runner call made on the tick's behalf is charged to the right loop and run.
"""

from __future__ import annotations

from contextvars import ContextVar
from dataclasses import dataclass


@dataclass(frozen=True)
class TickRef:
    loop: str
    run_id: str


CURRENT_TICK: ContextVar[TickRef | None] = ContextVar("hydra_current_tick", default=None)


def current_tick() -> TickRef | None:
    """The tick the calling task works for, or ``None`` outside any tick."""
    return CURRENT_TICK.get()
