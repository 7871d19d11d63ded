"""The real daemon facing lost durability: a failed state-file fsync, damaged audit streams,
a loop already over its daily budget when the daemon starts, and the temp files of writers
killed before their rename."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from hydra.audit import bulk_append, iter_records
from hydra.repos import default_repo_name
from hydra.statefile import UNLOCKED_TEMP_MIN_AGE_S
from tests.e2e._support import wait_for
from tests.helpers.daemon import daemon, run_cli
from tests.helpers.faults import damage_mid_stream, saboteur_env

pytestmark = pytest.mark.e2e

FAST_START = "[orchestrator]\nfirst_tick_spread_s = 0\n"


def records(data_dir: Path, stream: str, action: str | None = None) -> list[dict[str, object]]:
    return [
        r
        for r in iter_records(data_dir / "audit", stream)
        if action is None or r["action"] == action
    ]


def test_a_failed_fsync_of_the_switch_state_stops_the_daemon_with_one_line(
    tmp_path: Path,
) -> None:
    env, marker = saboteur_env(tmp_path, pattern="switches.json")
    with daemon(tmp_path, env=env) as d:
        marker.touch()
        with d.client() as http, contextlib.suppress(httpx.HTTPError):
            # The daemon may be gone before it answers; if it answers, it says it is stopping.
            response = http.put("/api/loops/health", json={"enabled": False, "reason": "disk"})
            assert response.status_code == 503, response.text
            assert "the daemon is stopping" in response.json()["error"]
        code = d.proc.wait(timeout=20)
        stderr = d.stderr()
    assert code == 70, stderr
    about_it = [line for line in stderr.splitlines() if "switches.json" in line]
    assert len(about_it) == 1, stderr
    line = json.loads(about_it[0])
    assert (line["event"], line["level"]) == ("daemon.fatal", "critical")
    assert "Input/output error" in line["error"]
    assert "Traceback" not in stderr
    assert not (tmp_path / ".hydra" / "daemon.json").exists()
    # The control record came first (durable before the change): a restart replays it.
    assert records(tmp_path / ".hydra", "control", "loop.disabled")
    with daemon(tmp_path) as again, again.client() as http:
        assert http.get("/api/loops/health").json()["enabled"] is False
        assert again.stop() == 0


def test_a_failed_fsync_while_replaying_switches_at_start_up_is_fatal_too(
    tmp_path: Path,
) -> None:
    # A crash left a control record the state file does not reflect: the start replays it
    # and rewrites the state file, whose fsync now fails.
    change = {"enabled": {"old": True, "new": False}}
    payload = {"loop": "health", "changes": change, "reason": "crashed before persist"}
    bulk_append(tmp_path / ".hydra" / "audit", "control", [("loop.disabled", "api", payload, None)])
    env, marker = saboteur_env(tmp_path, pattern="switches.json")
    marker.touch()
    with daemon(tmp_path, env=env, wait_ready=False) as d:
        code = d.proc.wait(timeout=20)
        stderr = d.stderr()
    assert code == 70, stderr
    about_it = [line for line in stderr.splitlines() if "switches.json" in line]
    assert len(about_it) == 1, stderr
    assert json.loads(about_it[0])["event"] == "daemon.fatal"
    assert "Traceback" not in stderr


@pytest.mark.parametrize("stream", ["control", "costs"])
def test_a_damaged_essential_stream_refuses_the_start_naming_the_fix(
    tmp_path: Path, stream: str
) -> None:
    """Nothing runs without ``control`` (switches) or ``costs`` (every runner call)."""
    data = tmp_path / ".hydra"
    damage_mid_stream(data / "audit", stream, ["daemon.started", "loop.updated", "x"])
    result = run_cli(["run", "--port", "0", "--data-dir", str(data)], cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert f"audit stream {stream!r} is damaged" in lines[0]
    assert f"hydra audit repair {stream} --force" in lines[0]
    assert not (data / "daemon.json").exists()

    repaired = run_cli(
        ["audit", "repair", stream, "--force", "--data-dir", str(data)], cwd=tmp_path
    )
    assert repaired.returncode == 0, repaired.stderr
    with daemon(tmp_path) as d:
        assert d.stop() == 0


def test_a_damaged_loop_stream_stops_that_loop_and_the_others_run(tmp_path: Path) -> None:
    (tmp_path / "hydra.toml").write_text(FAST_START)
    data = tmp_path / ".hydra"
    # Its last tick record is a tick.started: the start-up would close it with tick.lost.
    actions = ["tick.started", "tick.finished", "tick.started"]
    damage_mid_stream(data / "audit", "principles_audit", actions)
    with daemon(tmp_path) as d, d.client() as http:
        loops = {loop["name"]: loop for loop in http.get("/api/loops").json()["loops"]}
        damaged = loops["principles_audit"]
        assert (damaged["state"], damaged["recoverable"]) == ("stopped", False)
        assert "hydra audit repair principles_audit --force" in damaged["blocked_reason"]
        health = httpx.get(f"{d.url}/healthz")
        assert health.status_code == 503
        assert health.json()["status"] == "degraded"
        assert any("'principles_audit'" in p for p in health.json()["problems"])
        wait_for(lambda: records(data, "health", "tick.finished"), what="a tick of another loop")
        response = http.post("/api/loops/principles_audit/trigger")
        assert response.status_code == 409
        assert d.stop() == 0
    assert "Traceback" not in d.stderr()
    started = records(data, "control", "daemon.started")[-1]
    assert started["payload"]["lost_ticks"] == []  # type: ignore[index]


def test_a_loop_over_its_budget_at_start_up_is_switched_off(tmp_path: Path) -> None:
    (tmp_path / "hydra.toml").write_text("[loops.health]\ndaily_budget_usd = 1.0\n")
    data = tmp_path / ".hydra"
    spend = {
        "source": "claude",
        "loop": "health",
        "model": None,
        "input_tokens": 10,
        "output_tokens": 1,
        "usd": 1.5,
    }
    bulk_append(data / "audit", "costs", [("cost", "loop:health", spend, None)])  # today
    with daemon(tmp_path) as d, d.client() as http:
        health = http.get("/api/loops/health").json()
        assert health["enabled"] is False
        assert (health["switch"]["by"], health["switch"]["reason"]) == ("daemon", "budget")
        assert health["budget"]["over_budget"] is True
        assert d.stop() == 0
    off = records(data, "control", "loop.disabled")
    assert [(r["actor"], r["payload"]["reason"]) for r in off] == [("daemon", "budget")]  # type: ignore[index]


def test_the_start_sweeps_the_temp_files_of_killed_writers_and_keeps_the_rest(
    tmp_path: Path,
) -> None:
    data = tmp_path / ".hydra"
    repo = default_repo_name(tmp_path)
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    assert child.wait(timeout=30) == 0  # exited and reaped: its pid names no process now
    dead = child.pid
    stale = [
        data / f".daemon.json.{dead}.1.tmp",
        data / "state" / f".switches.json.{dead}.2.tmp",
        data / "state" / "loops" / f".health.json.{dead}.3.tmp",
        data / "inbox" / repo / f".1.json.{dead}.4.tmp",
        data / "worktrees" / repo / ".hydra" / "isolated" / f".w1.json.{dead}.5.tmp",
        data / "worktrees" / repo / ".hydra" / "hooks" / f".pre-push.{dead}.6.tmp",
        # Of repositories not configured: filed into by ``hydra issue``, or removed.
        data / "inbox" / "filed" / f".1.json.{dead}.9.tmp",
        data / "worktrees" / "removed" / ".hydra" / "hooks" / f".pre-push.{dead}.10.tmp",
    ]
    kept = [
        data / "state" / f".switches.json.{os.getpid()}.7.tmp",  # a live writer: this test
        data / "state" / f".switches.json.{dead}.tmp",  # not the scheme
        data / "state" / "notes.tmp",
        data / "audit" / f".control.{dead}.8.tmp",  # not a state directory
        # Young, in the inbox (maybe ``hydra issue`` writing from another pid namespace).
        data / "inbox" / repo / f".2.json.{dead}.11.tmp",
    ]
    for path in [*stale, *kept]:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b'{"half": ')
    old = time.time() - 2 * UNLOCKED_TEMP_MIN_AGE_S
    for path in stale:
        os.utime(path, (old, old))
    with daemon(tmp_path) as d:
        assert [p for p in stale if p.exists()] == []
        assert [p for p in kept if not p.exists()] == []
        assert d.stop() == 0
    lines = [json.loads(line) for line in d.stderr().splitlines() if "state.temp_" in line]
    assert sorted((line["event"], line["path"]) for line in lines) == sorted(
        ("state.temp_swept", str(path)) for path in stale
    )
    assert {line["level"] for line in lines} == {"info"}
