"""HostPort contract: plausible, well-typed telemetry of the process and its data dir.

Runs against: ``fake`` (fakes.FakeHost) and ``psutil`` (hydra.adapters.host.PsutilHost).
"""

from __future__ import annotations

import pytest

from ports import HostPort

PORT = "host"
pytestmark = pytest.mark.anyio


async def test_info_says_configured(impl: HostPort) -> None:
    info = impl.info()
    assert info.state == "configured"
    assert info.implementation


async def test_process_stats(impl: HostPort) -> None:
    stats = await impl.process_stats()
    assert stats.rss_bytes > 0
    assert stats.open_fds > 0
    assert stats.threads >= 1


async def test_disk_usage(impl: HostPort) -> None:
    disk = await impl.disk_usage()
    assert disk.total_bytes > 0
    assert 0 <= disk.free_bytes <= disk.total_bytes
    assert 0.0 <= disk.free_ratio <= 1.0


async def test_stream_sizes(impl: HostPort) -> None:
    sizes = await impl.stream_sizes()
    assert sizes
    for name, size in sizes.items():
        assert isinstance(name, str)
        assert name
        assert isinstance(size, int)
        assert size >= 0
