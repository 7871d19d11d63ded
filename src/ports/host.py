"""The host port: what the daemon's own process and data dir look like from the inside."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from ports._info import PortInfo


@dataclass(frozen=True)
class ProcessStats:
    rss_bytes: int
    open_fds: int
    threads: int


@dataclass(frozen=True)
class DiskUsage:
    total_bytes: int
    free_bytes: int

    @property
    def free_ratio(self) -> float:
        return self.free_bytes / self.total_bytes if self.total_bytes else 0.0


@runtime_checkable
class HostPort(Protocol):
    """Telemetry of the daemon process and its data dir. Read-only; raises nothing but OSError."""

    def info(self) -> PortInfo:
        """Which host adapter this is."""
        ...

    async def process_stats(self) -> ProcessStats:
        """Resident memory, open file descriptors and threads of the daemon."""
        ...

    async def disk_usage(self) -> DiskUsage:
        """Size and free space of the file system holding the data dir."""
        ...

    async def stream_sizes(self) -> dict[str, int]:
        """Bytes on disk per audit stream."""
        ...
