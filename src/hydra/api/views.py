"""Response models built from the runtime's state.

**Redaction.** Audit records and log lines are redacted when written, but the live state the
API serves is not: a loop's last error (``str(exc)`` of a crash), its result's summary and
status, the stop reason of a broken or stopped loop, an escalation's text. Every free-text
field built from that state is redacted *here*, where a response document is assembled, with
the daemon's own :class:`~hydra.redact.Redactor` (``Runtime.redactor``: the API token, the
keys handed to children, the credential patterns). Here rather than at the source (the
supervisor, the registry): this is the one place every served view passes through, and it
needs no redactor in the scheduler's per-tick path; the runtime's own state (the orchestrator's
statuses) stays exact. The escalation queue also stores its entries as audited, i.e. already
redacted; they are redacted here again all the same. The polled loop list redacts a handful
of short strings per loop, through :meth:`~hydra.redact.Redactor.redact_text_cached` (a dict
lookup once a text was seen).
"""

from __future__ import annotations

import dataclasses
import functools
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from hydra.api.models import BudgetView, EscalationView, LoopView, SwitchView
from hydra.ids import utc_iso
from hydra.loop_state import LoopState, LoopStatus
from hydra.redact import Redactor
from hydra.runtime import Runtime
from hydra.sdk import Escalation, Loop
from hydra.switches import Switch

Clean = Callable[[str], str]
"""Redacts one served text (``Runtime.redactor.redact_text_cached``)."""


def switch_view(rt: Runtime, switch: Switch) -> SwitchView:
    return SwitchView.model_validate(switch_fields(switch, rt.redactor.redact_text_cached))


def switch_fields(switch: Switch, clean: Clean) -> dict[str, Any]:
    # The reason was redacted when its audit record was written; cleaned again because a
    # switch restored from an older state file, or set in a test, may not have been.
    by, reason = switch.actor, switch.reason
    return {
        "enabled": switch.enabled,
        "by": clean(by) if by else by,
        "reason": clean(reason) if reason else reason,
        "at": switch.at,
    }


def escalation_view(redactor: Redactor, item: Escalation) -> EscalationView:
    """An escalation with every text redacted (its title, summary, details and note come from
    loop code and operators; the queue stores them as audited, this holds for any other queue)."""
    data = dataclasses.asdict(item)
    data["details"] = dict(item.details)
    return EscalationView(**redactor.redact(data))


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
    clean = rt.redactor.redact_text_cached
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
        "blocked_reason": clean(blocked) if blocked else blocked,
        "error": clean(entry.error) if entry.error else entry.error,
        "running_run_id": status.running_run_id,
        "last": _last(status, clean),
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
        fields["switch"] = switch_fields(switch, clean)
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


def _last(status: LoopStatus, clean: Clean) -> dict[str, Any] | None:
    """The last outcome; its texts (status, summary, error) come from the loop's code."""
    outcome = status.last_outcome
    if outcome is None:
        return None
    result, error = outcome.result, outcome.error
    summary = None if result is None else result.summary
    return {
        "run_id": outcome.run_id,
        "kind": outcome.kind,
        "status": clean(outcome.status),
        "duration_ms": round(outcome.duration_s * 1000, 3),
        "summary": clean(summary) if summary else summary,
        "counts": dict(result.counts) if result is not None else None,
        "error": clean(error) if error else error,
    }
