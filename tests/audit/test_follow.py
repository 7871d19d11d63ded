"""follow(): records appended by others arrive in order, across rotation and repair."""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from hydra.audit import RecordFilter, bulk_append, follow
from tests.audit.conftest import make_stream

WAIT = 10.0


@contextmanager
def following(
    root: Path, stream: str, **kwargs: object
) -> Iterator[queue.Queue[dict[str, object]]]:
    """Run follow() in a thread; yields the queue it feeds; stops it on exit."""
    out: queue.Queue[dict[str, object]] = queue.Queue()
    stop = threading.Event()
    started = threading.Event()

    def run() -> None:
        records = follow(root, stream, poll_interval=0.005, stop=stop, **kwargs)  # type: ignore[arg-type]
        started.set()
        for record in records:
            out.put(record)

    thread = threading.Thread(target=run, name="follow", daemon=True)
    thread.start()
    started.wait(WAIT)
    try:
        yield out
    finally:
        stop.set()
        thread.join(WAIT)
        assert not thread.is_alive()


def take(out: queue.Queue[dict[str, object]], count: int) -> list[dict[str, object]]:
    return [out.get(timeout=WAIT) for _ in range(count)]


def append(root: Path, stream: str, *actions: str, **kwargs: int) -> None:
    bulk_append(root, stream, [(a, "t", None, None) for a in actions], **kwargs)  # type: ignore[arg-type]


def test_from_end_yields_only_new_records(root: Path) -> None:
    make_stream(root, "control", 5)
    # follow() takes its position when called, so only the two records below are new
    with following(root, "control") as out:
        append(root, "control", "new.1", "new.2")
        got = take(out, 2)
    assert [(r["seq"], r["action"]) for r in got] == [(6, "new.1"), (7, "new.2")]


def test_from_start_replays_then_follows_across_rotation(root: Path) -> None:
    make_stream(root, "control", 10, segment_max_bytes=1200)
    with following(root, "control", from_end=False) as out:
        assert [r["seq"] for r in take(out, 10)] == list(range(1, 11))
        for i in range(20):
            append(root, "control", f"later.{i}", segment_max_bytes=1200)
        got = take(out, 20)
    assert [r["seq"] for r in got] == list(range(11, 31))
    assert len(list((root / "control").glob("*.jsonl"))) > 4


def test_waits_for_the_stream_to_exist_and_filters(root: Path) -> None:
    flt = RecordFilter(actions=frozenset({"keep.*"}))
    with following(root, "later", filter=flt) as out:
        append(root, "later", "drop", "keep.a", "drop", "keep.b")
        got = take(out, 2)
        assert out.empty()
    assert [r["action"] for r in got] == ["keep.a", "keep.b"]


def test_waits_at_a_torn_tail_until_it_is_repaired(root: Path) -> None:
    make_stream(root, "control", 2)
    segment = root / "control" / "00000001.jsonl"
    with following(root, "control") as out:
        with segment.open("ab") as handle:
            handle.write(b"garbage from a killed writer\n" + b'{"v":1,"stream":"cont')
        append(root, "control", "after")  # the writer cuts the tail, records the repair
        got = take(out, 2)
    assert [(r["seq"], r["action"]) for r in got] == [(3, "audit.repaired"), (4, "after")]


def test_generator_stops_when_closed(root: Path) -> None:
    make_stream(root, "control", 3)
    records = follow(root, "control", from_end=False, poll_interval=0.005)
    assert next(records)["seq"] == 1
    records.close()
    with pytest.raises(StopIteration):
        next(records)


def test_a_partial_line_is_yielded_once_complete(root: Path) -> None:
    make_stream(root, "control", 2)
    segment = root / "control" / "00000001.jsonl"
    data = segment.read_bytes()
    first_end = data.index(b"\n") + 1
    half = first_end + (len(data) - first_end) // 2
    segment.write_bytes(data[:half])  # a second line still being written
    with following(root, "control") as out:
        with segment.open("ab") as handle:
            handle.write(data[half:])
        got = take(out, 1)
    assert got[0]["seq"] == 2
