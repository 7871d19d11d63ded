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
from typing import Any, ClassVar, Generic, final

import anyio
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
        cancel_reason: Callable[[], str] = lambda: "cancelled",
    ) -> TickOutcome:
        """Run one tick under every rule of the loop contract.

        Returns the outcome; re-raises cancellation after recording ``tick.cancelled``.
        Errors of the audit stream itself (damaged stream, failed fsync) propagate: without
        its record a tick must not run.
        """
        blocked = gate()
        if blocked is not None:
            return TickOutcome(kind="skipped", run_id=None, error=blocked)
        payload: dict[str, Any] = {"trigger": ctx.trigger, "mode": ctx.mode, **ctx.schedule}
        await ctx.sink.append("tick.started", actor=ctx.actor, payload=payload, run=ctx.run_id)
        started = time.monotonic()
        token = CURRENT_TICK.set(TickRef(ctx.loop, ctx.run_id))
        try:
            with anyio.move_on_after(timeout_s) as deadline:
                result = await self.tick(ctx)
            if deadline.cancelled_caught:
                return await self._record_timeout(ctx, started, timeout_s)
            if not isinstance(result, TickResult):
                raise TypeError(f"tick() returned {type(result).__name__}, expected TickResult")
        except anyio.get_cancelled_exc_class():
            with anyio.CancelScope(shield=True), anyio.move_on_after(CANCEL_RECORD_TIMEOUT_S):
                await ctx.sink.append(
                    "tick.cancelled",
                    actor=ctx.actor,
                    payload={"reason": cancel_reason(), "duration_ms": _ms_since(started)},
                    run=ctx.run_id,
                )
            raise
        except Exception as exc:  # noqa: BLE001 - crash isolation is the point of this method
            return await self._record_crash(ctx, started, exc)
        finally:
            CURRENT_TICK.reset(token)
        duration = time.monotonic() - started
        await ctx.sink.append(
            "tick.finished",
            actor=ctx.actor,
            payload={**result.to_payload(), "duration_ms": round(duration * 1000, 3)},
            run=ctx.run_id,
        )
        return TickOutcome(kind="finished", run_id=ctx.run_id, duration_s=duration, result=result)

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
