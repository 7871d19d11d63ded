from __future__ import annotations

import pytest

from tests.api.conftest import TOKEN, Api
from tests.helpers.loops import Probe

pytestmark = pytest.mark.anyio


async def test_healthz_needs_no_token(api: Api) -> None:
    response = await api.client.get("/healthz", headers={"Authorization": ""})
    assert response.status_code == 200
    assert response.json()["status"] == "ok"


@pytest.mark.parametrize(
    "auth", ["", "Bearer wrong", f"Basic {TOKEN}", "Bearer", f"bearer {TOKEN}x"]
)
async def test_api_refuses_missing_or_wrong_tokens(api: Api, auth: str) -> None:
    response = await api.client.get("/api/loops", headers={"Authorization": auth})
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert "token" in response.json()["error"]


async def test_token_in_query_string_is_not_accepted(api: Api) -> None:
    response = await api.client.get(f"/api/loops?token={TOKEN}", headers={"Authorization": ""})
    assert response.status_code == 401


@pytest.mark.parametrize("host", ["evil.example", "127.0.0.1.nip.io", "attacker:8765"])
async def test_foreign_host_headers_are_refused(api: Api, host: str) -> None:
    response = await api.client.get("/api/loops", headers={"Host": host})
    assert response.status_code == 400
    assert "host" in response.json()["error"]


@pytest.mark.parametrize("host", ["localhost:8765", "127.0.0.1", "[::1]:8765"])
async def test_loopback_host_headers_are_accepted(api: Api, host: str) -> None:
    response = await api.client.get("/api/loops", headers={"Host": host})
    assert response.status_code == 200


async def test_list_loops(api: Api) -> None:
    response = await api.client.get("/api/loops")
    assert response.status_code == 200
    body = response.json()
    assert body["global"]["enabled"] is True
    loops = {loop["name"]: loop for loop in body["loops"]}
    assert set(loops) == {"counting", "blocking"}
    counting = loops["counting"]
    assert counting["interval_s"] == 3600
    assert counting["interval_bounds"] == [0.01, 3600.0]
    assert counting["description"] == "Counts its ticks."
    assert loops["blocking"]["static_enabled"] is False
    assert loops["blocking"]["blocked_reason"] == "disabled in config"


async def test_disable_loop_is_audited_with_the_actor(api: Api) -> None:
    response = await api.client.put(
        "/api/loops/counting",
        json={"enabled": False, "reason": "spending too much"},
        headers={"X-Hydra-Actor": "dashboard"},
    )
    assert response.status_code == 200
    body = response.json()
    assert body["enabled"] is False
    assert body["changed"] is True
    assert body["switch"]["by"] == "dashboard"
    record = api.harness.records("control", "loop.disabled")[-1]
    assert record["actor"] == "dashboard"
    assert record["payload"]["reason"] == "spending too much"


async def test_unknown_loop_is_404(api: Api) -> None:
    for method, path in (("GET", "/api/loops/nope"), ("POST", "/api/loops/nope/trigger")):
        response = await api.client.request(method, path)
        assert response.status_code == 404, path
        assert "unknown loop" in response.json()["error"]
    response = await api.client.put("/api/loops/nope", json={"enabled": False, "reason": "x"})
    assert response.status_code == 404


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"interval_s": 999999, "reason": "x"}, None),
        ({"interval_s": -1, "reason": "x"}, "interval_s"),
        ({"enabled": "maybe", "reason": "x"}, "enabled"),
        ({"enabled": False}, "reason"),
        ({"enabled": False, "reason": "x", "colour": "red"}, "colour"),
        ({"mode": "loud", "reason": "x"}, "mode"),
    ],
)
async def test_bad_bodies_are_422_with_a_message(
    api: Api, body: dict[str, object], field: str | None
) -> None:
    response = await api.client.put("/api/loops/counting", json=body)
    assert response.status_code == 422
    error = response.json()
    assert error["error"]
    if field:
        assert error["field"] == field


@pytest.mark.parametrize("raw", [b"", b"{not json", b"[1, 2]", b"null"])
async def test_malformed_json_is_422(api: Api, raw: bytes) -> None:
    response = await api.client.put(
        "/api/loops/counting", content=raw, headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 422
    assert response.json()["error"]


async def test_oversized_body_is_413(api: Api) -> None:
    big = b'{"reason": "' + b"x" * 200_000 + b'"}'
    response = await api.client.put("/api/loops/counting", content=big)
    assert response.status_code == 413


async def test_enabling_a_config_disabled_loop_is_409(api: Api) -> None:
    response = await api.client.put(
        "/api/loops/blocking", json={"enabled": True, "reason": "please"}
    )
    assert response.status_code == 409
    assert "disabled in config" in response.json()["error"]


async def test_trigger(api: Api) -> None:
    await api.harness.wait_for(lambda: Probe.count("counting") == 1)
    response = await api.client.post("/api/loops/counting/trigger")
    assert response.status_code == 202
    await api.harness.wait_for(lambda: Probe.count("counting") == 2)
    response = await api.client.post("/api/loops/blocking/trigger")
    assert response.status_code == 409


async def test_global_switch(api: Api) -> None:
    response = await api.client.put("/api/switches/all", json={"enabled": False, "reason": "andon"})
    assert response.status_code == 200
    assert response.json()["global"]["enabled"] is False
    listed = (await api.client.get("/api/loops")).json()
    assert listed["global"] == {
        "enabled": False,
        "by": "api",
        "reason": "andon",
        "at": listed["global"]["at"],
    }
    response = await api.client.put("/api/switches/all", json={"enabled": False, "reason": "again"})
    assert response.json()["changed"] is False
    response = await api.client.put("/api/switches/all", json={"reason": "no flag"})
    assert response.status_code == 422
