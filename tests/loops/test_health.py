"""The ``health`` loop through the in-process orchestrator, on a real audit log in a temp dir.

The host is a :class:`fakes.FakeHost` (the world's ``host`` port) so a test can stage a full
disk or a memory leak; one test runs the real psutil host on the temp data dir.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from fakes import FakeAgent, MockWorld
from hydra.adapters.host import PsutilHost
from loops.health import HealthLoop
from ports import World
from tests.helpers.harness import running
from tests.loops._support_agent import first_tick, live

pytestmark = pytest.mark.anyio

LOOP = "health"
MIB = 1024 * 1024
GIB = 1024 * MIB
REPO_PORTS = ("issues", "changes", "workspace", "sandbox")


async def _tick(tmp_path: Path, world: World, **options: Any) -> dict[str, Any]:
    """Run the loop's first tick on ``world``; the payload of its ``tick.finished`` record."""
    async with running(tmp_path, [HealthLoop], tables=live(LOOP, **options), world=world) as h:
        end = await first_tick(h, LOOP)
    assert end["action"] == "tick.finished", end
    payload: dict[str, Any] = end["payload"]
    return payload


async def test_ok_reports_memory_fds_disk_streams_and_ports(tmp_path: Path) -> None:
    mock = MockWorld(["app", "lib"])
    mock.host.set(rss_bytes=200 * MIB, open_fds=37, threads=6)
    mock.host.set(total_bytes=100 * GIB, free_bytes=40 * GIB)
    mock.host.streams = {"control": 1200, "health": 300, "costs": 0}
    payload = await _tick(tmp_path, mock.world)
    assert payload["status"] == "ok"
    assert payload["summary"] == "healthy"
    assert payload["counts"] == {
        "rss_bytes": 200 * MIB,
        "open_fds": 37,
        "threads": 6,
        "disk_free_bytes": 40 * GIB,
        "audit_bytes": 1500,
        "ports_unconfigured": 0,
    }
    details = payload["details"]
    assert details["disk_free_ratio"] == 0.4
    assert details["stream_bytes"] == {"control": 1200, "health": 300, "costs": 0}
    assert details["ports"] == {
        "agent": "configured",
        "host": "configured",
        **{f"{repo}/{port}": "configured" for repo in ("app", "lib") for port in REPO_PORTS},
    }
    assert details["unconfigured_ports"] == []


async def test_unconfigured_ports_are_listed_and_counted(tmp_path: Path) -> None:
    mock = MockWorld(["app"])
    mock.agent.unconfigured = "no agent CLI found"
    payload = await _tick(tmp_path, mock.world)
    # A missing agent is visible in the report; it is not a health warning by itself.
    assert payload["status"] == "ok"
    assert payload["counts"]["ports_unconfigured"] == 1
    assert payload["details"]["ports"]["agent"] == "unconfigured"
    assert payload["details"]["ports"]["app/issues"] == "configured"
    assert payload["details"]["unconfigured_ports"] == ["agent"]


@pytest.mark.parametrize(
    ("free_gib", "status"),
    [(50, "ok"), (10, "ok"), (9, "warning"), (0, "warning")],
)
async def test_warning_below_ten_percent_free_disk(
    tmp_path: Path, free_gib: int, status: str
) -> None:
    mock = MockWorld()
    mock.host.set(total_bytes=100 * GIB, free_bytes=free_gib * GIB)
    payload = await _tick(tmp_path, mock.world)
    assert payload["status"] == status
    if status == "warning":
        assert payload["summary"] == f"free disk {free_gib}.0% below 10%"
    else:
        assert payload["summary"] == "healthy"


async def test_free_disk_threshold_is_an_option(tmp_path: Path) -> None:
    mock = MockWorld()
    mock.host.set(total_bytes=100 * GIB, free_bytes=40 * GIB)
    payload = await _tick(tmp_path, mock.world, min_free_disk_ratio=0.5)
    assert payload["status"] == "warning"
    assert payload["summary"] == "free disk 40.0% below 50%"


async def test_warning_above_the_default_rss_ceiling(tmp_path: Path) -> None:
    mock = MockWorld()
    mock.host.set(rss_bytes=2048 * MIB)
    payload = await _tick(tmp_path, mock.world)
    assert payload["status"] == "warning"
    assert payload["summary"] == "rss 2048 MiB above ceiling 1024 MiB"


@pytest.mark.parametrize(("rss_mib", "status"), [(256, "ok"), (257, "warning")])
async def test_rss_ceiling_is_configurable(tmp_path: Path, rss_mib: int, status: str) -> None:
    mock = MockWorld()
    mock.host.set(rss_bytes=rss_mib * MIB)
    payload = await _tick(tmp_path, mock.world, rss_ceiling_mb=256)
    assert payload["status"] == status
    assert payload["counts"]["rss_bytes"] == rss_mib * MIB


async def test_both_warnings_are_reported_together(tmp_path: Path) -> None:
    mock = MockWorld()
    mock.host.set(rss_bytes=600 * MIB, total_bytes=100 * GIB, free_bytes=5 * GIB)
    payload = await _tick(tmp_path, mock.world, rss_ceiling_mb=512)
    assert payload["status"] == "warning"
    assert payload["summary"] == "rss 600 MiB above ceiling 512 MiB; free disk 5.0% below 10%"


async def test_the_real_host_reports_this_process_and_the_data_dir(tmp_path: Path) -> None:
    mock = MockWorld()
    world = World(
        kind="local",
        agent=FakeAgent(unconfigured="none here"),
        host=PsutilHost(tmp_path, tmp_path / "audit"),
        clock=mock.clock,
        repos=mock.world.repos,
    )
    payload = await _tick(tmp_path, world)
    counts, details = payload["counts"], payload["details"]
    assert counts["rss_bytes"] > MIB
    assert counts["open_fds"] >= 3
    assert counts["disk_free_bytes"] > 0
    assert 0 < details["disk_free_ratio"] <= 1
    # Every stream the runtime opened has a directory of segments; the loop's own stream has
    # at least its tick.started record by the time the tick measures it.
    streams = details["stream_bytes"]
    assert {"control", "health"} <= set(streams)
    assert streams["health"] > 0
    assert counts["audit_bytes"] == sum(streams.values())
    assert details["ports"]["agent"] == "unconfigured"
    assert details["ports"]["host"] == "configured"
    assert counts["ports_unconfigured"] == 1


async def test_a_probe_the_host_cannot_answer_is_a_warning_not_a_crash(tmp_path: Path) -> None:
    mock = MockWorld()
    mock.host.set(open_fds=21)
    mock.host.streams = {"control": 10}
    mock.host.faults.inject(
        "disk_usage", FileNotFoundError(2, "No such file or directory"), times=1
    )
    payload = await _tick(tmp_path, mock.world)
    assert payload["status"] == "warning"
    assert payload["summary"] == "cannot read disk usage: No such file or directory"
    assert "disk_free_bytes" not in payload["counts"]
    assert "disk_free_ratio" not in payload["details"]
    # Everything else is still reported.
    assert payload["counts"]["open_fds"] == 21
    assert payload["details"]["stream_bytes"] == {"control": 10}
    assert payload["details"]["ports"]["agent"] == "configured"


async def test_every_probe_failing_still_reports_the_ports(tmp_path: Path) -> None:
    mock = MockWorld()
    for method in ("process_stats", "disk_usage", "stream_sizes"):
        mock.host.faults.inject(method, PermissionError(13, "Permission denied"))
    payload = await _tick(tmp_path, mock.world)
    assert payload["status"] == "warning"
    assert payload["summary"] == (
        "cannot read process stats: Permission denied; "
        "cannot read disk usage: Permission denied; "
        "cannot read audit stream sizes: Permission denied"
    )
    assert payload["counts"] == {"ports_unconfigured": 0}
    assert set(payload["details"]) == {"ports", "unconfigured_ports"}
