"""``POST /api/loops/{name}/trigger``: an optional reason, audited before the tick is asked for."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import anyio
import pytest

from tests.api.conftest import Api, open_api
from tests.helpers.faults import damage_mid_stream
from tests.helpers.loops import Probe

pytestmark = pytest.mark.anyio


async def _idle_after_first_tick(api: Api) -> None:
    status = api.runtime.orchestrator.status("counting")
    await api.harness.wait_for(lambda: status.ticks == 1 and status.running_run_id is None)


async def test_a_reason_is_recorded_with_the_actor(api: Api) -> None:
    await _idle_after_first_tick(api)
    response = await api.client.post(
        "/api/loops/counting/trigger",
        json={"reason": "the fix just landed"},
        headers={"X-Hydra-Actor": "dashboard"},
    )
    assert response.status_code == 202
    assert response.json() == {"triggered": True, "merged_into_running_tick": False}
    await api.harness.wait_for(lambda: Probe.count("counting") == 2)
    record = api.records("control", "loop.triggered")[-1]
    assert record["actor"] == "dashboard"
    assert record["payload"] == {
        "loop": "counting",
        "reason": "the fix just landed",
        "merged_into_running_tick": False,
    }


@pytest.mark.parametrize("body", [None, b"", b"  \n", b"{}"])
async def test_the_body_is_optional(api: Api, body: bytes | None) -> None:
    await _idle_after_first_tick(api)
    response = await api.client.post("/api/loops/counting/trigger", content=body)
    assert response.status_code == 202, response.text
    assert api.records("control", "loop.triggered")[-1]["payload"]["reason"] is None


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"reason": ""}, "reason"),
        ({"reason": 7}, "reason"),
        ({"reason": "x" * 501}, "reason"),
        ({"reason": "ok", "drain": True}, "drain"),
    ],
)
async def test_a_bad_body_is_422_naming_the_field_and_nothing_runs(
    api: Api, body: dict[str, object], field: str
) -> None:
    await _idle_after_first_tick(api)
    response = await api.client.post("/api/loops/counting/trigger", json=body)
    assert response.status_code == 422
    assert response.json()["field"] == field
    assert api.records("control", "loop.triggered") == []
    await anyio.sleep(0.1)
    assert Probe.count("counting") == 1


async def test_malformed_json_is_422(api: Api) -> None:
    response = await api.client.post(
        "/api/loops/counting/trigger", content=b"{not json", headers={"Content-Type": "text/json"}
    )
    assert response.status_code == 422
    assert "malformed JSON" in response.json()["error"]


async def test_no_record_no_tick(tmp_path: Path) -> None:
    """The record comes first: when it cannot be written, the loop is not triggered."""
    damage_mid_stream(tmp_path / "audit", "control", ["daemon.started", "x", "y"])
    async with open_api(tmp_path) as api:
        await _idle_after_first_tick(api)
        response = await api.client.post("/api/loops/counting/trigger", json={"reason": "try it"})
        assert response.status_code == 503
        assert "hydra audit repair" in response.json()["error"]
        await anyio.sleep(0.2)
        assert Probe.count("counting") == 1
        assert not api.runtime.fatal.triggered  # damage is reported, not fatal


async def test_refusals_are_checked_before_the_record(api: Api) -> None:
    await api.client.put("/api/loops/counting", json={"enabled": False, "reason": "pause"})
    for path, status in [
        ("/api/loops/counting/trigger", 409),
        ("/api/loops/blocking/trigger", 409),
        ("/api/loops/nope/trigger", 404),
    ]:
        response = await api.client.post(path, json={"reason": "please"})
        assert response.status_code == status, path
    assert api.records("control", "loop.triggered") == []


async def test_a_switch_off_while_the_trigger_is_recorded_refuses_it_on_the_record(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    await _idle_after_first_tick(api)
    audit, board = api.runtime.audit, api.runtime.board
    real_stream = audit.stream

    class SwitchedOffMeanwhile:
        def __init__(self, inner: Any) -> None:
            self.inner = inner

        async def append(self, action: str, **kw: Any) -> Any:
            written = await self.inner.append(action, **kw)
            if action == "loop.triggered":  # the operator pulls the switch right then
                await board.update_loop("counting", actor="cli", reason="stop", enabled=False)
            return written

    async def stream(name: str) -> Any:
        inner = await real_stream(name)
        return SwitchedOffMeanwhile(inner) if name == "control" else inner

    monkeypatch.setattr(audit, "stream", stream)
    response = await api.client.post("/api/loops/counting/trigger", json={"reason": "go"})
    assert response.status_code == 409
    assert "switched off by cli" in response.json()["error"]
    [refused] = api.records("control", "loop.trigger_refused")
    assert refused["payload"]["loop"] == "counting"
    assert api.runtime.orchestrator.status("counting").running_run_id is None
