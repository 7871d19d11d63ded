"""Builds the :class:`ports.World` that settings choose (``local``, ``github`` or ``fake``)."""

from __future__ import annotations

from pathlib import Path

from hydra.adapters.host import PsutilHost
from hydra.adapters.unconfigured import (
    UnconfiguredAgent,
    UnconfiguredChanges,
    UnconfiguredIssues,
    UnconfiguredSandbox,
    UnconfiguredWorkspace,
)
from hydra.clock import SystemClock
from hydra.settings import HydraSettings
from ports import RepoPorts, World


def build_world(settings: HydraSettings, data_dir: Path) -> World:
    host = PsutilHost(data_dir, data_dir / "audit")
    why = f"the {settings.world} world's adapters are not built yet"
    repo = RepoPorts(
        name=Path.cwd().name,
        issues=UnconfiguredIssues(why),
        changes=UnconfiguredChanges(why),
        workspace=UnconfiguredWorkspace(why),
        sandbox=UnconfiguredSandbox(why),
    )
    return World(
        kind=settings.world,
        agent=UnconfiguredAgent(why),
        host=host,
        clock=SystemClock(),
        repos={repo.name: repo},
    )
