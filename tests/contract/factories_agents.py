"""Contract factories for the claude and codex agent adapters.

Each adapter runs its fake CLI (``tests/adapters/agent_fakes/bin``), which reproduces the real
CLI's documented stream for the behaviour the suite asks for; the adapter itself is the
production class, going through the real subprocess runner.
"""

from __future__ import annotations

from collections.abc import Callable

from ports import AgentPort
from tests.adapters.agent_fakes.support import AgentRig
from tests.contract.harness import AgentBehaviour, AgentHarness, FactoryContext
from tests.contract.registry import factory


def _harness(ctx: FactoryContext, make: Callable[..., AgentPort]) -> AgentHarness:
    rig = AgentRig(ctx.tmp_path)
    ctx.add_finalizer(rig.close)
    empty = ctx.tmp_path / "no-agents-here"
    empty.mkdir()

    def build(behaviour: AgentBehaviour) -> AgentPort:
        return make(rig, behaviour)

    def unconfigured() -> AgentPort:
        return make(rig, "succeed", search_path=str(empty))

    def read(name: str) -> bytes | None:
        path = rig.workdir / name
        return path.read_bytes() if path.is_file() else None

    return AgentHarness(make=build, unconfigured=unconfigured, workdir=str(rig.workdir), read=read)


@factory("agent", "claude-fake-cli")
def _claude_fake_cli(ctx: FactoryContext) -> AgentHarness:
    return _harness(ctx, lambda rig, behaviour, **kw: rig.claude(behaviour, **kw))


@factory("agent", "codex-fake-cli")
def _codex_fake_cli(ctx: FactoryContext) -> AgentHarness:
    return _harness(ctx, lambda rig, behaviour, **kw: rig.codex(behaviour, **kw))
