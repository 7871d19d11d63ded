"""JSON views of the runtime's state (the API's response bodies)."""

from __future__ import annotations

from typing import Any

from hydra.ids import utc_iso
from hydra.loop_state import LoopStatus
from hydra.runtime import Runtime
from hydra.switches import Switch


def switch_view(switch: Switch) -> dict[str, Any]:
    return {"enabled": switch.enabled, "by": switch.actor, "reason": switch.reason, "at": switch.at}


def loop_view(rt: Runtime, status: LoopStatus) -> dict[str, Any]:
    name = status.name
    entry = rt.registry.get(name)
    config = rt.configs.get(name)
    view: dict[str, Any] = {
        "name": name,
        "plugin": entry.status,
        "source": entry.source,
        "state": status.state.value,
        "recoverable": status.state.recoverable,
        "blocked_reason": rt.board.blocked_reason(name) or status.stop_reason,
    }
    if entry.cls is not None:
        view.update(
            description=entry.cls.description,
            area=entry.cls.area,
            ports=list(entry.cls.ports),
        )
    if entry.error:
        view["error"] = entry.error
    if config is not None:
        view.update(
            enabled=rt.board.loop_switch(name).enabled,
            static_enabled=config.enabled,
            switch=switch_view(rt.board.loop_switch(name)),
            mode=rt.board.mode(name),
            interval_s=rt.board.interval_s(name),
            interval_bounds=list(config.bounds),
            timeout_s=config.timeout_s,
        )
    view.update(
        running_run_id=status.running_run_id,
        last=_last(status),
        last_started_at=status.last_started_at,
        last_finished_at=status.last_finished_at,
        next_due_at=status.next_due_at
        if status.state.value in ("waiting", "backing_off")
        else None,
        consecutive_failures=status.consecutive_failures,
        backoff_s=round(status.backoff_s, 3),
        ticks=status.ticks,
    )
    return view


def _iso(epoch: float | None) -> str | None:
    return None if epoch is None else utc_iso(epoch)


def _last(status: LoopStatus) -> dict[str, Any] | None:
    outcome = status.last_outcome
    if outcome is None:
        return None
    last: dict[str, Any] = {
        "run_id": outcome.run_id,
        "kind": outcome.kind,
        "status": outcome.status,
        "duration_ms": round(outcome.duration_s * 1000, 3),
    }
    if outcome.result is not None:
        last["summary"] = outcome.result.summary
        last["counts"] = dict(outcome.result.counts)
    if outcome.error:
        last["error"] = outcome.error
    return last
