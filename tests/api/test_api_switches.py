"""Loops (detail, update of every field, trigger), the global switch and repositories."""

from __future__ import annotations

from pathlib import Path

import anyio
import pytest

from hydra.api.models import LoopList
from tests.api.conftest import Api, open_api
from tests.helpers.loops import BlockingLoop, CountingLoop, CrashingLoop, Probe

pytestmark = pytest.mark.anyio

HOLDING = {"blocking": {"interval_s": 3600}, "counting": {"interval_s": 3600}}


async def test_loop_detail_reports_status_schedule_and_last_result(api: Api) -> None:
    await api.harness.wait_for(lambda: Probe.count("counting") == 1)
    await api.harness.wait_for(lambda: api.runtime.orchestrator.status("counting").ticks == 1)
    response = await api.client.get("/api/loops/counting")
    assert response.status_code == 200
    loop = response.json()
    assert loop["name"] == "counting"
    assert loop["plugin"] == "ok"
    assert loop["state"] == "waiting"
    assert loop["enabled"] is True
    assert loop["blocked_reason"] is None
    assert loop["mode"] == "live"
    assert loop["interval_s"] == 3600
    assert loop["interval_bounds"] == [0.01, 3600.0]
    assert loop["last"]["status"] == "ok"
    assert loop["last"]["counts"] == {"n": 1}
    assert loop["last"]["run_id"]
    assert loop["next_due_at"].endswith("Z")
    assert loop["consecutive_failures"] == 0
    assert loop["backoff_s"] == 0
    assert loop["ticks"] == 1
    assert loop["budget"] == {"daily_budget_usd": None, "spent_today_usd": 0, "over_budget": False}


async def test_a_disabled_loop_says_why_not(api: Api) -> None:
    blocking = (await api.client.get("/api/loops/blocking")).json()
    assert blocking["enabled"] is True  # its runtime switch; the config gate wins
    assert blocking["static_enabled"] is False
    assert blocking["blocked_reason"] == "disabled in config"
    await api.client.put(
        "/api/loops/counting",
        json={"enabled": False, "reason": "noisy"},
        headers={"X-Hydra-Actor": "cli"},
    )
    counting = (await api.client.get("/api/loops/counting")).json()
    assert counting["enabled"] is False
    assert counting["blocked_reason"] == "switched off by cli: noisy"
    assert counting["switch"]["by"] == "cli"
    assert counting["switch"]["reason"] == "noisy"
    assert counting["switch"]["at"].endswith("Z")
    assert counting["state"] == "disabled"  # at once, not on the supervisor's next wake-up
    assert counting["next_due_at"] is None


async def test_consecutive_failures_and_backoff_are_reported(tmp_path: Path) -> None:
    async with open_api(tmp_path, [CrashingLoop], {}) as api:
        await api.harness.wait_for(lambda: Probe.count("crashing") >= 2)
        status = api.runtime.orchestrator.status("crashing")
        await api.harness.wait_for(
            lambda: status.consecutive_failures >= 2 and status.backoff_s > 0
        )
        loop = (await api.client.get("/api/loops/crashing")).json()
        assert loop["consecutive_failures"] >= 2
        assert loop["backoff_s"] > 0
        assert loop["last"]["kind"] == "crashed"
        assert "kaboom" in loop["last"]["error"]
        assert loop["recoverable"] is True


async def test_update_mode_interval_and_budget_in_one_audited_call(api: Api) -> None:
    response = await api.client.put(
        "/api/loops/counting",
        json={"mode": "shadow", "interval_s": 60, "daily_budget_usd": 2.5, "reason": "tune"},
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["changed"] is True
    assert body["mode"] == "shadow"
    assert body["interval_s"] == 60
    assert body["budget"]["daily_budget_usd"] == 2.5
    record = api.records("control", "loop.updated")[-1]
    assert record["actor"] == "api"
    assert record["payload"]["reason"] == "tune"
    assert record["payload"]["changes"] == {
        "mode": {"old": "live", "new": "shadow"},  # the values in effect (from the config)
        "interval_s": {"old": 3600, "new": 60},
        "daily_budget_usd": {"old": None, "new": 2.5},  # no cap configured
    }
    again = await api.client.put(
        "/api/loops/counting", json={"mode": "shadow", "interval_s": 60, "reason": "tune"}
    )
    assert again.json()["changed"] is False
    assert len(api.records("control", "loop.updated")) == 1  # a no-op is not audited


async def test_interval_change_reschedules_the_next_tick(api: Api) -> None:
    await api.harness.wait_for(lambda: Probe.count("counting") == 1)
    response = await api.client.put(
        "/api/loops/counting", json={"interval_s": 0.05, "reason": "faster"}
    )
    assert response.status_code == 200
    await api.harness.wait_for(lambda: Probe.count("counting") >= 3)


@pytest.mark.parametrize(
    ("body", "field", "status"),
    [
        ({"interval_s": 0.001, "reason": "x"}, None, 422),
        ({"interval_s": 0, "reason": "x"}, "interval_s", 422),
        ({"interval_s": "fast", "reason": "x"}, "interval_s", 422),
        ({"daily_budget_usd": -1, "reason": "x"}, "daily_budget_usd", 422),
        ({"drain": "yes", "enabled": False, "reason": "x"}, "drain", 422),
        ({"enabled": 0, "reason": "x"}, "enabled", 422),
        ({"enabled": "false", "reason": "x"}, "enabled", 422),
        ({"mode": "shadow", "reason": 7}, "reason", 422),
        ({"enabled": False, "reason": ""}, "reason", 422),
        ({"enabled": False, "reason": "x" * 501}, "reason", 422),
        ({"enabled": False, "reason": "   "}, None, 422),
    ],
)
async def test_loop_update_refusals_name_the_field(
    api: Api, body: dict[str, object], field: str | None, status: int
) -> None:
    response = await api.client.put("/api/loops/counting", json=body)
    assert response.status_code == status
    error = response.json()
    if field:
        assert error["field"] == field
        assert error["error"].startswith(f"{field}: ")
    else:
        assert ("interval_s" in error["error"]) or ("reason" in error["error"])
    assert api.records("control", "loop.updated") == []
    assert api.records("control", "loop.disabled") == []


async def test_switching_off_cancels_the_running_tick(tmp_path: Path) -> None:
    async with open_api(tmp_path, [BlockingLoop, CountingLoop], HOLDING) as api:
        await api.harness.wait_for(lambda: Probe.count("blocking") == 1)
        response = await api.client.put(
            "/api/loops/blocking", json={"enabled": False, "reason": "stuck"}
        )
        assert response.status_code == 200
        await api.harness.wait_for(lambda: api.records("blocking", "tick.cancelled") != [])
        assert api.records("control", "loop.disabled")[-1]["payload"]["drain"] is False


async def test_switching_off_with_drain_lets_the_tick_finish(tmp_path: Path) -> None:
    async with open_api(tmp_path, [BlockingLoop, CountingLoop], HOLDING) as api:
        await api.harness.wait_for(lambda: Probe.count("blocking") == 1)
        response = await api.client.put(
            "/api/loops/blocking", json={"enabled": False, "reason": "finish", "drain": True}
        )
        assert response.status_code == 200
        assert response.json()["running_run_id"] is not None
        assert api.records("control", "loop.disabled")[-1]["payload"]["drain"] is True
        Probe.gates["blocking"].set()
        await api.harness.wait_for(lambda: api.records("blocking", "tick.finished") != [])
        assert api.records("blocking", "tick.cancelled") == []


async def test_switching_on_again_ticks_promptly(api: Api) -> None:
    await api.harness.wait_for(lambda: Probe.count("counting") == 1)
    await api.client.put("/api/loops/counting", json={"enabled": False, "reason": "pause"})
    response = await api.client.put(
        "/api/loops/counting",
        json={"enabled": True, "reason": "resume"},
        headers={"X-Hydra-Actor": "dashboard"},
    )
    assert response.status_code == 200
    assert response.json()["enabled"] is True
    await api.harness.wait_for(lambda: Probe.count("counting") == 2)
    record = api.records("control", "loop.enabled")[-1]
    assert (record["actor"], record["payload"]["reason"]) == ("dashboard", "resume")


async def test_trigger_is_audited_with_the_actor(api: Api) -> None:
    status = api.runtime.orchestrator.status("counting")
    await api.harness.wait_for(lambda: status.ticks == 1 and status.running_run_id is None)
    response = await api.client.post(
        "/api/loops/counting/trigger", headers={"X-Hydra-Actor": "cli"}
    )
    assert response.status_code == 202
    assert response.json() == {"triggered": True, "merged_into_running_tick": False}
    await api.harness.wait_for(lambda: Probe.count("counting") == 2)
    record = api.records("control", "loop.triggered")[-1]
    assert record["actor"] == "cli"
    assert record["payload"]["loop"] == "counting"


async def test_trigger_while_running_is_merged(tmp_path: Path) -> None:
    async with open_api(tmp_path, [BlockingLoop, CountingLoop], HOLDING) as api:
        await api.harness.wait_for(lambda: Probe.count("blocking") == 1)
        response = await api.client.post("/api/loops/blocking/trigger")
        assert response.status_code == 202
        assert response.json()["merged_into_running_tick"] is True
        Probe.gates["blocking"].set()
        await api.harness.wait_for(lambda: Probe.count("blocking") == 2)


async def test_trigger_refusals(api: Api) -> None:
    response = await api.client.post("/api/loops/blocking/trigger")
    assert response.status_code == 409
    assert "disabled in config" in response.json()["error"]
    response = await api.client.post("/api/loops/nope/trigger")
    assert response.status_code == 404
    assert api.records("control", "loop.triggered") == []


async def test_global_switch_blocks_every_loop_and_is_audited(api: Api) -> None:
    await api.harness.wait_for(lambda: Probe.count("counting") == 1)
    response = await api.client.put(
        "/api/switches/all",
        json={"enabled": False, "reason": "andon"},
        headers={"X-Hydra-Actor": "cli"},
    )
    assert response.status_code == 200
    assert response.json() == {
        "global": {
            "enabled": False,
            "by": "cli",
            "reason": "andon",
            "at": response.json()["global"]["at"],
        },
        "changed": True,
    }
    record = api.records("control", "global.disabled")[-1]
    assert (record["actor"], record["payload"]["reason"]) == ("cli", "andon")
    counting = (await api.client.get("/api/loops/counting")).json()
    assert counting["blocked_reason"] == "global switch off: andon"
    assert (await api.client.post("/api/loops/counting/trigger")).status_code == 409

    response = await api.client.put("/api/switches/all", json={"enabled": True, "reason": "ok"})
    assert response.json()["changed"] is True
    assert api.records("control", "global.enabled")[-1]["actor"] == "api"
    counting = (await api.client.get("/api/loops/counting")).json()
    assert counting["blocked_reason"] is None


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"reason": "x"}, "enabled"),
        ({"enabled": False}, "reason"),
        ({"enabled": False, "reason": ""}, "reason"),
        ({"enabled": None, "reason": "x"}, "enabled"),
        ({"enabled": False, "reason": "x", "loop": "counting"}, "loop"),
    ],
)
async def test_global_switch_refusals_name_the_field(
    api: Api, body: dict[str, object], field: str
) -> None:
    response = await api.client.put("/api/switches/all", json=body)
    assert response.status_code == 422
    assert response.json()["field"] == field
    assert api.runtime.board.global_switch.enabled is True


async def test_global_switch_whitespace_reason_is_refused(api: Api) -> None:
    response = await api.client.put("/api/switches/all", json={"enabled": False, "reason": "  "})
    assert response.status_code == 422
    assert "reason" in response.json()["error"]


async def test_repos_list_and_switch(api: Api) -> None:
    listed = (await api.client.get("/api/repos")).json()
    assert listed == {
        "repos": [
            {
                "name": "demo",
                "enabled": True,
                "switch": {"enabled": True, "by": None, "reason": None, "at": None},
                "busy": 0,
            }
        ]
    }
    response = await api.client.put(
        "/api/repos/demo",
        json={"enabled": False, "reason": "frozen for release"},
        headers={"X-Hydra-Actor": "dashboard"},
    )
    assert response.status_code == 200
    body = response.json()
    assert (body["name"], body["enabled"], body["changed"]) == ("demo", False, True)
    assert body["switch"]["by"] == "dashboard"
    record = api.records("control", "repo.disabled")[-1]
    assert record["actor"] == "dashboard"
    assert record["payload"] == {
        "repo": "demo",
        "changes": {"enabled": {"old": True, "new": False}},
        "reason": "frozen for release",
    }
    assert api.runtime.board.enabled_repos() == ()
    again = await api.client.put("/api/repos/demo", json={"enabled": False, "reason": "again"})
    assert again.json()["changed"] is False


async def test_repo_refusals(api: Api) -> None:
    response = await api.client.put("/api/repos/nope", json={"enabled": False, "reason": "x"})
    assert response.status_code == 404
    assert "unknown repository" in response.json()["error"]
    response = await api.client.put("/api/repos/demo", json={"reason": "x"})
    assert response.status_code == 422
    assert response.json()["field"] == "enabled"
    response = await api.client.put("/api/repos/demo", json={"enabled": True, "reason": " "})
    assert response.status_code == 422
    assert api.records("control", "repo.disabled") == []


async def test_list_loops_is_sorted_and_complete(tmp_path: Path) -> None:
    async with open_api(tmp_path, [CountingLoop, BlockingLoop, CrashingLoop], {}) as api:
        with anyio.fail_after(5):
            body = (await api.client.get("/api/loops")).json()
        assert [loop["name"] for loop in body["loops"]] == ["blocking", "counting", "crashing"]


async def test_the_loop_list_is_exactly_its_documented_model(tmp_path: Path) -> None:
    # GET /api/loops is serialised from dicts (it is polled): pin it to LoopList.
    async with open_api(tmp_path, [CountingLoop, BlockingLoop, CrashingLoop], HOLDING) as api:
        await api.harness.wait_for(lambda: Probe.count("crashing") >= 1)
        await api.client.put("/api/loops/counting", json={"enabled": False, "reason": "x"})
        await api.spend(0.5)
        raw = (await api.client.get("/api/loops")).json()
        assert raw == LoopList.model_validate(raw).model_dump(mode="json", by_alias=True)
        for loop in raw["loops"]:
            detail = (await api.client.get(f"/api/loops/{loop['name']}")).json()
            assert detail.keys() == loop.keys()


async def test_a_runtime_budget_can_be_cleared_with_null(api: Api) -> None:
    set_cap = {"daily_budget_usd": 3.5, "reason": "cap it"}
    assert (await api.client.put("/api/loops/counting", json=set_cap)).status_code == 200
    response = await api.client.put(
        "/api/loops/counting", json={"daily_budget_usd": None, "reason": "uncap it"}
    )
    assert response.status_code == 200
    assert response.json()["changed"] is True
    assert response.json()["budget"]["daily_budget_usd"] is None
    cleared = api.harness.records("control", "loop.updated")[-1]
    assert cleared["payload"]["changes"] == {"daily_budget_usd": {"old": 3.5, "new": None}}
    again = await api.client.put(
        "/api/loops/counting", json={"daily_budget_usd": None, "reason": "still uncapped"}
    )
    assert again.json()["changed"] is False
