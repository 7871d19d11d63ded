"""ClaudeAgent against the fake ``claude`` CLI: the stream, the cap, the terminal conditions."""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import anyio
import pytest

from hydra.adapters._agent_meter import StreamMeter
from hydra.adapters._agent_prices import ANTHROPIC_PRICES
from hydra.adapters._agent_transcript import Transcript
from hydra.adapters.agent_claude import ClaudeAgent, ClaudeSession
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
KEY = "sk-ant-test-0123456789abcdefghij"
SONNET_IN, SONNET_OUT = 3.0, 15.0  # $/MTok, pinned here independently of the price table


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[AgentRig]:
    rig = AgentRig(tmp_path)
    yield rig
    rig.close()


async def run(agent: ClaudeAgent, rig: AgentRig, limits: AgentLimits = LIMITS) -> AgentResult:
    with anyio.fail_after(30):
        return await agent.run(
            prompt="Write the notes file.", workdir=str(rig.workdir), limits=limits, source="tick"
        )


async def test_success_reports_the_final_message_cost_and_transcript(rig: AgentRig) -> None:
    result = await run(rig.claude("succeed", api_key=Secret(KEY)), rig)
    assert result.status == "succeeded"
    assert result.summary == "Wrote AGENT_NOTES.md."
    assert (result.provider, result.model) == ("claude", "claude-sonnet-4-5-20250929")
    assert result.usd == pytest.approx(0.0421)  # the CLI's total_cost_usd replaced the estimate
    assert (result.input_tokens, result.output_tokens) == (1_250 + 5_000 + 6_200, 110)
    assert (rig.workdir / "AGENT_NOTES.md").read_text() == "done\n"
    [call] = rig.sink.calls
    assert call.source == "agent.claude:tick"
    assert (call.usd, call.model) == (result.usd, result.model)
    assert (call.input_tokens, call.output_tokens) == (result.input_tokens, result.output_tokens)
    records = transcript_records(result.transcript_path)
    assert records[0]["type"] == "hydra.run"
    assert [r["type"] for r in records[1:-1]] == [
        "system",
        *["assistant"] * 2,
        "user",
        "assistant",
        "result",
    ]
    assert records[-1]["type"] == "hydra.end"
    assert records[-1]["status"] == "succeeded"
    assert records[-1]["settled"] is True
    assert result.transcript_path is not None
    mode = (await anyio.Path(result.transcript_path).stat()).st_mode
    assert stat.S_IMODE(mode) == 0o600


async def test_prompt_on_stdin_key_in_the_environment_never_on_argv(rig: AgentRig) -> None:
    agent = rig.claude("succeed", api_key=Secret(KEY), model="sonnet", max_turns=7)
    agent_tools = rig.claude("succeed", allowed_tools=["Read", "Edit"], disallowed_tools=["Bash"])
    await run(agent, rig)
    seen = rig.recorded()
    argv = seen["argv"]
    assert seen["stdin"] == "Write the notes file."
    assert seen["env"]["ANTHROPIC_API_KEY"] == KEY
    assert not any(KEY in arg or "notes file" in arg for arg in argv)
    for flags in (
        ["-p", "--output-format", "stream-json", "--verbose"],
        ["--permission-mode", "acceptEdits", "--no-session-persistence"],
        ["--model", "sonnet"],
        ["--max-turns", "7"],
        ["--max-budget-usd", "1"],
    ):
        start = argv.index(flags[0])
        assert argv[start : start + len(flags)] == flags
    await run(agent_tools, rig)
    argv = rig.recorded()["argv"]
    assert argv[argv.index("--allowedTools") + 1] == "Read,Edit"
    assert argv[argv.index("--disallowedTools") + 1] == "Bash"
    assert "ANTHROPIC_API_KEY" not in rig.recorded()["env"]


async def test_the_key_never_reaches_the_transcript(rig: AgentRig) -> None:
    result = await run(
        rig.claude("mentions", api_key=Secret(KEY), env={"FAKE_AGENT_ECHO": KEY}), rig
    )
    assert result.transcript_path is not None
    text = await anyio.Path(result.transcript_path).read_text()
    assert KEY not in text
    assert "[REDACTED]" in text


async def test_budget_cap_stops_the_group_and_keeps_the_work(rig: AgentRig) -> None:
    cap = 0.5
    event_usd = (10_000 * SONNET_IN + 4_000 * SONNET_OUT) / 1_000_000  # what the fake streams
    result = await run(rig.claude("budget"), rig, AgentLimits(wall_clock_s=20, max_usd=cap))
    assert result.status == "budget_exceeded"
    assert "cost cap" in result.summary
    assert cap < result.usd <= cap + event_usd + 1e-9
    assert result.duration_s < 10
    assert live_members(rig.registry.seen) == []
    assert (rig.workdir / "PARTIAL_WORK.md").exists()
    [call] = rig.sink.calls
    assert call.source == "agent.claude:tick"
    assert call.usd == pytest.approx(result.usd)
    end = transcript_records(result.transcript_path)[-1]
    assert end["status"] == "budget_exceeded"
    assert end["max_event_usd"] == pytest.approx(event_usd)
    assert end["settled"] is False


async def test_no_cap_means_no_budget_flag(rig: AgentRig) -> None:
    await run(rig.claude("succeed"), rig, AgentLimits(wall_clock_s=10))
    assert "--max-budget-usd" not in rig.recorded()["argv"]


async def test_the_clis_own_budget_stop_is_budget_exceeded(rig: AgentRig) -> None:
    result = await run(rig.claude("max_budget"), rig)
    assert result.status == "budget_exceeded"
    assert result.usd == pytest.approx(1.02)


async def test_wall_clock_timeout_kills_the_whole_group(rig: AgentRig) -> None:
    limits = AgentLimits(wall_clock_s=1.0, max_usd=1.0)
    result = await run(rig.claude("timeout"), rig, limits)
    assert result.status == "timeout"
    assert "timed out after 1 s" in result.summary
    assert 1.0 <= result.duration_s < 1.0 + 0.5 + 2.0
    [helper] = rig.helper_pids()
    assert not pid_alive(helper)
    assert live_members(rig.registry.seen) == []


async def test_a_cli_that_lingers_after_its_result_keeps_its_ending(rig: AgentRig) -> None:
    result = await run(rig.claude("linger"), rig, AgentLimits(wall_clock_s=1.0))
    assert result.status == "succeeded"
    assert result.summary.startswith("Wrote AGENT_NOTES.md.")
    assert "did not exit after its final event" in result.summary
    assert live_members(rig.registry.seen) == []


async def test_cancellation_kills_the_group_and_still_saves_the_transcript(rig: AgentRig) -> None:
    agent = rig.claude("timeout")
    with anyio.move_on_after(1.0):
        await agent.run(prompt="Spin.", workdir=str(rig.workdir), limits=LIMITS, source="tick")
    assert live_members(rig.registry.seen) == []
    [saved] = list(rig.transcripts.iterdir())
    assert transcript_records(str(saved))[-1]["status"] == "cancelled"


@pytest.mark.parametrize(
    ("scenario", "status", "words"),
    [
        ("fail", "failed", "error_during_execution"),
        ("crash", "crashed", "SIGABRT"),
        ("rate_limited", "failed", "rate_limited: API Error"),
        ("mentions", "succeeded", "Wrote AGENT_NOTES.md."),
    ],
)
async def test_ordinary_endings(rig: AgentRig, scenario: str, status: str, words: str) -> None:
    result = await run(rig.claude(scenario), rig)
    assert result.status == status
    assert words in result.summary


@pytest.mark.parametrize(
    ("scenario", "error", "words"),
    [
        ("credit", CreditExhausted, "Credit balance is too low"),
        ("auth", AuthFailed, "Not logged in"),
        ("auth_retry", AuthFailed, "API retry 3: authentication_failed"),  # not the 10th
        ("credit_plain", CreditExhausted, "credit"),  # exit 0: only the classifier sees it
    ],
)
async def test_terminal_conditions_raise(
    rig: AgentRig, scenario: str, error: type[Exception], words: str
) -> None:
    with pytest.raises(error) as caught:
        await run(rig.claude(scenario, env={"FAKE_AGENT_EVENT_DELAY": "0.2"}), rig)
    assert words.lower() in str(caught.value).lower()
    assert live_members(rig.registry.seen) == []
    [call] = rig.sink.calls
    assert call.source == "agent.claude:tick"
    [saved] = list(rig.transcripts.iterdir())
    assert transcript_records(str(saved))[-1]["status"] == caught.value.reason  # type: ignore[attr-defined]


async def test_missing_cli_is_unconfigured(rig: AgentRig, tmp_path: Path) -> None:
    agent = rig.claude("succeed", search_path=str(tmp_path))
    info = agent.info()
    assert (info.implementation, info.state) == ("claude", "unconfigured")
    assert "claude" in info.detail
    result = await run(agent, rig)
    assert (result.status, result.provider) == ("unconfigured", "claude")
    assert rig.sink.calls == []
    found = rig.claude("succeed").info()
    assert (found.state, Path(found.detail).name) == ("configured", "claude")


def session(tmp_path: Path, cap: float | None = None) -> ClaudeSession:
    meter = StreamMeter(ANTHROPIC_PRICES, cap_usd=cap, model=None)
    transcript = Transcript(
        tmp_path, provider="claude", source="t", max_bytes=1 << 20, keep=5, redactor=Redactor()
    )
    return ClaudeSession(meter, transcript, source="agent.claude:t")


def line(event: dict[str, object]) -> StdoutLine:
    return StdoutLine(json.dumps(event, separators=(",", ":")).encode())


def assistant(msg_id: str, usage: dict[str, int], model: str = "claude-sonnet-4-5") -> StdoutLine:
    return line({"type": "assistant", "message": {"id": msg_id, "model": model, "usage": usage}})


async def test_the_stream_is_charged_per_message_then_settled(tmp_path: Path) -> None:
    stream = session(tmp_path)
    usage_1 = {"input_tokens": 1_200, "cache_creation_input_tokens": 5_000, "output_tokens": 80}
    assert await stream.on_line(
        line({"type": "system", "subtype": "init", "model": "claude-opus-4-8[1m]"})
    )
    assert stream.meter.model == "claude-opus-4-8[1m]"
    for _ in range(2):  # one event per content block, the same usage
        await stream.on_line(assistant("msg_1", usage_1))
    await stream.on_line(
        assistant(
            "msg_2", {"input_tokens": 50, "cache_read_input_tokens": 6_200, "output_tokens": 30}
        )
    )
    estimate = (1_200 * 3 + 5_000 * 3.75 + 80 * 15 + 50 * 3 + 6_200 * 0.30 + 30 * 15) / 1e6
    assert stream.meter.usd == pytest.approx(estimate)  # priced per message model (sonnet)
    assert not stream.meter.settled
    await stream.on_line(
        line(
            {
                "type": "result",
                "subtype": "success",
                "is_error": False,
                "result": "ok",
                "total_cost_usd": 0.05,
                "usage": {},
            }
        )
    )
    assert (stream.meter.usd, stream.meter.settled) == (0.05, True)
    assert stream.final is not None
    assert stream.final.status == "succeeded"


async def test_the_hook_stops_once_the_cap_is_passed_but_never_on_the_result(
    tmp_path: Path,
) -> None:
    stream = session(tmp_path, cap=0.01)
    assert await stream.on_line(assistant("a", {"output_tokens": 600}))  # $0.009
    assert not await stream.on_line(assistant("b", {"output_tokens": 600}))  # $0.018 > cap
    assert stream.budget_stop
    late = session(tmp_path, cap=0.01)
    result = {
        "type": "result",
        "subtype": "success",
        "is_error": False,
        "result": "done",
        "total_cost_usd": 0.5,
    }
    assert await late.on_line(line(result))  # the work is done: settle, do not stop
    assert not late.budget_stop


async def test_plain_text_and_agent_words_never_raise(tmp_path: Path) -> None:
    stream = session(tmp_path)
    assert await stream.on_line(StdoutLine(b"not json: Credit balance is too low"))
    words = {"type": "text", "text": "Invalid API key · Please run /login"}
    assert await stream.on_line(
        line({"type": "assistant", "message": {"id": "m", "content": [words]}})
    )
    assert stream.final is None


async def test_git_in_the_workdir_never_finds_a_repository_above_it(rig: AgentRig) -> None:
    """The workdir lies inside a repository (as the worktree root lies inside the operator's
    by default): git run where the agent runs must not discover it by walking up."""

    outer = rig.tmp
    await anyio.run_process(["git", "init", "-q", str(outer)])
    await run(rig.claude("succeed"), rig)
    ceiling = rig.recorded()["env"]["GIT_CEILING_DIRECTORIES"]
    assert ceiling == str(rig.workdir.resolve().parent)
    probe = ["git", "rev-parse", "--show-toplevel"]
    found = await anyio.run_process(probe, cwd=rig.workdir, check=False)
    assert found.stdout.decode().strip() == str(outer.resolve())  # without the ceiling
    env = {**os.environ, "GIT_CEILING_DIRECTORIES": ceiling}
    fenced = await anyio.run_process(probe, cwd=rig.workdir, env=env, check=False)
    assert fenced.returncode != 0
    assert b"not a git repository" in fenced.stderr
