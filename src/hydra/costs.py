"""The cost ledger: every runner call's spend, appended to the ``costs`` stream.

The stream is the source of truth; rollups by loop, by source and by UTC day are computed from
its records (:func:`rollup`), offline by ``hydra costs`` or live from the records the daemon
itself appended. The runner charges calls through :meth:`CostLedger.record_call`, which takes
the loop and run from the tick the calling task works for.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import anyio

from hydra.sdk import AuditSink, current_tick

COST_ACTION = "cost"
NO_LOOP = "(daemon)"


@dataclass
class Totals:
    usd: float = 0.0
    calls: int = 0
    input_tokens: int = 0
    output_tokens: int = 0

    def add(self, usd: float, input_tokens: int, output_tokens: int) -> None:
        self.usd += usd
        self.calls += 1
        self.input_tokens += input_tokens
        self.output_tokens += output_tokens

    def to_dict(self) -> dict[str, Any]:
        return {
            "usd": round(self.usd, 6),
            "calls": self.calls,
            "input_tokens": self.input_tokens,
            "output_tokens": self.output_tokens,
        }


@dataclass
class Rollup:
    total: Totals = field(default_factory=Totals)
    by_loop: dict[str, Totals] = field(default_factory=dict)
    by_source: dict[str, Totals] = field(default_factory=dict)
    by_day: dict[str, Totals] = field(default_factory=dict)
    by_loop_day: dict[str, dict[str, Totals]] = field(default_factory=dict)
    """``{loop: {day: totals}}`` (daily budgets per loop are checked against it)."""

    def add_record(self, record: Mapping[str, Any]) -> None:
        payload = record.get("payload") or {}
        usd = float(payload.get("usd") or 0.0)
        tin = int(payload.get("input_tokens") or 0)
        tout = int(payload.get("output_tokens") or 0)
        day = str(record.get("ts", ""))[:10]
        loop = str(payload.get("loop") or NO_LOOP)
        self.total.add(usd, tin, tout)
        for table, key in (
            (self.by_loop, loop),
            (self.by_loop_day.setdefault(loop, {}), day),
            (self.by_source, str(payload.get("source") or "unknown")),
            (self.by_day, day),
        ):
            table.setdefault(key, Totals()).add(usd, tin, tout)

    def to_dict(self) -> dict[str, Any]:
        return {
            "total": self.total.to_dict(),
            "by_loop": {k: v.to_dict() for k, v in sorted(self.by_loop.items())},
            "by_source": {k: v.to_dict() for k, v in sorted(self.by_source.items())},
            "by_day": {k: v.to_dict() for k, v in sorted(self.by_day.items())},
            "by_loop_day": {
                loop: {day: t.to_dict() for day, t in sorted(days.items())}
                for loop, days in sorted(self.by_loop_day.items())
            },
        }


def rollup(
    records: Iterable[Mapping[str, Any]],
    *,
    since: datetime | None = None,
    until: datetime | None = None,
) -> Rollup:
    """Totals of the ``cost`` records in ``records`` with ``since <= ts < until``."""
    lo = _iso(since) if since else None
    hi = _iso(until) if until else None
    result = Rollup()
    for record in records:
        if record.get("action") != COST_ACTION:
            continue
        ts = str(record.get("ts", ""))
        if (lo and ts < lo) or (hi and ts >= hi):
            continue
        result.add_record(record)
    return result


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class CostLedger:
    """Appends cost records and keeps a live rollup of what this daemon has seen."""

    def __init__(self, sink: AuditSink, *, history: Iterable[Mapping[str, Any]] = ()) -> None:
        self._sink = sink
        self.live = rollup(history)
        self._listeners: list[Callable[[Mapping[str, Any]], Awaitable[None]]] = []

    def subscribe(self, listener: Callable[[Mapping[str, Any]], Awaitable[None]]) -> None:
        """Await ``listener(record)`` after every cost record (budget checks, metrics)."""
        self._listeners.append(listener)

    async def record(
        self,
        *,
        source: str,
        loop: str | None,
        run: str | None,
        model: str | None,
        input_tokens: int,
        output_tokens: int,
        usd: float,
    ) -> Mapping[str, Any]:
        """Append one cost record (durable on return) and fold it into the live rollup."""
        if usd < 0 or input_tokens < 0 or output_tokens < 0:
            raise ValueError("cost figures must not be negative")
        payload = {
            "source": source,
            "loop": loop or NO_LOOP,
            "model": model,
            "input_tokens": input_tokens,
            "output_tokens": output_tokens,
            "usd": usd,
        }
        actor = f"loop:{loop}" if loop else "daemon"
        # Shielded: a durable cost must reach the live rollup and the budget guard even when
        # the tick that spent it is being cancelled.
        with anyio.CancelScope(shield=True):
            record = await self._sink.append(COST_ACTION, actor=actor, payload=payload, run=run)
            stored: Mapping[str, Any] = (
                record
                if isinstance(record, Mapping)
                else {"action": COST_ACTION, "payload": payload}
            )
            self.live.add_record(stored)
            for listener in self._listeners:
                await listener(stored)
        return stored

    async def record_call(
        self, *, source: str, model: str | None, input_tokens: int, output_tokens: int, usd: float
    ) -> None:
        """The runner's cost sink: charge the tick the calling task works for."""
        tick = current_tick()
        await self.record(
            source=source,
            loop=tick.loop if tick else None,
            run=tick.run_id if tick else None,
            model=model,
            input_tokens=input_tokens,
            output_tokens=output_tokens,
            usd=usd,
        )

    def runner_sink(self) -> TickCostSink:
        """The cost sink the subprocess runner records every call through."""
        return TickCostSink(self)

    def spent_on(self, loop: str, day: str) -> float:
        """USD a loop spent on a UTC day (``YYYY-MM-DD``) according to the live rollup."""
        totals = self.live.by_loop_day.get(loop, {}).get(day)
        return totals.usd if totals else 0.0


class TickCostSink:
    """The runner's ``CostSink``: charges each call to the tick the calling task works for."""

    def __init__(self, ledger: CostLedger) -> None:
        self._ledger = ledger

    async def record(
        self, *, source: str, model: str | None, input_tokens: int, output_tokens: int, usd: float
    ) -> None:
        await self._ledger.record_call(
            source=source,
            model=model,
            input_tokens=input_tokens,
            output_tokens=output_tokens,
            usd=usd,
        )
