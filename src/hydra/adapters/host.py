"""HostPort over psutil and the data dir: the daemon's own memory, descriptors and disk."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import anyio
import psutil

from ports import DiskUsage, HostPort, PortInfo, ProcessStats


class PsutilHost(HostPort):
    """Telemetry of this process and of the file system holding ``data_dir``."""

    def __init__(self, data_dir: Path, audit_root: Path) -> None:
        self._data_dir = data_dir
        self._audit_root = audit_root
        self._process = psutil.Process(os.getpid())

    def info(self) -> PortInfo:
        return PortInfo(implementation="psutil", state="configured", detail=str(self._data_dir))

    async def process_stats(self) -> ProcessStats:
        return await anyio.to_thread.run_sync(self._process_stats)

    def _process_stats(self) -> ProcessStats:
        with self._process.oneshot():
            return ProcessStats(
                rss_bytes=self._process.memory_info().rss,
                open_fds=self._process.num_fds(),
                threads=self._process.num_threads(),
            )

    async def disk_usage(self) -> DiskUsage:
        usage = await anyio.to_thread.run_sync(shutil.disk_usage, self._data_dir)
        return DiskUsage(total_bytes=usage.total, free_bytes=usage.free)

    async def stream_sizes(self) -> dict[str, int]:
        return await anyio.to_thread.run_sync(self._stream_sizes)

    def _stream_sizes(self) -> dict[str, int]:
        sizes: dict[str, int] = {}
        if not self._audit_root.is_dir():
            return sizes
        for stream_dir in sorted(self._audit_root.iterdir()):
            if stream_dir.is_dir():
                sizes[stream_dir.name] = sum(
                    f.stat().st_size for f in stream_dir.iterdir() if f.suffix == ".jsonl"
                )
        return sizes
