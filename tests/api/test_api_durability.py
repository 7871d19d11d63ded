"""A change the daemon cannot make durable answers 503 and pulls the fatal signal."""

from __future__ import annotations

import pytest

from hydra.statefile import DurabilityError
from tests.api.conftest import Api
from tests.helpers.faults import failing_fsync

pytestmark = pytest.mark.anyio


async def test_a_failed_switch_state_fsync_is_503_and_fatal(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    refused = failing_fsync(monkeypatch, "switches.json")
    response = await api.client.put(
        "/api/loops/counting", json={"enabled": False, "reason": "disk"}
    )
    assert refused
    assert response.status_code == 503
    error = response.json()["error"]
    assert error.startswith("the daemon is stopping: ")
    assert "switches.json" in error
    assert isinstance(api.runtime.fatal.error, DurabilityError)


async def test_a_failed_escalation_fsync_is_503_and_fatal(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    opened = await api.escalate("a")
    failing_fsync(monkeypatch, "escalations.json")
    response = await api.client.post(
        f"/api/escalations/{opened.id}/acknowledge", json={"note": "looking"}
    )
    assert response.status_code == 503
    assert "escalations.json" in response.json()["error"]
    assert api.runtime.fatal.triggered


async def test_reads_still_answer_after_a_fatal_failure(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    failing_fsync(monkeypatch, "switches.json")
    await api.client.put("/api/switches/all", json={"enabled": False, "reason": "andon"})
    assert api.runtime.fatal.triggered
    assert (await api.client.get("/api/loops")).status_code == 200
