"""``/api/costs``: spend totals and rollups over a time range, with per-loop budgets."""

from __future__ import annotations

from datetime import datetime

import anyio
from pydantic import BaseModel, ConfigDict

from hydra.api.models import BudgetView, CostsView, UtcDatetime
from hydra.api.operations import ApiError, Call, Operation
from hydra.api.views import budget_view, today
from hydra.audit import RecordFilter, iter_records
from hydra.costs import COST_ACTION, Rollup, rollup
from hydra.ids import utc_iso


class CostQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    since: UtcDatetime | None = None
    until: UtcDatetime | None = None


def _rollup(root: object, since: datetime | None, until: datetime | None) -> Rollup:
    flt = RecordFilter(actions=frozenset({COST_ACTION}), since=since, until=until)
    return rollup(iter_records(root, "costs", filter=flt))  # type: ignore[arg-type]


async def get_costs(call: Call) -> CostsView:
    query = call.query
    assert isinstance(query, CostQuery)  # noqa: S101 - guaranteed by the operation table
    if query.since and query.until and query.since >= query.until:
        raise ApiError(422, "since: must be before until", field="since")
    rt = call.rt
    result = await anyio.to_thread.run_sync(
        _rollup, rt.data_dir / "audit", query.since, query.until
    )
    data = result.to_dict()
    day = today()
    budgets: dict[str, BudgetView] = {
        name: budget_view(rt, name, day=day) for name in sorted(rt.configs)
    }
    return CostsView(
        since=utc_iso(query.since) if query.since else None,
        until=utc_iso(query.until) if query.until else None,
        budgets=budgets,
        **data,
    )


OPERATIONS = [
    Operation(
        "GET",
        "/api/costs",
        "Spend totals and rollups by loop, source and UTC day (from the costs stream)",
        get_costs,
        CostsView,
        query=CostQuery,
        tag="costs",
    )
]
