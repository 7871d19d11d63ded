"""An in-process orchestrator on a real audit log in a temp dir, for runtime tests."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio

from hydra.audit import AuditLog, StreamDamaged, iter_records, last_record
from hydra.logs import get_logger
from hydra.loop_config import LoopConfig, resolve_loop_configs
from hydra.loop_services import LoopServices, open_services
from hydra.orchestrator import Orchestrator
from hydra.registry import LoopRegistry
from hydra.sdk import Loop, TickOutcome
from hydra.settings import OrchestratorSettings
from hydra.shadow import world_chooser
from hydra.switches import SwitchBoard
from ports import World

FAST = OrchestratorSettings(
    jitter_ratio=0.0,
    first_tick_spread_s=0.0,
    backoff_base_s=0.2,
    backoff_cap_s=0.4,
    shutdown_grace_s=1.0,
)


@dataclass
class Harness:
    root: Path
    orchestrator: Orchestrator
    board: SwitchBoard
    audit: AuditLog
    configs: dict[str, LoopConfig]
    services: LoopServices

    def records(self, stream: str, action: str | None = None) -> list[dict[str, Any]]:
        return [
            r
            for r in iter_records(self.root / "audit", stream)
            if action is None or r["action"] == action
        ]

    async def wait_for(self, predicate: Any, *, within: float = 5.0) -> None:
        """Poll the system under test until ``predicate()`` holds (fails after ``within`` s)."""
        with anyio.fail_after(within):
            while not predicate():  # noqa: ASYNC110 - observing state, not waiting on our own event
                await anyio.sleep(0.01)


def default_world() -> World:
    from fakes import MockWorld

    return MockWorld().world


@asynccontextmanager
async def running(
    root: Path,
    loops: Sequence[type[Loop[Any]]],
    *,
    tables: Mapping[str, Mapping[str, Any]] | None = None,
    settings: OrchestratorSettings = FAST,
    world: World | None = None,
    start: bool = True,
    observers: Sequence[Callable[[str, TickOutcome], None]] = (),
) -> AsyncIterator[Harness]:
    registry = LoopRegistry()
    for cls in loops:
        registry.register(cls)
    configs = resolve_loop_configs(tables or {}, registry)
    the_world = world or default_world()
    async with AuditLog(root / "audit") as audit:
        control = await audit.stream("control")
        sinks = {name: await audit.stream(name) for name in configs}
        board = await SwitchBoard.load(
            root / "state" / "switches.json",
            control,
            configs,
            replay=list(iter_records(root / "audit", "control")),
            repos=tuple(the_world.repos),
        )
        services = await open_services(audit, root / "audit", root / "state")
        orchestrator = Orchestrator(
            registry,
            configs,
            board,
            settings=settings,
            world_for=world_chooser(the_world),
            services=services,
            fatal_errors=(StreamDamaged,),
            log=get_logger("test"),
        )
        orchestrator.deps.observers.extend(observers)  # before the first tick can finish
        await orchestrator.prepare(
            sinks,
            lambda name: last_record(
                root / "audit", name, lambda r: str(r.get("action", "")).startswith("tick.")
            ),
        )
        harness = Harness(root, orchestrator, board, audit, configs, services)
        if not start:
            yield harness
            return
        async with anyio.create_task_group() as tg:
            await tg.start(orchestrator.run)
            try:
                yield harness
            finally:
                with anyio.fail_after(10):
                    await orchestrator.shutdown(settings.shutdown_grace_s)
