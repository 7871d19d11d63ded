"""A host whose memory, descriptors, disk and audit stream sizes a test sets directly."""

from __future__ import annotations

from collections.abc import Mapping

from fakes._faults import Faults
from ports import DiskUsage, HostPort, PortInfo, ProcessStats

_MIB = 1024 * 1024
_GIB = 1024 * _MIB


class FakeHost(HostPort):
    """:class:`ports.HostPort` reporting whatever :attr:`process`, :attr:`disk` and
    :attr:`streams` hold. Assign them (or call :meth:`set`) to stage a memory leak, a full disk
    or a runaway stream; inject an ``OSError`` through :attr:`faults`."""

    def __init__(
        self,
        *,
        process: ProcessStats | None = None,
        disk: DiskUsage | None = None,
        streams: Mapping[str, int] | None = None,
    ) -> None:
        self.process = process or ProcessStats(rss_bytes=64 * _MIB, open_fds=16, threads=4)
        self.disk = disk or DiskUsage(total_bytes=100 * _GIB, free_bytes=50 * _GIB)
        self.streams: dict[str, int] = dict(streams or {})
        self.faults = Faults(("process_stats", "disk_usage", "stream_sizes"))

    def info(self) -> PortInfo:
        return PortInfo(implementation="fake", state="configured", detail="in-memory host")

    async def process_stats(self) -> ProcessStats:
        self.faults.check("process_stats")
        return self.process

    async def disk_usage(self) -> DiskUsage:
        self.faults.check("disk_usage")
        return self.disk

    async def stream_sizes(self) -> dict[str, int]:
        self.faults.check("stream_sizes")
        return dict(self.streams)

    def set(
        self,
        *,
        rss_bytes: int | None = None,
        open_fds: int | None = None,
        threads: int | None = None,
        total_bytes: int | None = None,
        free_bytes: int | None = None,
    ) -> None:
        """Change some figures and keep the others."""
        p, d = self.process, self.disk
        self.process = ProcessStats(
            rss_bytes=p.rss_bytes if rss_bytes is None else rss_bytes,
            open_fds=p.open_fds if open_fds is None else open_fds,
            threads=p.threads if threads is None else threads,
        )
        self.disk = DiskUsage(
            total_bytes=d.total_bytes if total_bytes is None else total_bytes,
            free_bytes=d.free_bytes if free_bytes is None else free_bytes,
        )
