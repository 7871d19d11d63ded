"""Runtime services a loop may use besides its ports: its own history, state, escalations.

All three are Protocols here; the runtime implements them (:mod:`hydra.loop_services`) and
tests can use the same implementations on a temp dir.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

EscalationState = Literal["open", "acknowledged", "resolved"]


class LoopHistory(Protocol):
    """Read-only access to the loop's own audit stream (the source of truth across restarts)."""

    async def find(
        self,
        actions: Collection[str],
        *,
        where: Mapping[str, object] | None = None,
        limit: int | None = None,
    ) -> list[Mapping[str, Any]]:
        """Records whose action is one of ``actions`` and whose payload has every key of
        ``where`` with an equal value; oldest first; the newest ``limit`` when given."""
        ...


class StateStore(Protocol):
    """A small durable key-value store of the loop (JSON values; atomic, fsynced writes)."""

    async def get(self, key: str, default: Any = None) -> Any:
        """The stored value, or ``default``."""
        ...

    async def put(self, key: str, value: Any) -> None:
        """Store ``value`` (JSON-serialisable); durable on return."""
        ...

    async def delete(self, key: str) -> None:
        """Forget ``key`` (no error when absent); durable on return."""
        ...

    async def items(self) -> dict[str, Any]:
        """Every key and value."""
        ...


@dataclass(frozen=True)
class Escalation:
    """One entry of the human-escalation queue."""

    id: str
    key: str
    """Stable identity chosen by the loop (the same key updates the open entry)."""
    loop: str
    title: str
    summary: str
    state: EscalationState
    created_at: str
    updated_at: str
    repo: str | None = None
    details: Mapping[str, Any] = field(default_factory=dict)
    note: str | None = None
    by: str | None = None


class EscalationDesk(Protocol):
    """The human-escalation queue, as a loop sees it."""

    async def escalate(
        self,
        *,
        key: str,
        title: str,
        summary: str,
        repo: str | None = None,
        details: Mapping[str, Any] | None = None,
    ) -> Escalation:
        """Open an entry, or update the open/acknowledged entry with the same ``key``.

        Durable and audited (``escalations`` stream) on return.
        """
        ...

    async def find(self, key: str) -> Escalation | None:
        """The newest entry with ``key`` (any state), or ``None``."""
        ...
