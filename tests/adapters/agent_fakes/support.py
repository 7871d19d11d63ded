"""Rigs for the agent adapter tests: a runner with a recording cost sink and process registry,
the fake CLIs in ``bin/``, the real CLIs under ``.tools/``, and process-group checks."""

from __future__ import annotations

import json
import os
import signal
import stat
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio.lowlevel
import psutil
import pytest

from hydra.adapters.agent_claude import ClaudeAgent
from hydra.adapters.agent_codex import CodexAgent
from hydra.runner import EnvValue, ProcessRegistry, Runner, RunnerConfig

FAKE_BIN = Path(__file__).parent / "bin"
REPO_ROOT = Path(__file__).resolve().parents[3]
REAL_BIN = REPO_ROOT / ".tools" / "npm" / "node_modules" / ".bin"
REQUIRE_REAL = "HYDRA_REQUIRE_REAL_TOOLS"

for _script in ("claude", "codex"):  # keep the fakes runnable whatever the checkout did
    _path = FAKE_BIN / _script
    _path.chmod(_path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)


@dataclass
class CostCall:
    source: str
    model: str | None
    input_tokens: int
    output_tokens: int
    usd: float


@dataclass
class RecordingSink:
    """A `CostSink` that keeps every record."""

    calls: list[CostCall] = field(default_factory=list)

    async def record(
        self, *, source: str, model: str | None, input_tokens: int, output_tokens: int, usd: float
    ) -> None:
        await anyio.lowlevel.checkpoint()
        self.calls.append(CostCall(source, model, input_tokens, output_tokens, usd))


class RecordingRegistry(ProcessRegistry):
    """A real registry that remembers every process group it held."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: list[int] = []

    def register(self, group: Any) -> None:
        self.seen.append(group.pgid)
        super().register(group)


def live_members(pgids: Iterable[int]) -> list[psutil.Process]:
    """Processes (not zombies) still in any of ``pgids``."""
    wanted, found = set(pgids), []
    for proc in psutil.process_iter():
        try:
            if os.getpgid(proc.pid) in wanted and proc.status() != psutil.STATUS_ZOMBIE:
                found.append(proc)
        except (ProcessLookupError, psutil.Error):
            continue
    return found


def escaped_since(started: float) -> list[psutil.Process]:
    """Our children (zombies too) created since ``started``: processes a CLI detached from
    its group, which the group kill missed and the subreaper then inherited."""
    found = []
    for child in psutil.Process().children(recursive=True):
        try:
            if child.create_time() >= started - 0.01:
                found.append(child)
        except psutil.Error:
            continue
    return found


def pid_alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def real_tool(name: str) -> str:
    """The real CLI installed by ``scripts/system-deps``; skip (or fail when required)."""
    path = REAL_BIN / name
    if path.exists() and os.access(path, os.X_OK):
        return str(path)
    why = f"the real {name} CLI is not installed at {path} (run scripts/system-deps)"
    if os.environ.get(REQUIRE_REAL) == "1":
        pytest.fail(f"{REQUIRE_REAL}=1 but {why}")
    pytest.skip(why)


class AgentRig:
    """One test's runner, cost sink, registry, workdir, HOME and transcripts directory."""

    def __init__(self, tmp: Path, *, term_grace_s: float = 0.5) -> None:
        self.tmp = tmp
        self.sink = RecordingSink()
        self.registry = RecordingRegistry()
        config = RunnerConfig(term_grace_s=term_grace_s, auth_backoff_s=())
        self.runner = Runner(cost_sink=self.sink, config=config, registry=self.registry)
        self.workdir = tmp / "work"
        self.home = tmp / "home"
        self.transcripts = tmp / "transcripts"
        self.record_file = tmp / "record.json"
        self.pids_file = tmp / "pids.txt"
        for directory in (self.workdir, self.home):
            directory.mkdir(parents=True, exist_ok=True)

    def fake_env(self, scenario: str, **extra: EnvValue) -> dict[str, EnvValue]:
        return {
            "FAKE_AGENT_SCENARIO": scenario,
            "FAKE_AGENT_RECORD": str(self.record_file),
            "FAKE_AGENT_PIDS": str(self.pids_file),
            "HOME": str(self.home),
            **extra,
        }

    def claude(
        self, scenario: str, *, env: Mapping[str, EnvValue] | None = None, **kw: Any
    ) -> ClaudeAgent:
        """A `ClaudeAgent` on the fake CLI (``kw`` overrides, e.g. ``search_path``)."""
        kw.setdefault("search_path", str(FAKE_BIN))
        extra = self.fake_env(scenario, **(env or {}))
        return ClaudeAgent(
            runner=self.runner, transcripts_dir=self.transcripts, extra_env=extra, **kw
        )

    def codex(
        self, scenario: str, *, env: Mapping[str, EnvValue] | None = None, **kw: Any
    ) -> CodexAgent:
        """A `CodexAgent` on the fake CLI, model ``gpt-5.1-codex`` unless ``kw`` says otherwise."""
        kw.setdefault("search_path", str(FAKE_BIN))
        kw.setdefault("model", "gpt-5.1-codex")
        extra = self.fake_env(scenario, **(env or {}))
        return CodexAgent(
            runner=self.runner, transcripts_dir=self.transcripts, extra_env=extra, **kw
        )

    def recorded(self) -> dict[str, Any]:
        data: dict[str, Any] = json.loads(self.record_file.read_text())
        return data

    def helper_pids(self) -> list[int]:
        if not self.pids_file.exists():
            return []
        return [int(line) for line in self.pids_file.read_text().split()]

    def close(self) -> None:
        """Last-resort cleanup so one failing test does not leak processes into the next."""
        for pgid in set(self.registry.seen):
            try:
                os.killpg(pgid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                continue


def transcript_records(path: str | None) -> list[dict[str, Any]]:
    assert path is not None
    return [json.loads(line) for line in Path(path).read_text().splitlines()]
