"""``/metrics`` in the Prometheus text format (``prometheus_client``, a registry per daemon).

Counters and histograms are fed by runtime events (tick outcomes, audit commits); gauges and the
spend counters are read from the runtime's state at scrape time, so they are always current.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, get_args

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from starlette.requests import Request
from starlette.responses import Response

from hydra.sdk import OutcomeKind, TickOutcome, TickStatus

if TYPE_CHECKING:
    from hydra.runtime import Runtime

_TICK_BUCKETS = (0.01, 0.05, 0.1, 0.5, 1, 5, 15, 60, 300, 900, 3600)
_FSYNC_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 1)
_RESULTS = frozenset((*get_args(TickStatus), *get_args(OutcomeKind)))
"""The ``result`` label's values. A tick status outside the declared set comes from a loop
that broke its contract: counted as ``invalid``, never copied into a label (free text from loop
code could carry a secret, and would grow the label's cardinality)."""


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.ticks = Counter(
            "hydra_ticks", "Ticks by loop and result", ["loop", "result"], registry=self.registry
        )
        self.tick_seconds = Histogram(
            "hydra_tick_duration_seconds",
            "Tick duration by loop",
            ["loop"],
            buckets=_TICK_BUCKETS,
            registry=self.registry,
        )
        self.audit_bytes = Counter(
            "hydra_audit_written_bytes",
            "Bytes appended to audit streams",
            ["stream"],
            registry=self.registry,
        )
        self.audit_records = Counter(
            "hydra_audit_records",
            "Records appended to audit streams",
            ["stream"],
            registry=self.registry,
        )
        self.fsync_seconds = Histogram(
            "hydra_audit_fsync_seconds",
            "Time to make one commit round durable",
            buckets=_FSYNC_BUCKETS,
            registry=self.registry,
        )
        self._runtime: Runtime | None = None

    def attach(self, runtime: Runtime) -> None:
        """Read gauges and spend from ``runtime`` at scrape time."""
        self._runtime = runtime
        self.registry.register(_StateCollector(self))

    # ------------------------------------------------------------------ event feeds
    def on_outcome(self, loop: str, outcome: TickOutcome) -> None:
        status = outcome.status
        self.ticks.labels(loop=loop, result=status if status in _RESULTS else "invalid").inc()
        if outcome.kind != "skipped":
            self.tick_seconds.labels(loop=loop).observe(outcome.duration_s)

    def on_commit(
        self, stream: str, records: Sequence[Mapping[str, Any]] | int, nbytes: int, sync_s: float
    ) -> None:
        count = records if isinstance(records, int) else len(records)
        self.audit_records.labels(stream=stream).inc(count)
        self.audit_bytes.labels(stream=stream).inc(nbytes)
        self.fsync_seconds.observe(sync_s)

    def render(self) -> bytes:
        return generate_latest(self.registry)


class _StateCollector(Collector):
    def __init__(self, metrics: Metrics) -> None:
        self._metrics = metrics

    def collect(self) -> Iterator[Metric]:
        rt = self._metrics._runtime
        if rt is None:
            return
        enabled = GaugeMetricFamily(
            "hydra_loop_enabled", "1 when every gate lets the loop run", labels=["loop"]
        )
        backoff = GaugeMetricFamily(
            "hydra_loop_backoff_seconds", "Current backoff after failures", labels=["loop"]
        )
        failures = GaugeMetricFamily(
            "hydra_loop_consecutive_failures",
            "Crashed or timed-out ticks in a row",
            labels=["loop"],
        )
        for status in rt.orchestrator.statuses():
            enabled.add_metric([status.name], 0.0 if rt.board.blocked_reason(status.name) else 1.0)
            backoff.add_metric([status.name], status.backoff_s)
            failures.add_metric([status.name], float(status.consecutive_failures))
        yield enabled
        yield backoff
        yield failures
        # Two families, not one with an empty label on each sample: each sums to the total.
        by_loop = CounterMetricFamily(
            "hydra_loop_spend_usd", "Spend in the costs stream by loop", labels=["loop"]
        )
        by_source = CounterMetricFamily(
            "hydra_source_spend_usd", "Spend in the costs stream by source", labels=["source"]
        )
        live = rt.ledger.live
        for loop, totals in sorted(live.by_loop.items()):
            by_loop.add_metric([loop], totals.usd)
        for source, totals in sorted(live.by_source.items()):
            by_source.add_metric([source], totals.usd)
        yield by_loop
        yield by_source


async def metrics_endpoint(request: Request) -> Response:
    metrics: Metrics = request.app.state.metrics
    return Response(metrics.render(), media_type=CONTENT_TYPE_LATEST)
