"""One loop's scheduler: waits for its turn, runs ticks through the base class, backs off.

The supervisor never runs two ticks of its loop at once. A trigger that arrives during a tick
is merged into one follow-up tick. Switching the loop off cancels the in-flight tick (its
runner calls kill their process groups) unless the caller asked to drain; switching it on
schedules the next tick at once.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import anyio
from anyio.abc import TaskStatus

from hydra.ids import new_run_id
from hydra.loop_config import LoopConfig
from hydra.loop_services import LoopServices
from hydra.loop_state import LoopState, LoopStatus
from hydra.sdk import AuditSink, Logger, Loop, LoopMode, RepoGuard, TickContext, TickOutcome
from hydra.settings import OrchestratorSettings
from hydra.switches import SwitchBoard
from hydra.timer import Timer
from ports import World


@dataclass(frozen=True)
class SupervisorDeps:
    """What a supervisor needs from the daemon, bundled to keep signatures short."""

    board: SwitchBoard
    settings: OrchestratorSettings
    world_for: Callable[[str, LoopMode, AuditSink], World]
    repo_guard: RepoGuard
    services: LoopServices
    timer: Timer
    on_terminal: Callable[[str, TickOutcome], Any]
    """Awaitable callback: switch the loop off after credit exhaustion / auth failure."""
    fatal_errors: tuple[type[BaseException], ...]
    """Audit errors that mean the loop cannot record ticks (damaged stream, failed fsync)."""
    log: Logger
    observers: list[Callable[[str, TickOutcome], None]] = field(default_factory=list)
    """Called after every tick outcome (metrics)."""


class LoopSupervisor:
    def __init__(
        self, loop: Loop[Any], config: LoopConfig, sink: AuditSink, deps: SupervisorDeps
    ) -> None:
        self.loop = loop
        self.config = config
        self.sink = sink
        self.deps = deps
        self.status = LoopStatus(name=config.name)
        self._wake = anyio.Event()
        self._triggered = False
        self._log_bound = deps.log.bind(loop=config.name)
        self._stopping = False
        self._scope: anyio.CancelScope | None = None
        self._idle = anyio.Event()
        self._idle.set()
        self._cancel_reason = "cancelled"
        self._next_due = time.monotonic()
        self._last_due = self._next_due
        self._log = deps.log

    @property
    def name(self) -> str:
        return self.config.name

    @property
    def running(self) -> bool:
        return self._scope is not None

    # ------------------------------------------------------------------ control
    def trigger(self) -> None:
        """Run a tick now (merged with an in-flight or already pending trigger)."""
        self._triggered = True
        self._poke()

    def on_switch(
        self, *, blocked_now: bool, drain: bool, reason: str, interval_changed: bool
    ) -> None:
        if blocked_now and self._scope is not None and not drain:
            self.cancel_tick(reason)
        if not blocked_now and self.status.state == LoopState.DISABLED:
            self._next_due = time.monotonic()  # switched on: tick promptly
        if interval_changed:
            self._next_due = self._last_due + self._interval_with_jitter()
        self._poke()

    async def wait_idle(self) -> None:
        """Return once no tick of this loop is running."""
        await self._idle.wait()

    def cancel_tick(self, reason: str) -> None:
        if self._scope is not None:
            self._cancel_reason = reason
            self._scope.cancel()

    def stop(self) -> None:
        """Stop scheduling new ticks; an in-flight tick runs on until cancelled."""
        self._stopping = True
        self._poke()

    def _poke(self) -> None:
        self._wake.set()

    # ------------------------------------------------------------------ main loop
    async def run(self, *, first_delay_s: float, task_status: TaskStatus[None]) -> None:
        self._next_due = time.monotonic() + first_delay_s
        self._publish_next_due()
        task_status.started()
        while True:
            await self._wait_for_turn()
            if self._stopping:
                return
            trigger = "manual" if self._triggered else "schedule"
            self._triggered = False
            due = self._next_due if trigger == "schedule" else time.monotonic()
            try:
                outcome = await self._tick_once(trigger, due)
            except self.deps.fatal_errors as exc:
                self._stop_for_good(f"audit stream unusable: {exc}")
                continue
            if outcome is not None:
                await self._after(outcome)

    async def _wait_for_turn(self) -> None:
        timer, key = self.deps.timer, id(self)
        while not self._stopping:
            blocked = self.deps.board.blocked_reason(self.name)
            if self.status.state == LoopState.STOPPED:
                blocked = self.status.stop_reason
            self.status.blocked_reason = blocked
            if blocked is None and (self._triggered or time.monotonic() >= self._next_due):
                return
            if blocked is not None:
                if self.status.state != LoopState.STOPPED:
                    self.status.state = LoopState.DISABLED
                self._triggered = False
                timer.cancel(key)
            else:
                if self.status.state == LoopState.DISABLED:
                    self.status.state = LoopState.WAITING
                timer.schedule(key, self._next_due, self._poke)
            await self._wake.wait()
            self._wake = anyio.Event()
        timer.cancel(key)

    async def _tick_once(self, trigger: str, due: float) -> TickOutcome | None:
        started = time.monotonic()
        lateness_ms = max(0.0, (started - due) * 1000)
        run_id = new_run_id()
        mode = self.deps.board.mode(self.name)
        ctx: TickContext[Any] = TickContext(
            loop=self.name,
            run_id=run_id,
            trigger=trigger,
            options=self.config.options,
            mode=mode,
            world=self.deps.world_for(self.name, mode, self.sink),
            sink=self.sink,
            logger=self._log_bound,
            history=self.deps.services.history(self.name),
            state=self.deps.services.state(self.name),
            escalations=self.deps.services.desk(self.name, run_id),
            repos=self.deps.board.enabled_repos(),
            repo_guard=self.deps.repo_guard,
            schedule={"lateness_ms": round(lateness_ms, 3)},
        )
        self.status.state = LoopState.RUNNING
        self.status.running_run_id = run_id
        self.status.last_started_at = time.time()
        self.status.lateness_ms.append(lateness_ms)
        self._last_due = due
        self._cancel_reason = "cancelled"
        outcome: TickOutcome | None = None
        self._idle = anyio.Event()
        try:
            with anyio.CancelScope() as scope:
                self._scope = scope
                outcome = await self.loop.run_tick(
                    ctx,
                    gate=lambda: self.deps.board.blocked_reason(self.name),
                    timeout_s=self.config.timeout_s,
                    cancel_reason=lambda: self._cancel_reason,
                )
        finally:
            self._scope = None
            self._idle.set()
            self.status.running_run_id = None
            self.status.last_finished_at = time.time()
        if outcome is None:  # cancelled by a switch: the next tick waits for its normal turn
            self.status.state = LoopState.WAITING
            self._next_due = max(self._next_due, due + self._interval_with_jitter())
            self._publish_next_due()
        return outcome

    async def _after(self, outcome: TickOutcome) -> None:
        for observe in self.deps.observers:
            observe(self.name, outcome)
        if outcome.kind == "skipped":
            return
        status = self.status
        status.ticks += 1
        status.last_outcome = outcome
        failures_before = status.consecutive_failures
        interval = self._interval_with_jitter()
        # The status is complete before anything is awaited, so readers never see a failure
        # count without its backoff.
        if outcome.failed:
            status.consecutive_failures += 1
            status.backoff_s = self._backoff_s()
            status.state = LoopState.BACKING_OFF
            self._next_due = time.monotonic() + max(interval, status.backoff_s)
        else:
            status.consecutive_failures = 0
            status.backoff_s = 0.0
            status.state = LoopState.WAITING
            self._next_due = max(self._last_due + interval, time.monotonic())
        self._publish_next_due()
        if outcome.kind == "terminal":
            await self.deps.on_terminal(self.name, outcome)
        if outcome.failed and failures_before == 0:
            await self._record_unhealthy(outcome)
        elif not outcome.failed and failures_before:
            await self._record_recovery(failures_before)

    def _backoff_s(self) -> float:
        s = self.deps.settings
        exp = min(self.status.consecutive_failures - 1, 30)
        raw = min(s.backoff_cap_s, s.backoff_base_s * (2.0**exp))
        return raw * random.uniform(0.8, 1.0)  # noqa: S311 - jitter, not cryptography

    async def _record_unhealthy(self, outcome: TickOutcome) -> None:
        self._log.warning("loop.unhealthy", loop=self.name, error=outcome.error)
        await self.sink.append(
            "health.degraded",
            actor="daemon",
            payload={"outcome": outcome.kind, "error": outcome.error},
            run=outcome.run_id,
        )

    async def _record_recovery(self, failures: int) -> None:
        self._log.info("loop.recovered", loop=self.name, after_failures=failures)
        await self.sink.append(
            "health.recovered", actor="daemon", payload={"after_failures": failures}
        )

    def _stop_for_good(self, reason: str) -> None:
        self.status.state = LoopState.STOPPED
        self.status.stop_reason = reason
        self._log.error("loop.stopped", loop=self.name, reason=reason)

    def _interval_with_jitter(self) -> float:
        interval = self.deps.board.interval_s(self.name)
        jitter = self.deps.settings.jitter_ratio
        return float(interval * (1 + random.uniform(0, jitter)) if jitter else interval)  # noqa: S311

    def _publish_next_due(self) -> None:
        self.status.next_due_at = time.time() + max(self._next_due - time.monotonic(), 0.0)
