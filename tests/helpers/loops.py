"""Loop classes for runtime tests: they count, crash, block or raise on cue."""

from __future__ import annotations

from typing import Any, ClassVar

import anyio
from pydantic import BaseModel, ConfigDict

from hydra.sdk import Loop, TickContext, TickResult, current_tick
from ports import CreditExhausted


class Probe:
    """Shared, test-visible state of the test loops (reset per test)."""

    ticks: ClassVar[dict[str, list[str]]] = {}
    gates: ClassVar[dict[str, anyio.Event]] = {}
    tick_refs: ClassVar[list[Any]] = []
    crash_times: ClassVar[dict[str, int]] = {}

    @classmethod
    def reset(cls) -> None:
        cls.ticks = {}
        cls.gates = {}
        cls.tick_refs = []
        cls.crash_times = {}

    @classmethod
    def record(cls, ctx: TickContext[Any]) -> None:
        cls.ticks.setdefault(ctx.loop, []).append(ctx.trigger)
        cls.tick_refs.append(current_tick())

    @classmethod
    def count(cls, name: str) -> int:
        return len(cls.ticks.get(name, []))


class _TestLoop(Loop[Any]):
    area = "testing"
    default_interval_s = 0.05
    interval_bounds = (0.01, 3600.0)


class CountingLoop(_TestLoop):
    name = "counting"
    description = "Counts its ticks."

    async def tick(self, ctx: TickContext[Any]) -> TickResult:
        Probe.record(ctx)
        await ctx.audit("counted", {"n": Probe.count(ctx.loop)})
        return TickResult(status="ok", counts={"n": Probe.count(ctx.loop)})


class OtherCountingLoop(CountingLoop):
    name = "other"


class CrashingLoop(_TestLoop):
    name = "crashing"
    description = "Raises on every tick."

    async def tick(self, ctx: TickContext[Any]) -> TickResult:
        Probe.record(ctx)
        raise RuntimeError("kaboom")


class FlakyLoop(_TestLoop):
    name = "flaky"
    description = "Raises a configured number of times, then succeeds."

    async def tick(self, ctx: TickContext[Any]) -> TickResult:
        Probe.record(ctx)
        left = Probe.crash_times.get(ctx.loop, 0)
        if left > 0:
            Probe.crash_times[ctx.loop] = left - 1
            raise RuntimeError("not yet")
        return TickResult(status="ok")


class BlockingOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")
    hold_s: float = 3600.0


class BlockingLoop(_TestLoop):
    name = "blocking"
    description = "Blocks until its gate opens (or hold_s passes)."
    Options = BlockingOptions
    default_interval_s = 3600.0

    async def tick(self, ctx: TickContext[Any]) -> TickResult:
        Probe.record(ctx)
        gate = Probe.gates.setdefault(ctx.loop, anyio.Event())
        with anyio.move_on_after(ctx.options.hold_s):
            await gate.wait()
        Probe.gates[ctx.loop] = anyio.Event()
        return TickResult(status="ok")


class BrokeLoop(_TestLoop):
    name = "broke"
    description = "Runs out of credit."

    async def tick(self, ctx: TickContext[Any]) -> TickResult:
        Probe.record(ctx)
        async with anyio.create_task_group() as tg:
            tg.start_soon(_exhaust)
        return TickResult(status="ok")


async def _exhaust() -> None:
    raise CreditExhausted("Credit balance is too low", source="agent.fake:broke")


class WrongResultLoop(_TestLoop):
    name = "wrong_result"
    description = "Returns something that is not a TickResult."

    async def tick(self, ctx: TickContext[Any]) -> TickResult:
        return "fine"  # type: ignore[return-value]


class LabellingLoop(_TestLoop):
    """Reads issues and labels each (a mutation), per repository, then reports."""

    name = "labelling"
    description = "Labels every open issue of every repository."
    default_interval_s = 3600.0
    ports = ("issues", "agent")

    async def tick(self, ctx: TickContext[Any]) -> TickResult:
        Probe.record(ctx)
        labelled = 0
        for name in ctx.repos:
            async with ctx.repo(name) as repo:
                for issue in await repo.issues.list_issues():
                    await repo.issues.add_label(issue.id, "seen")
                    labelled += 1
                gate = Probe.gates.get(f"repo:{name}")
                if gate is not None:
                    await gate.wait()
        return TickResult(status="ok", counts={"labelled": labelled})
