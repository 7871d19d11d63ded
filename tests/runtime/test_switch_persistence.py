from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import anyio
import pytest

from hydra.audit import AuditLog
from hydra.switches import SWITCH_ACTIONS, SwitchBoard
from tests.helpers.harness import running
from tests.helpers.loops import CountingLoop

pytestmark = pytest.mark.anyio


async def test_switches_survive_a_restart(tmp_path: Path) -> None:
    async with running(tmp_path, [CountingLoop], start=False) as h:
        await h.board.update_loop(
            "counting", actor="api", reason="off for now", enabled=False, interval_s=7
        )
        await h.board.set_global(enabled=False, actor="cli", reason="andon")
    state = json.loads((tmp_path / "state" / "switches.json").read_text())
    assert state["loops"]["counting"]["enabled"] is False
    async with running(tmp_path, [CountingLoop], start=False) as h:
        switch = h.board.loop_switch("counting")
        assert (switch.enabled, switch.interval_s, switch.actor, switch.reason) == (
            False,
            7,
            "api",
            "off for now",
        )
        assert h.board.global_switch.enabled is False
        assert h.board.interval_s("counting") == 7


async def test_unchanged_switch_is_idempotent_and_not_audited(tmp_path: Path) -> None:
    async with running(tmp_path, [CountingLoop], start=False) as h:
        assert (
            await h.board.update_loop("counting", actor="api", reason="x", enabled=False)
            is not None
        )
        assert (
            await h.board.update_loop("counting", actor="api", reason="again", enabled=False)
            is None
        )
        assert len(h.records("control", "loop.disabled")) == 1


async def test_control_records_newer_than_the_state_file_are_replayed(tmp_path: Path) -> None:
    # A crash after the audit record but before the state file was written.
    async with AuditLog(tmp_path / "audit") as audit:
        control = await audit.stream("control")
        await control.append(
            "loop.disabled",
            actor="api",
            payload={
                "loop": "counting",
                "changes": {"enabled": {"old": True, "new": False}},
                "reason": "r",
            },
        )
    assert not (tmp_path / "state" / "switches.json").exists()
    async with running(tmp_path, [CountingLoop], start=False) as h:
        assert h.board.loop_switch("counting").enabled is False
    state = json.loads((tmp_path / "state" / "switches.json").read_text())
    assert state["control_seq"] == 1


async def test_repo_switch_records_newer_than_the_state_file_are_replayed(tmp_path: Path) -> None:
    # Same crash for a repository switch: `repo.disabled`, then `repo.enabled` and
    # `repo.disabled` again after a state file that already reflects the first record.
    async with running(tmp_path, [CountingLoop], start=False) as h:
        assert "demo" in h.board.repos
        await h.board.update_repo("demo", enabled=False, actor="api", reason="flaky CI")
    state_file = tmp_path / "state" / "switches.json"
    assert json.loads(state_file.read_text())["control_seq"] == 1
    async with AuditLog(tmp_path / "audit") as audit:
        control = await audit.stream("control")
        for action, old, new, reason in [
            ("repo.enabled", False, True, "CI fixed"),
            ("repo.disabled", True, False, "broken again"),
        ]:
            await control.append(
                action,
                actor="cli",
                payload={
                    "repo": "demo",
                    "changes": {"enabled": {"old": old, "new": new}},
                    "reason": reason,
                },
            )
    async with running(tmp_path, [CountingLoop], start=False) as h:
        switch = h.board.repo_switch("demo")
        assert (switch.enabled, switch.actor, switch.reason) == (False, "cli", "broken again")
        assert h.board.enabled_repos() == ()
        assert h.board.loop_switch("counting").enabled is True  # not mistaken for a loop
    state = json.loads(state_file.read_text())
    assert state["control_seq"] == 3
    assert state["repos"]["demo"]["reason"] == "broken again"
    assert state["loops"] == {}


async def test_the_real_repo_switch_actions_are_replayed(tmp_path: Path) -> None:
    # The actions the board writes are exactly the ones replay knows.
    async with running(tmp_path, [CountingLoop], start=False) as h:
        await h.board.update_repo("demo", enabled=False, actor="api", reason="off")
        await h.board.update_repo("demo", enabled=True, actor="api", reason="on")
        written = {r["action"] for r in h.records("control")}
    assert written == {"repo.disabled", "repo.enabled"}
    assert written <= SWITCH_ACTIONS


class _GatedSink:
    """The control stream, held at the door until ``gate`` is set."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.entered = anyio.Event()
        self.gate = anyio.Event()

    async def append(self, action: str, **kw: Any) -> Any:
        self.entered.set()
        await self.gate.wait()
        return await self.inner.append(action, **kw)


async def test_a_caller_cancelled_mid_change_still_gets_the_whole_change(tmp_path: Path) -> None:
    """Once the record is on its way it takes effect in full: record, state, file, listeners."""
    async with running(tmp_path, [CountingLoop], start=False) as h:
        sink = _GatedSink(await h.audit.stream("control"))
        path = tmp_path / "state" / "board.json"
        board = await SwitchBoard.load(path, sink, h.configs)
        heard: list[str] = []
        board.subscribe(lambda event: heard.append(event.target))
        with anyio.fail_after(10):
            async with anyio.create_task_group() as tg:

                async def change() -> None:
                    await board.update_loop(
                        "counting", actor="daemon", reason="budget", enabled=False
                    )

                tg.start_soon(change)
                await sink.entered.wait()
                tg.cancel_scope.cancel()  # the tick that spent the money times out, say
                sink.gate.set()
        assert board.loop_switch("counting").enabled is False
        assert json.loads(path.read_text())["loops"]["counting"]["enabled"] is False
        assert heard == ["counting"]
        assert [r["action"] for r in h.records("control")][-1] == "loop.disabled"


async def test_a_change_records_the_value_that_was_in_effect_as_old(tmp_path: Path) -> None:
    async with running(tmp_path, [CountingLoop], start=False) as h:
        configured = h.board.interval_s("counting")
        await h.board.update_loop("counting", actor="api", reason="slower", interval_s=120)
        await h.board.update_loop("counting", actor="api", reason="slower still", interval_s=240)
        await h.board.update_loop("counting", actor="api", reason="shadow it", mode="shadow")
        first, second, third = (
            r["payload"]["changes"] for r in h.records("control", "loop.updated")
        )
    # not the runtime override (there was none), the configured interval the loop ran on
    assert first == {"interval_s": {"old": configured, "new": 120}}
    assert second == {"interval_s": {"old": 120, "new": 240}}
    assert third == {"mode": {"old": "live", "new": "shadow"}}
    # a restart replays only the new values
    async with running(tmp_path, [CountingLoop], start=False) as h:
        assert h.board.interval_s("counting") == 240
        assert h.board.mode("counting") == "shadow"


async def test_setting_the_value_in_effect_is_a_no_op_and_broken_loops_keep_their_switch(
    tmp_path: Path,
) -> None:
    async with running(tmp_path, [CountingLoop], start=False) as h:
        configured = h.board.interval_s("counting")
        mode = h.board.mode("counting")
        assert (
            await h.board.update_loop(
                "counting", actor="api", reason="same", interval_s=configured, mode=mode
            )
            is None
        )
        assert h.records("control", "loop.updated") == []
    async with AuditLog(tmp_path / "broken-audit") as audit:
        board = await SwitchBoard.load(
            tmp_path / "broken.json",
            await audit.stream("control"),
            {},
            broken={"bad": "ImportError: no module named bad"},
        )
        event = await board.update_loop("bad", actor="api", reason="preview it", mode="shadow")
        assert event is not None
        assert board.loop_switch("bad").mode == "shadow"
