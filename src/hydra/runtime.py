"""The running daemon's parts, bundled for the web layer and the CLI's ``run`` command."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hydra.budgets import BudgetGuard
from hydra.costs import CostLedger
from hydra.escalations import EscalationQueue
from hydra.fatal import FatalSignal
from hydra.loop_config import LoopConfig
from hydra.orchestrator import Orchestrator
from hydra.redact import Redactor
from hydra.registry import LoopRegistry
from hydra.settings import HydraSettings
from hydra.switches import SwitchBoard
from ports import World


@dataclass
class Runtime:
    settings: HydraSettings
    registry: LoopRegistry
    configs: dict[str, LoopConfig]
    board: SwitchBoard
    orchestrator: Orchestrator
    ledger: CostLedger
    world: World
    audit: Any
    """The process's :class:`hydra.audit.AuditLog`."""
    token: str
    data_dir: Path
    started_at: str
    escalations: EscalationQueue | None = None
    budgets: BudgetGuard | None = None
    problems: list[str] = field(default_factory=list)
    """Loud conditions the operator must see (damaged audit streams…)."""
    fatal: FatalSignal = field(default_factory=FatalSignal)
    """Pulled on a failed fsync; the daemon then stops (exit 70)."""
    redactor: Redactor = field(default_factory=Redactor)
    """The daemon's one :class:`~hydra.redact.Redactor` (the one its log lines and audit
    payloads go through): the API redacts with it the free text it serves from live state.
    The API token is registered with it in any case."""

    def __post_init__(self) -> None:
        self.redactor.add_secrets([self.token])
