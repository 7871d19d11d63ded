"""query(): byte pre-filter + parse; output is exactly the matching records' lines."""

from __future__ import annotations

import io
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import pytest

from hydra.audit import RecordFilter, bulk_append, iter_records, query

ACTIONS = ["tick.started", "tick.finished", "tick.crashed", "loop.disabled", 'odd "quoted"', "ünï"]


@pytest.fixture(scope="module")
def stream_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("query") / "audit"
    rng = random.Random(7)
    entries = []
    for i in range(600):
        action = rng.choice(ACTIONS)
        payload: dict[str, object] = {"i": i}
        if i % 7 == 0:  # decoys: the needle inside a payload
            payload["action"] = "tick.started"
            payload["nested"] = {"run": "run-3", "actor": "api"}
        entries.append(
            (
                action,
                rng.choice(["api", "orchestrator", 'we"ird']),
                payload,
                rng.choice([None, "run-1", "run-2", "run-3"]),
            )
        )
    bulk_append(root, "control", entries, segment_max_bytes=8000)
    segment = sorted((root / "control").glob("*.jsonl"))[-1]
    with segment.open("ab") as handle:  # junk and a partial line are never output
        handle.write(b'not json "action":"tick.started"\n{"v":1,"action":"tick.started"')
    return root


def _expected(root: Path, flt: RecordFilter, limit: int | None = None) -> bytes:
    records = [orjson.dumps(r) + b"\n" for r in iter_records(root, "control", filter=flt)]
    return b"".join(records[:limit])


def _run(root: Path, flt: RecordFilter | None, limit: int | None = None) -> tuple[int, bytes]:
    out = io.BytesIO()
    count = query(root, "control", flt, limit=limit, out=out)
    return count, out.getvalue()


def _middle_ts(root: Path) -> datetime:
    records = list(iter_records(root, "control"))
    stamp = str(records[len(records) // 2]["ts"])
    return datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)


FILTERS = [
    RecordFilter(),
    RecordFilter(actions=frozenset({"tick.started"})),
    RecordFilter(actions=frozenset({"tick.*"})),
    RecordFilter(actions=frozenset({"tick.finished", "loop.disabled"})),
    RecordFilter(actions=frozenset({'odd "quoted"'})),
    RecordFilter(actions=frozenset({"ünï"})),
    RecordFilter(actions=frozenset({"nothing"})),
    RecordFilter(actions=frozenset()),
    RecordFilter(run="run-3"),
    RecordFilter(actor="api"),
    RecordFilter(actor='we"ird', run="run-1"),
    RecordFilter(actions=frozenset({"tick.*"}), run="run-2", actor="orchestrator"),
]


def _label(flt: RecordFilter) -> str:
    """A stable id (frozenset reprs depend on the hash seed, which differs per xdist worker)."""
    parts = [",".join(sorted(flt.actions)) if flt.actions is not None else ""]
    parts += [flt.run or "", flt.actor or ""]
    return "|".join(parts).encode("ascii", "backslashreplace").decode()


@pytest.mark.parametrize("flt", FILTERS, ids=_label)
def test_output_is_exactly_the_matching_records(stream_root: Path, flt: RecordFilter) -> None:
    count, output = _run(stream_root, flt)
    expected = _expected(stream_root, flt)
    assert output == expected
    assert count == expected.count(b"\n")


def test_time_window(stream_root: Path) -> None:
    middle = _middle_ts(stream_root)
    for flt in (
        RecordFilter(since=middle),
        RecordFilter(until=middle),
        RecordFilter(since=middle - timedelta(milliseconds=1), until=middle, actor="api"),
        RecordFilter(since=middle, actions=frozenset({"tick.*"})),
    ):
        assert _run(stream_root, flt)[1] == _expected(stream_root, flt)


@pytest.mark.parametrize("limit", [0, 1, 5, 10_000])
def test_limit(stream_root: Path, limit: int) -> None:
    flt = RecordFilter(actions=frozenset({"tick.*"}))
    count, output = _run(stream_root, flt, limit)
    assert output == _expected(stream_root, flt, limit)
    assert count == min(limit, _expected(stream_root, flt).count(b"\n"))


def test_lines_are_the_bytes_on_disk(stream_root: Path) -> None:
    _, output = _run(stream_root, None)
    on_disk = b"".join(p.read_bytes() for p in sorted((stream_root / "control").glob("*.jsonl")))
    assert on_disk.startswith(output)
    assert len(output.splitlines()) == 600


def test_missing_stream_yields_nothing(tmp_path: Path) -> None:
    assert query(tmp_path, "control", None, out=io.BytesIO()) == 0
