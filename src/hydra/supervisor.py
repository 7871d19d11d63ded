"""One loop's scheduler: waits for its turn, runs ticks through the base class, backs off.

The supervisor never runs two ticks of its loop at once. A trigger that arrives during a tick
is merged into one follow-up tick. Switching the loop off cancels the in-flight tick (its
runner calls kill their process groups) unless the caller asked to drain; switching it on
schedules the next tick at once.

Per-tick work is kept small (1,000 loops tick every second; ``benchmarks/scheduler.py``): the
gate and the loop's services are bound once, its mode and interval are re-read on switch
events rather than per tick, the supervisor sleeps on a reusable :class:`~hydra.timer.Wakeup`
and the tick's timeout is armed on the shared :class:`~hydra.timer.Timer` (``TickControl``),
so a tick enters exactly one cancel scope and creates no event-loop timer handle.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import anyio
from anyio.abc import TaskStatus

from hydra.ids import new_run_id
from hydra.loop_config import LoopConfig
from hydra.loop_services import LoopServices
from hydra.loop_state import LoopState, LoopStatus
from hydra.sdk import (
    AuditSink,
    Logger,
    Loop,
    LoopMode,
    RepoGuard,
    TickContext,
    TickControl,
    TickOutcome,
)
from hydra.settings import OrchestratorSettings
from hydra.switches import SwitchBoard
from hydra.timer import Timer, Wakeup
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
        self.name = config.name
        self.status = LoopStatus(name=config.name)
        self._wake = Wakeup()
        self._triggered = False
        self._log_bound = deps.log.bind(loop=config.name)
        self._stopping = False
        self._running = False
        self._control = TickControl(deps.timer)
        self._idle: anyio.Event | None = None  # only while someone waits for the tick to end
        self._next_due = time.monotonic()
        self._last_due = self._next_due
        self._log = deps.log
        self._failures_before = 0  # consecutive failures before the last outcome
        # Built once, not per tick: the gate and the per-loop services.
        self._gate = partial(deps.board.blocked_reason, config.name)
        self._history = deps.services.history(config.name)
        self._state = deps.services.state(config.name)
        # The loop's mode and interval, re-read from the board on every switch event that
        # concerns it (on_switch): every runtime change of a switch is announced.
        self._mode: LoopMode = deps.board.mode(config.name)
        self._interval_s = deps.board.interval_s(config.name)

    @property
    def running(self) -> bool:
        return self._running

    # ------------------------------------------------------------------ control
    def trigger(self) -> None:
        """Run a tick now (merged with an in-flight or already pending trigger)."""
        self._triggered = True
        self._poke()

    def on_switch(
        self, *, blocked_now: bool, drain: bool, reason: str, interval_changed: bool
    ) -> None:
        board = self.deps.board
        self._mode = board.mode(self.name)
        self._interval_s = board.interval_s(self.name)
        if blocked_now and self._running and not drain:
            self.cancel_tick(reason)
        if not blocked_now and self.status.state == LoopState.DISABLED:
            self._next_due = time.monotonic()  # switched on: tick promptly
        if interval_changed:
            self._next_due = self._last_due + self._interval_with_jitter()
        self._poke()

    async def wait_idle(self) -> None:
        """Return once no tick of this loop is running."""
        if not self._running:
            return
        if self._idle is None:
            self._idle = anyio.Event()
        await self._idle.wait()

    def cancel_tick(self, reason: str) -> None:
        if self._running:
            self._control.cancel(reason)

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
            if outcome is not None and self._after(outcome):
                await self._follow_up(outcome)
            await self._sleep_after_tick()

    async def _sleep_after_tick(self) -> None:
        """Right after a tick, sleep until the next one is due; :meth:`_wait_for_turn` then
        checks the gates. A switch change in between pokes the supervisor (``on_switch``),
        which ends the sleep early, so checking the gates before sleeping would add nothing."""
        if (
            self._triggered
            or self._stopping
            or self.status.state != LoopState.WAITING
            or time.monotonic() >= self._next_due
        ):
            return
        self.deps.timer.schedule(id(self), self._next_due, self._wake.set)
        await self._wake.wait()

    async def _wait_for_turn(self) -> None:
        timer, key, status = self.deps.timer, id(self), self.status
        while not self._stopping:
            blocked = self._gate()
            if status.state == LoopState.STOPPED:
                blocked = status.stop_reason
            status.blocked_reason = blocked
            if blocked is None and (self._triggered or time.monotonic() >= self._next_due):
                return
            if blocked is not None:
                if status.state != LoopState.STOPPED:
                    status.state = LoopState.DISABLED
                self._triggered = False
                timer.cancel(key)
            else:
                if status.state == LoopState.DISABLED:
                    status.state = LoopState.WAITING
                timer.schedule(key, self._next_due, self._wake.set)
            await self._wake.wait()
        timer.cancel(key)

    async def _tick_once(self, trigger: str, due: float) -> TickOutcome | None:
        started = time.monotonic()
        lateness_ms = max(0.0, (started - due) * 1000)
        run_id = new_run_id()
        name, deps, sink = self.name, self.deps, self.sink
        mode = self._mode
        ctx: TickContext[Any] = TickContext(
            loop=name,
            run_id=run_id,
            trigger=trigger,
            options=self.config.options,
            mode=mode,
            world=deps.world_for(name, mode, sink),
            sink=sink,
            logger=self._log_bound,
            history=self._history,
            state=self._state,
            escalations=deps.services.desk(name, run_id),
            repos=deps.board.enabled_repos(),
            repo_guard=deps.repo_guard,
            schedule={"lateness_ms": round(lateness_ms, 3)},
        )
        status = self.status
        status.state = LoopState.RUNNING
        status.running_run_id = run_id
        status.last_started_at = time.time()
        status.lateness_ms.append(lateness_ms)
        self._last_due = due
        control = self._control
        control.reset()
        self._running = True
        try:
            outcome = await self.loop.run_tick(
                ctx, gate=self._gate, timeout_s=self.config.timeout_s, control=control
            )
        finally:
            self._running = False
            if self._idle is not None:
                self._idle.set()
                self._idle = None
            status.running_run_id = None
            status.last_finished_at = time.time()
        if outcome is None:  # cancelled by a switch: the next tick waits for its normal turn
            status.state = LoopState.WAITING
            self._next_due = max(self._next_due, due + self._interval_with_jitter())
            self._publish_next_due()
        return outcome

    def _after(self, outcome: TickOutcome) -> bool:
        """Account for ``outcome`` and schedule the next tick; True if :meth:`_follow_up` must
        run (terminal outcome, or the loop turned unhealthy or recovered)."""
        for observe in self.deps.observers:
            observe(self.name, outcome)
        if outcome.kind == "skipped":
            return False
        status = self.status
        status.ticks += 1
        status.last_outcome = outcome
        failures_before = status.consecutive_failures
        interval = self._interval_with_jitter()
        # The status is complete before anything is awaited, so readers never see a failure
        # count without its backoff.
        failed = outcome.failed
        if failed:
            status.consecutive_failures += 1
            status.backoff_s = self._backoff_s()
            status.state = LoopState.BACKING_OFF
            self._next_due = time.monotonic() + max(interval, status.backoff_s)
        else:
            status.consecutive_failures = 0
            status.backoff_s = 0.0
            status.state = LoopState.WAITING
            self._next_due = max(self._last_due + interval, time.monotonic())
        self._failures_before = failures_before
        self._publish_next_due()
        return outcome.kind == "terminal" or (failed if failures_before == 0 else not failed)

    async def _follow_up(self, outcome: TickOutcome) -> None:
        failures_before = self._failures_before
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
        interval = self._interval_s
        jitter = self.deps.settings.jitter_ratio
        return float(interval * (1 + random.random() * jitter) if jitter else interval)  # noqa: S311

    def _publish_next_due(self) -> None:
        self.status.next_due_at = time.time() + max(self._next_due - time.monotonic(), 0.0)
