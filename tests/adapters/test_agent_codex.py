"""CodexAgent against the fake ``codex`` CLI: the stream, the estimate and cap, the login check."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import anyio
import pytest

from hydra.adapters._agent_meter import StreamMeter
from hydra.adapters._agent_prices import OPENAI_PRICES
from hydra.adapters._agent_transcript import Transcript
from hydra.adapters.agent_codex import CodexAgent, CodexSession
from hydra.redact import Redactor
from hydra.runner import Secret, StdoutLine
from ports import AgentLimits, AgentResult, AuthFailed, CreditExhausted
from tests.adapters.agent_fakes.support import (
    AgentRig,
    live_members,
    pid_alive,
    transcript_records,
)

pytestmark = pytest.mark.anyio

LIMITS = AgentLimits(wall_clock_s=10.0, max_usd=1.0)
KEY = "sk-proj-test0123456789abcdefghijkl"
# gpt-5.1-codex, $/MTok, pinned here independently of the price table
GPT51_IN, GPT51_CACHED, GPT51_OUT = 1.25, 0.125, 10.0
# the fake's turn.completed usage
FAKE_IN, FAKE_CACHED, FAKE_OUT = 24_763, 24_448, 122


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[AgentRig]:
    rig = AgentRig(tmp_path)
    yield rig
    rig.close()


async def run(agent: CodexAgent, rig: AgentRig, limits: AgentLimits = LIMITS) -> AgentResult:
    with anyio.fail_after(30):
        return await agent.run(
            prompt="Write the notes file.", workdir=str(rig.workdir), limits=limits, source="tick"
        )


async def test_success_settles_on_the_reported_tokens(rig: AgentRig) -> None:
    result = await run(rig.codex("succeed", api_key=Secret(KEY)), rig)
    assert result.status == "succeeded"
    assert result.summary == "Wrote AGENT_NOTES.md."
    assert (result.provider, result.model) == ("codex", "gpt-5.1-codex")
    expected = (
        (FAKE_IN - FAKE_CACHED) * GPT51_IN + FAKE_CACHED * GPT51_CACHED + FAKE_OUT * GPT51_OUT
    ) / 1_000_000
    assert result.usd == pytest.approx(expected)
    assert (result.input_tokens, result.output_tokens) == (FAKE_IN, FAKE_OUT)
    assert (rig.workdir / "AGENT_NOTES.md").read_text() == "done\n"
    [call] = rig.sink.calls  # a configured key: no login check
    assert (call.source, call.usd) == ("agent.codex:tick", result.usd)
    end = transcript_records(result.transcript_path)[-1]
    assert (end["status"], end["settled"], end["unpriced_models"]) == ("succeeded", True, [])


async def test_prompt_on_stdin_key_in_the_environment(rig: AgentRig) -> None:
    await run(
        rig.codex("succeed", api_key=Secret(KEY), config_overrides=['model_verbosity="low"']), rig
    )
    seen = rig.recorded()
    argv = seen["argv"]
    assert seen["stdin"] == "Write the notes file."
    assert seen["env"]["CODEX_API_KEY"] == KEY
    assert "OPENAI_API_KEY" not in seen["env"]
    assert not any(KEY in arg or "notes file" in arg for arg in argv)
    assert argv[:4] == ["exec", "--json", "--color", "never"]
    assert argv[-1] == "-"
    for flags in (
        ["--sandbox", "workspace-write"],
        ["--ephemeral"],
        ["--skip-git-repo-check"],
        ["--model", "gpt-5.1-codex"],
        ["-c", 'model_verbosity="low"'],
        ["-c", 'approval_policy="never"'],
        ["--disable", "shell_snapshot"],
    ):
        at = [
            i for i, arg in enumerate(argv) if arg == flags[0] and argv[i : i + len(flags)] == flags
        ]
        assert at, flags


async def test_without_the_git_check_flag_codex_refuses_a_plain_directory(rig: AgentRig) -> None:
    result = await run(rig.codex("succeed", api_key=Secret(KEY), skip_git_repo_check=False), rig)
    assert result.status == "failed"
    assert "Not inside a trusted directory" in result.summary


async def test_an_unknown_model_is_priced_at_the_conservative_default(rig: AgentRig) -> None:
    result = await run(rig.codex("succeed", api_key=Secret(KEY), model=None), rig)
    assert result.model is None
    expected = ((FAKE_IN - FAKE_CACHED) * 5.0 + FAKE_CACHED * 0.50 + FAKE_OUT * 30.0) / 1_000_000
    assert result.usd == pytest.approx(expected)
    assert transcript_records(result.transcript_path)[-1]["unpriced_models"] == ["?"]


async def test_budget_cap_stops_on_the_estimate(rig: AgentRig) -> None:
    cap = 0.3
    result = await run(rig.codex("budget"), rig, AgentLimits(wall_clock_s=20, max_usd=cap))
    assert result.status == "budget_exceeded"
    end = transcript_records(result.transcript_path)[-1]
    assert end["settled"] is False
    # Each event adds its new input (90k chars -> 30k tokens at $1.25) plus the cached rest.
    assert 0.03 < end["max_event_usd"] < 0.1
    assert cap < result.usd <= cap + end["max_event_usd"] + 1e-9
    assert live_members(rig.registry.seen) == []
    assert (rig.workdir / "PARTIAL_WORK.md").exists()
    assert [call.source for call in rig.sink.calls] == [
        "agent.codex.login:tick",
        "agent.codex:tick",
    ]
    assert rig.sink.calls[-1].usd == pytest.approx(result.usd)


async def test_wall_clock_timeout_kills_the_whole_group(rig: AgentRig) -> None:
    result = await run(rig.codex("timeout"), rig, AgentLimits(wall_clock_s=1.0))
    assert result.status == "timeout"
    [helper] = rig.helper_pids()
    assert not pid_alive(helper)
    assert live_members(rig.registry.seen) == []


@pytest.mark.parametrize(
    ("scenario", "status", "words"),
    [
        ("fail", "failed", "invalid output"),
        ("crash", "crashed", "SIGABRT"),
        ("rate_limited", "failed", "rate_limited: exceeded retry limit"),
        ("reconnect", "succeeded", "Wrote AGENT_NOTES.md."),  # a retried 401 is not terminal
    ],
)
async def test_ordinary_endings(rig: AgentRig, scenario: str, status: str, words: str) -> None:
    result = await run(rig.codex(scenario, api_key=Secret(KEY)), rig)
    assert result.status == status
    assert words in result.summary


async def test_not_logged_in_is_refused_before_the_run(rig: AgentRig) -> None:
    with pytest.raises(AuthFailed, match="not logged in"):
        await run(rig.codex("auth"), rig)
    assert not rig.record_file.exists()  # codex exec never started
    [call] = rig.sink.calls
    assert call.source == "agent.codex.login:tick"


@pytest.mark.parametrize(
    ("scenario", "error", "words"),
    [("credit", CreditExhausted, "Quota exceeded"), ("auth", AuthFailed, "401 Unauthorized")],
)
async def test_terminal_conditions_in_the_stream_raise(
    rig: AgentRig, scenario: str, error: type[Exception], words: str
) -> None:
    with pytest.raises(error, match=words):
        await run(rig.codex(scenario, api_key=Secret(KEY)), rig)
    assert live_members(rig.registry.seen) == []
    assert [call.source for call in rig.sink.calls] == ["agent.codex:tick"]


async def test_missing_cli_is_unconfigured(rig: AgentRig, tmp_path: Path) -> None:
    agent = rig.codex("succeed", search_path=str(tmp_path))
    assert agent.info().state == "unconfigured"
    result = await run(agent, rig)
    assert (result.status, result.provider) == ("unconfigured", "codex")


def session(tmp_path: Path, cap: float | None = None) -> CodexSession:
    meter = StreamMeter(OPENAI_PRICES, cap_usd=cap, model="gpt-5.1-codex")
    transcript = Transcript(
        tmp_path, provider="codex", source="t", max_bytes=1 << 20, keep=5, redactor=Redactor()
    )
    return CodexSession(meter, transcript, source="agent.codex:t", prompt="p" * 3_000)


def line(event: dict[str, object]) -> StdoutLine:
    return StdoutLine(json.dumps(event, separators=(",", ":")).encode())


def command(output: str) -> StdoutLine:
    item = {"id": "i", "type": "command_execution", "command": "ls", "aggregated_output": output}
    return line({"type": "item.completed", "item": item})


def completed(inp: int, cached: int, out: int) -> StdoutLine:
    usage = {"input_tokens": inp, "cached_input_tokens": cached, "output_tokens": out}
    return line({"type": "turn.completed", "usage": usage})


async def test_items_are_estimated_then_each_turn_settles(tmp_path: Path) -> None:
    stream = session(tmp_path)
    await stream.on_line(line({"type": "turn.started"}))
    await stream.on_line(command("x" * 30_000))
    # First request: the base context and the prompt (8,000 + 1,000 tokens) uncached.
    first = ((8_000 + 1_000) * GPT51_IN + 1 * GPT51_OUT) / 1e6
    assert stream.meter.usd == pytest.approx(first)
    await stream.on_line(command(""))
    # Second: the first request again (cached) plus the command output (10,000 tokens).
    second = ((1 + 10_000) * GPT51_IN + 9_000 * GPT51_CACHED + 1 * GPT51_OUT) / 1e6
    assert stream.meter.usd == pytest.approx(first + second)
    await stream.on_line(completed(20_000, 15_000, 500))
    turn_1 = (5_000 * GPT51_IN + 15_000 * GPT51_CACHED + 500 * GPT51_OUT) / 1e6
    assert (stream.meter.usd, stream.meter.settled) == (pytest.approx(turn_1), True)
    assert stream.final is not None
    await stream.on_line(line({"type": "turn.started"}))  # a further turn: metered again
    assert stream.final is None
    await stream.on_line(completed(1_000, 0, 0))
    assert stream.meter.usd == pytest.approx(turn_1 + 1_000 * GPT51_IN / 1e6)
    assert stream.meter.tokens.prompt == 21_000


async def test_reconnect_errors_are_not_terminal_but_the_final_error_is(tmp_path: Path) -> None:
    stream = session(tmp_path)
    retry = "Reconnecting... 1/5 (unexpected status 401 Unauthorized: Incorrect API key)"
    assert await stream.on_line(line({"type": "error", "message": retry}))
    assert stream.last_error == retry
    with pytest.raises(AuthFailed):
        await stream.on_line(line({"type": "error", "message": retry.split("(", 1)[1]}))
