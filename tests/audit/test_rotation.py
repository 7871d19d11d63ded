"""Size-based rotation and catching up with other writers of the same stream."""

from __future__ import annotations

from functools import partial
from pathlib import Path

import anyio
import filelock
import orjson
import pytest

from hydra.audit import (
    AuditLog,
    StreamDamaged,
    bulk_append,
    force_repair,
    iter_records,
    list_streams,
    verify,
)
from tests.audit.conftest import FsyncCounter, stream_lines

pytestmark = pytest.mark.anyio


def _segments(root: Path, name: str = "control") -> list[Path]:
    return sorted((root / name).glob("*.jsonl"))


async def test_rotation_by_size_keeps_whole_records_and_the_chain(
    root: Path, fsyncs: FsyncCounter
) -> None:
    limit = 1500
    with anyio.fail_after(20):
        async with AuditLog(root, segment_max_bytes=limit, sync="fsync") as log:
            stream = await log.stream("control")
            fsyncs.reset()
            for i in range(40):
                await stream.append("tick", actor="t", payload={"i": i})
    segments = _segments(root)
    assert [p.name for p in segments] == [f"{n:08d}.jsonl" for n in range(1, len(segments) + 1)]
    assert len(segments) > 5
    for path in segments:
        data = path.read_bytes()
        assert 0 < len(data) <= limit
        assert data.endswith(b"\n")
    # every rotation created a segment and fsynced the stream directory
    assert fsyncs.dirs.count(str(root / "control")) == len(segments) - 1
    # the full segment was fsynced before the next one was created
    for path in segments[:-1]:
        assert str(path) in fsyncs.files
    assert [r["seq"] for r in iter_records(root, "control")] == list(range(1, 41))
    report = verify(root, "control")
    assert report.ok
    assert report.records == 40


async def test_a_record_larger_than_the_limit_goes_alone_into_a_segment(root: Path) -> None:
    with anyio.fail_after(20):
        async with AuditLog(root, segment_max_bytes=600) as log:
            stream = await log.stream("control")
            await stream.append("small", actor="t")
            await stream.append("big", actor="t", payload={"blob": "x" * 2000})
            await stream.append("small", actor="t")
    sizes = [len(p.read_bytes().splitlines()) for p in _segments(root)]
    assert sizes == [1, 1, 1]
    assert verify(root, "control").ok


async def test_one_batch_may_span_a_rotation(root: Path) -> None:
    with anyio.fail_after(20):
        async with AuditLog(root, segment_max_bytes=1000) as log:
            stream = await log.stream("control")
            async with anyio.create_task_group() as tg:
                for i in range(12):
                    tg.start_soon(partial(stream.append, "x", actor="t", payload={"i": i}))
    assert len(_segments(root)) > 2
    assert verify(root, "control").records == 12


async def test_reopen_appends_to_the_highest_segment(root: Path) -> None:
    bulk_append(
        root, "control", [("x", "t", {"i": i}, None) for i in range(30)], segment_max_bytes=1200
    )
    before = _segments(root)
    with anyio.fail_after(20):
        async with AuditLog(root, segment_max_bytes=1200) as log:
            stream = await log.stream("control")
            assert stream.last_seq == 30
            record = await stream.append("y", actor="t")
    assert record["seq"] == 31
    assert _segments(root)[: len(before)] == before
    assert orjson.loads(_segments(root)[-1].read_bytes().splitlines()[-1])["seq"] == 31
    info = list_streams(root)[0]
    assert (info.first_seq, info.last_seq) == (1, 31)


async def test_two_writers_interleave_and_follow_each_others_rotation(root: Path) -> None:
    """Two AuditLogs in one process use separate lock descriptors, like two processes."""
    with anyio.fail_after(30):
        async with (
            AuditLog(root, segment_max_bytes=900) as one,
            AuditLog(root, segment_max_bytes=900) as two,
        ):
            a, b = await one.stream("control"), await two.stream("control")
            for i in range(30):
                writer = a if i % 3 else b
                record = await writer.append(
                    "x", actor="a" if writer is a else "b", payload={"i": i}
                )
                assert record["seq"] == i + 1
            assert a.last_seq == 30 or b.last_seq == 30
    assert [r["payload"]["i"] for r in iter_records(root, "control")] == list(range(30))  # type: ignore[index]
    assert verify(root, "control").ok
    assert len(_segments(root)) > 3


async def test_records_appended_elsewhere_are_chained_onto(root: Path) -> None:
    with anyio.fail_after(20):
        async with AuditLog(root) as log:
            stream = await log.stream("control")
            await stream.append("mine", actor="t")
            bulk_append(root, "control", [("theirs", "cli", None, None)] * 3)
            record = await stream.append("mine", actor="t")
    assert record["seq"] == 5
    assert verify(root, "control").ok


async def test_torn_tail_left_by_a_killed_writer_is_repaired_at_catch_up(root: Path) -> None:
    with anyio.fail_after(20):
        async with AuditLog(root) as log:
            stream = await log.stream("control")
            await stream.append("mine", actor="t")
            segment = _segments(root)[0]
            torn = b'{"v":1,"stream":"control","seq":2,"ts":"2026-'
            with segment.open("ab") as handle:  # what a writer killed mid-write leaves
                handle.write(torn)
            record = await stream.append("after", actor="t")
    actions = [r["action"] for r in iter_records(root, "control")]
    assert actions == ["mine", "audit.repaired", "after"]
    repaired = list(iter_records(root, "control"))[1]
    assert repaired["payload"]["dropped_bytes"] == len(torn)  # type: ignore[index]
    broken = root / "control" / str(repaired["payload"]["broken_file"])  # type: ignore[index]
    assert broken.read_bytes() == torn
    assert record["seq"] == 3
    assert verify(root, "control").ok


async def test_damage_found_at_catch_up_blocks_the_stream(root: Path) -> None:
    with anyio.fail_after(20):
        async with AuditLog(root) as log:
            stream = await log.stream("control")
            for _ in range(3):
                await stream.append("mine", actor="t")
            lines = stream_lines(root, "control")
            # another process appended two records, then a bit flipped in the first one
            bulk_append(root, "control", [("theirs", "cli", None, None)] * 2)
            segment = _segments(root)[0]
            data = bytearray(segment.read_bytes())
            data[sum(map(len, lines)) + 40] ^= 0x01
            segment.write_bytes(bytes(data))
            with pytest.raises(StreamDamaged, match="line 4"):
                await stream.append("after", actor="t")
            assert stream.damage is not None
            assert stream.damage.line == 4
            with pytest.raises(StreamDamaged):
                await stream.append("again", actor="t")
            other = await log.stream("other")  # other streams are unaffected
            assert (await other.append("fine", actor="t"))["seq"] == 1


async def test_a_forced_repair_under_a_running_writer_is_noticed(root: Path) -> None:
    """Not the supported way (stop the daemon first), but the writer must not go astray."""
    with anyio.fail_after(20):
        async with AuditLog(root, segment_max_bytes=1200) as log:
            stream = await log.stream("control")
            for i in range(20):
                await stream.append("x", actor="t", payload={"i": i})
            segments = _segments(root)
            assert len(segments) >= 3
            first = bytearray(segments[0].read_bytes())
            first[30] ^= 0x01  # damage in the first segment: everything after it is moved aside
            segments[0].write_bytes(bytes(first))
            report = force_repair(root, "control")
            assert report.repaired
            assert not segments[-1].exists()  # the writer's active segment was renamed
            record = await stream.append("after", actor="t")
    assert record["seq"] == 2  # the repair record is seq 1, then ours
    assert verify(root, "control").ok


async def test_a_filelock_holder_excludes_the_writer(root: Path) -> None:
    """The lock file is the one ``filelock`` uses: tools holding it pause our appends."""
    with anyio.fail_after(20):
        async with AuditLog(root) as log:
            stream = await log.stream("control")
            lock = filelock.FileLock(str(root / "control" / ".lock"))
            done = anyio.Event()

            async def append() -> None:
                await stream.append("x", actor="t")
                done.set()

            with lock:
                async with anyio.create_task_group() as tg:
                    tg.start_soon(append)
                    await anyio.sleep(0.2)
                    assert not done.is_set()
                    lock.release()
                    await done.wait()
    assert verify(root, "control").records == 1
