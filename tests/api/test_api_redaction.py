"""Live state served by the API is redacted like the log and the audit streams.

Loops crash with secrets in their messages, report them in their results' summaries and put
them in escalations; none of it may come back out of an API answer: neither a secret the
daemon knows (the API token, a key it hands to agent CLIs) nor one of a well-known format.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

from hydra.redact import secrets_in_env
from hydra.sdk import Loop, TickContext, TickResult
from tests.api.conftest import TOKEN, Api, open_api

pytestmark = pytest.mark.anyio

PATTERN_SECRET = "sk-ant-SECRETSECRET1234567890"
"""Caught by the redactor's patterns only."""
KNOWN_SECRET = "plainagentsecret987654321"
"""No well-known format: caught only because the daemon registers it (a ``pass_env`` key)."""
SECRETS = (PATTERN_SECRET, KNOWN_SECRET, TOKEN)
PLANTED = f"token={PATTERN_SECRET} key={KNOWN_SECRET} api={TOKEN}"
MASKED = "token=[REDACTED] key=[REDACTED] api=[REDACTED]"


class _Leaky(Loop[Any]):
    area = "testing"
    default_interval_s = 3600.0
    interval_bounds = (0.01, 3600.0)


class LeakyCrashLoop(_Leaky):
    name = "leaky_crash"
    description = "Crashes with secrets in its message."

    async def tick(self, ctx: TickContext[Any]) -> TickResult:
        raise RuntimeError(f"boom {PLANTED}")


class LeakyResultLoop(_Leaky):
    name = "leaky_result"
    description = "Reports secrets in its summary and escalates them."

    async def tick(self, ctx: TickContext[Any]) -> TickResult:
        await ctx.escalations.escalate(
            key="leak",
            title=f"look at {PLANTED}",
            summary=PLANTED,
            details={"where": PLANTED, "seen": [PLANTED], "api_key": KNOWN_SECRET},
        )
        return TickResult(status="ok", summary=f"done {PLANTED}", counts={"n": 1})


class LeakyStatusLoop(_Leaky):
    name = "leaky_status"
    description = "Breaks the contract: a free-text status with a secret in it."

    async def tick(self, ctx: TickContext[Any]) -> TickResult:
        return TickResult(status=f"ok {PATTERN_SECRET}")  # type: ignore[arg-type]


LOOPS = (LeakyCrashLoop, LeakyResultLoop, LeakyStatusLoop)


def assert_clean(text: str, where: str) -> None:
    for secret in SECRETS:
        assert secret not in text, f"{where} leaks {secret!r}: {text}"


@asynccontextmanager
async def leaky_api(tmp_path: Path) -> AsyncIterator[Api]:
    """The API over the leaky loops, each of which has ticked once; the known secret is
    registered as the daemon registers the keys it hands to children (the token always is)."""
    async with open_api(tmp_path, LOOPS, tables={}) as api:
        api.runtime.redactor.add_secrets(
            secrets_in_env(["ANTHROPIC_API_KEY"], {"ANTHROPIC_API_KEY": KNOWN_SECRET})
        )
        statuses = api.harness.orchestrator.statuses()
        await api.harness.wait_for(lambda: all(s.last_outcome for s in statuses))
        yield api


async def test_loop_views_never_carry_a_secret_from_loop_code(tmp_path: Path) -> None:
    async with leaky_api(tmp_path) as api:
        response = await api.client.get("/api/loops")
        assert response.status_code == 200
        assert_clean(response.text, "GET /api/loops")
        loops = {loop["name"]: loop for loop in response.json()["loops"]}
        assert loops["leaky_crash"]["last"]["kind"] == "crashed"
        assert loops["leaky_crash"]["last"]["error"] == f"RuntimeError: boom {MASKED}"
        assert loops["leaky_result"]["last"]["summary"] == f"done {MASKED}"
        assert loops["leaky_status"]["last"]["status"] == "ok [REDACTED]"

        for name in loops:
            response = await api.client.get(f"/api/loops/{name}")
            assert response.status_code == 200
            assert_clean(response.text, f"GET /api/loops/{name}")
        detail = (await api.client.get("/api/loops/leaky_crash")).json()
        assert detail["last"]["error"] == f"RuntimeError: boom {MASKED}"

        # The queue keeps the loop's words exact (the loop may read them back); the API does not.
        [item] = api.escalations.list()
        assert PATTERN_SECRET in item.summary
        for path in ("/api/escalations", f"/api/escalations/{item.id}"):
            response = await api.client.get(path)
            assert response.status_code == 200
            assert_clean(response.text, f"GET {path}")
        served = (await api.client.get(f"/api/escalations/{item.id}")).json()
        assert (served["title"], served["summary"]) == (f"look at {MASKED}", MASKED)
        assert served["details"] == {"where": MASKED, "seen": [MASKED], "api_key": "[REDACTED]"}

        response = await api.client.post(
            f"/api/escalations/{item.id}/acknowledge", json={"note": f"seen {KNOWN_SECRET}"}
        )
        assert response.status_code == 200
        assert_clean(response.text, "POST …/acknowledge")
        assert response.json()["note"] == "seen [REDACTED]"

        for path in ("/healthz", "/metrics"):
            response = await api.client.get(path)
            assert response.status_code == 200
            assert_clean(response.text, f"GET {path}")
        assert 'result="invalid"' in (await api.client.get("/metrics")).text


async def test_switch_reasons_and_error_answers_are_redacted(tmp_path: Path) -> None:
    # The harness's audit log has no redact hook: the reason reaches the switch as typed.
    async with leaky_api(tmp_path) as api:
        response = await api.client.put(
            "/api/loops/leaky_crash", json={"enabled": False, "reason": f"pasted {PLANTED}"}
        )
        assert response.status_code == 200
        assert_clean(response.text, "PUT /api/loops/leaky_crash")
        response = await api.client.post("/api/loops/leaky_crash/trigger")
        assert response.status_code == 409  # names the switch's reason
        assert_clean(response.text, "POST /api/loops/leaky_crash/trigger")
        assert MASKED in response.json()["error"]
        response = await api.client.put(
            "/api/switches/all", json={"enabled": False, "reason": f"stop {PLANTED}"}
        )
        assert response.status_code == 200
        assert_clean(response.text, "PUT /api/switches/all")
        response = await api.client.get("/api/loops")
        assert_clean(response.text, "GET /api/loops")
        body = response.json()
        assert body["global"]["reason"] == f"stop {MASKED}"
        loops = {loop["name"]: loop for loop in body["loops"]}
        assert loops["leaky_crash"]["switch"]["reason"] == f"pasted {MASKED}"
        assert MASKED in loops["leaky_crash"]["blocked_reason"]
