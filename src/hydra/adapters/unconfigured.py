"""The agent port of a world with no agent CLI: it says ``unconfigured`` and does nothing.

Used when no ``claude`` or ``codex`` is on PATH, or ``[agent] provider = "none"``. Loops
surface the condition as their tick status (``unconfigured``) instead of crashing; the health
loop lists the port. (Repository ports need no stand-in: each real adapter reports its own
missing dependency through ``info()``, e.g. ``gh`` or ``sh`` not on PATH.)
"""

from __future__ import annotations

from ports import AgentLimits, AgentPort, AgentResult, PortInfo


class UnconfiguredAgent(AgentPort):
    """An :class:`ports.AgentPort` whose every run returns ``unconfigured`` with the reason."""

    def __init__(self, why: str) -> None:
        self._why = why

    def info(self) -> PortInfo:
        return PortInfo(implementation="none", state="unconfigured", detail=self._why)

    async def run(
        self, *, prompt: str, workdir: str, limits: AgentLimits, source: str
    ) -> AgentResult:
        return AgentResult(status="unconfigured", summary=self._why, provider="none")
