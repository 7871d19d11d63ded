"""The guards every request passes: Host allow-list, bearer token (constant time), body limit,
no CORS, the actor of mutating calls; and no 5xx for any client input."""

from __future__ import annotations

import ast
import inspect
import textwrap
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from hydra.api import security
from hydra.api.app import OPERATIONS
from tests.api.conftest import TOKEN, Api, open_api

pytestmark = pytest.mark.anyio

PUBLIC = ["/healthz", "/metrics", "/openapi.json", "/", "/dashboard.css", "/dashboard.js"]


# ------------------------------------------------------------------ Host allow-list
FOREIGN_HOSTS = ["evil.example", "evil.example:8765", "", "127.0.0.2", "[::2]", "localhost.evil"]


async def test_foreign_hosts_are_refused_everywhere(api: Api) -> None:
    for path in [*PUBLIC, "/api/loops", "/api/events"]:
        for host in FOREIGN_HOSTS:
            response = await api.client.get(path, headers={"Host": host})
            assert response.status_code == 400, (path, host)
            assert "is not allowed" in response.json()["error"]


@pytest.fixture
async def extra_host_api(tmp_path: Path) -> AsyncIterator[Api]:
    async with open_api(tmp_path, api={"allowed_hosts": ["hydra.internal"]}) as api:
        yield api


async def test_configured_hosts_and_loopback_are_accepted(extra_host_api: Api) -> None:
    for host in ["hydra.internal", "HYDRA.internal:8765", "localhost", "127.0.0.1:1", "[::1]"]:
        response = await extra_host_api.client.get("/api/loops", headers={"Host": host})
        assert response.status_code == 200, host


async def test_configured_hosts_do_not_open_the_door_to_others(extra_host_api: Api) -> None:
    response = await extra_host_api.client.get("/api/loops", headers={"Host": "hydra.evil"})
    assert response.status_code == 400


# ------------------------------------------------------------------ token
NEAR_MISSES = [
    f"Bearer {TOKEN[:-1]}",  # one character short
    f"Bearer {TOKEN[:-1]}0",  # the last character differs
    f"Bearer {TOKEN}{TOKEN}",
    f"Bearer {TOKEN.upper()}",
    f"Token {TOKEN}",
    TOKEN,
    # only the header's own blanks (space, tab) are stripped, not other bytes Python calls space
    f"Bearer \xa0{TOKEN}",
    f"Bearer {TOKEN}\x85",
]


async def test_near_miss_tokens_are_refused(api: Api) -> None:
    for auth in NEAR_MISSES:
        for method, path in (("GET", "/api/loops"), ("PUT", "/api/switches/all")):
            response = await api.client.request(
                method,
                path,
                headers={"Authorization": auth.encode("latin-1")},
                json={"enabled": False, "reason": "x"},
            )
            assert response.status_code == 401, auth
    assert api.runtime.board.global_switch.enabled is True


async def test_the_scheme_is_case_insensitive_and_spaces_are_tolerated(api: Api) -> None:
    response = await api.client.get("/api/loops", headers={"Authorization": f"bearer  {TOKEN} "})
    assert response.status_code == 200


def test_the_token_is_compared_in_constant_time() -> None:
    source = textwrap.dedent(inspect.getsource(security.GuardMiddleware._authorized))
    tree = ast.parse(source)
    calls = [
        node
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == "compare_digest"
        and isinstance(node.func.value, ast.Name)
        and node.func.value.id == "hmac"
    ]
    assert len(calls) == 1
    assert any(isinstance(arg, ast.Attribute) and arg.attr == "_token" for arg in calls[0].args), (
        "the stored token is one side of compare_digest"
    )
    # The token is never compared with == / != / in anywhere in the module.
    module = ast.parse(inspect.getsource(security))
    for node in ast.walk(module):
        if isinstance(node, ast.Compare):
            names = {n.attr for n in ast.walk(node) if isinstance(n, ast.Attribute)}
            assert "_token" not in names, ast.unparse(node)


# ------------------------------------------------------------------ body limit
BODY_ROUTES = [
    ("PUT", "/api/loops/counting"),
    ("PUT", "/api/switches/all"),
    ("PUT", "/api/repos/demo"),
    ("POST", "/api/escalations/esc-1/resolve"),
    ("POST", "/api/escalations/esc-1/acknowledge"),
]


@pytest.mark.parametrize(("method", "path"), BODY_ROUTES)
async def test_oversized_bodies_are_413(api: Api, method: str, path: str) -> None:
    big = b'{"reason": "' + b"x" * 70_000 + b'", "note": "n"}'
    response = await api.client.request(method, path, content=big)
    assert response.status_code == 413
    assert "65536 bytes" in response.json()["error"]


@pytest.mark.parametrize(("method", "path"), BODY_ROUTES)
async def test_oversized_chunked_bodies_are_413(api: Api, method: str, path: str) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        yield b'{"reason": "'
        for _ in range(20):
            yield b"x" * 4096  # 80 KiB in all, without a Content-Length
        yield b'"}'

    response = await api.client.request(method, path, content=chunks())
    assert response.status_code == 413
    assert api.records("control", "loop.updated") == []


async def test_the_body_limit_is_a_setting(tmp_path: Path) -> None:
    async with open_api(tmp_path, api={"max_body_bytes": 2048}) as api:
        reason = "x" * 400
        ok = await api.client.put("/api/loops/counting", json={"mode": "shadow", "reason": reason})
        assert ok.status_code == 200
        padded = b'{"mode": "live", "reason": "x"' + b" " * 2100 + b"}"
        response = await api.client.put("/api/loops/counting", content=padded)
        assert response.status_code == 413
        assert "2048 bytes" in response.json()["error"]


# ------------------------------------------------------------------ no CORS
CORS_PROBES: list[tuple[str, str, dict[str, str]]] = [
    ("GET", "/api/loops", {}),
    ("GET", "/api/loops", {"Authorization": ""}),
    ("GET", "/api/loops/nope", {}),
    ("PUT", "/api/switches/all", {}),
    ("OPTIONS", "/api/loops", {"Access-Control-Request-Method": "PUT"}),
    ("OPTIONS", "/api/switches/all", {"Access-Control-Request-Method": "PUT"}),
    ("OPTIONS", "/", {"Access-Control-Request-Method": "GET"}),
    ("OPTIONS", "/healthz", {"Access-Control-Request-Method": "GET"}),
    *[("GET", path, {}) for path in PUBLIC],
]


async def test_no_cors_headers_on_any_response(api: Api) -> None:
    for method, path, headers in CORS_PROBES:
        response = await api.client.request(
            method, path, headers={"Origin": "https://evil.example", **headers}
        )
        assert response.status_code < 500
        leaked = [name for name in response.headers if name.lower().startswith("access-control-")]
        assert leaked == [], (method, path)
        if method == "OPTIONS":
            assert response.status_code in (401, 405), path  # a preflight is never approved


# ------------------------------------------------------------------ audited mutations
async def _seed(api: Api) -> None:
    await api.escalate("a")
    await api.escalate("b")


MUTATIONS: dict[tuple[str, str], tuple[str, dict[str, Any] | None, str, str, str]] = {
    # (method, path template): (concrete path, body, stream, action, where the reason is)
    ("PUT", "/api/loops/{name}"): (
        "/api/loops/counting",
        {"enabled": False, "reason": "why: loop"},
        "control",
        "loop.disabled",
        "reason",
    ),
    ("POST", "/api/loops/{name}/trigger"): (
        "/api/loops/counting/trigger",
        {"reason": "why: trigger"},
        "control",
        "loop.triggered",
        "reason",
    ),
    ("PUT", "/api/switches/all"): (
        "/api/switches/all",
        {"enabled": False, "reason": "why: global"},
        "control",
        "global.disabled",
        "reason",
    ),
    ("PUT", "/api/repos/{name}"): (
        "/api/repos/demo",
        {"enabled": False, "reason": "why: repo"},
        "control",
        "repo.disabled",
        "reason",
    ),
    ("POST", "/api/escalations/{id}/acknowledge"): (
        "/api/escalations/esc-1/acknowledge",
        {"note": "why: ack"},
        "escalations",
        "escalation.acknowledged",
        "note",
    ),
    ("POST", "/api/escalations/{id}/resolve"): (
        "/api/escalations/esc-2/resolve",
        {"note": "why: resolve"},
        "escalations",
        "escalation.resolved",
        "note",
    ),
    ("POST", "/api/audit/{stream}/verify"): ("/api/audit/control/verify", None, "", "", ""),
}
"""Every non-GET operation. ``verify`` only reads: it changes nothing, so nothing to audit."""


def test_every_mutating_operation_has_an_audit_case() -> None:
    mutating = {(op.method, op.path) for op in OPERATIONS if op.method != "GET"}
    assert mutating == set(MUTATIONS)


@pytest.mark.parametrize(
    ("actor", "header"), [("api", None), ("dashboard", "dashboard"), ("cli", "CLI")]
)
@pytest.mark.parametrize("key", sorted(MUTATIONS), ids=lambda k: f"{k[0]} {k[1]}")
async def test_mutating_calls_are_audited_with_actor_and_reason(
    api: Api, key: tuple[str, str], actor: str, header: str | None
) -> None:
    await _seed(api)
    await api.harness.wait_for(
        lambda: (
            api.runtime.orchestrator.status("counting").running_run_id is None
            and api.runtime.orchestrator.status("counting").ticks >= 1
        )
    )
    path, body, stream, action, reason_key = MUTATIONS[key]
    headers = {"X-Hydra-Actor": header} if header else {}
    response = await api.client.request(key[0], path, json=body, headers=headers)
    assert response.status_code < 300, response.text
    if not stream:
        return
    record = api.records(stream, action)[-1]
    assert record["actor"] == actor
    if reason_key:
        assert record["payload"][reason_key] == body[reason_key]  # type: ignore[index]


async def test_an_unknown_actor_is_recorded_as_api(api: Api) -> None:
    for claimed in ("root", "daemon", "loop:counting", ""):
        await api.client.put(
            "/api/loops/counting",
            json={"interval_s": 10 + len(claimed), "reason": "who"},
            headers={"X-Hydra-Actor": claimed},
        )
    assert [r["actor"] for r in api.records("control", "loop.updated")] == ["api"] * 4


# ------------------------------------------------------------------ no 5xx for client input
JUNK_PARAMS = ["nope", "%00", "..", "%2E%2E", "a" * 300, "%F0%9F%92%A5", "esc-0", "esc-x-1", " "]
JUNK_BODIES: list[bytes] = [
    b"",
    b"{",
    b"[]",
    b"null",
    b'"text"',
    b"\xff\xfe\x00",
    b'{"reason": null, "note": null, "enabled": null}',
    b'{"reason": "x", "note": "x", "enabled": true, "interval_s": 1e308}',
    b'{"reason": "x", "interval_s": -0.0, "daily_budget_usd": 1e-320}',
    b'{"reason": "x", "mode": ["live"], "drain": {}}',
    b'{"reason": "\\u0000", "note": "\\ud83d\\udca5", "enabled": false}',
    b"[" * 5000 + b"]" * 5000,
    b'{"a":' * 2000 + b"1" + b"}" * 2000,
]
JUNK_QUERIES = [
    "limit=1e9",
    "limit=-1&before_seq=99999999999999999999999",
    "since=%ZZ",
    "since=2026-02-30T00:00:00Z",
    "since=2026-01-01T25:00:00Z",
    "until=+002026-01-01T00:00:00Z",
    "action=&action=*&action=a.**",
    "run=%00&actor=%FF",
    "state=&state=open",
    "since=9999-12-31T23:59:59.999999-23:59",
]


def _concrete(template: str, value: str) -> str:
    path = template
    for name in ("name", "id", "stream"):
        path = path.replace("{" + name + "}", value)
    return path


@pytest.mark.parametrize("op", OPERATIONS, ids=lambda op: f"{op.method} {op.path}")
async def test_no_client_input_gets_a_5xx(api: Api, op: Any) -> None:
    await _seed(api)
    for value in JUNK_PARAMS:
        path = _concrete(op.path, value)
        for body in JUNK_BODIES if op.body is not None else [b""]:
            response = await api.client.request(op.method, path, content=body)
            assert response.status_code < 500, (path, body[:40], response.text)
            assert response.json()["error"] if response.status_code >= 400 else True
        for query in JUNK_QUERIES:
            response = await api.client.request(op.method, f"{path}?{query}", content=b"{}")
            assert response.status_code < 500, (path, query, response.text)


async def test_a_malformed_content_length_is_400_not_413() -> None:
    reached: list[str] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        reached.append(scope["path"])

    guard = security.GuardMiddleware(
        app, token=TOKEN, hosts=security.allowed_hosts("127.0.0.1", ()), max_body=1024
    )
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    headers = [(b"host", b"127.0.0.1"), (b"content-length", b"12abc")]
    scope = {"type": "http", "method": "POST", "path": "/healthz", "headers": headers}
    await guard(scope, receive, send)
    assert sent[0]["status"] == 400
    assert b"Content-Length" in sent[1]["body"]
    assert reached == []


def test_an_empty_token_is_refused_by_the_guard() -> None:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        raise AssertionError("never reached")

    for token in ("", "  "):
        with pytest.raises(ValueError, match="must not be empty"):
            security.GuardMiddleware(app, token=token, hosts=frozenset(), max_body=1)


# ------------------------------------------------------------------ /metrics
async def test_metrics_are_open_on_loopback(api: Api) -> None:
    response = await api.client.get("/metrics", headers={"Authorization": ""})
    assert response.status_code == 200


async def test_metrics_need_the_token_off_loopback(tmp_path: Path) -> None:
    settings = {"host": "0.0.0.0", "allowed_hosts": ["hydra.internal"]}
    async with open_api(tmp_path, api=settings) as api:
        headers = {"Host": "hydra.internal"}
        response = await api.client.get("/metrics", headers={**headers, "Authorization": ""})
        assert response.status_code == 401
        response = await api.client.get("/metrics", headers=headers)  # the client sends it
        assert response.status_code == 200
        assert "hydra_" in response.text
