"""``on_stdout_line``: lines arrive while the child runs, and the hook can stop the run."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import anyio
import pytest

from hydra.runner import Captured, CreditExhausted, Runner, RunResult, StdoutLine, Usage
from tests.runner._support import ProcessProbe, RecordingRegistry, RecordingSink

pytestmark = pytest.mark.anyio


async def test_lines_arrive_before_the_child_exits(
    make_runner: Callable[..., Runner], tmp_path: Path
) -> None:
    go = tmp_path / "go"
    # The child cannot finish until the hook has seen its first line.
    script = f"echo $$; while [ ! -e {go} ]; do sleep 0.01; done; echo done"
    seen: list[tuple[bytes, bool]] = []

    async def hook(line: StdoutLine) -> None:
        if not seen:
            seen.append((bytes(line), ProcessProbe.pid_alive(int(line))))
            go.touch()
        else:
            seen.append((bytes(line), True))

    with anyio.fail_after(10):
        result = await make_runner().run(
            ["sh", "-c", script], source="t", timeout=10, on_stdout_line=hook
        )
    assert result.ok
    assert seen[0][1] is True  # the child was alive when its first line arrived
    assert seen[1] == (b"done", True)
    assert result.stdout.text() == f"{seen[0][0].decode()}\ndone\n"


async def test_returning_false_stops_the_run_and_kills_the_group(
    make_runner: Callable[..., Runner], registry: RecordingRegistry
) -> None:
    # A chatty leader with a grandchild that ignores SIGTERM.
    script = (
        "(trap '' TERM; exec sleep 60) & "
        "i=0; while :; do i=$((i+1)); echo tick $i; sleep 0.01; done"
    )
    seen: list[bytes] = []

    async def hook(line: StdoutLine) -> bool:
        seen.append(bytes(line))
        return len(seen) < 3

    runner = make_runner(term_grace_s=0.2)
    with anyio.fail_after(10):
        result = await runner.run(["sh", "-c", script], source="t", timeout=30, on_stdout_line=hook)
    assert result.status == "stopped"
    assert result.reason == "stopped by on_stdout_line"
    assert seen == [b"tick 1", b"tick 2", b"tick 3"]  # no calls after the stop
    assert not ProcessProbe.group_exists(registry.seen[0])
    assert ProcessProbe.zombie_children(set(registry.seen)) == []


async def test_usage_from_the_stream_is_recorded(
    make_runner: Callable[..., Runner], sink: RecordingSink
) -> None:
    """An agent adapter: parse usage from stream lines, report it through the probe."""
    lines = "echo '{\"usd\": 0.25}'; echo '{\"usd\": 0.5}'"
    spent: list[float] = []

    async def hook(line: StdoutLine) -> bool:
        spent.append(float(line.split(b":")[1].strip(b" }")))
        return sum(spent) < 0.6  # a cost cap the agent must not pass

    def probe(result: RunResult) -> Usage:
        return Usage(input_tokens=10, output_tokens=5, usd=sum(spent), model="m-1")

    with anyio.fail_after(10):
        result = await make_runner().run(
            ["sh", "-c", lines + "; sleep 30"],
            source="agent.claude:preflight",
            timeout=30,
            on_stdout_line=hook,
            usage_probe=probe,
        )
    assert result.status == "stopped"
    assert result.usage == Usage(10, 5, 0.75, "m-1")
    (call,) = sink.calls
    assert (call.source, call.model, call.input_tokens, call.output_tokens, call.usd) == (
        "agent.claude:preflight",
        "m-1",
        10,
        5,
        0.75,
    )


async def test_overlong_lines_are_delivered_truncated(make_runner: Callable[..., Runner]) -> None:
    code = "import sys; sys.stdout.write('a' * 3000 + '\\nshort\\n' + 'b' * 10)"
    seen: list[tuple[int, bool, int]] = []

    async def hook(line: StdoutLine) -> None:
        seen.append((len(line), line.truncated, line.dropped_bytes))

    runner = make_runner(max_line_bytes=1024)
    with anyio.fail_after(10):
        result = await runner.run(
            [sys.executable, "-c", code], source="t", timeout=10, on_stdout_line=hook
        )
    assert result.ok
    # the unterminated last line is delivered at end of stream
    assert seen == [(1024, True, 1976), (5, False, 0), (10, False, 0)]


async def test_hook_exception_propagates_after_the_group_is_gone(
    make_runner: Callable[..., Runner], registry: RecordingRegistry, sink: RecordingSink
) -> None:
    async def hook(line: StdoutLine) -> None:
        raise ValueError("adapter bug")

    with anyio.fail_after(10), pytest.raises(ValueError, match="adapter bug"):
        await make_runner().run(
            ["sh", "-c", "echo x; sleep 60"], source="t", timeout=30, on_stdout_line=hook
        )
    assert not ProcessProbe.group_exists(registry.seen[0])
    assert len(sink.calls) == 1


async def test_hook_may_raise_a_halting_error(make_runner: Callable[..., Runner]) -> None:
    """An adapter that spots credit exhaustion in the stream raises it from the hook."""

    async def hook(line: StdoutLine) -> None:
        if line.startswith(b"credit"):
            blank = Captured()
            raise CreditExhausted(
                RunResult(
                    ("agent",), "credit_exhausted", None, None, 0, blank, blank, 1, "seen in stream"
                )
            )

    with anyio.fail_after(10), pytest.raises(CreditExhausted):
        await make_runner().run(
            ["sh", "-c", "echo credit gone; sleep 60"], source="t", timeout=30, on_stdout_line=hook
        )
