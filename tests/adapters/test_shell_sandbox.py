"""ShellSandbox with real shells: statuses, merged output, and a cancelled scenario's group dies."""

from __future__ import annotations

from pathlib import Path

import anyio
import psutil
import pytest

from hydra.adapters.shell_sandbox import ShellSandbox
from ports import PortError, Scenario
from tests.contract.factories_git import RecordingSink, make_runner

pytestmark = pytest.mark.anyio


@pytest.fixture
def sink() -> RecordingSink:
    return RecordingSink()


@pytest.fixture
def sandbox(sink: RecordingSink) -> ShellSandbox:
    return ShellSandbox(make_runner(sink))


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    path = tmp_path / "work"
    path.mkdir()
    return path


def _alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


async def test_cancelling_a_long_scenario_kills_its_process_group(
    sandbox: ShellSandbox, workdir: Path
) -> None:
    command = "sleep 60 & echo $! > pids; sh -c 'sleep 60' & echo $! >> pids; echo $$ >> pids; wait"
    pids_file = anyio.Path(workdir / "pids")

    async def run() -> None:
        await sandbox.run_scenarios([Scenario("long", command)], workdir=str(workdir))

    with anyio.fail_after(15):
        async with anyio.create_task_group() as tg:
            tg.start_soon(run)
            # The scenario announces its processes through a file: poll it.
            while not await pids_file.exists() or len((await pids_file.read_text()).split()) < 3:  # noqa: ASYNC110
                await anyio.sleep(0.02)
            pids = [int(pid) for pid in (await pids_file.read_text()).split()]
            assert all(_alive(pid) for pid in pids)
            tg.cancel_scope.cancel()
    assert not any(_alive(pid) for pid in pids)


async def test_output_tail_is_stdout_and_stderr_in_order_and_bounded(
    sandbox: ShellSandbox, workdir: Path
) -> None:
    command = 'i=0; while [ $i -lt 2000 ]; do echo "out $i"; echo "err $i" >&2; i=$((i+1)); done'
    (result,) = await sandbox.run_scenarios([Scenario("noisy", command)], workdir=str(workdir))
    assert result.status == "passed"
    assert len(result.output_tail.encode()) <= 4_096
    assert result.output_tail.endswith("out 1999\nerr 1999\n")


async def test_expected_exit_decides_pass_or_fail(sandbox: ShellSandbox, workdir: Path) -> None:
    results = await sandbox.run_scenarios(
        [
            Scenario("must-fail", "exit 3", expected_exit=3),
            Scenario("unexpected", "exit 0", expected_exit=3),
        ],
        workdir=str(workdir),
    )
    assert [(r.status, r.exit_code) for r in results] == [("passed", 3), ("failed", 0)]


async def test_the_command_runs_in_the_workdir_as_sh_c(
    sandbox: ShellSandbox, workdir: Path
) -> None:
    (workdir / "marker.txt").write_text("here\n")
    (result,) = await sandbox.run_scenarios(
        [Scenario("where", 'cat marker.txt; echo "$0"; echo "$#"')], workdir=str(workdir)
    )
    assert result.output_tail == "here\nsh\n0\n"


async def test_output_that_looks_like_an_auth_failure_is_just_a_failure(
    sandbox: ShellSandbox, workdir: Path
) -> None:
    command = "echo 'Invalid API key; rate limit; credit balance is too low'; exit 1"
    (result,) = await sandbox.run_scenarios([Scenario("t", command)], workdir=str(workdir))
    assert (result.status, result.exit_code) == ("failed", 1)


async def test_a_missing_shell_is_an_error_result_not_an_exception(
    sink: RecordingSink, workdir: Path
) -> None:
    sandbox = ShellSandbox(make_runner(sink), interpreter="/nonexistent/sh")
    assert sandbox.info().state == "unconfigured"
    (result,) = await sandbox.run_scenarios([Scenario("t", "true")], workdir=str(workdir))
    assert (result.status, result.exit_code) == ("error", None)
    assert "not_found" in result.output_tail


async def test_an_unrunnable_scenario_is_an_error_result(
    sandbox: ShellSandbox, workdir: Path
) -> None:
    results = await sandbox.run_scenarios(
        [Scenario("nul", "echo a\0b"), Scenario("zero", "true", timeout_s=0)],
        workdir=str(workdir),
    )
    assert [r.status for r in results] == ["error", "error"]


async def test_a_file_is_not_a_workdir(sandbox: ShellSandbox, workdir: Path) -> None:
    (workdir / "file").write_text("x")
    with pytest.raises(PortError) as caught:
        await sandbox.run_scenarios([Scenario("t", "true")], workdir=str(workdir / "file"))
    assert caught.value.kind == "not_found"


async def test_each_scenario_is_one_cost_record(
    sandbox: ShellSandbox, sink: RecordingSink, workdir: Path
) -> None:
    await sandbox.run_scenarios(
        [Scenario("a", "true"), Scenario("b", "false")], workdir=str(workdir)
    )
    assert sink.sources == ["sandbox.shell", "sandbox.shell"]
