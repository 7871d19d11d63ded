"""Markers that ports put on their methods so the runtime can reason about them.

A port method that changes the world (labels an issue, posts a review, runs an agent that
spends money, commits) is marked with :func:`mutating`. The runtime uses the mark to apply
*shadow mode* to any loop without its cooperation: in shadow mode a mutating call is recorded
as a ``would.<action>`` audit record and the ``shadow`` factory supplies the return value.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

F = TypeVar("F", bound=Callable[..., Any])

MUTATING_ATTR = "__hydra_mutating__"


@dataclass(frozen=True)
class Mutation:
    """What the runtime needs to know about a mutating port method."""

    action: str
    """Short verb recorded as ``would.<action>`` in shadow mode (``label``, ``agent_run``…)."""
    shadow: Callable[..., Any] | None = None
    """Builds the value returned in shadow mode from the call's arguments (without ``self``);
    ``None`` means the method returns ``None``."""


def mutating(action: str, *, shadow: Callable[..., Any] | None = None) -> Callable[[F], F]:
    """Mark a port method as one that changes the world."""

    def mark(fn: F) -> F:
        setattr(fn, MUTATING_ATTR, Mutation(action=action, shadow=shadow))
        return fn

    return mark


def mutation_of(fn: object) -> Mutation | None:
    """The :class:`Mutation` mark of a port method, or ``None`` for a read-only method."""
    mark = getattr(fn, MUTATING_ATTR, None)
    return mark if isinstance(mark, Mutation) else None
