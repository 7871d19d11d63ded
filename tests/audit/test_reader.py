"""Reading streams: list, iterate forwards and backwards, filters."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import pytest

from hydra.audit import (
    BulkEntry,
    RecordFilter,
    bulk_append,
    iter_records,
    iter_records_reverse,
    last_record,
    list_streams,
)
from hydra.audit._segments import iter_lines, iter_lines_reverse
from tests.audit.conftest import make_stream


def test_list_streams_reports_segments_sizes_and_seq_range(root: Path) -> None:
    make_stream(root, "control", 5)
    make_stream(root, "loop.health", 40, segment_max_bytes=2000)
    (root / "Not-A-Stream").mkdir()
    (root / "stray.txt").write_text("x")
    (root / "empty").mkdir()
    infos = {info.name: info for info in list_streams(root)}
    assert set(infos) == {"control", "loop.health", "empty"}
    health = infos["loop.health"]
    assert len(health.segments) > 3
    assert health.total_bytes == sum(p.stat().st_size for p in health.segments)
    assert (health.first_seq, health.last_seq) == (1, 40)
    assert (infos["control"].first_seq, infos["control"].last_seq) == (1, 5)
    assert (infos["empty"].first_seq, infos["empty"].last_seq) == (None, None)
    assert list_streams(root / "missing") == []


def test_iter_records_in_order_across_segments(root: Path) -> None:
    make_stream(root, "control", 50, segment_max_bytes=1500)
    assert [r["seq"] for r in iter_records(root, "control")] == list(range(1, 51))


@pytest.mark.parametrize("start", [1, 2, 17, 33, 50, 51, 1000])
def test_start_seq_picks_the_segment_and_skips_earlier_records(root: Path, start: int) -> None:
    make_stream(root, "control", 50, segment_max_bytes=1500)
    assert [r["seq"] for r in iter_records(root, "control", start_seq=start)] == list(
        range(start, 51)
    )


def test_filters(root: Path) -> None:
    entries: list[BulkEntry] = [
        ("tick.started", "orchestrator", {"n": 1}, "run-1"),
        ("tick.finished", "orchestrator", {"n": 2}, "run-1"),
        ("loop.disabled", "api", {"by": "ops"}, None),
        ("tick.started", "orchestrator", {"action": "tick.finished"}, "run-2"),
        ("tick", "orchestrator", None, "run-2"),
        ("ticker.x", "api", None, None),
    ]
    bulk_append(root, "control", entries)

    def actions(flt: RecordFilter) -> list[str]:
        return [str(r["action"]) for r in iter_records(root, "control", filter=flt)]

    assert actions(RecordFilter(actions=frozenset({"tick.started"}))) == ["tick.started"] * 2
    assert actions(RecordFilter(actions=frozenset({"tick.*"}))) == [
        "tick.started", "tick.finished", "tick.started",
    ]  # fmt: skip
    assert actions(RecordFilter(actions=frozenset({"tick.*", "loop.disabled"}))) == [
        "tick.started", "tick.finished", "loop.disabled", "tick.started",
    ]  # fmt: skip
    assert actions(RecordFilter(run="run-2")) == ["tick.started", "tick"]
    assert actions(RecordFilter(actor="api")) == ["loop.disabled", "ticker.x"]
    assert actions(RecordFilter(actor="api", actions=frozenset({"ticker.*"}))) == ["ticker.x"]
    assert actions(RecordFilter(actions=frozenset())) == []
    assert len(actions(RecordFilter())) == 6


def test_time_filters(root: Path) -> None:
    make_stream(root, "control", 3)
    records = list(iter_records(root, "control"))
    middle = datetime.strptime(str(records[1]["ts"]), "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)

    def seqs(**kwargs: datetime) -> list[object]:
        return [r["seq"] for r in iter_records(root, "control", filter=RecordFilter(**kwargs))]  # type: ignore[arg-type]

    assert seqs(since=middle) == [2, 3]  # since is inclusive
    assert seqs(until=middle) == [1]  # until is exclusive
    assert seqs(since=middle, until=middle + timedelta(microseconds=1)) == [2]
    local = middle.astimezone(datetime.now().astimezone().tzinfo)
    assert seqs(since=local) == [2, 3]


def test_filter_validation() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        RecordFilter(since=datetime(2026, 1, 1))  # noqa: DTZ001 - the naive value is the point
    with pytest.raises(ValueError, match="trailing"):
        RecordFilter(actions=frozenset({"tick*"}))
    with pytest.raises(ValueError, match="invalid action pattern"):
        RecordFilter(actions=frozenset({"a.*.*"}))
    with pytest.raises(TypeError):
        RecordFilter(actions="tick.started")  # type: ignore[arg-type]
    as_set = RecordFilter(actions={"x"})  # type: ignore[arg-type]
    assert as_set.actions == frozenset({"x"})


def test_reverse_iteration_and_last_record(root: Path) -> None:
    make_stream(root, "loop.health", 40, segment_max_bytes=1500)
    assert [r["seq"] for r in iter_records_reverse(root, "loop.health")] == list(range(40, 0, -1))
    flt = RecordFilter(actions=frozenset({"tick.started"}))
    assert next(iter_records_reverse(root, "loop.health", filter=flt))["seq"] == 39
    assert last_record(root, "loop.health")["seq"] == 40  # type: ignore[index]
    found = last_record(root, "loop.health", lambda r: r["action"] == "tick.started")
    assert found is not None
    assert found["seq"] == 39
    assert last_record(root, "loop.health", lambda r: False) is None


def test_last_record_reads_only_the_tail(root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    bulk_append(root, "big", [("x", "t", {"pad": "p" * 500, "i": i}, None) for i in range(8000)])
    size = (root / "big" / "00000001.jsonl").stat().st_size
    assert size > 4_000_000
    read = 0
    real = os.pread

    def counting(fd: int, length: int, offset: int) -> bytes:
        nonlocal read
        data = real(fd, length, offset)
        read += len(data)
        return data

    monkeypatch.setattr(os, "pread", counting)
    assert last_record(root, "big", lambda r: r["payload"]["i"] == 7900)["seq"] == 7901  # type: ignore[index]
    assert read < 200_000


def test_readers_skip_a_partial_last_line_and_junk(root: Path) -> None:
    make_stream(root, "control", 3)
    segment = root / "control" / "00000001.jsonl"
    with segment.open("ab") as handle:
        handle.write(b"not json\n[1,2]\n" + b'{"v":1,"stream":"control","seq":4,"ts')
    assert [r["seq"] for r in iter_records(root, "control")] == [1, 2, 3]
    assert [r["seq"] for r in iter_records_reverse(root, "control")] == [3, 2, 1]
    assert list_streams(root)[0].last_seq == 3


@pytest.mark.parametrize(
    "sizes", [[1], [0], [10, 20], [70_000], [10, 70_000, 3], [200_000, 65_535]]
)
def test_line_iterators_agree(tmp_path: Path, sizes: list[int]) -> None:
    path = tmp_path / "f"
    lines = [bytes([97 + i % 26]) * size for i, size in enumerate(sizes)]
    data = b"".join(line + b"\n" for line in lines) + b"partial"
    path.write_bytes(data)
    forward = list(iter_lines(path))
    assert [line for _, line in forward] == lines
    assert all(data[offset : offset + len(line)] == line for offset, line in forward)
    fd = os.open(path, os.O_RDONLY)
    try:
        assert list(iter_lines_reverse(fd, len(data))) == forward[::-1]
    finally:
        os.close(fd)


def test_records_are_plain_json_for_other_tools(root: Path) -> None:
    make_stream(root, "control", 2)
    for line in (root / "control" / "00000001.jsonl").read_bytes().splitlines():
        assert isinstance(orjson.loads(line), dict)
