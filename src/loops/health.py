"""The ``health`` loop: the daemon watching itself (memory, descriptors, disk, streams, ports)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field

from hydra.sdk import Loop, TickContext, TickResult

_MIB = 1024 * 1024
T = TypeVar("T")


class HealthOptions(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)

    rss_ceiling_mb: float = Field(default=1024.0, gt=0)
    """Warn when the daemon's resident memory passes this many MiB."""
    min_free_disk_ratio: float = Field(default=0.10, ge=0, le=1)
    """Warn when the data dir's file system has less than this fraction free."""


class HealthLoop(Loop[HealthOptions]):
    name = "health"
    description = "Records the daemon's memory, open files, disk headroom, audit sizes and ports."
    area = "operations"
    default_interval_s = 60.0
    interval_bounds = (1.0, 86_400.0)
    ports = ("host",)
    Options = HealthOptions
    default_timeout_s = 30.0
    audit_actions = ()

    async def tick(self, ctx: TickContext[HealthOptions]) -> TickResult:
        host = ctx.world.host
        warnings: list[str] = []
        counts: dict[str, int] = {}
        details: dict[str, Any] = {}
        # Each probe on its own: a host that cannot say one thing (a vanished data dir, no
        # /proc) is a warning in the report, not a crashed tick that hides the other figures.
        stats = await _probe(host.process_stats, "process stats", warnings)
        if stats is not None:
            counts.update(rss_bytes=stats.rss_bytes, open_fds=stats.open_fds, threads=stats.threads)
            rss_mb = stats.rss_bytes / _MIB
            if rss_mb > ctx.options.rss_ceiling_mb:
                warnings.append(
                    f"rss {rss_mb:.0f} MiB above ceiling {ctx.options.rss_ceiling_mb:.0f} MiB"
                )
        disk = await _probe(host.disk_usage, "disk usage", warnings)
        if disk is not None:
            counts["disk_free_bytes"] = disk.free_bytes
            details["disk_free_ratio"] = round(disk.free_ratio, 4)
            if disk.free_ratio < ctx.options.min_free_disk_ratio:
                warnings.append(
                    f"free disk {disk.free_ratio:.1%} below {ctx.options.min_free_disk_ratio:.0%}"
                )
        streams = await _probe(host.stream_sizes, "audit stream sizes", warnings)
        if streams is not None:
            counts["audit_bytes"] = sum(streams.values())
            details["stream_bytes"] = streams
        port_states = {name: info.state for name, info in ctx.world.port_infos().items()}
        unconfigured = sorted(
            name for name, state in port_states.items() if state == "unconfigured"
        )
        counts["ports_unconfigured"] = len(unconfigured)
        details["ports"] = port_states
        details["unconfigured_ports"] = unconfigured
        return TickResult(
            status="warning" if warnings else "ok",
            counts=counts,
            summary="; ".join(warnings) or "healthy",
            details=details,
        )


async def _probe(read: Callable[[], Awaitable[T]], what: str, warnings: list[str]) -> T | None:
    try:
        return await read()
    except OSError as exc:
        warnings.append(f"cannot read {what}: {exc.strerror or exc}")
        return None
