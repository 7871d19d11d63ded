"""Response models built from the runtime's state."""

from __future__ import annotations

import functools
import time
from datetime import UTC, datetime
from typing import Any

from hydra.api.models import BudgetView, LoopView, SwitchView
from hydra.ids import utc_iso
from hydra.loop_state import LoopState, LoopStatus
from hydra.runtime import Runtime
from hydra.sdk import Loop
from hydra.switches import Switch


def switch_view(switch: Switch) -> SwitchView:
    return SwitchView.model_validate(switch_fields(switch))


def switch_fields(switch: Switch) -> dict[str, Any]:
    return {"enabled": switch.enabled, "by": switch.actor, "reason": switch.reason, "at": switch.at}


def today() -> str:
    return utc_iso(time.time())[:10]


# Views are assembled as plain dicts, then validated in one call (pydantic's core does that
# in Rust) or, for the polled ``GET /api/loops``, serialised as they are: setting model
# attributes one by one in Python cost more than the rest of that request with 20 loops.


def loop_view(rt: Runtime, status: LoopStatus) -> LoopView:
    return LoopView.model_validate(loop_fields(rt, status))


def loop_fields(rt: Runtime, status: LoopStatus, *, day: str | None = None) -> dict[str, Any]:
    """A :class:`LoopView` as a dict; ``day``: today's UTC date, when building many at once."""
    name = status.name
    entry = rt.registry.get(name)
    config = rt.configs.get(name)
    blocked = rt.board.blocked_reason(name) or status.stop_reason
    state = status.state
    if blocked and state in (LoopState.WAITING, LoopState.BACKING_OFF):
        # A switch takes effect at once; the supervisor records it on its next wake-up.
        state = LoopState.DISABLED
    fields: dict[str, Any] = {
        "name": name,
        "plugin": entry.status,
        "source": entry.source,
        "state": state.value,
        "recoverable": state.recoverable,
        "blocked_reason": blocked,
        "error": entry.error,
        "running_run_id": status.running_run_id,
        "last": _last(status),
        "last_started_at": _iso(status.last_started_at),
        "last_finished_at": _iso(status.last_finished_at),
        "next_due_at": _iso(status.next_due_at)
        if state in (LoopState.WAITING, LoopState.BACKING_OFF)
        else None,
        "consecutive_failures": status.consecutive_failures,
        "backoff_s": round(status.backoff_s, 3),
        "ticks": status.ticks,
    }
    if entry.cls is not None:
        fields.update(_class_fields(entry.cls))
    if config is not None:
        switch = rt.board.loop_switch(name)
        fields["enabled"] = switch.enabled
        fields["static_enabled"] = config.enabled
        fields["switch"] = switch_fields(switch)
        fields["mode"] = rt.board.mode(name)
        fields["interval_s"] = rt.board.interval_s(name)
        fields["interval_bounds"] = config.bounds
        fields["timeout_s"] = config.timeout_s
        fields["budget"] = budget_fields(rt, name, day=day)
    return fields


def budget_view(rt: Runtime, loop: str, *, day: str | None = None) -> BudgetView:
    return BudgetView.model_validate(budget_fields(rt, loop, day=day))


def budget_fields(rt: Runtime, loop: str, *, day: str | None = None) -> dict[str, Any]:
    cap = rt.board.daily_budget_usd(loop)
    spent = rt.ledger.spent_on(loop, day or today())
    return {
        "daily_budget_usd": cap,
        "spent_today_usd": round(spent, 6),
        "over_budget": cap is not None and spent > cap,
    }


@functools.lru_cache(maxsize=1024)
def _class_fields(cls: type[Loop[Any]]) -> dict[str, Any]:
    """What a loop class declares (fixed for the life of the process)."""
    return {
        "description": cls.description,
        "area": cls.area,
        "ports": tuple(cls.ports),
        "default_interval_s": float(cls.default_interval_s),
    }


def _iso(epoch: float | None) -> str | None:
    return None if epoch is None else _iso_of(epoch)


@functools.lru_cache(maxsize=1024)
def _iso_of(epoch: float) -> str:
    # utc_iso's format ("%Y-%m-%dT%H:%M:%S.%fZ"), faster; a loop's times change once per tick.
    return datetime.fromtimestamp(epoch, UTC).isoformat(timespec="microseconds")[:-6] + "Z"


def _last(status: LoopStatus) -> dict[str, Any] | None:
    outcome = status.last_outcome
    if outcome is None:
        return None
    return {
        "run_id": outcome.run_id,
        "kind": outcome.kind,
        "status": outcome.status,
        "duration_ms": round(outcome.duration_s * 1000, 3),
        "summary": outcome.result.summary if outcome.result is not None else None,
        "counts": dict(outcome.result.counts) if outcome.result is not None else None,
        "error": outcome.error,
    }
