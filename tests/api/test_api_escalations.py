"""``/api/escalations``: the human-escalation queue (list, detail, acknowledge, resolve)."""

from __future__ import annotations

import pytest

from tests.api.conftest import Api

pytestmark = pytest.mark.anyio


async def test_list_newest_first_with_a_state_filter(api: Api) -> None:
    first = await api.escalate("a")
    second = await api.escalate("b")
    await api.escalations.transition(first.id, to="resolved", actor="cli", note="fixed")
    listed = (await api.client.get("/api/escalations")).json()["escalations"]
    assert [e["id"] for e in listed] == [second.id, first.id]
    for state, ids in (("open", [second.id]), ("resolved", [first.id]), ("acknowledged", [])):
        response = await api.client.get("/api/escalations", params={"state": state})
        assert response.status_code == 200
        assert [e["id"] for e in response.json()["escalations"]] == ids


async def test_detail(api: Api) -> None:
    item = await api.escalate("a")
    response = await api.client.get(f"/api/escalations/{item.id}")
    assert response.status_code == 200
    body = response.json()
    assert body == {
        "id": item.id,
        "key": "a",
        "loop": "counting",
        "title": "needs a human: a",
        "summary": "details",
        "state": "open",
        "created_at": item.created_at,
        "updated_at": item.updated_at,
        "repo": "r",
        "details": {},
        "note": None,
        "by": None,
    }


@pytest.mark.parametrize("actor", ["dashboard", "cli", "api"])
async def test_acknowledge_then_resolve_with_notes_audited_with_the_actor(
    api: Api, actor: str
) -> None:
    item = await api.escalate("a")
    headers = {"X-Hydra-Actor": actor}
    response = await api.client.post(
        f"/api/escalations/{item.id}/acknowledge", json={"note": "looking"}, headers=headers
    )
    assert response.status_code == 200
    body = response.json()
    assert (body["state"], body["note"], body["by"]) == ("acknowledged", "looking", actor)
    record = api.records("escalations", "escalation.acknowledged")[-1]
    assert record["actor"] == actor
    assert record["payload"]["note"] == "looking"
    assert record["payload"]["id"] == item.id

    response = await api.client.post(
        f"/api/escalations/{item.id}/resolve", json={"note": "rebased by hand"}, headers=headers
    )
    assert response.status_code == 200
    assert response.json()["state"] == "resolved"
    record = api.records("escalations", "escalation.resolved")[-1]
    assert (record["actor"], record["payload"]["note"]) == (actor, "rebased by hand")
    assert api.escalations.get(item.id).state == "resolved"


async def test_resolve_straight_from_open(api: Api) -> None:
    item = await api.escalate("a")
    response = await api.client.post(f"/api/escalations/{item.id}/resolve", json={"note": "done"})
    assert response.status_code == 200
    assert response.json()["state"] == "resolved"


async def test_repeating_a_transition_is_idempotent(api: Api) -> None:
    item = await api.escalate("a")
    for _ in range(2):
        response = await api.client.post(
            f"/api/escalations/{item.id}/acknowledge", json={"note": "seen"}
        )
        assert response.status_code == 200
    assert len(api.records("escalations", "escalation.acknowledged")) == 1


async def test_a_resolved_escalation_cannot_be_acknowledged_again(api: Api) -> None:
    item = await api.escalate("a")
    await api.client.post(f"/api/escalations/{item.id}/resolve", json={"note": "done"})
    response = await api.client.post(
        f"/api/escalations/{item.id}/acknowledge", json={"note": "again"}
    )
    assert response.status_code == 409
    assert "already resolved" in response.json()["error"]
    assert api.records("escalations", "escalation.acknowledged") == []


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/api/escalations/esc-99"),
        ("GET", "/api/escalations/nonsense"),
        ("POST", "/api/escalations/esc-99/acknowledge"),
        ("POST", "/api/escalations/esc-99/resolve"),
    ],
)
async def test_unknown_escalation_is_404(api: Api, method: str, path: str) -> None:
    response = await api.client.request(method, path, json={"note": "x"})
    assert response.status_code == 404
    assert "unknown escalation" in response.json()["error"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"note": ""}, "note"),
        ({}, "note"),
        ({"note": None}, "note"),
        ({"note": 5}, "note"),
        ({"note": "x" * 2001}, "note"),
        ({"note": "ok", "state": "resolved"}, "state"),
    ],
)
@pytest.mark.parametrize("verb", ["acknowledge", "resolve"])
async def test_bad_notes_are_422_naming_the_field(
    api: Api, body: dict[str, object], field: str, verb: str
) -> None:
    item = await api.escalate("a")
    response = await api.client.post(f"/api/escalations/{item.id}/{verb}", json=body)
    assert response.status_code == 422
    assert response.json()["field"] == field
    assert api.escalations.get(item.id).state == "open"


async def test_a_blank_note_is_refused(api: Api) -> None:
    item = await api.escalate("a")
    response = await api.client.post(f"/api/escalations/{item.id}/resolve", json={"note": "  "})
    assert response.status_code == 422
    assert "note" in response.json()["error"]
    assert api.escalations.get(item.id).state == "open"


async def test_bad_state_filter_is_422(api: Api) -> None:
    response = await api.client.get("/api/escalations", params={"state": "closed"})
    assert response.status_code == 422
    assert response.json()["field"] == "state"


async def test_a_daemon_without_a_queue_answers_404(api: Api) -> None:
    api.runtime.escalations = None
    response = await api.client.get("/api/escalations")
    assert response.status_code == 404
    assert "no escalation queue" in response.json()["error"]
