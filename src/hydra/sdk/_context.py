"""The context a loop's tick receives: its options, its world, its audit stream."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Generic, Literal, Protocol, TypeVar

from pydantic import BaseModel

from hydra.sdk._repo import RepoGuard, RepoWork
from hydra.sdk._services import EscalationDesk, LoopHistory, StateStore
from ports import World

OptionsT = TypeVar("OptionsT", bound=BaseModel)
LoopMode = Literal["live", "shadow"]


class AuditSink(Protocol):
    """Where a loop's records go (the runtime passes the loop's audit stream)."""

    async def append(
        self,
        action: str,
        *,
        actor: str,
        payload: Mapping[str, object] | None = None,
        run: str | None = None,
    ) -> object:
        """Append one record; returns once it is durable."""
        ...


class Logger(Protocol):
    """The slice of a structlog bound logger that loops use."""

    def bind(self, **kw: Any) -> Logger: ...
    def debug(self, event: str, **kw: Any) -> Any: ...
    def info(self, event: str, **kw: Any) -> Any: ...
    def warning(self, event: str, **kw: Any) -> Any: ...
    def error(self, event: str, **kw: Any) -> Any: ...


class CancelCause(Protocol):
    """The runtime's handle on a tick in flight, as a tick sees it."""

    @property
    def expired(self) -> bool:
        """Whether the tick timeout fired."""
        ...


@dataclass
class TickContext(Generic[OptionsT]):
    """Everything one tick may use. Built by the runtime for each tick."""

    loop: str
    run_id: str
    trigger: str
    """``schedule``, ``manual`` (trigger-now) or ``startup``."""
    options: OptionsT
    mode: LoopMode
    world: World
    """The ports; in shadow mode every mutating call is recorded instead of carried out."""
    sink: AuditSink
    logger: Logger
    """Bound to the loop's name; :attr:`log` adds the run id."""
    history: LoopHistory
    """The loop's own audit stream, read-only."""
    state: StateStore
    """The loop's durable key-value state."""
    escalations: EscalationDesk
    """The human-escalation queue."""
    repos: tuple[str, ...] = ()
    """Managed repositories whose switch is on, in settings order."""
    schedule: Mapping[str, Any] = field(default_factory=dict)
    """When the tick was due and how late it started (recorded in ``tick.started``)."""
    repo_guard: RepoGuard | None = None
    """The runtime's per-repository switches (``None`` in bare unit tests)."""
    control: CancelCause | None = None
    """Set by the runtime for the tick in flight (see :meth:`timed_out`)."""

    def timed_out(self) -> bool:
        """Whether this tick is being cancelled because it ran past its timeout.

        Loops use it to decide whether an interrupted attempt counts toward their caps: running
        out of time does; a switch-off, shutdown, a sibling's terminal error or a repository
        switched off does not.
        """
        return self.control is not None and self.control.expired

    def repo(self, name: str) -> RepoWork:
        """Work on repository ``name`` under its kill-switch::

            for name in ctx.repos:
                async with ctx.repo(name) as repo:
                    issues = await repo.issues.list_issues(...)

        Switching the repository off cancels the block (recorded as ``repo.cancelled``) and the
        tick carries on after it.
        """
        return RepoWork(self, name, self.repo_guard)

    @cached_property
    def log(self) -> Logger:
        """The loop's logger bound to this run."""
        return self.logger.bind(run=self.run_id)

    @property
    def actor(self) -> str:
        return f"loop:{self.loop}"

    async def audit(self, action: str, payload: Mapping[str, object] | None = None) -> None:
        """Append a record to this loop's stream, tagged with the run id. Durable on return."""
        await self.sink.append(action, actor=self.actor, payload=payload, run=self.run_id)
