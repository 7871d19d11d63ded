from __future__ import annotations

from pathlib import Path

import anyio
import pytest

from fakes import MockWorld
from hydra.switches import SwitchError
from tests.helpers.harness import running
from tests.helpers.loops import LabellingLoop, Probe

pytestmark = pytest.mark.anyio


def _world() -> MockWorld:
    mock = MockWorld(repos=("alpha", "beta"))
    mock.seed_issue("first", repo="alpha")
    mock.seed_issue("second", repo="beta")
    return mock


async def test_shadow_mode_records_mutations_instead_of_doing_them(tmp_path: Path) -> None:
    mock = _world()
    tables = {"labelling": {"mode": "shadow"}}
    async with running(tmp_path, [LabellingLoop], tables=tables, world=mock.world) as h:
        await h.wait_for(lambda: len(h.records("labelling", "tick.finished")) == 1)
    for repo in ("alpha", "beta"):
        assert all("seen" not in i.labels for i in await mock.issues(repo).list_issues())
    would = h.records("labelling", "would.add_label")
    assert [(r["payload"]["repo"], r["payload"]["args"]) for r in would] == [
        ("alpha", ["1", "seen"]),
        ("beta", ["1", "seen"]),
    ]
    started = h.records("labelling", "tick.started")[0]
    assert started["payload"]["mode"] == "shadow"
    assert {r["run"] for r in would} == {started["run"]}


async def test_live_mode_mutates_and_mode_switch_is_audited(tmp_path: Path) -> None:
    mock = _world()
    tables = {"labelling": {"mode": "shadow"}}
    async with running(tmp_path, [LabellingLoop], tables=tables, world=mock.world) as h:
        await h.wait_for(lambda: Probe.count("labelling") == 1)
        await h.board.update_loop("labelling", actor="api", reason="trusted now", mode="live")
        h.orchestrator.trigger("labelling")
        await h.wait_for(lambda: len(h.records("labelling", "tick.finished")) == 2)
    assert "seen" in (await mock.issues("alpha").get_issue("1")).labels
    updated = h.records("control", "loop.updated")[0]
    assert updated["payload"]["changes"] == {"mode": {"old": "shadow", "new": "live"}}


async def test_a_switched_off_repository_is_skipped_and_its_work_cancelled(tmp_path: Path) -> None:
    mock = _world()
    Probe.gates["repo:alpha"] = anyio.Event()  # the loop blocks while working on alpha
    async with running(tmp_path, [LabellingLoop], world=mock.world) as h:
        await h.wait_for(lambda: h.orchestrator.repo_scopes.busy("alpha") == 1)
        await h.board.update_repo("alpha", enabled=False, actor="api", reason="migrating")
        await h.wait_for(lambda: len(h.records("labelling", "tick.finished")) == 1)
        cancelled = h.records("labelling", "repo.cancelled")
        assert [r["payload"]["repo"] for r in cancelled] == ["alpha"]
        # the tick went on with beta
        assert "seen" in (await mock.issues("beta").get_issue("1")).labels
        finished = h.records("labelling", "tick.finished")[0]
        assert finished["payload"]["counts"] == {"labelled": 2}
        # the next tick skips alpha altogether
        await mock.issues("alpha").remove_label("1", "seen")
        h.orchestrator.trigger("labelling")
        await h.wait_for(lambda: len(h.records("labelling", "tick.finished")) == 2)
        assert h.records("labelling", "tick.finished")[1]["payload"]["counts"] == {"labelled": 1}
        assert "seen" not in (await mock.issues("alpha").get_issue("1")).labels
    record = h.records("control", "repo.disabled")[0]
    assert record["payload"] == {
        "repo": "alpha",
        "changes": {"enabled": {"old": True, "new": False}},
        "reason": "migrating",
    }


async def test_repo_switch_persists_and_validates(tmp_path: Path) -> None:
    mock = _world()
    async with running(tmp_path, [LabellingLoop], world=mock.world, start=False) as h:
        with pytest.raises(SwitchError, match="unknown repository") as info:
            await h.board.update_repo("gamma", enabled=False, actor="api", reason="x")
        assert info.value.kind == "not_found"
        await h.board.update_repo("beta", enabled=False, actor="cli", reason="frozen")
        assert await h.board.update_repo("beta", enabled=False, actor="cli", reason="again") is None
    async with running(tmp_path, [LabellingLoop], world=mock.world, start=False) as h:
        assert h.board.enabled_repos() == ("alpha",)
        assert h.board.repo_switch("beta").reason == "frozen"
