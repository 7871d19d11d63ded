"""``/api/costs``: totals and rollups over a time range, and daily budgets per loop."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ClassVar

import pytest

import hydra.audit._encode
from hydra.audit import bulk_append
from tests.api.conftest import Api, open_api

pytestmark = pytest.mark.anyio


class _Clock(datetime):
    """The wall clock the audit writer stamps records with, set to a past moment."""

    at: ClassVar[datetime]

    @classmethod
    def now(cls, tz: Any = None) -> datetime:  # type: ignore[override]
        return cls.at


def _cost(loop: str | None, source: str, usd: float, tokens: int = 100) -> Any:
    payload = {
        "source": source,
        "loop": loop or "(daemon)",
        "model": "m",
        "input_tokens": tokens,
        "output_tokens": tokens // 10,
        "usd": usd,
    }
    return ("cost", f"loop:{loop}" if loop else "daemon", payload, "run-old")


HISTORY = {
    datetime(2025, 1, 1, 23, 30, tzinfo=UTC): [
        _cost("counting", "agent.claude", 0.75),
        _cost("counting", "agent.claude", 0.25),
    ],
    datetime(2025, 1, 2, 10, 0, tzinfo=UTC): [
        _cost("counting", "gh", 0.5),
        _cost(None, "git", 0.125),
    ],
}


@pytest.fixture
async def costs_api(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Api]:
    """Two past UTC days of cost records in the ``costs`` stream, then the app over it."""
    with monkeypatch.context() as patch:
        # The writer stamps records from the wall clock (``datetime.now`` or ``time.time_ns``):
        # both are set to the past moment while that day's records are written.
        patch.setattr(hydra.audit._encode, "datetime", _Clock)
        for moment, entries in HISTORY.items():
            _Clock.at = moment
            patch.setattr(time, "time_ns", lambda at=moment: int(at.timestamp()) * 10**9)
            bulk_append(tmp_path / "audit", "costs", entries)
    async with open_api(tmp_path) as api:
        yield api


def totals(usd: float, calls: int, tokens: int = 100) -> dict[str, Any]:
    return {
        "usd": usd,
        "calls": calls,
        "input_tokens": tokens * calls,
        "output_tokens": tokens // 10 * calls,
    }


async def test_totals_and_rollups_over_all_time(costs_api: Api) -> None:
    await costs_api.spend(0.0625, source="agent.codex")
    response = await costs_api.client.get("/api/costs")
    assert response.status_code == 200
    body = response.json()
    today = datetime.now(UTC).date().isoformat()
    assert (body["since"], body["until"]) == (None, None)
    assert body["total"] == totals(1.6875, 5)
    assert body["by_loop"] == {"(daemon)": totals(0.125, 1), "counting": totals(1.5625, 4)}
    assert body["by_source"] == {
        "agent.claude": totals(1.0, 2),
        "agent.codex": totals(0.0625, 1),
        "gh": totals(0.5, 1),
        "git": totals(0.125, 1),
    }
    assert body["by_day"] == {
        "2025-01-01": totals(1.0, 2),
        "2025-01-02": totals(0.625, 2),
        today: totals(0.0625, 1),
    }
    assert body["by_loop_day"]["counting"] == {
        "2025-01-01": totals(1.0, 2),
        "2025-01-02": totals(0.5, 1),
        today: totals(0.0625, 1),
    }
    assert body["budgets"]["counting"] == {
        "daily_budget_usd": None,
        "spent_today_usd": 0.0625,
        "over_budget": False,
    }


@pytest.mark.parametrize(
    ("query", "days"),
    [
        ("since=2025-01-02T00:00:00Z", {"2025-01-02", "today"}),
        ("until=2025-01-02T00:00:00Z", {"2025-01-01"}),
        ("since=2025-01-01T00:00:00Z&until=2025-01-02T10:00:00Z", {"2025-01-01"}),
        ("since=2025-01-02T10:00:00Z&until=2025-01-02T10:00:00.000001Z", {"2025-01-02"}),
        ("since=2025-01-02T11:00:00%2B01:00&until=2025-01-03T00:00:00Z", {"2025-01-02"}),
        ("since=2030-01-01T00:00:00Z", set()),
    ],
)
async def test_a_time_range_selects_records(costs_api: Api, query: str, days: set[str]) -> None:
    await costs_api.spend(0.0625)
    response = await costs_api.client.get(f"/api/costs?{query}")
    assert response.status_code == 200, response.text
    today = datetime.now(UTC).date().isoformat()
    assert set(response.json()["by_day"]) == {today if d == "today" else d for d in days}


async def test_range_bounds_are_echoed_in_utc(costs_api: Api) -> None:
    response = await costs_api.client.get(
        "/api/costs", params={"since": "2025-01-02T01:00:00+01:00", "until": "2025-01-03T00:00Z"}
    )
    body = response.json()
    assert body["since"] == "2025-01-02T00:00:00.000000Z"
    assert body["until"] == "2025-01-03T00:00:00.000000Z"
    assert body["total"] == totals(0.625, 2)


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"since": "yesterday"}, "since"),
        ({"until": "2025-01-02"}, "until"),
        ({"since": "2025-01-02T00:00:00"}, "since"),  # naive: which zone?
        ({"since": "1735776000"}, "since"),  # epoch seconds are not documented
        ({"until": "2025-13-01T00:00:00Z"}, "until"),
        ({"since": "0001-01-01T00:00:00+01:00"}, "since"),  # before year 1 in UTC
        ({"until": "9999-12-31T23:59:59-01:00"}, "until"),  # after year 9999 in UTC
        ({"since": "2025-01-02T00:00:00Z", "until": "2025-01-02T00:00:00Z"}, "since"),
        ({"since": "2025-01-03T00:00:00Z", "until": "2025-01-02T00:00:00Z"}, "since"),
        ({"loop": "counting"}, "loop"),
    ],
)
async def test_bad_ranges_are_422_naming_the_field(
    api: Api, params: dict[str, str], field: str
) -> None:
    response = await api.client.get("/api/costs", params=params)
    assert response.status_code == 422
    body = response.json()
    assert body["field"] == field
    assert body["error"].startswith(f"{field}: ")


async def test_passing_the_daily_budget_switches_the_loop_off(api: Api) -> None:
    response = await api.client.put(
        "/api/loops/counting", json={"daily_budget_usd": 0.5, "reason": "cap it"}
    )
    assert response.status_code == 200
    await api.spend(0.25)
    await api.spend(0.25)  # exactly at the cap: still allowed
    assert api.runtime.board.loop_switch("counting").enabled is True
    await api.spend(0.125, loop=None)  # the daemon's own spend is nobody's budget
    await api.spend(0.01, source="gh")
    assert api.runtime.board.loop_switch("counting").enabled is False

    record = api.records("control", "loop.disabled")[-1]
    assert record["actor"] == "daemon"
    assert record["payload"]["reason"] == "budget"
    assert record["payload"]["loop"] == "counting"
    loop = (await api.client.get("/api/loops/counting")).json()
    assert loop["enabled"] is False
    assert loop["switch"] == {
        "enabled": False,
        "by": "daemon",
        "reason": "budget",
        "at": loop["switch"]["at"],
    }
    assert loop["blocked_reason"] == "switched off by daemon: budget"
    assert loop["budget"] == {"daily_budget_usd": 0.5, "spent_today_usd": 0.51, "over_budget": True}
    costs = (await api.client.get("/api/costs")).json()
    assert costs["budgets"]["counting"]["over_budget"] is True
    assert costs["budgets"]["blocking"] == {
        "daily_budget_usd": None,
        "spent_today_usd": 0,
        "over_budget": False,
    }
    # Further spend (a tick that was already running) does not switch it off twice.
    await api.spend(0.01)
    assert len(api.records("control", "loop.disabled")) == 1


async def test_a_budget_from_the_config_applies_without_an_api_call(tmp_path: Path) -> None:
    tables = {"counting": {"interval_s": 3600, "daily_budget_usd": 0.1}}
    async with open_api(tmp_path, tables=tables) as api:
        loop = (await api.client.get("/api/loops/counting")).json()
        assert loop["budget"]["daily_budget_usd"] == 0.1
        await api.spend(0.2)
        assert api.records("control", "loop.disabled")[-1]["payload"]["reason"] == "budget"


async def test_lowering_the_cap_below_todays_spend_switches_the_loop_off_at_once(
    api: Api,
) -> None:
    await api.spend(0.75)
    assert api.runtime.board.loop_switch("counting").enabled is True  # no cap yet
    response = await api.client.put(
        "/api/loops/counting",
        json={"daily_budget_usd": 0.5, "reason": "cap it"},
        headers={"X-Hydra-Actor": "dashboard"},
    )
    assert response.status_code == 200
    loop = response.json()
    assert loop["enabled"] is False  # no further cost record needed
    assert (loop["switch"]["by"], loop["switch"]["reason"]) == ("daemon", "budget")
    assert loop["budget"]["over_budget"] is True
    control = api.records("control")
    assert [(r["action"], r["actor"], r["payload"]["reason"]) for r in control[-2:]] == [
        ("loop.updated", "dashboard", "cap it"),
        ("loop.disabled", "daemon", "budget"),
    ]
    # Raising the cap does not switch it on again: that stays the operator's call.
    response = await api.client.put(
        "/api/loops/counting", json={"daily_budget_usd": 5.0, "reason": "more room"}
    )
    assert response.json()["enabled"] is False
    assert len(api.records("control", "loop.disabled")) == 1


async def test_an_unchanged_cap_does_not_check_again(api: Api) -> None:
    await api.client.put("/api/loops/counting", json={"daily_budget_usd": 0.5, "reason": "cap"})
    await api.spend(0.75)
    assert api.runtime.board.loop_switch("counting").enabled is False
    await api.client.put("/api/loops/counting", json={"enabled": True, "reason": "override"})
    # The operator's override holds until the next cost record; re-stating the cap is no-op.
    response = await api.client.put(
        "/api/loops/counting", json={"daily_budget_usd": 0.5, "reason": "same cap"}
    )
    assert response.json()["enabled"] is True
    assert len(api.records("control", "loop.disabled")) == 1


async def test_the_start_up_check_switches_off_every_loop_over_its_cap(tmp_path: Path) -> None:
    tables = {"counting": {"interval_s": 3600, "daily_budget_usd": 0.1}}
    async with open_api(tmp_path, tables=tables) as api:
        await api.spend(0.05)
        guard = api.runtime.budgets
        assert guard is not None
        assert await guard.check_all(["counting", "blocking"]) == []
        await api.runtime.board.update_loop(
            "counting", actor="api", reason="cap lowered", daily_budget_usd=0.01
        )
        assert await guard.check_all(["counting", "blocking"]) == ["counting"]
        assert await guard.check_all(["counting", "blocking"]) == []  # once
        record = api.records("control", "loop.disabled")[-1]
        assert (record["actor"], record["payload"]["reason"]) == ("daemon", "budget")
