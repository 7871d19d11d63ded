from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from hydra.api import create_app
from hydra.costs import CostLedger
from hydra.runtime import Runtime
from hydra.settings import HydraSettings
from tests.helpers.harness import Harness, running
from tests.helpers.loops import BlockingLoop, CountingLoop, Probe

TOKEN = "test-token-0123456789abcdef"


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


@pytest.fixture
async def api(tmp_path: Path) -> AsyncIterator[Api]:
    tables = {"counting": {"interval_s": 3600}, "blocking": {"enabled": False}}
    async with running(tmp_path, [CountingLoop, BlockingLoop], tables=tables) as h:
        costs = await h.audit.stream("costs")
        settings = HydraSettings(data_dir=tmp_path)
        runtime = Runtime(
            settings=settings,
            registry=h.orchestrator.registry,
            configs=h.configs,
            board=h.board,
            orchestrator=h.orchestrator,
            ledger=CostLedger(costs),
            world=h.orchestrator.deps.world_for("counting", "live", costs),
            audit=h.audit,
            token=TOKEN,
            data_dir=tmp_path,
            started_at="2026-11-22T00:00:00.000000Z",
        )
        transport = httpx.ASGITransport(app=create_app(runtime))
        async with httpx.AsyncClient(
            transport=transport,
            base_url="http://127.0.0.1:8765",
            headers={"Authorization": f"Bearer {TOKEN}"},
        ) as client:
            yield Api(client, h, runtime)
