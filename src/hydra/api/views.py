"""Response models built from the runtime's state."""

from __future__ import annotations

import time

from hydra.api.models import BudgetView, LastTickView, LoopView, SwitchView
from hydra.ids import utc_iso
from hydra.loop_state import LoopState, LoopStatus
from hydra.runtime import Runtime
from hydra.switches import Switch


def switch_view(switch: Switch) -> SwitchView:
    return SwitchView(enabled=switch.enabled, by=switch.actor, reason=switch.reason, at=switch.at)


def today() -> str:
    return utc_iso(time.time())[:10]


def loop_view(rt: Runtime, status: LoopStatus) -> LoopView:
    name = status.name
    entry = rt.registry.get(name)
    config = rt.configs.get(name)
    view = LoopView(
        name=name,
        plugin=entry.status,
        source=entry.source,
        state=status.state.value,
        recoverable=status.state.recoverable,
        blocked_reason=rt.board.blocked_reason(name) or status.stop_reason,
        error=entry.error,
        running_run_id=status.running_run_id,
        last=_last(status),
        last_started_at=_iso(status.last_started_at),
        last_finished_at=_iso(status.last_finished_at),
        next_due_at=_iso(status.next_due_at)
        if status.state in (LoopState.WAITING, LoopState.BACKING_OFF)
        else None,
        consecutive_failures=status.consecutive_failures,
        backoff_s=round(status.backoff_s, 3),
        ticks=status.ticks,
    )
    if entry.cls is not None:
        view.description = entry.cls.description
        view.area = entry.cls.area
        view.ports = list(entry.cls.ports)
        view.default_interval_s = float(entry.cls.default_interval_s)
    if config is not None:
        switch = rt.board.loop_switch(name)
        view.enabled = switch.enabled
        view.static_enabled = config.enabled
        view.switch = switch_view(switch)
        view.mode = rt.board.mode(name)
        view.interval_s = rt.board.interval_s(name)
        view.interval_bounds = list(config.bounds)
        view.timeout_s = config.timeout_s
        view.budget = budget_view(rt, name)
    return view


def budget_view(rt: Runtime, loop: str) -> BudgetView:
    cap = rt.board.daily_budget_usd(loop)
    spent = rt.ledger.spent_on(loop, today())
    return BudgetView(
        daily_budget_usd=cap,
        spent_today_usd=round(spent, 6),
        over_budget=cap is not None and spent > cap,
    )


def _iso(epoch: float | None) -> str | None:
    return None if epoch is None else utc_iso(epoch)


def _last(status: LoopStatus) -> LastTickView | None:
    outcome = status.last_outcome
    if outcome is None:
        return None
    return LastTickView(
        run_id=outcome.run_id,
        kind=outcome.kind,
        status=outcome.status,
        duration_ms=round(outcome.duration_s * 1000, 3),
        summary=outcome.result.summary if outcome.result is not None else None,
        counts=dict(outcome.result.counts) if outcome.result is not None else None,
        error=outcome.error,
    )
