from __future__ import annotations

from pathlib import Path

import pytest

from hydra.audit import AuditLog, iter_records
from hydra.escalations import EscalationError
from hydra.loop_services import JsonStateStore, open_services

pytestmark = pytest.mark.anyio


async def test_history_finds_records_by_action_and_payload(tmp_path: Path) -> None:
    async with AuditLog(tmp_path / "audit") as audit:
        services = await open_services(audit, tmp_path / "audit", tmp_path / "state")
        history = services.history("preflight")
        assert await history.find({"attempt.finished"}) == []
        stream = await audit.stream("preflight")
        for issue, outcome in (("7", "failed"), ("8", "failed"), ("7", "protected_path")):
            await stream.append(
                "attempt.finished",
                actor="loop:preflight",
                payload={"issue": issue, "outcome": outcome},
            )
        await stream.append("attempt.started", actor="loop:preflight", payload={"issue": "7"})
        found = await history.find({"attempt.finished"}, where={"issue": "7"})
        assert [r["payload"]["outcome"] for r in found] == ["failed", "protected_path"]
        assert len(await history.find({"attempt.finished", "attempt.started"})) == 4
        newest = await history.find({"attempt.finished"}, limit=1)
        assert newest[0]["payload"]["outcome"] == "protected_path"


async def test_state_store_is_durable_and_refuses_non_json(tmp_path: Path) -> None:
    path = tmp_path / "state" / "loops" / "x.json"
    store = JsonStateStore(path)
    assert await store.get("status", "pending") == "pending"
    await store.put("status", {"repo": "ready"})
    with pytest.raises(TypeError):
        await store.put("bad", object())
    again = JsonStateStore(path)
    assert await again.items() == {"status": {"repo": "ready"}}
    await again.delete("status")
    await again.delete("missing")
    assert await JsonStateStore(path).items() == {}


async def test_escalations_open_update_and_resolve_with_audit(tmp_path: Path) -> None:
    async with AuditLog(tmp_path / "audit") as audit:
        services = await open_services(audit, tmp_path / "audit", tmp_path / "state")
        queue = services.escalations
        desk = services.desk("sandbox_fixer", "run-1")
        first = await desk.escalate(
            key="demo:sig", title="stuck", summary="3 attempts", repo="demo"
        )
        again = await desk.escalate(
            key="demo:sig", title="stuck", summary="4 attempts", repo="demo"
        )
        assert again.id == first.id
        assert again.summary == "4 attempts"
        assert (await desk.find("demo:sig")) == again
        with pytest.raises(EscalationError, match="note is required"):
            await queue.transition(first.id, to="acknowledged", actor="api", note=" ")
        acked = await queue.transition(
            first.id, to="acknowledged", actor="dashboard", note="looking"
        )
        assert (acked.state, acked.by) == ("acknowledged", "dashboard")
        resolved = await queue.transition(
            first.id, to="resolved", actor="dashboard", note="fixed by hand"
        )
        with pytest.raises(EscalationError, match="already resolved"):
            await queue.transition(first.id, to="acknowledged", actor="api", note="x")
        reopened = await desk.escalate(key="demo:sig", title="stuck again", summary="again")
        assert reopened.id != resolved.id
        with pytest.raises(EscalationError) as missing:
            queue.get("esc-99")
        assert missing.value.kind == "not_found"
    actions = [r["action"] for r in iter_records(tmp_path / "audit", "escalations")]
    assert actions == [
        "escalation.opened",
        "escalation.updated",
        "escalation.acknowledged",
        "escalation.resolved",
        "escalation.opened",
    ]
    async with AuditLog(tmp_path / "audit") as audit:
        services = await open_services(audit, tmp_path / "audit", tmp_path / "state")
        assert [e.state for e in services.escalations.list()] == ["open", "resolved"]
