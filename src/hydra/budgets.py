"""Daily spend caps per loop: passing one switches the loop off with reason ``budget``.

The guard checks a loop's spend for the UTC day after every cost record of that loop, when
its cap changes (:meth:`BudgetGuard.check_loop`, called by the API) and once for every loop at
start-up (:meth:`BudgetGuard.check_all`: a cap lowered in the config, or spend recorded by a
previous run). The switch-off is an ordinary, audited switch change by actor ``daemon``.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from hydra.costs import NO_LOOP, CostLedger
from hydra.ids import utc_iso
from hydra.switches import SwitchBoard, SwitchEvent

BUDGET_REASON = "budget"
BUDGET_ACTOR = "daemon"


def utc_today() -> str:
    return utc_iso(time.time())[:10]


class BudgetGuard:
    def __init__(self, ledger: CostLedger, board: SwitchBoard) -> None:
        self._ledger = ledger
        self._board = board
        ledger.subscribe(self.check)

    async def check(self, record: Mapping[str, Any]) -> None:
        """After a cost record: the spend of its loop on the record's UTC day."""
        payload = record.get("payload") or {}
        loop = payload.get("loop")
        if not isinstance(loop, str) or loop == NO_LOOP:
            return
        await self.check_loop(loop, day=str(record.get("ts", ""))[:10])

    async def check_loop(self, loop: str, *, day: str | None = None) -> SwitchEvent | None:
        """Switch ``loop`` off if it is on and its spend on ``day`` (default today) passes its
        cap; returns the switch event, or ``None`` when nothing changed."""
        cap = self._board.daily_budget_usd(loop)
        if cap is None or not self._board.loop_switch(loop).enabled:
            return None
        if self._ledger.spent_on(loop, day or utc_today()) <= cap:
            return None
        return await self._board.update_loop(
            loop, actor=BUDGET_ACTOR, reason=BUDGET_REASON, enabled=False
        )

    async def check_all(self, loops: list[str]) -> list[str]:
        """Check every loop against today's spend; returns the loops switched off."""
        day = utc_today()
        return [loop for loop in loops if await self.check_loop(loop, day=day) is not None]

    def status(self, loop: str, day: str) -> dict[str, Any]:
        cap = self._board.daily_budget_usd(loop)
        spent = self._ledger.spent_on(loop, day)
        return {
            "daily_budget_usd": cap,
            "spent_today_usd": round(spent, 6),
            "over_budget": cap is not None and spent > cap,
        }
