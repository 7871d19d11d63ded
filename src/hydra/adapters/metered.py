"""An agent wrapper that charges each run's reported cost to the ledger.

Real CLI agents are metered by the subprocess runner (every attempt's usage goes to the cost
ledger). An agent that spawns nothing — the fake world's — is wrapped in :class:`MeteredAgent`
so the dashboard and budgets see its spend exactly as they would a real one's.
"""

from __future__ import annotations

from typing import Protocol

from ports import AgentLimits, AgentPort, AgentResult, PortInfo


class CostSink(Protocol):
    async def record(
        self, *, source: str, model: str | None, input_tokens: int, output_tokens: int, usd: float
    ) -> None: ...


class MeteredAgent(AgentPort):
    def __init__(self, inner: AgentPort, sink: CostSink) -> None:
        self._inner = inner
        self._sink = sink

    def info(self) -> PortInfo:
        return self._inner.info()

    async def run(
        self, *, prompt: str, workdir: str, limits: AgentLimits, source: str
    ) -> AgentResult:
        result = await self._inner.run(prompt=prompt, workdir=workdir, limits=limits, source=source)
        if result.status not in ("unconfigured", "shadow"):
            await self._sink.record(
                source=f"agent.{result.provider}:{source}",
                model=result.model,
                input_tokens=result.input_tokens,
                output_tokens=result.output_tokens,
                usd=result.usd,
            )
        return result
