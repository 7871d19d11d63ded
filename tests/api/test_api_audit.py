"""``/api/audit``: streams with sizes and counts, pages by seq and by time, filters, verify."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from tests.api.conftest import Api, open_api

pytestmark = pytest.mark.anyio

# (action, actor, run): 12 records in the ``ops`` stream, seq 1..12 in this order.
OPS = [
    ("tick.started", "loop:counting", "run-1"),
    ("tick.finished", "loop:counting", "run-1"),
    ("loop.disabled", "dashboard", None),
    ("tick", "daemon", None),
    ("ticket.opened", "loop:counting", "run-2"),
    ("tick.started", "loop:counting", "run-2"),
    ("tick.crashed", "loop:counting", "run-2"),
    ("loop.enabled", "cli", None),
    ("tick.started", "loop:counting", "run-3"),
    ("tick.phase.done", "loop:counting", "run-3"),
    ("tick.finished", "loop:counting", "run-3"),
    ("loop.updated", "api", None),
]


@pytest.fixture
async def audit_api(tmp_path: Path) -> AsyncIterator[Api]:
    async with open_api(tmp_path) as api:
        ops = await api.harness.audit.stream("ops")
        for n, (action, actor, run) in enumerate(OPS, start=1):
            await ops.append(action, actor=actor, payload={"n": n}, run=run)
        yield api


async def page(api: Api, stream: str = "ops", **params: Any) -> dict[str, Any]:
    response = await api.client.get(f"/api/audit/{stream}", params=params)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def seqs(body: dict[str, Any]) -> list[int]:
    return [r["seq"] for r in body["records"]]


async def test_streams_with_sizes_and_record_counts(audit_api: Api) -> None:
    response = await audit_api.client.get("/api/audit/streams")
    assert response.status_code == 200
    streams = {s["stream"]: s for s in response.json()["streams"]}
    assert {"control", "costs", "counting", "blocking", "escalations", "ops"} <= set(streams)
    ops = streams["ops"]
    files = sorted((audit_api.harness.root / "audit" / "ops").glob("*.jsonl"))
    assert ops == {
        "stream": "ops",
        "segments": len(files),
        "bytes": sum(f.stat().st_size for f in files),
        "first_seq": 1,
        "last_seq": 12,
        "records": 12,
    }
    assert streams["costs"]["records"] == 0
    assert streams["costs"]["first_seq"] is None


async def test_a_page_is_newest_first_with_full_records(audit_api: Api) -> None:
    body = await page(audit_api)
    assert body["stream"] == "ops"
    assert seqs(body) == list(range(12, 0, -1))
    assert body["next_before_seq"] is None
    newest = body["records"][0]
    assert newest["action"] == "loop.updated"
    assert newest["actor"] == "api"
    assert newest["payload"] == {"n": 12}
    assert {"v", "stream", "seq", "ts", "actor", "action", "run", "payload", "prev", "hash"} <= set(
        newest
    )


async def test_paging_back_by_seq(audit_api: Api) -> None:
    first = await page(audit_api, limit=5)
    assert seqs(first) == [12, 11, 10, 9, 8]
    assert first["next_before_seq"] == 8
    second = await page(audit_api, limit=5, before_seq=first["next_before_seq"])
    assert seqs(second) == [7, 6, 5, 4, 3]
    assert second["next_before_seq"] == 3
    last = await page(audit_api, limit=5, before_seq=second["next_before_seq"])
    assert seqs(last) == [2, 1]
    assert last["next_before_seq"] is None
    exact = await page(audit_api, limit=2, before_seq=3)
    assert (seqs(exact), exact["next_before_seq"]) == ([2, 1], None)
    assert seqs(await page(audit_api, before_seq=1)) == []


async def test_paging_by_time(audit_api: Api) -> None:
    records = (await page(audit_api))["records"][::-1]  # oldest first
    since, until = records[3]["ts"], records[9]["ts"]
    expected = [r["seq"] for r in records if since <= r["ts"] < until][::-1]
    assert expected  # 4..9 unless several records share a microsecond
    body = await page(audit_api, since=since, until=until)
    assert seqs(body) == expected
    assert seqs(await page(audit_api, since=since)) == [
        r["seq"] for r in records[::-1] if r["ts"] >= since
    ]
    assert seqs(await page(audit_api, until=until)) == [
        r["seq"] for r in records[::-1] if r["ts"] < until
    ]
    # Time and seq paging combine.
    body = await page(audit_api, since=since, until=until, limit=2)
    assert seqs(body) == expected[:2]
    rest = await page(audit_api, since=since, until=until, before_seq=body["next_before_seq"])
    assert seqs(rest) == expected[2:]


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"action": "tick.started"}, [9, 6, 1]),
        ({"action": ["tick.started", "loop.enabled"]}, [9, 8, 6, 1]),
        ({"action": "tick.*"}, [11, 10, 9, 7, 6, 2, 1]),  # not "tick", not "ticket.opened"
        ({"action": ["loop.*", "tick"]}, [12, 8, 4, 3]),
        ({"action": "tick.phase.*"}, [10]),
        ({"action": "nothing"}, []),
        ({"run": "run-2"}, [7, 6, 5]),
        ({"actor": "dashboard"}, [3]),
        ({"actor": "loop:counting", "action": "tick.finished"}, [11, 2]),
        ({"run": "run-3", "action": "tick.*", "actor": "loop:counting"}, [11, 10, 9]),
        ({"run": "run-1", "actor": "cli"}, []),
    ],
)
async def test_filters(audit_api: Api, params: dict[str, Any], expected: list[int]) -> None:
    assert seqs(await page(audit_api, **params)) == expected


async def test_paging_under_a_filter(audit_api: Api) -> None:
    body = await page(audit_api, action="tick.*", limit=3)
    assert seqs(body) == [11, 10, 9]
    assert body["next_before_seq"] == 9
    body = await page(audit_api, action="tick.*", limit=3, before_seq=9)
    assert seqs(body) == [7, 6, 2]
    body = await page(audit_api, action="tick.*", limit=3, before_seq=2)
    assert (seqs(body), body["next_before_seq"]) == ([1], None)


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/api/audit/nope"),
        ("POST", "/api/audit/nope/verify"),
        ("GET", "/api/audit/Control"),
        ("GET", "/api/audit/.."),
        ("GET", "/api/audit/..%2Fstate"),
        ("POST", "/api/audit/%2E%2E/verify"),
    ],
)
async def test_unknown_stream_is_404(audit_api: Api, method: str, path: str) -> None:
    response = await audit_api.client.request(method, path)
    assert response.status_code == 404
    assert response.json()["error"]


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"limit": "0"}, "limit"),
        ({"limit": "501"}, "limit"),
        ({"limit": "many"}, "limit"),
        ({"before_seq": "0"}, "before_seq"),
        ({"before_seq": "abc"}, "before_seq"),
        ({"action": "*"}, "action.0"),
        ({"action": ["tick.*", "a*b"]}, "action.1"),
        ({"action": ""}, "action.0"),
        ({"action": ".*"}, "action.0"),
        ({"since": "2026-01-01T00:00:00"}, "since"),
        ({"until": "soon"}, "until"),
        ({"since": "2026-01-02T00:00:00Z", "until": "2026-01-01T00:00:00Z"}, "since"),
        ({"since": "2026-01-01T00:00:00Z", "until": "2026-01-01T00:00:00Z"}, "since"),
        ({"stream": "control"}, "stream"),
    ],
)
async def test_bad_page_queries_are_422_naming_the_field(
    audit_api: Api, params: dict[str, Any], field: str
) -> None:
    response = await audit_api.client.get("/api/audit/ops", params=params)
    assert response.status_code == 422
    body = response.json()
    assert body["field"] == field
    assert body["error"].startswith(f"{field}: ")


async def test_verify_a_sound_stream(audit_api: Api) -> None:
    response = await audit_api.client.post("/api/audit/ops/verify")
    assert response.status_code == 200
    body = response.json()
    assert body["ok"] is True
    assert (body["stream"], body["records"], body["first_seq"], body["last_seq"]) == (
        "ops",
        12,
        1,
        12,
    )
    assert body["findings"] == []
    assert len(body["segments"]) == 1


async def test_verify_finds_a_damaged_record(audit_api: Api) -> None:
    segment = sorted((audit_api.harness.root / "audit" / "ops").glob("*.jsonl"))[0]
    data = segment.read_bytes()
    lines = data.splitlines(keepends=True)
    assert b'"payload":{"n":5}' in lines[4]
    lines[4] = lines[4].replace(b'"payload":{"n":5}', b'"payload":{"n":6}')
    segment.write_bytes(b"".join(lines))  # same length: only the hash chain can tell

    response = await audit_api.client.post("/api/audit/ops/verify")
    assert response.status_code == 200
    body = response.json()
    assert body["ok"] is False
    finding = body["findings"][0]
    assert finding["kind"] == "hash_mismatch"
    assert finding["line"] == 5
    assert finding["segment"] == segment.name
    assert finding["offset"] == sum(len(line) for line in lines[:4])
