"""The contract-suite machinery: a registry of implementation factories keyed by port.

Each suite module ``test_<port>_contract.py`` sets ``PORT = "<port name>"`` (a name of
:data:`ports.PORT_NAMES`) and takes the ``impl`` fixture; every test in it then runs once per
factory registered for that port. To put a new implementation under a contract, register a
factory here::

    @factory("workspace", "git")
    def _git_workspace(ctx: FactoryContext) -> WorkspaceHarness:
        ...  # build a git repository holding BASE_FILES under ctx.tmp_path

What a factory returns per port is documented in ``harness.py``.
"""

from __future__ import annotations

from collections.abc import Mapping, MutableMapping
from pathlib import Path
from typing import Any

import pytest

from fakes import (
    AgentOutcome,
    FakeAgent,
    FakeClock,
    FakeHost,
    FakeIssues,
    FakeSandbox,
    FakeWorkspace,
    MockWorld,
    SandboxOutcome,
)
from hydra.adapters.host import PsutilHost
from hydra.adapters.inbox import LocalInbox
from hydra.clock import SystemClock
from ports import Scenario, Worktree
from tests.contract.harness import (
    BASE_FILES,
    SUCCESS_FILE,
    SUCCESS_TEXT,
    AgentBehaviour,
    AgentHarness,
    ChangesHarness,
    Factory,
    FactoryContext,
    SandboxExpectation,
    SandboxHarness,
    WorkspaceHarness,
)
from tests.contract.registry import FACTORIES, factory


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "impl" not in metafunc.fixturenames:
        return
    port = getattr(metafunc.module, "PORT", None)
    if port not in FACTORIES:
        raise pytest.UsageError(f"{metafunc.module.__name__} must set PORT to a port name")
    metafunc.parametrize("impl", sorted(FACTORIES[port]), indirect=True)


@pytest.fixture
def impl(request: pytest.FixtureRequest, tmp_path: Path) -> Any:
    """The implementation (or harness) under test; see ``pytest_generate_tests``."""
    build = FACTORIES[request.module.PORT][request.param]
    return build(FactoryContext(tmp_path=tmp_path, add_finalizer=request.addfinalizer))


@pytest.fixture
def contract_factories() -> Mapping[str, Mapping[str, Factory]]:
    return FACTORIES


# ---------------------------------------------------------------------- issues
@factory("issues", "fake")
def _fake_issues(ctx: FactoryContext) -> FakeIssues:
    return FakeIssues()


@factory("issues", "local-inbox")
def _local_inbox(ctx: FactoryContext) -> LocalInbox:
    return LocalInbox(ctx.tmp_path / "data", "sample")


# ---------------------------------------------------------------------- workspace
@factory("workspace", "fake")
def _fake_workspace(ctx: FactoryContext) -> WorkspaceHarness:
    ws = FakeWorkspace(BASE_FILES, repo="sample")

    def write(wt: Worktree, path: str, data: bytes) -> None:
        ws.write(wt.name, path, data)

    def delete(wt: Worktree, path: str) -> None:
        ws.delete(wt.name, path)

    return WorkspaceHarness(port=ws, write=write, delete=delete)


# ---------------------------------------------------------------------- changes
@factory("changes", "fake")
def _fake_changes(ctx: FactoryContext) -> ChangesHarness:
    mock = MockWorld({"sample": BASE_FILES})
    ws = mock.workspace()

    async def push_branch(branch: str, files: Mapping[str, bytes | None]) -> str:
        name = "push-" + branch.replace("/", "-")
        await ws.create_worktree(name, branch=branch, base="main")
        for path, data in files.items():
            if data is None:
                ws.delete(name, path)
            else:
                ws.write(name, path, data)
        head = await ws.commit(name, f"work on {branch}")
        await ws.remove_worktree(name)
        assert head is not None
        return head

    async def push_commit(branch: str, files: Mapping[str, bytes | None]) -> str:
        return ws.seed_files(files, branch=branch)

    return ChangesHarness(
        port=mock.changes(), base="main", push_branch=push_branch, push_commit=push_commit
    )


# ---------------------------------------------------------------------- agent
class _OneDir:
    """A single in-memory workdir for agents and sandboxes tested on their own."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.files: dict[str, bytes] = {}

    def files_at(self, workdir: str) -> MutableMapping[str, bytes] | None:
        return self.files if workdir == self.path else None


_AGENT_SCRIPTS: Mapping[AgentBehaviour, AgentOutcome] = {
    "succeed": AgentOutcome.succeed(edits={SUCCESS_FILE: SUCCESS_TEXT}),
    "fail": AgentOutcome.fail(),
    "timeout": AgentOutcome.succeed(duration_s=3_600.0),
    "budget": AgentOutcome.succeed(usd=500.0),
    "crash": AgentOutcome.crash(),
    "credit": AgentOutcome.credit_exhausted(),
    "auth": AgentOutcome.auth_failed(),
}


@factory("agent", "fake")
def _fake_agent(ctx: FactoryContext) -> AgentHarness:
    workdir = _OneDir("/fake/work")
    return AgentHarness(
        make=lambda behaviour: FakeAgent(_AGENT_SCRIPTS[behaviour], workdirs=workdir),
        unconfigured=lambda: FakeAgent(unconfigured="no agent CLI on PATH"),
        workdir=workdir.path,
        read=workdir.files.get,
    )


# ---------------------------------------------------------------------- sandbox
_SANDBOX_SCRIPTS: Mapping[SandboxExpectation, SandboxOutcome] = {
    "pass": SandboxOutcome.passed(),
    "fail": SandboxOutcome.failed(exit_code=3),
    "timeout": SandboxOutcome.timed_out(),
}


@factory("sandbox", "fake")
def _fake_sandbox(ctx: FactoryContext) -> SandboxHarness:
    workdir = _OneDir("/fake/work")
    sandbox = FakeSandbox(workdirs=workdir)

    def scenario(name: str, expect: SandboxExpectation) -> Scenario:
        sandbox.script(name, _SANDBOX_SCRIPTS[expect])
        return Scenario(name=name, command=f"scripted {expect}", timeout_s=0.5)

    return SandboxHarness(
        port=sandbox, workdir=workdir.path, missing_workdir="/fake/nowhere", scenario=scenario
    )


# ---------------------------------------------------------------------- host
@factory("host", "fake")
def _fake_host(ctx: FactoryContext) -> FakeHost:
    return FakeHost(streams={"control": 120, "health": 4_096})


@factory("host", "psutil")
def _psutil_host(ctx: FactoryContext) -> PsutilHost:
    stream = ctx.tmp_path / "audit" / "control"
    stream.mkdir(parents=True)
    (stream / "000001.jsonl").write_bytes(b"{}\n" * 40)
    return PsutilHost(ctx.tmp_path, ctx.tmp_path / "audit")


# ---------------------------------------------------------------------- clock
@factory("clock", "fake")
def _fake_clock(ctx: FactoryContext) -> FakeClock:
    return FakeClock()


@factory("clock", "system")
def _system_clock(ctx: FactoryContext) -> SystemClock:
    return SystemClock()


# Factories of the real adapters live beside this file, one module per adapter family; importing
# them registers their factories.
from tests.contract import factories_agents, factories_gh, factories_git  # noqa: E402, F401
