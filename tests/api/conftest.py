from __future__ import annotations

from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from hydra.api import create_app
from hydra.api.metrics import Metrics
from hydra.budgets import BudgetGuard
from hydra.costs import CostLedger
from hydra.escalations import EscalationQueue
from hydra.runtime import Runtime
from hydra.sdk import Escalation, Loop
from hydra.settings import HydraSettings
from tests.helpers.harness import Harness, running
from tests.helpers.loops import BlockingLoop, CountingLoop, Probe

TOKEN = "test-token-0123456789abcdef"
BASE_URL = "http://127.0.0.1:8765"


@pytest.fixture(autouse=True)
def _probe() -> Iterator[None]:
    Probe.reset()
    yield
    Probe.reset()


@dataclass
class Api:
    client: httpx.AsyncClient
    harness: Harness
    runtime: Runtime
    app: Starlette
    metrics: Metrics

    @property
    def escalations(self) -> EscalationQueue:
        assert self.runtime.escalations is not None
        return self.runtime.escalations

    def records(self, stream: str, action: str | None = None) -> list[dict[str, Any]]:
        return self.harness.records(stream, action)

    async def escalate(self, key: str, *, loop: str = "counting") -> Escalation:
        """Open an escalation the way a loop's tick does (audited in ``escalations``)."""
        return await self.escalations.escalate(
            loop=loop, key=key, title=f"needs a human: {key}", summary="details", repo="r"
        )

    async def spend(
        self, usd: float, *, loop: str | None = "counting", source: str = "agent.fake"
    ) -> None:
        """Record one runner call's cost, as the runner's cost sink does."""
        await self.runtime.ledger.record(
            source=source,
            loop=loop,
            run="run-1",
            model="m",
            input_tokens=100,
            output_tokens=10,
            usd=usd,
        )


def make_runtime(h: Harness, root: Path, costs: Any, **settings: Any) -> Runtime:
    board = h.board
    ledger = CostLedger(costs)
    return Runtime(
        settings=HydraSettings(data_dir=root, **settings),
        registry=h.orchestrator.registry,
        configs=h.configs,
        board=board,
        orchestrator=h.orchestrator,
        ledger=ledger,
        world=h.orchestrator.deps.world_for("counting", "live", costs),
        audit=h.audit,
        token=TOKEN,
        data_dir=root,
        started_at="2026-11-22T00:00:00.000000Z",
        escalations=h.services.escalations,
        budgets=BudgetGuard(ledger, board),
    )


DEFAULT_TABLES = {"counting": {"interval_s": 3600}, "blocking": {"enabled": False}}


@asynccontextmanager
async def open_api(
    root: Path,
    loops: Sequence[type[Loop[Any]]] = (CountingLoop, BlockingLoop),
    tables: Mapping[str, Mapping[str, Any]] = DEFAULT_TABLES,
    **settings: Any,
) -> AsyncIterator[Api]:
    """The ASGI app over a running in-process orchestrator (harness) with the given loops."""
    metrics = Metrics()
    async with running(root, loops, tables=tables, observers=[metrics.on_outcome]) as h:
        runtime = make_runtime(h, root, await h.audit.stream("costs"), **settings)
        app = create_app(runtime, metrics)
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app),
            base_url=BASE_URL,
            headers={"Authorization": f"Bearer {TOKEN}"},
        ) as client:
            yield Api(client, h, runtime, app, metrics)


@pytest.fixture
async def api(tmp_path: Path) -> AsyncIterator[Api]:
    async with open_api(tmp_path) as opened:
        yield opened
