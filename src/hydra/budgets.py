"""Daily spend caps per loop: passing one switches the loop off with reason ``budget``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from hydra.costs import NO_LOOP, CostLedger
from hydra.switches import SwitchBoard

BUDGET_REASON = "budget"


class BudgetGuard:
    """Checks the loop's spend for the record's UTC day after every cost record."""

    def __init__(self, ledger: CostLedger, board: SwitchBoard) -> None:
        self._ledger = ledger
        self._board = board
        ledger.subscribe(self.check)

    async def check(self, record: Mapping[str, Any]) -> None:
        payload = record.get("payload") or {}
        loop = payload.get("loop")
        if not isinstance(loop, str) or loop == NO_LOOP:
            return
        cap = self._board.daily_budget_usd(loop)
        if cap is None or not self._board.loop_switch(loop).enabled:
            return
        day = str(record.get("ts", ""))[:10]
        spent = self._ledger.spent_on(loop, day)
        if spent > cap:
            await self._board.update_loop(loop, actor="daemon", reason=BUDGET_REASON, enabled=False)

    def status(self, loop: str, day: str) -> dict[str, Any]:
        cap = self._board.daily_budget_usd(loop)
        spent = self._ledger.spent_on(loop, day)
        return {
            "daily_budget_usd": cap,
            "spent_today_usd": round(spent, 6),
            "over_budget": cap is not None and spent > cap,
        }
