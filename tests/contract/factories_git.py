"""Contract factories for the git adapters and the shell-command sandbox.

Each factory builds a real repository holding ``BASE_FILES`` on ``main`` under the test's
temporary directory, with git isolated from the machine: ``HOME`` is a fresh directory and
``GIT_CONFIG_NOSYSTEM=1`` reaches git through the Runner's environment allow-list. The helpers
here (repository set-up, a recording cost sink, a runner) are shared with ``tests/adapters``.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from hydra.adapters.git_workspace import GitWorkspace
from hydra.adapters.local_changes import LocalChanges
from hydra.adapters.shell_sandbox import ShellSandbox
from hydra.runner import EnvPolicy, ProcessRegistry, Runner, RunnerConfig
from ports import Scenario, Worktree
from tests.contract.harness import (
    BASE_FILES,
    ChangesHarness,
    FactoryContext,
    SandboxExpectation,
    SandboxHarness,
    WorkspaceHarness,
)
from tests.contract.registry import factory

OPERATOR = ("-c", "user.name=Operator", "-c", "user.email=operator@example.com")


@dataclass
class RecordingSink:
    """A cost sink that keeps the source of every record."""

    sources: list[str] = field(default_factory=list)

    async def record(
        self,
        *,
        source: str,
        model: str | None,
        input_tokens: int,
        output_tokens: int,
        usd: float,
    ) -> None:
        self.sources.append(source)


def isolated_environ(home: Path) -> dict[str, str]:
    """The variables that keep git away from the machine's and the user's configuration."""
    home.mkdir(parents=True, exist_ok=True)
    return {"HOME": str(home), "GIT_CONFIG_NOSYSTEM": "1", "LC_ALL": "C"}


def isolate(ctx: FactoryContext) -> None:
    """Apply :func:`isolated_environ` to this process until the test ends."""
    wanted = isolated_environ(ctx.tmp_path / "home")
    saved = {name: os.environ.get(name) for name in wanted}
    os.environ.update(wanted)

    def restore() -> None:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value

    ctx.add_finalizer(restore)


class CountingRegistry(ProcessRegistry):
    """A real process registry that also counts every process group the runner spawned."""

    def __init__(self) -> None:
        super().__init__()
        self.spawned = 0

    def register(self, group) -> None:  # type: ignore[no-untyped-def]
        self.spawned += 1
        super().register(group)


def make_runner(sink: RecordingSink, registry: ProcessRegistry | None = None) -> Runner:
    policy = EnvPolicy().allowing({"GIT_CONFIG_NOSYSTEM"})
    config = RunnerConfig(env=policy, term_grace_s=0.5)
    return Runner(cost_sink=sink, config=config, registry=registry)


def git(cwd: str | Path, *args: str, check: bool = True) -> str:
    """Run git as the operator would (tests only; adapters go through the Runner)."""
    done = subprocess.run(
        ["git", *OPERATOR, *args], cwd=cwd, capture_output=True, text=True, check=False
    )
    if check and done.returncode != 0:
        raise AssertionError(f"git {' '.join(args)} failed: {done.stderr}")
    return done.stdout.strip()


def write_files(root: Path, files: Mapping[str, bytes | None]) -> None:
    for rel, data in files.items():
        target = root / rel
        if data is None:
            target.unlink(missing_ok=True)
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)


def make_repo(path: Path, files: Mapping[str, bytes] = BASE_FILES) -> Path:
    """A repository with ``files`` committed on ``main``, checked out and clean."""
    path.mkdir(parents=True)
    git(path, "init", "-q", "-b", "main")
    write_files(path, dict(files))
    git(path, "add", "-A")
    git(path, "commit", "-q", "-m", "base")
    return path


def workspace_harness(ws: GitWorkspace) -> WorkspaceHarness:
    def write(wt: Worktree, path: str, data: bytes) -> None:
        write_files(Path(wt.path), {path: data})

    def delete(wt: Worktree, path: str) -> None:
        write_files(Path(wt.path), {path: None})

    return WorkspaceHarness(port=ws, write=write, delete=delete)


@factory("workspace", "git")
def _git_workspace(ctx: FactoryContext) -> WorkspaceHarness:
    isolate(ctx)
    repo = make_repo(ctx.tmp_path / "repo")
    runner = make_runner(RecordingSink())
    ws = GitWorkspace(repo, "sample", ctx.tmp_path / "data" / "worktrees" / "sample", runner)
    return workspace_harness(ws)


def branch_pusher(ws: GitWorkspace) -> Callable[[str, Mapping[str, bytes | None]], object]:
    """``ChangesHarness.push_branch`` made the way Hydra makes branches: in a worktree."""

    async def push_branch(branch: str, files: Mapping[str, bytes | None]) -> str:
        name = "push-" + branch.replace("/", "-")
        wt = await ws.create_worktree(name, branch=branch, base="main")
        write_files(Path(wt.path), files)
        head = await ws.commit(name, f"work on {branch}")
        await ws.remove_worktree(name)
        assert head is not None
        return head

    return push_branch


def commit_pusher(
    repo: Path, scratch: Path
) -> Callable[[str, Mapping[str, bytes | None]], Awaitable[str]]:
    """``ChangesHarness.push_commit``: one more commit on an existing branch, as a person makes
    it (a worktree of their own, checked out on the branch, then removed)."""

    async def push_commit(branch: str, files: Mapping[str, bytes | None]) -> str:
        checkout = scratch / branch.replace("/", "-")
        git(repo, "worktree", "add", "-q", str(checkout), branch)
        write_files(checkout, files)
        git(checkout, "add", "-A")
        git(checkout, "commit", "-q", "-m", f"more work on {branch}")
        head = git(checkout, "rev-parse", "HEAD")
        git(repo, "worktree", "remove", str(checkout))
        return head

    return push_commit


@factory("changes", "local-git")
def _local_changes(ctx: FactoryContext) -> ChangesHarness:
    isolate(ctx)
    repo = make_repo(ctx.tmp_path / "repo")
    runner = make_runner(RecordingSink())
    ws = GitWorkspace(repo, "sample", ctx.tmp_path / "data" / "worktrees" / "sample", runner)
    port = LocalChanges(repo, "sample", runner)
    return ChangesHarness(
        port=port,
        base="main",
        push_branch=branch_pusher(ws),  # type: ignore[arg-type]
        push_commit=commit_pusher(repo, ctx.tmp_path / "pushes"),
    )


_COMMANDS: Mapping[SandboxExpectation, str] = {
    "pass": "true",
    "fail": "echo failing >&2; exit 3",
    "timeout": "sleep 30",
}


@factory("sandbox", "shell")
def _shell_sandbox(ctx: FactoryContext) -> SandboxHarness:
    isolate(ctx)
    workdir = ctx.tmp_path / "work"
    workdir.mkdir()
    sandbox = ShellSandbox(make_runner(RecordingSink()))

    def scenario(name: str, expect: SandboxExpectation) -> Scenario:
        return Scenario(name=name, command=_COMMANDS[expect], timeout_s=0.5)

    return SandboxHarness(
        port=sandbox,
        workdir=str(workdir),
        missing_workdir=str(ctx.tmp_path / "nowhere"),
        scenario=scenario,
    )
