"""Durable append throughput of ``hydra.audit`` against raw fsync loops (see README).

1. single writer, one record at a time: ``AuditLog`` append vs a raw
   ``os.write`` + ``os.fsync`` loop on the same file system (target ratio >= 0.8); the
   floor of the design (one ``anyio.to_thread`` hop + write + fsync) is printed too;
2. N concurrent in-process writers on one stream (1, 4, 16, 64): group commit vs naive
   fsync-per-append (same record building and file code, one write + fsync per record
   under a lock) (target >= 8x at 16 writers);
3. CPU per append when many streams append at once (1,000 loops x 1 tick/s is ~200
   streams per 200 ms round): sync="fsync" vs "syncfs" vs "auto".

    python -m benchmarks.audit_append [--dir DIR] [--quick] [--streams N]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from functools import partial
from pathlib import Path

import anyio
import anyio.to_thread
import orjson

from benchmarks.audit_common import cleanup, cpu_seconds, verdict, work_dir
from hydra.audit import AuditLog, AuditStream, SyncMode
from hydra.audit._encode import make_pending
from hydra.audit._stream_file import StreamFile
from hydra.audit._sync import syncfs_reports_errors

PAYLOAD = {"loop": "health", "status": "ok", "duration_ms": 12.5, "counts": {"issues": 3}}


async def single_writer(root: Path, records: int, chunks: int) -> None:
    """Interleaves chunks of the three loops so load swings hit them alike; medians."""
    print(f"\n## 1. single writer, {records} sequential durable appends each, {chunks} chunks")
    async with AuditLog(root / "single", sync="fsync") as log:
        stream = await log.stream("loop.health")
        sample = await stream.append("tick.started", actor="orchestrator", run="r", payload=PAYLOAD)
        line = orjson.dumps(sample) + b"\n"
        fd = os.open(root / "raw.bin", os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        limiter = anyio.CapacityLimiter(1)

        def write_sync() -> None:
            os.write(fd, line)
            os.fsync(fd)

        raw, hop, hydra = [], [], []
        per_chunk = max(1, records // chunks)
        try:
            for _ in range(chunks):
                started = time.perf_counter()
                for _ in range(per_chunk):
                    write_sync()
                raw.append((time.perf_counter() - started) / per_chunk)
                started = time.perf_counter()
                for _ in range(per_chunk):
                    await anyio.to_thread.run_sync(write_sync, limiter=limiter)
                hop.append((time.perf_counter() - started) / per_chunk)
                started = time.perf_counter()
                for i in range(per_chunk):
                    await stream.append(
                        "tick.started", actor="orchestrator", run=f"r{i}", payload=PAYLOAD
                    )
                hydra.append((time.perf_counter() - started) / per_chunk)
        finally:
            os.close(fd)
    raw_s, hop_s, hydra_s = (statistics.median(v) for v in (raw, hop, hydra))
    ratio = statistics.median(r / h for r, h in zip(raw, hydra, strict=True))
    floor = statistics.median(r / h for r, h in zip(raw, hop, strict=True))
    print(f"raw os.write+os.fsync loop : {raw_s * 1e6:8.1f} µs/append   (baseline)")
    print(f"thread hop + write + fsync : {hop_s * 1e6:8.1f} µs/append   (floor, ratio {floor:.2f})")
    print(f"hydra AuditStream.append   : {hydra_s * 1e6:8.1f} µs/append   ({len(line)} B records)")
    print(f"ratio raw/hydra            : {ratio:8.2f}   target >= 0.80: {verdict(ratio, 0.8)}")


async def group_commit(root: Path, writers: int, records: int) -> float:
    async with AuditLog(root / f"group-{writers}", sync="fsync") as log:
        stream = await log.stream("control")

        async def writer(count: int) -> None:
            for i in range(count):
                await stream.append(
                    "tick.started", actor="orchestrator", run=f"r{i}", payload=PAYLOAD
                )

        started = time.perf_counter()
        async with anyio.create_task_group() as tg:
            for n in range(writers):
                tg.start_soon(writer, records // writers + (n < records % writers))
        return records / (time.perf_counter() - started)


async def naive(root: Path, writers: int, records: int) -> float:
    """Same record building and file code, but one write + fsync per record under a lock."""
    file, _ = await anyio.to_thread.run_sync(
        partial(StreamFile.open, root / f"naive-{writers}", "control", segment_max_bytes=64 << 20)
    )
    lock = anyio.Lock()
    limiter = anyio.CapacityLimiter(1)

    def commit(entry: object) -> None:
        with file.locked():
            file.catch_up()
            file.write([entry], sync=True)  # type: ignore[list-item]

    async def writer(count: int) -> None:
        for i in range(count):
            entry = make_pending("tick.started", "orchestrator", PAYLOAD, f"r{i}", None)
            async with lock:
                await anyio.to_thread.run_sync(commit, entry, limiter=limiter)

    try:
        started = time.perf_counter()
        async with anyio.create_task_group() as tg:
            for n in range(writers):
                tg.start_soon(writer, records // writers + (n < records % writers))
        return records / (time.perf_counter() - started)
    finally:
        file.close()


async def concurrency_curve(root: Path, records: int) -> None:
    print(f"\n## 2. concurrent writers on one stream, {records} records per point")
    print(f"{'writers':>7} | {'naive rec/s':>11} | {'group rec/s':>11} | {'ratio':>6}")
    ratio16 = 0.0
    for writers in (1, 4, 16, 64):
        slow = await naive(root, writers, records)
        fast = await group_commit(root, writers, records)
        ratio = fast / slow
        if writers == 16:
            ratio16 = ratio
        print(f"{writers:>7} | {slow:>11.0f} | {fast:>11.0f} | {ratio:>5.1f}x")
    print(f"ratio at 16 writers: {ratio16:.1f}x   target >= 8x: {verdict(ratio16, 8.0)}")


async def many_streams(
    root: Path, streams: int, rounds: int, mode: SyncMode
) -> tuple[float, float]:
    """One long-lived task per stream (like one loop each) appends once per round."""
    async with AuditLog(root / f"many-{mode}", sync=mode) as log:
        handles = [await log.stream(f"loop.l{n:04d}") for n in range(streams)]
        go = [anyio.Event() for _ in range(rounds + 1)]
        done = [0] * (rounds + 1)
        finished = [anyio.Event() for _ in range(rounds + 1)]

        async def loop(handle: AuditStream) -> None:
            for number in range(rounds + 1):
                await go[number].wait()
                await handle.append("tick.started", actor="orchestrator", payload=PAYLOAD)
                done[number] += 1
                if done[number] == streams:
                    finished[number].set()

        async with anyio.create_task_group() as tg:
            for handle in handles:
                tg.start_soon(loop, handle)
            go[0].set()  # warm-up round: first records, thread pool
            await finished[0].wait()
            cpu, wall = cpu_seconds(), time.perf_counter()
            for number in range(1, rounds + 1):
                go[number].set()
                await finished[number].wait()
            cpu, wall = cpu_seconds() - cpu, time.perf_counter() - wall
    return cpu / (streams * rounds), wall / rounds


async def cpu_per_append(root: Path, streams: int, rounds: int) -> None:
    print(f"\n## 3. CPU per append: {streams} streams appending at once, {rounds} rounds")
    modes: list[SyncMode] = ["fsync", "syncfs", "auto"] if syncfs_reports_errors() else ["fsync"]
    print(f"{'sync':>6} | {'CPU µs/append':>13} | {'wall ms/round':>13}")
    results = {}
    for mode in modes:
        cpu, wall = await many_streams(root, streams, rounds, mode)
        results[mode] = cpu
        print(f"{mode:>6} | {cpu * 1e6:>13.1f} | {wall * 1e3:>13.1f}")
    if "syncfs" in results:
        print(f"fsync/syncfs CPU ratio: {results['fsync'] / results['syncfs']:.1f}x")


async def main(args: argparse.Namespace) -> None:
    run = work_dir(args.dir, "audit_append", allow_tmpfs=args.allow_tmpfs)
    with cleanup(run, keep=args.keep):
        await single_writer(run, 50 if args.quick else 4000, 2 if args.quick else 20)
        await concurrency_curve(run, 64 if args.quick else 3000)
        await cpu_per_append(run, 20 if args.quick else args.streams, 2 if args.quick else 20)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dir", type=Path, help="directory on the disk to measure")
    parser.add_argument("--quick", action="store_true", help="tiny run (smoke test)")
    parser.add_argument("--streams", type=int, default=200)
    parser.add_argument("--keep", action="store_true", help="keep the files written")
    parser.add_argument("--allow-tmpfs", action="store_true", help="smoke tests only")
    anyio.run(main, parser.parse_args())
