"""The orchestrator: one task group, one supervisor per loop, the switch board wired in.

At start-up it closes ticks orphaned by a previous crash (a ``tick.started`` with no end in the
loop's stream gets a ``tick.lost`` record), then starts every supervisor with ``tg.start`` so
"started" means "scheduled". Shutdown happens in a fixed order: stop scheduling, let in-flight
ticks run for the grace period, cancel what is left (each records ``tick.cancelled``).
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping
from typing import Any

import anyio
from anyio.abc import TaskStatus

from hydra.loop_config import LoopConfig
from hydra.loop_services import LoopServices
from hydra.loop_state import LoopState, LoopStatus
from hydra.registry import LoopRegistry
from hydra.repo_scopes import RepoScopes
from hydra.sdk import AuditSink, Logger, Loop, LoopMode, TickOutcome
from hydra.settings import OrchestratorSettings
from hydra.supervisor import LoopSupervisor, SupervisorDeps
from hydra.switches import REPO_TARGET_PREFIX, SwitchBoard, SwitchError, SwitchEvent
from hydra.timer import Timer
from ports import World

LostTickFinder = Callable[[str], Mapping[str, Any] | None]
"""Returns the last ``tick.*`` record of a loop's stream (or ``None``)."""


class Orchestrator:
    def __init__(
        self,
        registry: LoopRegistry,
        configs: Mapping[str, LoopConfig],
        board: SwitchBoard,
        *,
        settings: OrchestratorSettings,
        world_for: Callable[[str, LoopMode, AuditSink], World],
        services: LoopServices,
        fatal_errors: tuple[type[BaseException], ...],
        log: Logger,
    ) -> None:
        self.registry = registry
        self.configs = dict(configs)
        self.board = board
        self.timer = Timer()
        self.repo_scopes = RepoScopes(board)
        self.deps = SupervisorDeps(
            board=board,
            timer=self.timer,
            settings=settings,
            world_for=world_for,
            repo_guard=self.repo_scopes,
            services=services,
            on_terminal=self.stop_terminal,
            fatal_errors=fatal_errors,
            log=log,
        )
        self.supervisors: dict[str, LoopSupervisor] = {}
        self._broken: dict[str, LoopStatus] = {}
        self._done = anyio.Event()
        board.subscribe(self._on_switch)

    async def prepare(
        self, sinks: Mapping[str, AuditSink], last_tick_record: LostTickFinder
    ) -> list[str]:
        """Instantiate loops and close lost ticks; returns the run ids marked lost."""
        lost: list[str] = []
        for entry in self.registry:
            if entry.status != "ok":
                self._broken[entry.name] = LoopStatus(
                    name=entry.name, state=LoopState.BROKEN, stop_reason=entry.error or entry.status
                )
                continue
            config = self.configs[entry.name]
            sink = sinks[entry.name]
            record = await anyio.to_thread.run_sync(last_tick_record, entry.name)
            if record is not None and record.get("action") == "tick.started":
                run = record.get("run")
                await sink.append(
                    "tick.lost",
                    actor="daemon",
                    payload={"started_at": record.get("ts"), "seq": record.get("seq")},
                    run=run if isinstance(run, str) else None,
                )
                lost.append(str(run))
            loop: Loop[Any] = entry.loop_class(config.options)
            self.supervisors[entry.name] = LoopSupervisor(loop, config, sink, self.deps)
        return lost

    async def run(self, *, task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
        """Run every supervisor until :meth:`shutdown` completes."""
        spread = self.deps.settings.first_tick_spread_s
        async with anyio.create_task_group() as tg:
            await tg.start(self.timer.run, name="loop-timer")
            async with anyio.create_task_group() as loops:
                for name, supervisor in self.supervisors.items():
                    interval = self.board.interval_s(name)
                    first = random.uniform(0, min(spread, interval))  # noqa: S311 - not crypto
                    await loops.start(_run_supervisor, supervisor, first, name=f"loop:{name}")
                task_status.started()
            tg.cancel_scope.cancel()
        self._done.set()

    # ------------------------------------------------------------------ operator actions
    def trigger(self, name: str) -> bool:
        """Ask for a tick now. Returns whether a tick is running (the trigger is then merged)."""
        supervisor = self.supervisors.get(name)
        if supervisor is None:
            if name in self._broken:
                raise SwitchError(
                    "conflict", f"loop {name!r} is broken: {self._broken[name].stop_reason}"
                )
            raise SwitchError("not_found", f"unknown loop {name!r}")
        blocked = self.board.blocked_reason(name) or supervisor.status.stop_reason
        if blocked is not None:
            raise SwitchError("conflict", f"loop {name!r} cannot run: {blocked}")
        running = supervisor.running
        supervisor.trigger()
        return running

    def status(self, name: str) -> LoopStatus:
        if name in self.supervisors:
            return self.supervisors[name].status
        if name in self._broken:
            return self._broken[name]
        raise SwitchError("not_found", f"unknown loop {name!r}")

    def statuses(self) -> list[LoopStatus]:
        return [self.status(name) for name in sorted({*self.supervisors, *self._broken})]

    async def shutdown(self, grace_s: float) -> None:
        """Stop scheduling, give in-flight ticks ``grace_s`` seconds, cancel the rest."""
        for supervisor in self.supervisors.values():
            supervisor.stop()
        with anyio.move_on_after(grace_s):
            for supervisor in self.supervisors.values():
                await supervisor.wait_idle()
        for supervisor in self.supervisors.values():
            supervisor.cancel_tick("shutdown")
        await self._done.wait()

    async def stop_terminal(self, name: str, outcome: TickOutcome) -> None:
        """Switch a loop off after credit exhaustion or a terminal auth failure (audited)."""
        reason = outcome.terminal_reason or "terminal failure"
        await self.board.update_loop(name, actor="daemon", reason=reason, enabled=False)

    # ------------------------------------------------------------------ switch events
    def _on_switch(self, event: SwitchEvent) -> None:
        if event.target.startswith(REPO_TARGET_PREFIX):
            if not event.after.enabled:
                self.repo_scopes.cancel(event.target.removeprefix(REPO_TARGET_PREFIX))
            return
        targets = (
            self.supervisors.values()
            if event.target == "*"
            else [self.supervisors.get(event.target)]
        )
        reason = f"switched off by {event.after.actor}: {event.after.reason}"
        for supervisor in targets:
            if supervisor is None:
                continue
            supervisor.on_switch(
                blocked_now=self.board.blocked_reason(supervisor.name) is not None,
                drain=event.drain,
                reason=reason,
                interval_changed=event.before.interval_s != event.after.interval_s,
            )


async def _run_supervisor(
    supervisor: LoopSupervisor, first_delay_s: float, *, task_status: TaskStatus[None]
) -> None:
    await supervisor.run(first_delay_s=first_delay_s, task_status=task_status)
