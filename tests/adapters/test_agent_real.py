"""The adapters against the real ``claude`` and ``codex`` CLIs, with no credentials and no network.

The binaries are the ones ``scripts/system-deps`` installs under ``.tools/npm``; missing, the
tests skip, or fail when ``HYDRA_REQUIRE_REAL_TOOLS=1``. Every run gets a fresh ``HOME`` and no
API key (the runner's environment allow-list keeps the caller's keys away from the child). No
request can leave the machine: API base URLs point at a closed local port (a dead network)
or at a local stand-in that answers every request with one fixed API error, which is how the
error texts the adapters recognise were read off these CLIs.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import anyio
import pytest

from hydra.adapters.agent_claude import ClaudeAgent
from hydra.adapters.agent_codex import CodexAgent
from hydra.runner import Secret
from ports import AgentLimits, AgentPort, AgentResult, AuthFailed, CreditExhausted
from tests.adapters.agent_fakes.support import AgentRig, escaped_since, live_members, real_tool

pytestmark = pytest.mark.anyio

LIMITS = AgentLimits(wall_clock_s=20.0, max_usd=1.0)
DEAD_NETWORK = AgentLimits(wall_clock_s=2.5, max_usd=1.0)
DUMMY_ANTHROPIC = Secret("sk-ant-dummy-not-a-credential-000000")
DUMMY_OPENAI = Secret("sk-dummy-not-a-credential-0000000000")

ANTHROPIC_ERRORS = {
    "auth": (
        401,
        '{"type":"error","error":{"type":"authentication_error","message":"invalid x-api-key"}}',
    ),
    "credit": (
        400,
        '{"type":"error","error":{"type":"invalid_request_error","message":"Your credit balance is'
        " too low to access the Anthropic API. Please go to Plans & Billing to upgrade or purchase"
        ' credits."}}',
    ),
    "rate": (429, '{"type":"error","error":{"type":"rate_limit_error","message":"rate limited"}}'),
}
OPENAI_ERRORS = {
    "auth": (
        401,
        '{"error":{"message":"Incorrect API key provided: sk-dummy.",'
        '"type":"invalid_request_error","param":null,"code":"invalid_api_key"}}',
    ),
    "credit": (
        429,
        '{"error":{"message":"You exceeded your current quota, please check your plan and billing'
        ' details.","type":"insufficient_quota","param":null,"code":"insufficient_quota"}}',
    ),
    "rate": (
        429,
        '{"error":{"message":"Rate limit reached for requests","type":"requests","param":null,'
        '"code":"rate_limit_exceeded"}}',
    ),
}


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[AgentRig]:
    rig = AgentRig(tmp_path)
    yield rig
    rig.close()


@pytest.fixture
def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


@pytest.fixture
def stand_in() -> Iterator[Callable[[int, str], str]]:
    """Starts local servers answering every request with ``(status, body)``; yields its URL."""
    servers: list[ThreadingHTTPServer] = []

    def start(status: int, body: str) -> str:
        payload = body.encode()

        class Handler(BaseHTTPRequestHandler):
            def _answer(self) -> None:
                self.rfile.read(int(self.headers.get("content-length") or 0))
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_POST = _answer

            def log_message(self, *args: Any) -> None:
                return

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_address[1]}"

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


def claude(rig: AgentRig, **kw: Any) -> ClaudeAgent:
    env = {"HOME": str(rig.home), **kw.pop("env", {})}
    return ClaudeAgent(
        runner=rig.runner, transcripts_dir=rig.transcripts, command=real_tool("claude"),
        extra_env=env, **kw,
    )  # fmt: skip


def codex(rig: AgentRig, **kw: Any) -> CodexAgent:
    env = {"HOME": str(rig.home), **kw.pop("env", {})}
    return CodexAgent(
        runner=rig.runner, transcripts_dir=rig.transcripts, command=real_tool("codex"),
        extra_env=env, **kw,
    )  # fmt: skip


def codex_provider(url: str) -> list[str]:
    """A local provider for codex, without the CLI's own retries (one request, one answer)."""
    provider = (
        f'{{name="hydratest", base_url="{url}/v1", env_key="CODEX_API_KEY", wire_api="responses",'
        " request_max_retries=0, stream_max_retries=0, supports_websockets=false}"
    )
    return ['model_provider="hydratest"', f"model_providers.hydratest={provider}"]


async def run(agent: AgentPort, rig: AgentRig, limits: AgentLimits = LIMITS) -> AgentResult:
    """Run once; however it ends, nothing it started may be left (in its group or detached)."""
    started = time.time()
    try:
        with anyio.fail_after(60):
            return await agent.run(
                prompt="Say hello.", workdir=str(rig.workdir), limits=limits, source="real"
            )
    finally:
        assert live_members(rig.registry.seen) == []
        assert escaped_since(started) == []


# ---------------------------------------------------------------------- claude
async def test_claude_not_logged_in_is_auth_failed(rig: AgentRig) -> None:
    with pytest.raises(AuthFailed, match="Not logged in"):
        await run(claude(rig), rig)
    assert live_members(rig.registry.seen) == []
    [call] = rig.sink.calls
    assert call.source == "agent.claude:real"


async def test_claude_on_a_dead_network_ends_at_the_wall_clock(
    rig: AgentRig, closed_port: int
) -> None:
    env = {"ANTHROPIC_BASE_URL": f"http://127.0.0.1:{closed_port}"}
    result = await run(claude(rig, api_key=DUMMY_ANTHROPIC, env=env), rig, DEAD_NETWORK)
    assert result.status == "timeout"
    assert result.summary.startswith("claude timed out after 2.5 s")
    assert result.duration_s < DEAD_NETWORK.wall_clock_s + 3
    assert live_members(rig.registry.seen) == []


@pytest.mark.parametrize(
    ("case", "error", "words"),
    [("auth", AuthFailed, "Invalid API key"), ("credit", CreditExhausted, "Credit balance")],
)
async def test_claude_api_refusals_are_terminal(
    rig: AgentRig,
    stand_in: Callable[[int, str], str],
    case: str,
    error: type[Exception],
    words: str,
) -> None:
    env = {"ANTHROPIC_BASE_URL": stand_in(*ANTHROPIC_ERRORS[case]), "CLAUDE_CODE_MAX_RETRIES": "0"}
    with pytest.raises(error, match=words):
        await run(claude(rig, api_key=DUMMY_ANTHROPIC, env=env), rig)
    assert live_members(rig.registry.seen) == []


async def test_claude_rate_limit_is_a_failed_result(
    rig: AgentRig, stand_in: Callable[[int, str], str]
) -> None:
    env = {
        "ANTHROPIC_BASE_URL": stand_in(*ANTHROPIC_ERRORS["rate"]),
        "CLAUDE_CODE_MAX_RETRIES": "0",
    }
    result = await run(claude(rig, api_key=DUMMY_ANTHROPIC, env=env), rig)
    assert result.status == "failed"
    assert result.summary.startswith("rate_limited: ")


# ---------------------------------------------------------------------- codex
async def test_codex_not_logged_in_is_auth_failed(rig: AgentRig) -> None:
    with pytest.raises(AuthFailed, match="not logged in"):
        await run(codex(rig), rig)
    assert live_members(rig.registry.seen) == []
    assert [call.source for call in rig.sink.calls] == ["agent.codex.login:real"]


async def test_codex_on_a_dead_network_ends_at_the_wall_clock(
    rig: AgentRig, closed_port: int
) -> None:
    base = [f'openai_base_url="http://127.0.0.1:{closed_port}/v1"']
    agent = codex(rig, api_key=DUMMY_OPENAI, config_overrides=base)
    result = await run(agent, rig, DEAD_NETWORK)
    assert result.status == "timeout"
    assert result.summary.startswith("codex timed out after 2.5 s")
    assert result.duration_s < DEAD_NETWORK.wall_clock_s + 3
    assert live_members(rig.registry.seen) == []


@pytest.mark.parametrize(
    ("case", "error", "words"),
    [("auth", AuthFailed, "401 Unauthorized"), ("credit", CreditExhausted, "Quota exceeded")],
)
async def test_codex_api_refusals_are_terminal(
    rig: AgentRig,
    stand_in: Callable[[int, str], str],
    case: str,
    error: type[Exception],
    words: str,
) -> None:
    overrides = codex_provider(stand_in(*OPENAI_ERRORS[case]))
    with pytest.raises(error, match=words):
        await run(codex(rig, api_key=DUMMY_OPENAI, config_overrides=overrides), rig)
    assert live_members(rig.registry.seen) == []


async def test_codex_rate_limit_is_a_failed_result(
    rig: AgentRig, stand_in: Callable[[int, str], str]
) -> None:
    overrides = codex_provider(stand_in(*OPENAI_ERRORS["rate"]))
    result = await run(codex(rig, api_key=DUMMY_OPENAI, config_overrides=overrides), rig)
    assert result.status == "failed"
    assert result.summary.startswith("rate_limited: ")
