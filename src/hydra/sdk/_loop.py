"""The loop base class: metadata on the class, and the tick lifecycle no loop can skip.

A loop subclasses :class:`Loop`, declares its metadata as class attributes and implements
:meth:`Loop.tick`. The runtime only ever calls :meth:`Loop.run_tick`, which owns what every
loop must do: the kill-switch gate right before the tick, ``tick.*`` audit records with a run
id, the tick timeout, cost attribution of every runner call, crash isolation and audited
cancellation.
"""

from __future__ import annotations

import re
import time
import traceback
from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import Any, ClassVar, Generic, Protocol, final

import anyio
from anyio import CancelScope
from pydantic import BaseModel, ConfigDict

from hydra.sdk._attribution import CURRENT_TICK, TickRef
from hydra.sdk._context import LoopMode, OptionsT, TickContext
from hydra.sdk._result import TickOutcome, TickResult
from ports import PORT_NAMES, TerminalPortError

NAME_RE = re.compile(r"^[a-z][a-z0-9_]{1,39}$")
RESERVED_NAMES = frozenset(
    {"control", "costs", "audit", "daemon", "escalations", "api", "changes", "streams"}
)
CANCEL_RECORD_TIMEOUT_S = 5.0
_TRACEBACK_LINES = 12


class Deadlines(Protocol):
    """A shared timer on ``time.monotonic()`` (the runtime's :class:`hydra.timer.Timer`)."""

    def schedule(self, owner: int, due: float, wake: Callable[[], None]) -> None:
        """Call ``wake()`` at ``due``; replaces ``owner``'s previous request."""

    def cancel(self, owner: int) -> None:
        """Forget ``owner``'s pending request."""


class TickControl:
    """The runtime's handle on the tick in flight: cancels it from outside, with a reason.

    Pass one to :meth:`Loop.run_tick`; :meth:`cancel` may come before the tick body started
    (it then never runs) or while it runs (its cancel scope is cancelled). Either way the tick
    records ``tick.cancelled`` with ``reason`` and ``run_tick`` returns ``None``. With
    ``deadlines`` the tick timeout is armed on that shared timer instead of an event-loop timer
    handle per tick. Reusable: :meth:`reset` before each tick.
    """

    __slots__ = ("_expired", "_scope", "deadlines", "reason")

    def __init__(self, deadlines: Deadlines | None = None) -> None:
        self.deadlines = deadlines
        self.reason: str | None = None
        self._expired = False
        self._scope: anyio.CancelScope | None = None

    def reset(self) -> None:
        self.reason = None
        self._expired = False
        self._scope = None

    @property
    def expired(self) -> bool:
        """The tick timeout fired first (the tick body is being cancelled for running too
        long, not stopped by a switch or shutdown)."""
        if self._expired:
            return True
        if self.reason is not None:
            return False
        scope = self._scope  # without a shared timer: the scope's own deadline
        return scope is not None and scope.cancel_called and anyio.current_time() >= scope.deadline

    def cancel(self, reason: str) -> None:
        self.reason = reason
        if self._scope is not None:
            self._scope.cancel()

    def _expire(self) -> None:
        """The deadline passed: cancel the tick body (``reason`` stays unset: a timeout)."""
        if self._scope is not None and self.reason is None:  # a switch-off came first
            self._expired = True
            self._scope.cancel()


class NoOptions(BaseModel):
    """Options model of a loop that has none."""

    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)


class Loop(ABC, Generic[OptionsT]):
    """Base class of every caretaker loop."""

    name: ClassVar[str]
    """Registry key, audit stream name and ``[loops.<name>]`` table: ``[a-z][a-z0-9_]+``."""
    description: ClassVar[str]
    """One line for the dashboard and the loop catalogue."""
    area: ClassVar[str]
    """Functional area (``operations``, ``quality``, ``delivery``…)."""
    default_interval_s: ClassVar[float]
    interval_bounds: ClassVar[tuple[float, float]]
    """Inclusive bounds for ``interval_s`` set in config, the API or the dashboard."""
    ports: ClassVar[tuple[str, ...]] = ()
    """World ports the loop uses (names from :data:`ports.PORT_NAMES`)."""
    Options: ClassVar[type[BaseModel]] = NoOptions
    """Pydantic model of the loop's own ``[loops.<name>]`` keys."""
    default_timeout_s: ClassVar[float] = 600.0
    default_mode: ClassVar[LoopMode] = "live"
    """``shadow`` for loops that spend money until the operator says ``live``."""
    audit_actions: ClassVar[tuple[str, ...]] = ()
    """Loop-specific audit actions (besides ``tick.*``), for the catalogue."""

    def __init__(self, options: OptionsT) -> None:
        self.options = options

    @abstractmethod
    async def tick(self, ctx: TickContext[OptionsT]) -> TickResult:
        """Do one round of work and say how it went."""

    @final
    async def run_tick(
        self,
        ctx: TickContext[OptionsT],
        *,
        gate: Callable[[], str | None],
        timeout_s: float,
        control: TickControl | None = None,
    ) -> TickOutcome | None:
        """Run one tick under every rule of the loop contract.

        Returns the outcome, or ``None`` when ``control`` cancelled the tick (``tick.cancelled``
        is then recorded with the control's reason). A cancellation from outside (an enclosing
        cancel scope) is recorded the same way and re-raised. Errors of the audit stream itself
        (damaged stream, failed fsync) propagate: without its record a tick must not run.
        """
        blocked = gate()
        if blocked is not None:
            return TickOutcome(kind="skipped", run_id=None, error=blocked)
        run_id, actor, sink = ctx.run_id, ctx.actor, ctx.sink
        payload: dict[str, Any] = {"trigger": ctx.trigger, "mode": ctx.mode, **ctx.schedule}
        await sink.append("tick.started", actor=actor, payload=payload, run=run_id)
        started = time.monotonic()
        token = CURRENT_TICK.set(TickRef(ctx.loop, run_id))
        # One cancel scope per tick: cancelled at the tick timeout, or from outside through
        # ``control`` (switch-off, shutdown); ``control.reason`` tells the two apart.
        scope = _tick_scope(control, started + timeout_s, timeout_s)
        try:
            if control is not None:
                if control.reason is not None:  # cancelled while tick.started was committing
                    await self._record_cancelled(ctx, started, control.reason)
                    return None
                control._scope = scope
                ctx.control = control
            with scope:
                result = await self.tick(ctx)
            if scope.cancelled_caught:
                if control is not None and control.reason is not None:
                    await self._record_cancelled(ctx, started, control.reason)
                    return None
                return await self._record_timeout(ctx, started, timeout_s)
            if not isinstance(result, TickResult):
                raise TypeError(f"tick() returned {type(result).__name__}, expected TickResult")
        except anyio.get_cancelled_exc_class():
            reason = "cancelled" if control is None or control.reason is None else control.reason
            await self._record_cancelled(ctx, started, reason)
            raise
        except Exception as exc:  # noqa: BLE001 - crash isolation is the point of this method
            return await self._record_crash(ctx, started, exc)
        finally:
            if control is not None:
                control._scope = None
                if control.deadlines is not None:
                    control.deadlines.cancel(id(control))
            CURRENT_TICK.reset(token)
        duration = time.monotonic() - started
        finished = result.to_payload()
        finished["duration_ms"] = round(duration * 1000, 3)
        await sink.append("tick.finished", actor=actor, payload=finished, run=run_id)
        return TickOutcome(kind="finished", run_id=run_id, duration_s=duration, result=result)

    async def _record_cancelled(
        self, ctx: TickContext[OptionsT], started: float, reason: str
    ) -> None:
        with anyio.CancelScope(shield=True), anyio.move_on_after(CANCEL_RECORD_TIMEOUT_S):
            await ctx.sink.append(
                "tick.cancelled",
                actor=ctx.actor,
                payload={"reason": reason, "duration_ms": _ms_since(started)},
                run=ctx.run_id,
            )

    async def _record_timeout(
        self, ctx: TickContext[OptionsT], started: float, timeout_s: float
    ) -> TickOutcome:
        duration = time.monotonic() - started
        await ctx.sink.append(
            "tick.timed_out",
            actor=ctx.actor,
            payload={"timeout_s": timeout_s, "duration_ms": round(duration * 1000, 3)},
            run=ctx.run_id,
        )
        return TickOutcome(
            kind="timed_out",
            run_id=ctx.run_id,
            duration_s=duration,
            error=f"timeout after {timeout_s} s",
        )

    async def _record_crash(
        self, ctx: TickContext[OptionsT], started: float, exc: Exception
    ) -> TickOutcome:
        duration = time.monotonic() - started
        terminal = _find_terminal(exc)
        error = f"{type(exc).__name__}: {exc}"
        payload: dict[str, Any] = {
            "error": error,
            "traceback": _traceback_tail(exc),
            "duration_ms": round(duration * 1000, 3),
        }
        if terminal is not None:
            payload["terminal"] = terminal.reason
            error = f"{type(terminal).__name__}: {terminal}"
            payload["error"] = error
        await ctx.sink.append("tick.crashed", actor=ctx.actor, payload=payload, run=ctx.run_id)
        return TickOutcome(
            kind="terminal" if terminal is not None else "crashed",
            run_id=ctx.run_id,
            duration_s=duration,
            error=error,
            terminal_reason=terminal.reason if terminal is not None else None,
        )


def _tick_scope(control: TickControl | None, deadline: float, timeout_s: float) -> CancelScope:
    """The tick body's cancel scope; its timeout armed on the control's shared timer if any."""
    if control is None or control.deadlines is None:
        return anyio.move_on_after(timeout_s)
    control.deadlines.schedule(id(control), deadline, control._expire)
    return anyio.CancelScope()


def _find_terminal(exc: BaseException) -> TerminalPortError | None:
    if isinstance(exc, TerminalPortError):
        return exc
    if isinstance(exc, BaseExceptionGroup):
        for inner in exc.exceptions:
            found = _find_terminal(inner)
            if found is not None:
                return found
    return None


def _traceback_tail(exc: BaseException) -> list[str]:
    lines = traceback.format_exception(exc)
    flat = "".join(lines).rstrip().splitlines()
    return flat[-_TRACEBACK_LINES:]


def _ms_since(started: float) -> float:
    return round((time.monotonic() - started) * 1000, 3)


def metadata_problems(cls: type[Any]) -> list[str]:
    """Everything wrong with a loop class's metadata (empty when it is valid)."""
    if not (isinstance(cls, type) and issubclass(cls, Loop)):
        return [f"{cls!r} is not a subclass of hydra.sdk.Loop"]
    problems: list[str] = []
    name = getattr(cls, "name", None)
    if not isinstance(name, str) or not NAME_RE.match(name):
        problems.append(f"name {name!r} must match {NAME_RE.pattern}")
    elif name in RESERVED_NAMES:
        problems.append(f"name {name!r} is reserved for a runtime stream")
    description = getattr(cls, "description", None)
    if not isinstance(description, str) or not description.strip():
        problems.append("missing description")
    elif "\n" in description.strip():
        problems.append("description must be one line")
    area = getattr(cls, "area", None)
    if not isinstance(area, str) or not area.strip():
        problems.append("missing area")
    problems.extend(_interval_problems(cls))
    unknown = [p for p in getattr(cls, "ports", ()) if p not in PORT_NAMES]
    if unknown:
        problems.append(f"unknown ports {unknown}; known: {list(PORT_NAMES)}")
    options = getattr(cls, "Options", None)
    if not (isinstance(options, type) and issubclass(options, BaseModel)):
        problems.append("Options must be a pydantic BaseModel subclass")
    if getattr(cls, "__abstractmethods__", None):
        problems.append(f"abstract methods not implemented: {sorted(cls.__abstractmethods__)}")
    timeout = getattr(cls, "default_timeout_s", None)
    if not isinstance(timeout, int | float) or timeout <= 0:
        problems.append(f"default_timeout_s {timeout!r} must be a positive number")
    if getattr(cls, "default_mode", None) not in ("live", "shadow"):
        problems.append("default_mode must be 'live' or 'shadow'")
    return problems


def _interval_problems(cls: type[Any]) -> list[str]:
    bounds = getattr(cls, "interval_bounds", None)
    default = getattr(cls, "default_interval_s", None)
    if not (
        isinstance(bounds, tuple)
        and len(bounds) == 2
        and all(isinstance(b, int | float) for b in bounds)
    ):
        return [f"interval_bounds {bounds!r} must be a (low, high) pair of numbers"]
    low, high = bounds
    if not 0 < low <= high:
        return [f"interval_bounds {bounds!r} must satisfy 0 < low <= high"]
    if not isinstance(default, int | float):
        return ["missing default_interval_s"]
    if not low <= default <= high:
        return [f"default interval {default} s is outside its bounds [{low}, {high}]"]
    return []
