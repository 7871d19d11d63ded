"""AuditLog / AuditStream: appending, durability order, hooks, lifecycle."""

from __future__ import annotations

from contextlib import ExitStack
from functools import partial
from pathlib import Path

import anyio
import anyio.lowlevel
import orjson
import pytest

from hydra.audit import AuditLog, iter_records, verify
from tests.audit.conftest import FsyncCounter, stream_lines

pytestmark = pytest.mark.anyio


async def test_append_returns_the_committed_record_as_written(root: Path) -> None:
    with anyio.fail_after(10):
        async with AuditLog(root) as log:
            control = await log.stream("control")
            first = await control.append(
                "loop.disabled", actor="api", payload={"loop": "health", "by": "ops"}
            )
            second = await control.append("loop.enabled", actor="api", run="r-1")
    assert first["seq"] == 1
    assert first["prev"] is None
    assert second["seq"] == 2
    assert second["prev"] == first["hash"]
    assert second["payload"] == {}
    assert second["run"] == "r-1"
    lines = stream_lines(root, "control")
    assert [orjson.loads(line) for line in lines] == [first, second]
    assert (root / "control" / "00000001.jsonl").exists()
    assert (root / "control" / ".lock").exists()
    assert verify(root, "control").ok


async def test_fsync_happens_before_the_append_returns(root: Path, fsyncs: FsyncCounter) -> None:
    with anyio.fail_after(10):
        async with AuditLog(root, sync="fsync") as log:
            stream = await log.stream("control")
            fsyncs.reset()
            await stream.append("a", actor="t")
            assert fsyncs.files == [str(root / "control" / "00000001.jsonl")]
            await stream.append("b", actor="t")
            assert len(fsyncs.files) == 2


async def test_creating_a_stream_fsyncs_its_directories(root: Path, fsyncs: FsyncCounter) -> None:
    with anyio.fail_after(10):
        async with AuditLog(root) as log:
            await log.stream("control")
    assert str(root / "control") in fsyncs.dirs  # the new first segment
    assert str(root) in fsyncs.dirs  # the new stream directory


async def test_stream_is_opened_once_and_cached(root: Path) -> None:
    with anyio.fail_after(10):
        async with AuditLog(root) as log:
            async with anyio.create_task_group() as tg:
                for _ in range(5):
                    tg.start_soon(log.stream, "control")
            first = await log.stream("control")
            assert await log.stream("control") is first
            assert log.open_streams() == [first]
            other = await log.stream("loop.health")
            assert {s.name for s in log.open_streams()} == {"control", "loop.health"}
            assert other.last_seq == 0


async def test_invalid_stream_name_is_a_value_error(root: Path) -> None:
    with anyio.fail_after(10):
        async with AuditLog(root) as log:
            with pytest.raises(ValueError, match="invalid audit stream name"):
                await log.stream("../escape")


async def test_reopen_continues_the_sequence_and_chain(root: Path) -> None:
    with anyio.fail_after(10):
        async with AuditLog(root) as log:
            stream = await log.stream("control")
            last = await stream.append("a", actor="t")
        async with AuditLog(root) as log:
            stream = await log.stream("control")
            assert stream.last_seq == 1
            record = await stream.append("b", actor="t")
    assert record["seq"] == 2
    assert record["prev"] == last["hash"]
    assert verify(root, "control").ok


async def test_redact_hook_is_applied_before_serialisation(root: Path) -> None:
    def scrub(payload: object) -> object:
        assert isinstance(payload, dict)
        return {k: "[redacted]" if "key" in k else v for k, v in payload.items()}

    with anyio.fail_after(10):
        async with AuditLog(root, redact=scrub) as log:
            stream = await log.stream("costs")
            record = await stream.append(
                "call", actor="runner", payload={"api_key": "sk-1", "n": 2}
            )
    assert record["payload"] == {"api_key": "[redacted]", "n": 2}
    raw = b"".join(stream_lines(root, "costs"))
    assert b"sk-1" not in raw
    assert b"[redacted]" in raw


async def test_bad_payload_raises_type_error_and_writes_nothing(root: Path) -> None:
    with anyio.fail_after(10):
        async with AuditLog(root) as log:
            stream = await log.stream("control")
            await stream.append("ok", actor="t")
            with pytest.raises(TypeError, match="not JSON-serialisable"):
                await stream.append("bad", actor="t", payload={"x": {1, 2}})
            with pytest.raises(TypeError):
                await stream.append("bad", actor="t", payload={"when": object()})
            ok = await stream.append("ok", actor="t")
    assert ok["seq"] == 2
    assert [r["action"] for r in iter_records(root, "control")] == ["ok", "ok"]


async def test_cancelled_appender_still_commits(root: Path) -> None:
    with anyio.fail_after(10):
        async with AuditLog(root) as log:
            stream = await log.stream("control")
            queued = anyio.Event()

            async def cancelled() -> None:
                queued.set()  # append() queues its record before its first await
                await stream.append("cancelled", actor="t")

            async with anyio.create_task_group() as tg:
                tg.start_soon(cancelled)
                await queued.wait()
                tg.cancel_scope.cancel()
            after = await stream.append("after", actor="t")
    assert after["seq"] == 2
    assert [r["action"] for r in iter_records(root, "control")] == ["cancelled", "after"]
    assert verify(root, "control").ok


async def test_exit_flushes_pending_appends(root: Path) -> None:
    results: list[dict[str, object]] = []
    with anyio.fail_after(10):
        async with AuditLog(root) as log:
            stream = await log.stream("control")

            async def add(i: int) -> None:
                results.append(await stream.append("x", actor="t", payload={"i": i}))

            async with anyio.create_task_group() as tg:
                for i in range(20):
                    tg.start_soon(add, i)
                await anyio.lowlevel.checkpoint()
    assert len(results) == 20
    assert len(list(iter_records(root, "control"))) == 20


async def test_append_after_exit_is_refused(root: Path) -> None:
    with anyio.fail_after(10):
        async with AuditLog(root) as log:
            stream = await log.stream("control")
        with pytest.raises(RuntimeError, match="closed"):
            await stream.append("late", actor="t")


async def test_on_commit_reports_each_stream_of_a_round(root: Path) -> None:
    calls: list[tuple[str, int, int, float]] = []
    with anyio.fail_after(10):
        async with AuditLog(root, on_commit=lambda *args: calls.append(args)) as log:
            a, b = await log.stream("a"), await log.stream("b")
            async with anyio.create_task_group() as tg:
                for _ in range(3):
                    tg.start_soon(partial(a.append, "x", actor="t"))
                tg.start_soon(partial(b.append, "y", actor="t"))
    assert sum(n for name, n, _, _ in calls if name == "a") == 3
    assert sum(n for name, n, _, _ in calls if name == "b") == 1
    size_a = (root / "a" / "00000001.jsonl").stat().st_size
    assert sum(nbytes for name, _, nbytes, _ in calls if name == "a") == size_a
    assert all(seconds >= 0 for *_, seconds in calls)


async def test_failing_on_commit_hook_does_not_stop_auditing(
    root: Path, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(*_: object) -> None:
        raise RuntimeError("metrics down")

    with anyio.fail_after(10):
        async with AuditLog(root, on_commit=broken) as log:
            stream = await log.stream("control")
            await stream.append("a", actor="t")
            record = await stream.append("b", actor="t")
    assert record["seq"] == 2
    assert "on_commit hook failed" in caplog.text


async def test_subscribers_get_committed_records_and_count_drops(root: Path) -> None:
    with anyio.fail_after(10):
        async with AuditLog(root) as log:
            a, b = await log.stream("a"), await log.stream("b")
            with log.subscribe(max_buffer=3) as small, log.subscribe() as big:
                for i in range(5):
                    await a.append("x", actor="t", payload={"i": i})
                await b.append("y", actor="t")
                received = [big.receive_nowait() for _ in range(6)]
                assert [(r["stream"], r["seq"]) for r in received] == [
                    ("a", 1), ("a", 2), ("a", 3), ("a", 4), ("a", 5), ("b", 1),
                ]  # fmt: skip
                assert big.dropped == 0
                assert [(await small.receive())["seq"] for _ in range(3)] == [1, 2, 3]
                assert small.dropped == 3


async def test_subscription_ends_when_the_log_closes(root: Path) -> None:
    with anyio.fail_after(10), ExitStack() as stack:
        async with AuditLog(root) as log:
            stream = await log.stream("a")
            sub = stack.enter_context(log.subscribe())
            await stream.append("x", actor="t")
        assert [record["action"] async for record in sub] == ["x"]


def test_constructor_validates_arguments(root: Path) -> None:
    with pytest.raises(ValueError, match="segment_max_bytes"):
        AuditLog(root, segment_max_bytes=0)
    with pytest.raises(ValueError, match="sync mode"):
        AuditLog(root, sync="never")  # type: ignore[arg-type]
