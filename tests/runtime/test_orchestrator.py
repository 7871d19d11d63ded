from __future__ import annotations

from pathlib import Path

import anyio
import pytest

from hydra.loop_state import LoopState
from hydra.switches import SwitchError
from tests.helpers.harness import running
from tests.helpers.loops import (
    BlockingLoop,
    BrokeLoop,
    CountingLoop,
    CrashingLoop,
    FlakyLoop,
    OtherCountingLoop,
    Probe,
)

pytestmark = pytest.mark.anyio


async def test_loop_ticks_on_its_interval_with_paired_audit_records(tmp_path: Path) -> None:
    async with running(tmp_path, [CountingLoop]) as h:
        await h.wait_for(lambda: Probe.count("counting") >= 5)
    started = h.records("counting", "tick.started")
    finished = h.records("counting", "tick.finished")
    assert len(started) >= 5
    finished_runs = {r["run"] for r in finished}
    assert {r["run"] for r in started} - finished_runs <= {started[-1]["run"]}
    assert all(r["payload"]["trigger"] == "schedule" for r in started)
    assert all("lateness_ms" in r["payload"] for r in started)
    assert finished[0]["payload"]["status"] == "ok"
    counted = h.records("counting", "counted")
    assert counted[0]["run"] == started[0]["run"]
    assert counted[0]["actor"] == "loop:counting"


async def test_trigger_runs_a_tick_now(tmp_path: Path) -> None:
    tables = {"counting": {"interval_s": 3600}}
    async with running(tmp_path, [CountingLoop], tables=tables) as h:
        await h.wait_for(lambda: Probe.count("counting") == 1)
        assert h.orchestrator.trigger("counting") is False
        await h.wait_for(lambda: Probe.count("counting") == 2)
    assert Probe.ticks["counting"] == ["schedule", "manual"]


async def test_triggers_during_a_tick_merge_into_one_follow_up(tmp_path: Path) -> None:
    async with running(tmp_path, [BlockingLoop]) as h:
        await h.wait_for(lambda: Probe.count("blocking") == 1)
        merged = [h.orchestrator.trigger("blocking") for _ in range(5)]
        assert merged == [True] * 5
        Probe.gates["blocking"].set()
        await h.wait_for(lambda: Probe.count("blocking") == 2)
        await anyio.sleep(0.3)
        assert Probe.count("blocking") == 2  # one follow-up, not five
        Probe.gates["blocking"].set()


async def test_a_crashing_loop_never_delays_another(tmp_path: Path) -> None:
    async with running(tmp_path, [CrashingLoop, CountingLoop]) as h:
        await h.wait_for(lambda: Probe.count("counting") >= 15, within=5)
        crashes = Probe.count("crashing")
    # counting ticks every 50 ms; crashing backs off 0.2 s, 0.4 s, 0.4 s…
    assert 1 <= crashes <= 5
    crashed = h.records("crashing", "tick.crashed")
    assert crashed[0]["payload"]["error"] == "RuntimeError: kaboom"
    assert any("kaboom" in line for line in crashed[0]["payload"]["traceback"])
    assert len(h.records("crashing", "health.degraded")) == 1
    status = h.orchestrator.status("crashing")
    assert status.consecutive_failures >= 1
    assert status.state in (LoopState.BACKING_OFF, LoopState.RUNNING)


async def test_backoff_is_reset_by_a_good_tick(tmp_path: Path) -> None:
    Probe.crash_times["flaky"] = 2
    async with running(tmp_path, [FlakyLoop]) as h:
        await h.wait_for(lambda: Probe.count("flaky") >= 4, within=5)
        status = h.orchestrator.status("flaky")
        assert status.consecutive_failures == 0
        assert status.backoff_s == 0
    recovered = h.records("flaky", "health.recovered")
    assert len(recovered) == 1
    assert recovered[0]["payload"]["after_failures"] == 2


async def test_switch_off_cancels_the_tick_and_switch_on_resumes_promptly(tmp_path: Path) -> None:
    async with running(tmp_path, [BlockingLoop]) as h:
        await h.wait_for(lambda: h.orchestrator.status("blocking").running_run_id is not None)
        run = h.orchestrator.status("blocking").running_run_id
        await h.board.update_loop("blocking", actor="api", reason="misbehaving", enabled=False)
        await h.wait_for(lambda: h.orchestrator.status("blocking").state == LoopState.DISABLED)
        cancelled = h.records("blocking", "tick.cancelled")
        assert [r["run"] for r in cancelled] == [run]
        assert cancelled[0]["payload"]["reason"] == "switched off by api: misbehaving"
        control = h.records("control", "loop.disabled")
        assert control[-1]["actor"] == "api"
        assert control[-1]["payload"]["changes"]["enabled"] == {"old": True, "new": False}
        assert control[-1]["payload"]["reason"] == "misbehaving"
        with pytest.raises(SwitchError, match="switched off by api"):
            h.orchestrator.trigger("blocking")
        await h.board.update_loop("blocking", actor="api", reason="fixed", enabled=True)
        await h.wait_for(lambda: Probe.count("blocking") == 2, within=2)
        Probe.gates["blocking"].set()


async def test_switch_off_with_drain_lets_the_tick_finish(tmp_path: Path) -> None:
    async with running(tmp_path, [BlockingLoop]) as h:
        await h.wait_for(lambda: h.orchestrator.status("blocking").running_run_id is not None)
        await h.board.update_loop(
            "blocking", actor="cli", reason="drain it", enabled=False, drain=True
        )
        await anyio.sleep(0.1)
        assert h.orchestrator.status("blocking").running_run_id is not None
        Probe.gates["blocking"].set()
        await h.wait_for(lambda: h.orchestrator.status("blocking").state == LoopState.DISABLED)
    assert len(h.records("blocking", "tick.finished")) == 1
    assert h.records("blocking", "tick.cancelled") == []


async def test_global_switch_stops_every_loop_and_cancels_ticks(tmp_path: Path) -> None:
    async with running(tmp_path, [BlockingLoop, CountingLoop]) as h:
        await h.wait_for(lambda: h.orchestrator.status("blocking").running_run_id is not None)
        await h.board.set_global(enabled=False, actor="cli", reason="andon")
        await h.wait_for(lambda: h.orchestrator.status("blocking").state == LoopState.DISABLED)
        await h.wait_for(lambda: h.orchestrator.status("counting").state == LoopState.DISABLED)
        count = Probe.count("counting")
        await anyio.sleep(0.2)
        assert Probe.count("counting") == count
        assert h.records("blocking", "tick.cancelled")[0]["payload"]["reason"].startswith(
            "switched off by cli"
        )
        assert h.records("control", "global.disabled")[0]["payload"]["reason"] == "andon"
        await h.board.set_global(enabled=True, actor="cli", reason="all clear")
        await h.wait_for(lambda: Probe.count("counting") > count)
        Probe.gates.setdefault("blocking", anyio.Event()).set()


async def test_static_config_gate_keeps_a_loop_off_for_good(tmp_path: Path) -> None:
    tables = {"counting": {"enabled": False}}
    async with running(tmp_path, [CountingLoop, OtherCountingLoop], tables=tables) as h:
        await h.wait_for(lambda: Probe.count("other") >= 3)
        assert Probe.count("counting") == 0
        assert h.orchestrator.status("counting").blocked_reason == "disabled in config"
        with pytest.raises(SwitchError, match="disabled in config") as info:
            await h.board.update_loop("counting", actor="api", reason="try", enabled=True)
        assert info.value.kind == "conflict"


async def test_tick_timeout_is_recorded_and_backed_off(tmp_path: Path) -> None:
    tables = {"blocking": {"timeout_s": 0.1, "interval_s": 0.05}}
    async with running(tmp_path, [BlockingLoop], tables=tables) as h:
        await h.wait_for(lambda: len(h.records("blocking", "tick.timed_out")) >= 1)
        status = h.orchestrator.status("blocking")
    timed_out = h.records("blocking", "tick.timed_out")[0]
    assert timed_out["payload"]["timeout_s"] == 0.1
    assert status.consecutive_failures >= 1


async def test_credit_exhaustion_switches_the_loop_off_audited(tmp_path: Path) -> None:
    async with running(tmp_path, [BrokeLoop]) as h:
        await h.wait_for(lambda: h.orchestrator.status("broke").state == LoopState.DISABLED)
        assert Probe.count("broke") == 1
    crashed = h.records("broke", "tick.crashed")[0]
    assert crashed["payload"]["terminal"] == "credit_exhausted"
    disabled = h.records("control", "loop.disabled")[0]
    assert disabled["actor"] == "daemon"
    assert disabled["payload"]["reason"] == "credit_exhausted"
    assert disabled["payload"]["loop"] == "broke"


async def test_interval_change_applies_to_the_next_tick(tmp_path: Path) -> None:
    tables = {"counting": {"interval_s": 3600}}
    async with running(tmp_path, [CountingLoop], tables=tables) as h:
        await h.wait_for(lambda: Probe.count("counting") == 1)
        await h.board.update_loop("counting", actor="api", reason="faster", interval_s=0.05)
        await h.wait_for(lambda: Probe.count("counting") >= 3, within=2)
    updated = h.records("control", "loop.updated")[0]
    assert updated["payload"]["changes"] == {"interval_s": {"old": 3600, "new": 0.05}}


async def test_interval_outside_bounds_is_refused(tmp_path: Path) -> None:
    async with running(tmp_path, [CountingLoop], start=False) as h:
        with pytest.raises(SwitchError, match="outside the bounds") as info:
            await h.board.update_loop("counting", actor="api", reason="x", interval_s=99999)
        assert info.value.kind == "invalid"
        with pytest.raises(SwitchError, match="reason is required"):
            await h.board.update_loop("counting", actor="api", reason=" ", enabled=False)
        with pytest.raises(SwitchError, match="unknown loop") as missing:
            await h.board.update_loop("nope", actor="api", reason="x", enabled=False)
        assert missing.value.kind == "not_found"
        assert h.records("control") == []


async def test_shutdown_gives_grace_then_cancels(tmp_path: Path) -> None:
    async with running(tmp_path, [BlockingLoop]) as h:
        await h.wait_for(lambda: h.orchestrator.status("blocking").running_run_id is not None)
        with anyio.fail_after(5):
            started = anyio.current_time()
            await h.orchestrator.shutdown(0.2)
            assert anyio.current_time() - started >= 0.2
    cancelled = h.records("blocking", "tick.cancelled")
    assert cancelled[0]["payload"]["reason"] == "shutdown"


async def test_a_tick_orphaned_by_a_crash_is_closed_as_lost(tmp_path: Path) -> None:
    from hydra.audit import AuditLog

    async with AuditLog(tmp_path / "audit") as audit:
        stream = await audit.stream("counting")
        await stream.append("tick.started", actor="loop:counting", run="run-orphan", payload={})
    async with running(tmp_path, [CountingLoop], start=False) as h:
        lost = h.records("counting", "tick.lost")
    assert [r["run"] for r in lost] == ["run-orphan"]
    assert lost[0]["actor"] == "daemon"
    # Opening again finds nothing new to close.
    async with running(tmp_path, [CountingLoop], start=False) as h:
        assert len(h.records("counting", "tick.lost")) == 1


async def test_cost_attribution_follows_the_tick(tmp_path: Path) -> None:
    async with running(tmp_path, [CountingLoop]) as h:
        await h.wait_for(lambda: Probe.count("counting") >= 1)
        run = h.records("counting", "tick.started")[0]["run"]
    ref = Probe.tick_refs[0]
    assert (ref.loop, ref.run_id) == ("counting", run)
