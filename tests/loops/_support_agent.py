"""Helpers for the agent-driven loop scenarios (preflight, review_advisor) on a MockWorld."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import anyio

from fakes import FakeAgent, FakeWorkspace, MockWorld
from ports import AgentLimits, AgentPort, AgentResult, PortInfo, World
from tests.helpers.harness import Harness

TICK_ENDS = ("tick.finished", "tick.crashed", "tick.timed_out", "tick.cancelled")


def live(loop: str, **options: Any) -> dict[str, dict[str, Any]]:
    """A ``tables`` argument running ``loop`` live with ``options``."""
    return {loop: {"mode": "live", **options}}


def ends(h: Harness, loop: str) -> list[dict[str, Any]]:
    return [r for r in h.records(loop) if r["action"] in TICK_ENDS]


async def first_tick(h: Harness, loop: str, *, after: int = 0) -> dict[str, Any]:
    """The record ending the tick the daemon runs at start (``after`` ticks of an earlier
    daemon on the same data dir)."""
    await h.wait_for(lambda: len(ends(h, loop)) > after)
    return ends(h, loop)[after]


async def next_tick(h: Harness, loop: str) -> dict[str, Any]:
    """Trigger a tick now and return the record that ends it."""
    before = len(ends(h, loop))
    h.orchestrator.trigger(loop)
    await h.wait_for(lambda: len(ends(h, loop)) > before)
    return ends(h, loop)[-1]


def payloads(h: Harness, loop: str, action: str) -> list[dict[str, Any]]:
    return [r["payload"] for r in h.records(loop, action)]


@dataclass
class GatedAgent(AgentPort):
    """Wraps a :class:`FakeAgent`: each run waits for :attr:`gate` and the concurrency is kept.

    ``run_status`` makes every run return that status without running (a port that says it is
    configured but cannot run).
    """

    inner: FakeAgent
    gate: anyio.Event = field(default_factory=anyio.Event)
    running: int = 0
    most: int = 0
    started: anyio.Event = field(default_factory=anyio.Event)
    per_workdir: dict[str, int] = field(default_factory=dict)
    most_per_workdir: int = 0
    run_status: str | None = None

    def info(self) -> PortInfo:
        return self.inner.info()

    async def run(
        self, *, prompt: str, workdir: str, limits: AgentLimits, source: str
    ) -> AgentResult:
        if self.run_status is not None:
            return AgentResult(self.run_status, "cannot run here", provider="none")  # type: ignore[arg-type]
        self.running += 1
        self.most = max(self.most, self.running)
        self.per_workdir[workdir] = self.per_workdir.get(workdir, 0) + 1
        self.most_per_workdir = max(self.most_per_workdir, self.per_workdir[workdir])
        self.started.set()
        try:
            await self.gate.wait()
            return await self.inner.run(
                prompt=prompt, workdir=workdir, limits=limits, source=source
            )
        finally:
            self.running -= 1
            self.per_workdir[workdir] -= 1


@dataclass
class WorksUntilCancelled(AgentPort):
    """Writes ``edits`` into its workdir (uncommitted, as an agent does), then works on until it
    is cancelled. With ``fake`` the workdir is that fake workspace's worktree, else a directory.
    """

    inner: AgentPort
    edits: Mapping[str, str]
    fake: FakeWorkspace | None = None
    running: bool = False

    def info(self) -> PortInfo:
        return self.inner.info()

    async def run(
        self, *, prompt: str, workdir: str, limits: AgentLimits, source: str
    ) -> AgentResult:
        if self.fake is not None:
            files = self.fake.files_at(workdir)
            assert files is not None, workdir
            files.update({path: text.encode() for path, text in self.edits.items()})
        else:
            for path, text in self.edits.items():
                target = anyio.Path(workdir, path)
                await target.parent.mkdir(parents=True, exist_ok=True)
                await target.write_text(text)
        self.running = True
        await anyio.sleep_forever()
        raise AssertionError("unreachable")


def world_with(mock: MockWorld, agent: AgentPort) -> World:
    """``mock``'s world with another agent."""
    return World(kind="fake", agent=agent, host=mock.host, clock=mock.clock, repos=mock.world.repos)


def labels(mock: MockWorld, issue_id: str, repo: str | None = None) -> frozenset[str]:
    return mock.issues(repo).issue(issue_id).labels


def comments(mock: MockWorld, issue_id: str, repo: str | None = None) -> list[str]:
    return [c.body for c in mock.issues(repo).issue(issue_id).comments]


def would(h: Harness, loop: str) -> list[tuple[str, Mapping[str, Any]]]:
    return [
        (r["action"], r["payload"]) for r in h.records(loop) if r["action"].startswith("would.")
    ]
