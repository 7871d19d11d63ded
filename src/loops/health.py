"""The ``health`` loop: the daemon watching itself (memory, descriptors, disk, streams, ports)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from hydra.sdk import Loop, TickContext, TickResult

_MIB = 1024 * 1024


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
        stats = await host.process_stats()
        disk = await host.disk_usage()
        streams = await host.stream_sizes()
        port_states = {name: info.state for name, info in ctx.world.port_infos().items()}
        warnings: list[str] = []
        rss_mb = stats.rss_bytes / _MIB
        if rss_mb > ctx.options.rss_ceiling_mb:
            warnings.append(
                f"rss {rss_mb:.0f} MiB above ceiling {ctx.options.rss_ceiling_mb:.0f} MiB"
            )
        if disk.free_ratio < ctx.options.min_free_disk_ratio:
            warnings.append(
                f"free disk {disk.free_ratio:.1%} below {ctx.options.min_free_disk_ratio:.0%}"
            )
        unconfigured = sorted(
            name for name, state in port_states.items() if state == "unconfigured"
        )
        return TickResult(
            status="warning" if warnings else "ok",
            counts={
                "rss_bytes": stats.rss_bytes,
                "open_fds": stats.open_fds,
                "threads": stats.threads,
                "disk_free_bytes": disk.free_bytes,
                "audit_bytes": sum(streams.values()),
                "ports_unconfigured": len(unconfigured),
            },
            summary="; ".join(warnings) or "healthy",
            details={
                "disk_free_ratio": round(disk.free_ratio, 4),
                "stream_bytes": streams,
                "ports": port_states,
                "unconfigured_ports": unconfigured,
            },
        )
