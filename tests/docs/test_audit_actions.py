"""The catalogue's audit actions cannot drift from what the loops write.

Two readings, per loop: a representative run of the loop on a MockWorld (its main branches, live
and in shadow mode) must write only actions the catalogue lists for it; and every action named
as a literal in an ``audit(...)`` call of the loop's module or of a ``loops`` helper it imports
must be declared too (the runs cannot reach every failure branch).
"""

from __future__ import annotations

import ast
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from fakes import AgentOutcome, MockWorld
from hydra.catalog import SHADOW_PREFIX, allowed_actions
from hydra.registry import LoopEntry, LoopRegistry
from hydra.sdk import Loop
from tests.helpers.harness import Harness
from tests.loops._support_sandbox import FIXED, SCENARIOS, calc_world, started, tick

ROOT = Path(__file__).resolve().parents[2]
APPROVE = '```json\n{"verdict": "approve", "reasons": ["fine"]}\n```'
Scenario = Callable[[Path, str], Awaitable[set[str]]]


def _entry(name: str) -> LoopEntry:
    return next(e for e in LoopRegistry.discover().loadable() if e.name == name)


def _cls(name: str) -> type[Loop[Any]]:
    return _entry(name).loop_class


def _written(h: Harness, loop: str) -> set[str]:
    return {str(r["action"]) for r in h.records(loop)}


async def _health(tmp_path: Path, mode: str) -> set[str]:
    async with started(tmp_path, _cls("health"), MockWorld(), {"mode": mode}) as h:
        await tick(h, "health")
        return _written(h, "health")


async def _preflight(tmp_path: Path, mode: str) -> set[str]:
    mock = MockWorld({"demo": {"README.md": "# demo\n", "src/app.py": "print('hi')\n"}})
    mock.seed_issue("bug 1", "the app says hi", ["hitl-escalation"])
    mock.seed_issue("bug 2", "the app says hi", ["hitl-escalation"])
    await mock.workspace().create_worktree("preflight-9-9", branch="hydra/preflight/9-9")
    mock.agent.script(
        AgentOutcome.succeed("Fixed.", edits={"src/app.py": "ok\n"}),
        AgentOutcome.fail("could not"),
    )
    options = {"mode": mode, "max_attempts": 1, "max_parallel": 2}
    async with started(tmp_path, _cls("preflight"), mock, options) as h:
        return _written(h, "preflight")


async def _principles_audit(tmp_path: Path, mode: str) -> set[str]:
    mock = MockWorld({"demo": {"src/app.py": "print('hi')\n"}})
    loop = "principles_audit"
    async with started(tmp_path, _cls(loop), mock, {"mode": mode, "stuck_after": 1}) as h:
        await tick(h, loop)  # still failing: the issues are updated
        mock.seed_files({"README.md": "# demo\n", "LICENSE": "MIT\n"})
        await tick(h, loop)  # passing again: their issues are closed
        return _written(h, loop)


async def _review_advisor(tmp_path: Path, mode: str) -> set[str]:
    mock = MockWorld()
    mock.seed_change("Fix the docs", files={"README.md": "# demo\nfixed\n"})
    mock.seed_change("Gate", files={"deploy/gate.yml": "x\n"})
    await mock.workspace().create_worktree("review-old", branch="hydra/review/old")
    mock.agent.default = AgentOutcome.succeed(APPROVE)
    options = {"mode": mode, "auto_merge": True, "protected_paths": ["deploy/**"]}
    async with started(tmp_path, _cls("review_advisor"), mock, options) as h:
        return _written(h, "review_advisor")


async def _sandbox_fixer(tmp_path: Path, mode: str) -> set[str]:
    mock = calc_world()
    loop = "sandbox_fixer"
    mock.agent.default = AgentOutcome.succeed("nothing")
    options = {"mode": mode, "scenarios": SCENARIOS, "max_attempts": 1}
    async with started(tmp_path, _cls(loop), mock, options) as h:  # escalated
        await tick(h, loop)
        mock.seed_files({"src/calc.py": FIXED})  # a human fixed it: the issue is closed
        await tick(h, loop)
        return _written(h, loop)


SCENARIOS_BY_LOOP: dict[str, Scenario] = {
    "health": _health,
    "preflight": _preflight,
    "principles_audit": _principles_audit,
    "review_advisor": _review_advisor,
    "sandbox_fixer": _sandbox_fixer,
}


def test_every_loadable_loop_has_a_representative_run() -> None:
    assert {e.name for e in LoopRegistry.discover().loadable()} == set(SCENARIOS_BY_LOOP)


@pytest.mark.anyio
@pytest.mark.parametrize("mode", ["live", "shadow"])
@pytest.mark.parametrize("loop", sorted(SCENARIOS_BY_LOOP))
async def test_a_loop_writes_only_the_actions_the_catalogue_lists(
    tmp_path: Path, loop: str, mode: str
) -> None:
    entry = _entry(loop)
    written = await SCENARIOS_BY_LOOP[loop](tmp_path, mode)
    undeclared = {a for a in written - allowed_actions(entry) if not a.startswith(SHADOW_PREFIX)}
    assert not undeclared, f"{loop} writes {sorted(undeclared)} but does not declare them"
    assert "tick.finished" in written
    declared = set(entry.loop_class.audit_actions)
    if declared and mode == "live":
        assert declared & written, f"the run of {loop} exercises none of its own actions"


def _loop_modules(module: str) -> set[str]:
    """``module`` and the ``loops.*`` modules it imports, transitively."""
    seen: set[str] = set()
    todo = [module]
    while todo:
        current = todo.pop()
        if current in seen:
            continue
        seen.add(current)
        for node in ast.walk(ast.parse(_source(current).read_text())):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("loops"):
                todo.append(node.module or "")
    return seen


def _source(module: str) -> Path:
    return ROOT / "src" / Path(*module.split(".")).with_suffix(".py")


def _literal_audit_actions(module: str) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(_source(module).read_text())):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "audit"
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            found.add(node.args[0].value)
    return found


@pytest.mark.parametrize("loop", sorted(SCENARIOS_BY_LOOP))
def test_every_action_a_loop_names_in_its_code_is_declared(loop: str) -> None:
    entry = _entry(loop)
    named = set().union(
        *(_literal_audit_actions(m) for m in _loop_modules(entry.loop_class.__module__))
    )
    undeclared = named - allowed_actions(entry)
    assert not undeclared, f"{loop} audits {sorted(undeclared)} but does not declare them"
