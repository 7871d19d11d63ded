"""One call, real processes: every way a child can end becomes a typed result."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import anyio
import pytest

from hydra.runner import Runner, RunnerConfig, StdoutLine
from tests.runner._support import ProcessProbe, RecordingRegistry, RecordingSink

pytestmark = pytest.mark.anyio

Scripts = Callable[[str, str], str]


async def test_ok_captures_output_and_records_a_zero_cost_call(
    make_runner: Callable[..., Runner], sink: RecordingSink
) -> None:
    runner = make_runner()
    with anyio.fail_after(10):
        result = await runner.run(
            ["sh", "-c", "echo out; echo err >&2"], source="git:status", timeout=10
        )
    assert result.status == "ok"
    assert (result.exit_code, result.signal, result.attempts, result.reason) == (0, None, 1, "")
    assert result.stdout.text() == "out\n"
    assert result.stderr.text() == "err\n"
    assert result.argv == ("sh", "-c", "echo out; echo err >&2")
    assert result.duration_s >= 0
    assert [(c.source, c.model, c.usd) for c in sink.calls] == [("git:status", None, 0.0)]


@pytest.mark.parametrize("code", [1, 2, 42, 255])
async def test_nonzero_exit_is_failed(make_runner: Callable[..., Runner], code: int) -> None:
    with anyio.fail_after(10):
        result = await make_runner().run(["sh", "-c", f"exit {code}"], source="t", timeout=10)
    assert (result.status, result.exit_code, result.reason) == ("failed", code, f"exit {code}")


async def test_missing_executable_is_a_result_not_an_exception(
    make_runner: Callable[..., Runner], sink: RecordingSink
) -> None:
    with anyio.fail_after(10):
        result = await make_runner().run(["hydra-no-such-tool"], source="t", timeout=10)
    assert (result.status, result.reason, result.exit_code) == ("failed", "not_found", None)
    assert len(sink.calls) == 1


async def test_missing_cwd_and_non_executable_file(
    make_runner: Callable[..., Runner], tmp_path: Path
) -> None:
    runner = make_runner()
    plain = tmp_path / "plain.txt"
    plain.write_text("not a program")
    with anyio.fail_after(10):
        no_cwd = await runner.run(["true"], source="t", timeout=5, cwd=tmp_path / "missing")
        not_exec = await runner.run([str(plain)], source="t", timeout=5)
    assert (no_cwd.status, no_cwd.reason) == ("failed", "cwd_not_found")
    assert (not_exec.status, not_exec.reason) == ("failed", "permission_denied")


async def test_spawn_error_from_bad_argument_is_a_result(
    make_runner: Callable[..., Runner],
) -> None:
    with anyio.fail_after(10):
        result = await make_runner().run(["echo", "nul\0byte"], source="t", timeout=5)
    assert result.status == "failed"
    assert result.reason.startswith("invalid_argument")


async def test_child_killed_by_its_own_signal_is_crashed(
    make_runner: Callable[..., Runner],
) -> None:
    code = "import os, signal; os.kill(os.getpid(), signal.SIGSEGV)"
    with anyio.fail_after(10):
        result = await make_runner().run(
            [sys.executable, "-X", "faulthandler=0", "-c", code], source="t", timeout=10
        )
    assert (result.status, result.signal, result.exit_code) == ("crashed", 11, None)
    assert result.reason == "killed by SIGSEGV"


async def test_cwd_and_stdin(make_runner: Callable[..., Runner], tmp_path: Path) -> None:
    with anyio.fail_after(10):
        result = await make_runner().run(
            ["sh", "-c", "pwd; cat"], source="t", timeout=10, cwd=tmp_path, stdin=b"input"
        )
    assert result.stdout.text() == f"{tmp_path}\ninput"


async def test_child_that_does_not_read_stdin_is_fine(make_runner: Callable[..., Runner]) -> None:
    with anyio.fail_after(10):
        result = await make_runner().run(
            ["true"], source="t", timeout=10, stdin=b"x" * (4 * 1024 * 1024)
        )
    assert result.ok


async def test_stdin_defaults_to_dev_null(make_runner: Callable[..., Runner]) -> None:
    with anyio.fail_after(10):
        result = await make_runner().run(["cat"], source="t", timeout=10)
    assert result.ok
    assert result.stdout.total_bytes == 0


async def test_timeout_kills_the_whole_group_including_stubborn_grandchildren(
    make_runner: Callable[..., Runner], stubborn_tree: str, registry: RecordingRegistry
) -> None:
    runner = make_runner(term_grace_s=0.2)
    pids: list[int] = []

    async def collect(line: StdoutLine) -> None:
        pids.append(int(line.split()[1]))

    with anyio.fail_after(10):
        result = await runner.run(
            [stubborn_tree, "3"], source="t", timeout=0.5, on_stdout_line=collect
        )
    assert result.status == "timeout"
    assert result.signal == 9  # SIGTERM was ignored: the group needed SIGKILL
    assert result.reason == "timed out after 0.5 s"
    assert len(pids) == 4
    (pgid,) = registry.seen
    assert pids[-1] == pgid
    assert not ProcessProbe.group_exists(pgid)
    assert not any(ProcessProbe.pid_alive(pid) for pid in pids)
    assert ProcessProbe.zombie_children(set(registry.seen)) == []
    assert registry.live_pgids() == frozenset()


async def test_timeout_of_a_polite_child_needs_no_sigkill(
    make_runner: Callable[..., Runner],
) -> None:
    with anyio.fail_after(10):
        result = await make_runner().run(["sleep", "30"], source="t", timeout=0.2)
    assert (result.status, result.signal) == ("timeout", 15)


async def test_members_left_behind_by_a_finished_child_are_killed(
    make_runner: Callable[..., Runner], scripts: Scripts, registry: RecordingRegistry
) -> None:
    # The background job keeps stdout open: without the leftover kill the call would
    # also hang until it exits.
    leaker = scripts("leaker.sh", "sleep 60 &\necho started $!\nexit 0\n")
    with anyio.fail_after(10):
        result = await make_runner().run([leaker], source="t", timeout=10)
    assert result.status == "ok"
    assert result.reason == "leftover group members killed"
    background = int(result.stdout.text().split()[1])
    assert not ProcessProbe.pid_alive(background)
    assert not ProcessProbe.group_exists(registry.seen[0])
    assert ProcessProbe.zombie_children(set(registry.seen)) == []


async def test_exited_orphans_are_reaped_quietly(
    make_runner: Callable[..., Runner], scripts: Scripts, registry: RecordingRegistry
) -> None:
    quick = scripts("quick.sh", "(sleep 0.1 >/dev/null 2>&1 &)\nsleep 0.3\n")
    with anyio.fail_after(10):
        result = await make_runner().run([quick], source="t", timeout=10)
    assert (result.status, result.reason) == ("ok", "")
    assert ProcessProbe.zombie_children(set(registry.seen)) == []


async def test_a_process_that_left_the_group_cannot_hold_the_call(
    make_runner: Callable[..., Runner], scripts: Scripts, registry: RecordingRegistry
) -> None:
    # `setsid` escapes the process group but inherits our stdout pipe.
    escaper = scripts("escaper.sh", "setsid sleep 30 &\necho $!\nsleep 0.1\n")
    runner = make_runner(drain_grace_s=0.2)
    with anyio.fail_after(10):
        result = await runner.run([escaper], source="t", timeout=10)
    assert result.status == "ok"
    assert result.reason == "output left open by a process outside the group"
    escaped = int(result.stdout.text().split()[0])
    try:
        assert ProcessProbe.pid_alive(escaped)  # not ours to kill: it left the group
    finally:
        ProcessProbe.kill_groups({escaped})
    # Killed, it becomes a zombie child of ours (subreaper) that no call owns.
    # Strays of earlier tests in this worker may be reaped alongside it: look for ours.
    reaped: list[int] = []
    with anyio.fail_after(10):
        while escaped not in reaped:
            reaped += registry.reap_orphans()
            await anyio.sleep(0.01)
    assert ProcessProbe.zombie_children({escaped, *registry.seen}) == []


@pytest.mark.parametrize("value", [[], "echo hi", ["echo", 1]])
async def test_invalid_argv_is_a_programming_error(
    make_runner: Callable[..., Runner], value: object
) -> None:
    with pytest.raises((TypeError, ValueError)):
        await make_runner().run(value, source="t", timeout=1)  # type: ignore[arg-type]


@pytest.mark.parametrize(("source", "limit"), [("", 1.0), ("t", 0), ("t", -1), ("t", float("inf"))])
async def test_invalid_call_parameters(
    make_runner: Callable[..., Runner], source: str, limit: float
) -> None:
    with pytest.raises(ValueError, match=r"source|timeout"):
        await make_runner().run(["true"], source=source, timeout=limit)


@pytest.mark.parametrize(
    "config",
    [
        {"capture_head_bytes": -1},
        {"max_line_bytes": 0},
        {"term_grace_s": -0.1},
        {"auth_backoff_s": (5.0, -1.0)},
    ],
)
def test_invalid_config_is_refused(config: dict[str, object]) -> None:
    with pytest.raises(ValueError, match=">="):
        RunnerConfig(**config)  # type: ignore[arg-type]


async def test_binary_with_bad_format(make_runner: Callable[..., Runner], tmp_path: Path) -> None:
    headless = tmp_path / "headless"
    headless.write_bytes(b"\x7fELF-not-really")
    headless.chmod(0o755)
    with anyio.fail_after(10):
        result = await make_runner().run([str(headless)], source="t", timeout=5)
    assert (result.status, result.reason) == ("failed", "spawn_error: Exec format error")
