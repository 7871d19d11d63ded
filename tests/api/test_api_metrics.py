"""``GET /metrics``: the Prometheus text format, parsed with prometheus_client's own parser."""

from __future__ import annotations

from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample

from tests.api.conftest import Api, open_api
from tests.helpers.loops import CountingLoop, CrashingLoop

pytestmark = pytest.mark.anyio

FAMILIES = {
    "hydra_ticks": "counter",
    "hydra_tick_duration_seconds": "histogram",
    "hydra_loop_enabled": "gauge",
    "hydra_loop_backoff_seconds": "gauge",
    "hydra_loop_consecutive_failures": "gauge",
    "hydra_loop_spend_usd": "counter",
    "hydra_source_spend_usd": "counter",
    "hydra_audit_written_bytes": "counter",
    "hydra_audit_records": "counter",
    "hydra_audit_fsync_seconds": "histogram",
}


async def scrape(api: Api) -> dict[str, list[Sample]]:
    response = await api.client.get("/metrics", headers={"Authorization": ""})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=")
    families = {f.name: f for f in text_string_to_metric_families(response.text)}
    for name, kind in FAMILIES.items():
        assert name in families, name
        assert families[name].type == kind, name
    return {name: list(f.samples) for name, f in families.items()}


def value(samples: list[Sample], name: str, **labels: str) -> float:
    found = [s.value for s in samples if s.name == name and s.labels == labels]
    assert len(found) == 1, (name, labels, samples)
    return found[0]


async def test_ticks_durations_enabled_backoff_and_spend(tmp_path: Path) -> None:
    tables = {"counting": {"interval_s": 3600}}
    async with open_api(tmp_path, [CountingLoop, CrashingLoop], tables) as api:
        crashing = api.runtime.orchestrator.status("crashing")
        counting = api.runtime.orchestrator.status("counting")
        await api.harness.wait_for(lambda: counting.ticks >= 1 and crashing.backoff_s > 0)
        await api.client.put("/api/loops/counting", json={"enabled": False, "reason": "m"})
        await api.spend(0.25, source="agent.claude")
        await api.spend(0.5, source="gh")
        await api.spend(0.125, loop=None, source="gh")

        metrics = await scrape(api)
        ticks = metrics["hydra_ticks"]
        assert value(ticks, "hydra_ticks_total", loop="counting", result="ok") == 1
        assert value(ticks, "hydra_ticks_total", loop="crashing", result="crashed") >= 1
        durations = metrics["hydra_tick_duration_seconds"]
        assert value(durations, "hydra_tick_duration_seconds_count", loop="counting") == 1
        assert value(durations, "hydra_tick_duration_seconds_bucket", loop="counting", le="+Inf")
        enabled = metrics["hydra_loop_enabled"]
        assert value(enabled, "hydra_loop_enabled", loop="counting") == 0
        assert value(enabled, "hydra_loop_enabled", loop="crashing") == 1
        backoff = metrics["hydra_loop_backoff_seconds"]
        assert value(backoff, "hydra_loop_backoff_seconds", loop="crashing") > 0
        assert value(backoff, "hydra_loop_backoff_seconds", loop="counting") == 0
        failures = metrics["hydra_loop_consecutive_failures"]
        assert value(failures, "hydra_loop_consecutive_failures", loop="crashing") >= 1
        by_loop = metrics["hydra_loop_spend_usd"]
        assert value(by_loop, "hydra_loop_spend_usd_total", loop="counting") == 0.75
        assert value(by_loop, "hydra_loop_spend_usd_total", loop="(daemon)") == 0.125
        by_source = metrics["hydra_source_spend_usd"]
        assert value(by_source, "hydra_source_spend_usd_total", source="agent.claude") == 0.25
        assert value(by_source, "hydra_source_spend_usd_total", source="gh") == 0.625
        # Each family sums to the total spend: no sample is counted twice.
        assert sum(s.value for s in by_loop) == sum(s.value for s in by_source) == 0.875


async def test_audit_commits_are_counted(api: Api) -> None:
    api.metrics.on_commit("control", 3, 900, 0.002)
    api.metrics.on_commit("control", [{"seq": 4}], 300, 0.0001)
    metrics = await scrape(api)
    written = metrics["hydra_audit_written_bytes"]
    assert value(written, "hydra_audit_written_bytes_total", stream="control") == 1200
    records = metrics["hydra_audit_records"]
    assert value(records, "hydra_audit_records_total", stream="control") == 4
    fsync = metrics["hydra_audit_fsync_seconds"]
    assert value(fsync, "hydra_audit_fsync_seconds_count") == 2
    assert value(fsync, "hydra_audit_fsync_seconds_bucket", le="0.0005") == 1


async def test_metrics_need_no_token_but_do_check_the_host(api: Api) -> None:
    response = await api.client.get("/metrics", headers={"Host": "evil.example"})
    assert response.status_code == 400
