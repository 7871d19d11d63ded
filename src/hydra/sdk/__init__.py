"""The loop SDK: everything a caretaker loop module may import from ``hydra``.

Loops import this package and :mod:`ports`, nothing else of the runtime (an import-linter
contract holds them to it).
"""

from __future__ import annotations

from hydra.sdk._attribution import CURRENT_TICK, TickRef, current_tick
from hydra.sdk._context import AuditSink, Logger, LoopMode, OptionsT, TickContext
from hydra.sdk._loop import RESERVED_NAMES, Loop, NoOptions, TickControl, metadata_problems
from hydra.sdk._repo import RepoGuard, RepoWork
from hydra.sdk._result import OutcomeKind, TickOutcome, TickResult, TickStatus
from hydra.sdk._services import (
    Escalation,
    EscalationDesk,
    EscalationState,
    LoopHistory,
    StateStore,
)

__all__ = [
    "CURRENT_TICK",
    "RESERVED_NAMES",
    "AuditSink",
    "Escalation",
    "EscalationDesk",
    "EscalationState",
    "Logger",
    "Loop",
    "LoopHistory",
    "LoopMode",
    "NoOptions",
    "OptionsT",
    "OutcomeKind",
    "RepoGuard",
    "RepoWork",
    "StateStore",
    "TickContext",
    "TickControl",
    "TickOutcome",
    "TickRef",
    "TickResult",
    "TickStatus",
    "current_tick",
    "metadata_problems",
]
