"""Working on one managed repository inside a tick, under that repository's kill-switch."""

from __future__ import annotations

from types import TracebackType
from typing import TYPE_CHECKING, Any, Protocol

import anyio

from ports import RepoPorts

if TYPE_CHECKING:
    from hydra.sdk._context import TickContext

_RECORD_TIMEOUT_S = 5.0


class RepoGuard(Protocol):
    """The runtime's side of per-repository switches (see :meth:`TickContext.repo`)."""

    def enabled(self, repo: str) -> bool:
        """Whether ``repo``'s switch is on now."""
        ...

    def register(self, repo: str, scope: anyio.CancelScope) -> None:
        """Cancel ``scope`` when ``repo`` is switched off."""
        ...

    def unregister(self, repo: str, scope: anyio.CancelScope) -> None: ...


class RepoWork:
    """``async with ctx.repo(name) as ports:`` — the block is cancelled (and the tick goes on
    with the next repository) when the repository is switched off, recording
    ``repo.cancelled``. Cancellation from outside (the loop's own switch) propagates."""

    def __init__(self, ctx: TickContext[Any], name: str, guard: RepoGuard | None) -> None:
        self._ctx = ctx
        self._name = name
        self._guard = guard
        self._scope = anyio.CancelScope()

    async def __aenter__(self) -> RepoPorts:
        ports = self._ctx.world.repo(self._name)
        self._scope.__enter__()
        if self._guard is not None:
            self._guard.register(self._name, self._scope)
            if not self._guard.enabled(self._name):
                self._scope.cancel()
        return ports

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> bool:
        if self._guard is not None:
            self._guard.unregister(self._name, self._scope)
        suppressed = bool(self._scope.__exit__(exc_type, exc, tb))
        if self._scope.cancelled_caught:
            with anyio.CancelScope(shield=True), anyio.move_on_after(_RECORD_TIMEOUT_S):
                await self._ctx.audit(
                    "repo.cancelled", {"repo": self._name, "reason": "repository switched off"}
                )
        return suppressed
