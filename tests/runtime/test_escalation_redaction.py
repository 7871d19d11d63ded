"""An escalation is stored and served as it was audited: redacted, never with a loop's secret."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from hydra.audit import AuditLog
from hydra.escalations import EscalationQueue
from hydra.redact import Redactor

pytestmark = pytest.mark.anyio

PLANTED = "sk-ant-PLANTEDPLANTEDPLANTED1234"
KNOWN = "a-known-secret-value-0123456789"


async def test_a_secret_in_an_escalation_never_reaches_the_state_file(tmp_path: Path) -> None:
    redactor = Redactor([KNOWN])
    async with AuditLog(tmp_path / "audit", redact=redactor.redact) as audit:
        path = tmp_path / "state" / "escalations.json"
        queue = await EscalationQueue.load(path, await audit.stream("escalations"))
        opened = await queue.escalate(
            loop="leaky",
            key="k1",
            title="deploy failed",
            summary=f"the key {PLANTED} was refused",
            details={"token": "t0k3n-value", "log": f"auth with {KNOWN}"},
        )
        acked = await queue.transition(
            opened.id, to="acknowledged", actor="api", note=f"rotated {PLANTED}"
        )
        loaded = await EscalationQueue.load(path, await audit.stream("escalations"))
    stored = path.read_text()
    for secret in (PLANTED, KNOWN, "t0k3n-value"):
        assert secret not in stored
        assert secret not in repr(queue.list())
        assert secret not in repr(loaded.list())
    assert opened.title == "deploy failed"  # what is not secret stays as written
    assert (opened.id, opened.key, opened.loop) == ("esc-1", "k1", "leaky")
    assert acked.state == "acknowledged"
    assert json.loads(stored)["items"][0]["state"] == "acknowledged"


async def test_identity_survives_a_redact_hook_that_rewrites_everything(tmp_path: Path) -> None:
    """A key the redactor would rewrite still matches: the same key updates the open entry."""

    def scrub_all(value: object) -> object:
        if isinstance(value, dict):
            return {k: scrub_all(v) for k, v in value.items()}
        return "[REDACTED]" if isinstance(value, str) else value

    async with AuditLog(tmp_path / "audit", redact=scrub_all) as audit:
        path = tmp_path / "state" / "escalations.json"
        queue = await EscalationQueue.load(path, await audit.stream("escalations"))
        first = await queue.escalate(loop="leaky", key="k1", title="t", summary="s")
        again = await queue.escalate(loop="leaky", key="k1", title="t2", summary="s2")
    assert (first.id, again.id) == ("esc-1", "esc-1")
    assert (again.key, again.state, again.title) == ("k1", "open", "[REDACTED]")
    assert len(queue.list()) == 1


async def test_text_a_redact_hook_reshaped_is_stored_masked(tmp_path: Path) -> None:
    """Fail closed: a field the redaction turned into something else never falls back to the
    unredacted text."""

    def reshape(value: object) -> object:
        if isinstance(value, dict) and "summary" in value:
            return {**value, "summary": {"was": "replaced"}, "details": "not a mapping"}
        return value

    async with AuditLog(tmp_path / "audit", redact=reshape) as audit:
        path = tmp_path / "state" / "escalations.json"
        queue = await EscalationQueue.load(path, await audit.stream("escalations"))
        item = await queue.escalate(
            loop="leaky", key="k1", title="t", summary=f"raw {PLANTED}", details={"x": PLANTED}
        )
    assert item.summary == "[REDACTED]"
    assert dict(item.details) == {}
    assert PLANTED not in path.read_text()
