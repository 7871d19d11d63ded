from __future__ import annotations

import pytest

from fakes import FakeHost
from ports import DiskUsage, ProcessStats

pytestmark = pytest.mark.anyio


async def test_reports_what_it_was_given() -> None:
    host = FakeHost(
        process=ProcessStats(rss_bytes=1, open_fds=2, threads=3),
        disk=DiskUsage(total_bytes=10, free_bytes=1),
        streams={"control": 5},
    )
    assert await host.process_stats() == ProcessStats(1, 2, 3)
    assert (await host.disk_usage()).free_ratio == 0.1
    assert await host.stream_sizes() == {"control": 5}


async def test_set_changes_some_figures_and_keeps_the_rest() -> None:
    host = FakeHost()
    before = await host.process_stats()
    host.set(rss_bytes=5 * 1024**3, free_bytes=0)
    after = await host.process_stats()
    assert after.rss_bytes == 5 * 1024**3
    assert (after.open_fds, after.threads) == (before.open_fds, before.threads)
    disk = await host.disk_usage()
    assert (disk.free_bytes, disk.free_ratio) == (0, 0.0)
    host.set(open_fds=900, threads=2, total_bytes=100, free_bytes=50)
    assert await host.process_stats() == ProcessStats(5 * 1024**3, 900, 2)
    assert await host.disk_usage() == DiskUsage(100, 50)


async def test_stream_sizes_are_a_copy() -> None:
    host = FakeHost(streams={"a": 1})
    sizes = await host.stream_sizes()
    sizes["a"] = 99
    host.streams["b"] = 2
    assert await host.stream_sizes() == {"a": 1, "b": 2}


async def test_faults_raise_os_errors() -> None:
    host = FakeHost()
    host.faults.inject("disk_usage", OSError("stale NFS handle"))
    with pytest.raises(OSError, match="stale"):
        await host.disk_usage()
    assert (await host.disk_usage()).total_bytes > 0
    assert host.info().implementation == "fake"
