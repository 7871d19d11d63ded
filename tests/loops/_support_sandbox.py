"""Running one of this package's loops on a MockWorld through the in-process harness."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fakes import MockWorld
from hydra.audit import iter_records
from hydra.sdk import Loop
from ports import PortError, PortInfo, SandboxPort, Scenario, ScenarioResult, World
from tests.helpers.harness import Harness, running

ENDINGS = ("tick.finished", "tick.crashed", "tick.timed_out")


def endings(h: Harness, loop: str) -> list[dict[str, Any]]:
    return [r for r in h.records(loop) if r["action"] in ENDINGS]


@asynccontextmanager
async def started(
    tmp_path: Path,
    cls: type[Loop[Any]],
    mock: MockWorld,
    options: Mapping[str, Any] | None = None,
    *,
    world: World | None = None,
) -> AsyncIterator[Harness]:
    """The harness running ``cls`` alone, once its start-up tick has ended (``tmp_path`` may
    hold the data dir of an earlier run: a restart)."""
    audit = tmp_path / "audit"
    before = sum(r["action"] in ENDINGS for r in iter_records(audit, cls.name))
    tables = {cls.name: {"interval_s": 3600.0, **(options or {})}}
    async with running(tmp_path, [cls], tables=tables, world=world or mock.world) as h:
        await h.wait_for(lambda: len(endings(h, cls.name)) > before)
        yield h


async def tick(h: Harness, loop: str) -> dict[str, Any]:
    """Trigger one tick and return how it ended (the last ``tick.*`` ending record)."""
    before = len(endings(h, loop))
    h.orchestrator.trigger(loop)
    await h.wait_for(lambda: len(endings(h, loop)) > before)
    return endings(h, loop)[-1]


def last_result(h: Harness, loop: str) -> dict[str, Any]:
    """The payload of the newest ``tick.finished`` record."""
    return h.records(loop, "tick.finished")[-1]["payload"]


def payloads(h: Harness, loop: str, action: str) -> list[dict[str, Any]]:
    return [r["payload"] for r in h.records(loop, action)]


# ---------------------------------------------------------------------- the sandbox_fixer world
BUGGY = "def add(a, b):\n    return a - b\n"
FIXED = "def add(a, b):\n    return a + b\n"
HOLDOUT_FILE = "holdout/test_secret_sum.py"
HOLDOUT_SECRETS = ("hidden-sum", "pytest holdout", "--ultra-secret-flag", "holdout/", "HOLDOUT-OUT")
"""Every way a holdout could leak: its name, command, files, output."""
FILES: dict[str, str] = {
    "README.md": "# calc\n",
    "src/calc.py": BUGGY,
    "tests/test_calc.py": "from calc import add\n\ndef test_add():\n    assert add(1, 2) == 3\n",
    HOLDOUT_FILE: "from calc import add\n\ndef test_big():\n    assert add(10, 20) == 30\n",
}
SCENARIOS: list[dict[str, Any]] = [
    {"name": "unit", "command": "pytest tests", "files": ["tests/test_calc.py"]},
    {"name": "cli", "command": "python -m calc 1 2"},
    {
        "name": "hidden-sum",
        "command": "pytest holdout --ultra-secret-flag",
        "holdout": True,
        "files": ["holdout"],
    },
]


def calc_world(*repos: str) -> MockWorld:
    """Repositories whose ``add`` subtracts; ``unit`` and the holdout judge ``src/calc.py``
    (the holdout errors when its file is absent from the checkout it runs in)."""
    from fakes import SandboxOutcome

    mock = MockWorld(repos={name: dict(FILES) for name in repos or ("demo",)})

    def unit(_scenario: Any, files: Mapping[str, bytes]) -> SandboxOutcome:
        code = files.get("src/calc.py", b"")
        if b"a + b" in code:
            return SandboxOutcome.passed("1 passed")
        exit_code = 2 if b"a * b" in code else 3 if b"a / b" in code else 1
        return SandboxOutcome.failed(
            "FAILED tests/test_calc.py::test_add - AssertionError: assert -1 == 3",
            exit_code=exit_code,
        )

    def hidden(_scenario: Any, files: Mapping[str, bytes]) -> SandboxOutcome:
        if HOLDOUT_FILE not in files:
            return SandboxOutcome.error("HOLDOUT-OUT: no holdout file here")
        if b"a + b" in files.get("src/calc.py", b""):
            return SandboxOutcome.passed("HOLDOUT-OUT 1 passed")
        return SandboxOutcome.failed("HOLDOUT-OUT assert -10 == 30", exit_code=1)

    for name in repos or ("demo",):
        mock.sandbox(name).judge("unit", unit)
        mock.sandbox(name).judge("hidden-sum", hidden)
    return mock


def live(**options: Any) -> dict[str, Any]:
    return {"mode": "live", "scenarios": SCENARIOS, **options}


class ScrambledSandbox(SandboxPort):
    """Wraps a sandbox: ``broken`` raises for every run; otherwise results of scenarios named
    in ``drop`` are left out (a sandbox that lost track of one)."""

    def __init__(self, inner: SandboxPort, *, broken: bool = False, drop: Sequence[str] = ()):
        self.inner = inner
        self.broken = broken
        self.drop = frozenset(drop)

    def info(self) -> PortInfo:
        return self.inner.info()

    async def run_scenarios(
        self, scenarios: Sequence[Scenario], *, workdir: str
    ) -> list[ScenarioResult]:
        if self.broken:
            raise PortError("failed", "sandbox image missing", port="sandbox")
        results = await self.inner.run_scenarios(scenarios, workdir=workdir)
        return [r for r in results if r.name not in self.drop]


def with_sandbox(mock: MockWorld, sandbox: SandboxPort, repo: str = "demo") -> World:
    """``mock``'s world with ``sandbox`` in place of ``repo``'s own."""
    repos = dict(mock.world.repos)
    repos[repo] = dataclasses.replace(repos[repo], sandbox=sandbox)
    return dataclasses.replace(mock.world, repos=repos)
