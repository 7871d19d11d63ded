"""The world a loop acts on: one set of port implementations, chosen by settings."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from ports._info import PortInfo
from ports.agent import AgentPort
from ports.changes import ChangeRequestPort
from ports.clock import Clock
from ports.host import HostPort
from ports.issues import IssuePort
from ports.sandbox import SandboxPort
from ports.workspace import WorkspacePort

WorldKind = Literal["local", "github", "fake"]

REPO_PORTS = ("issues", "changes", "workspace", "sandbox")
"""Port names that exist once per managed repository."""
GLOBAL_PORTS = ("agent", "host", "clock")
"""Port names shared by the whole world."""
PORT_NAMES = REPO_PORTS + GLOBAL_PORTS
"""Every name a loop may list in its ``ports`` metadata."""


@dataclass(frozen=True)
class RepoPorts:
    """The ports of one managed repository."""

    name: str
    issues: IssuePort
    changes: ChangeRequestPort
    workspace: WorkspacePort
    sandbox: SandboxPort

    def port_infos(self) -> dict[str, PortInfo]:
        return {
            "issues": self.issues.info(),
            "changes": self.changes.info(),
            "workspace": self.workspace.info(),
            "sandbox": self.sandbox.info(),
        }


@dataclass(frozen=True)
class World:
    """Everything outside the daemon, as ports."""

    kind: WorldKind
    agent: AgentPort
    host: HostPort
    clock: Clock
    repos: Mapping[str, RepoPorts] = field(default_factory=dict)

    def repo(self, name: str) -> RepoPorts:
        """The ports of one managed repository; KeyError names the unknown repository."""
        try:
            return self.repos[name]
        except KeyError:
            raise KeyError(f"unknown repository {name!r}") from None

    def port_infos(self) -> dict[str, PortInfo]:
        """Every port's self-description, repository ports keyed ``<repo>/<port>``."""
        infos = {"agent": self.agent.info(), "host": self.host.info()}
        for repo in self.repos.values():
            for port, info in repo.port_infos().items():
                infos[f"{repo.name}/{port}"] = info
        return infos
