"""Request and response bodies of the API, as pydantic models (they also feed /openapi.json)."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, AwareDatetime, BaseModel, BeforeValidator, ConfigDict, Field

_RFC3339 = re.compile(r"\d{4}-\d\d-\d\d[Tt ]\d\d:\d\d(:\d\d(\.\d+)?)?([Zz]|[+-]\d\d:?\d\d)")


def _rfc3339(value: object) -> object:
    # pydantic would also take a number of seconds since the epoch: not what is documented.
    if isinstance(value, str) and not _RFC3339.fullmatch(value):
        raise ValueError("expected an RFC 3339 date-time with a timezone (2026-11-22T10:00:00Z)")
    return value


def _in_utc(moment: datetime) -> datetime:
    try:
        return moment.astimezone(UTC)
    except OverflowError:  # 0001-01-01T00:00+01:00 and the like
        raise ValueError("out of range once converted to UTC") from None


UtcDatetime = Annotated[AwareDatetime, BeforeValidator(_rfc3339), AfterValidator(_in_utc)]
"""A query bound: timezone-aware, converted to UTC (a 422 instead of an overflow later)."""
ActionPattern = Annotated[str, Field(pattern=r"^[^*]+(\.\*)?$")]
"""An exact action name or a ``prefix.*`` pattern (what :class:`RecordFilter` accepts)."""


class _Body(BaseModel):
    # strict: JSON types as documented ("enabled": "no" or 0 is refused, not read as false)
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


class _View(BaseModel):
    model_config = ConfigDict(populate_by_name=True)


# ---------------------------------------------------------------------- requests
class LoopUpdate(_Body):
    enabled: bool | None = None
    interval_s: float | None = Field(default=None, gt=0)
    mode: Literal["live", "shadow"] | None = None
    daily_budget_usd: float | None = Field(default=None, ge=0)
    """A spend cap per UTC day for this loop; ``null`` removes the runtime cap (the config's
    applies again)."""
    reason: str = Field(min_length=1, max_length=500)
    drain: bool = False
    """When switching off: let the in-flight tick finish instead of cancelling it."""


class TriggerRequest(_Body):
    """Optional: an empty body triggers without a reason."""

    reason: str | None = Field(default=None, min_length=1, max_length=500)


class GlobalSwitchUpdate(_Body):
    enabled: bool
    reason: str = Field(min_length=1, max_length=500)
    drain: bool = False


class RepoUpdate(_Body):
    enabled: bool
    reason: str = Field(min_length=1, max_length=500)


class EscalationNote(_Body):
    note: str = Field(min_length=1, max_length=2000)


# ---------------------------------------------------------------------- responses
class ErrorView(_View):
    error: str
    field: str | None = None


class HealthView(_View):
    status: Literal["ok", "degraded"]
    problems: list[str]


class SwitchView(_View):
    enabled: bool
    by: str | None = None
    reason: str | None = None
    at: str | None = None


class LastTickView(_View):
    run_id: str | None
    kind: str
    status: str
    duration_ms: float
    summary: str | None = None
    counts: dict[str, int] | None = None
    error: str | None = None


class BudgetView(_View):
    daily_budget_usd: float | None
    spent_today_usd: float
    over_budget: bool


class LoopView(_View):
    name: str
    plugin: Literal["ok", "broken", "blocked"]
    source: str
    state: str
    recoverable: bool
    blocked_reason: str | None
    description: str | None = None
    area: str | None = None
    ports: list[str] | None = None
    error: str | None = None
    enabled: bool | None = None
    static_enabled: bool | None = None
    switch: SwitchView | None = None
    mode: Literal["live", "shadow"] | None = None
    interval_s: float | None = None
    interval_bounds: list[float] | None = None
    default_interval_s: float | None = None
    timeout_s: float | None = None
    budget: BudgetView | None = None
    running_run_id: str | None = None
    last: LastTickView | None = None
    last_started_at: str | None = None
    last_finished_at: str | None = None
    next_due_at: str | None = None
    consecutive_failures: int = 0
    backoff_s: float = 0.0
    ticks: int = 0


class LoopUpdated(LoopView):
    changed: bool


class LoopList(_View):
    global_: SwitchView = Field(alias="global")
    loops: list[LoopView]


class TriggerView(_View):
    triggered: bool
    merged_into_running_tick: bool


class GlobalView(_View):
    global_: SwitchView = Field(alias="global")
    changed: bool


class RepoView(_View):
    name: str
    enabled: bool
    switch: SwitchView
    busy: int
    """Blocks of ticks working on this repository right now."""


class RepoList(_View):
    repos: list[RepoView]


class RepoUpdated(RepoView):
    changed: bool


class TotalsView(_View):
    usd: float
    calls: int
    input_tokens: int
    output_tokens: int


class CostsView(_View):
    since: str | None
    until: str | None
    total: TotalsView
    by_loop: dict[str, TotalsView]
    by_source: dict[str, TotalsView]
    by_day: dict[str, TotalsView]
    by_loop_day: dict[str, dict[str, TotalsView]]
    budgets: dict[str, BudgetView]


class EscalationView(_View):
    id: str
    key: str
    loop: str
    title: str
    summary: str
    state: Literal["open", "acknowledged", "resolved"]
    created_at: str
    updated_at: str
    repo: str | None = None
    details: dict[str, Any] = Field(default_factory=dict)
    note: str | None = None
    by: str | None = None


class EscalationList(_View):
    escalations: list[EscalationView]


class StreamView(_View):
    stream: str
    segments: int
    bytes: int
    first_seq: int | None
    last_seq: int | None
    records: int


class StreamList(_View):
    streams: list[StreamView]


class AuditPage(_View):
    stream: str
    records: list[dict[str, Any]]
    """Newest first."""
    next_before_seq: int | None
    """Pass as ``before_seq`` to read the next (older) page; ``None`` at the start."""


class FindingView(_View):
    kind: str
    segment: str
    line: int
    offset: int
    detail: str


class VerifyView(_View):
    stream: str
    ok: bool
    segments: list[str]
    records: int
    first_seq: int | None
    last_seq: int | None
    findings: list[FindingView]
    omitted: int = 0
