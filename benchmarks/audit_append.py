"""Durable append throughput of ``hydra.audit`` against raw fsync loops (see README).

1. single writer, one record at a time: ``AuditLog`` append vs a raw
   ``os.write`` + ``os.fsync`` loop on the same file system (target ratio >= 0.8), with
   the default ``spin_us`` and with ``spin_us=50``; one ``anyio.to_thread`` hop + write +
   fsync (the floor of the former design) is printed too;
1b. the CPU cost of the spin: isolated appends (one every 5 ms) for spin_us 0, 50, 200,
   process CPU and the committer thread's own CPU;
2. N concurrent in-process writers on one stream (1, 4, 16, 64): group commit vs naive
   fsync-per-append (same record building and file code, one write + fsync per record
   under a lock) (target >= 8x at 16 writers);
3. CPU per append when many streams append at once (1,000 loops x 1 tick/s is ~200
   streams per 200 ms round): sync="fsync" vs "syncfs" vs "auto".

    python -m benchmarks.audit_append [--dir DIR] [--quick] [--streams N]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import statistics
import threading
import time
from collections.abc import Awaitable, Callable
from functools import partial
from pathlib import Path

import anyio
import anyio.to_thread
import orjson

from benchmarks import audit_common
from benchmarks.audit_common import cleanup, cpu_seconds, verdict, work_dir
from hydra.audit import AuditLog, AuditStream, SyncMode
from hydra.audit._committer_thread import DEFAULT_SPIN_US
from hydra.audit._encode import make_pending
from hydra.audit._stream_file import StreamFile
from hydra.audit._sync import syncfs_reports_errors

PAYLOAD = {"loop": "health", "status": "ok", "duration_ms": 12.5, "counts": {"issues": 3}}
SPIN_US = 50.0  # the non-default spin measured against the default


class ThreadFloor:
    """The hand-off of hydra's committer without hydra: a dedicated thread does write + fsync,
    woken through a ``threading.Condition``, and completes an asyncio future with one
    ``call_soon_threadsafe``. What a sequential append costs before any per-record work."""

    def __init__(self, fd: int, line: bytes) -> None:
        self._fd, self._line = fd, line
        self._loop = asyncio.get_running_loop()
        self._wakeup = threading.Condition()
        self._request: asyncio.Future[None] | None = None
        self._stop = False
        self._thread = threading.Thread(target=self._run, name="bench-floor")
        self._thread.start()

    async def write(self) -> None:
        future = self._loop.create_future()
        with self._wakeup:
            self._request = future
            self._wakeup.notify()
        await future

    def close(self) -> None:
        with self._wakeup:
            self._stop = True
            self._wakeup.notify()
        self._thread.join()

    def _run(self) -> None:
        while True:
            with self._wakeup:
                while self._request is None and not self._stop:
                    self._wakeup.wait()
                if self._request is None:
                    return
                future, self._request = self._request, None
            os.write(self._fd, self._line)
            os.fsync(self._fd)
            self._loop.call_soon_threadsafe(future.set_result, None)


async def single_writer(root: Path, records: int, chunks: int) -> None:
    """Interleaves chunks of the five loops so load swings hit them alike; medians."""
    print(f"\n## 1. single writer, {records} sequential durable appends each, {chunks} chunks")
    async with (
        AuditLog(root / "single", sync="fsync") as log,
        AuditLog(root / "single-spin", sync="fsync", spin_us=SPIN_US) as log_spin,
    ):
        stream = await log.stream("loop.health")
        stream_spin = await log_spin.stream("loop.health")
        sample = await stream.append("tick.started", actor="orchestrator", run="r", payload=PAYLOAD)
        await stream_spin.append("tick.started", actor="orchestrator", run="r", payload=PAYLOAD)
        line = orjson.dumps(sample) + b"\n"
        fd = os.open(root / "raw.bin", os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        limiter = anyio.CapacityLimiter(1)
        floor = ThreadFloor(fd, line)

        def write_sync() -> None:
            os.write(fd, line)
            os.fsync(fd)

        async def raw_loop(count: int) -> None:
            for _ in range(count):
                write_sync()

        async def hops(count: int) -> None:
            for _ in range(count):
                await anyio.to_thread.run_sync(write_sync, limiter=limiter)

        async def floor_loop(count: int) -> None:
            for _ in range(count):
                await floor.write()

        async def appends(handle: AuditStream, count: int) -> None:
            for i in range(count):
                await handle.append(
                    "tick.started", actor="orchestrator", run=f"r{i}", payload=PAYLOAD
                )

        loops: dict[str, Callable[[int], Awaitable[None]]] = {
            "raw": raw_loop,
            "hop": hops,
            "floor": floor_loop,
            "hydra": partial(appends, stream),
            "spin": partial(appends, stream_spin),
        }
        wall: dict[str, list[float]] = {name: [] for name in loops}
        cpu: dict[str, list[float]] = {name: [] for name in loops}
        per_chunk = max(1, records // chunks)
        try:
            for _ in range(chunks):
                for name, run in loops.items():
                    cpu0, started = cpu_seconds(), time.perf_counter()
                    await run(per_chunk)
                    wall[name].append((time.perf_counter() - started) / per_chunk)
                    cpu[name].append((cpu_seconds() - cpu0) / per_chunk)
        finally:
            floor.close()
            os.close(fd)

    def row(label: str, name: str, note: str = "") -> float:
        ratio = statistics.median(r / h for r, h in zip(wall["raw"], wall[name], strict=True))
        micros, cpu_us = statistics.median(wall[name]) * 1e6, statistics.median(cpu[name]) * 1e6
        print(
            f"{label:<34}: {micros:7.1f} µs/append  ratio {ratio:.2f}  CPU {cpu_us:5.1f} µs{note}"
        )
        return ratio

    row("raw os.write+os.fsync loop", "raw", "  (baseline)")
    row("anyio.to_thread hop + write+fsync", "hop", "  (floor of the former design)")
    row("dedicated thread + write+fsync", "floor", "  (floor of this design)")
    ratio = row(
        f"hydra, spin_us={DEFAULT_SPIN_US:g} (default)", "hydra", f"  ({len(line)} B records)"
    )
    row(f"hydra, spin_us={SPIN_US:g}", "spin")
    print(
        f"ratio raw/hydra                   : {ratio:7.2f}   target >= 0.80: {verdict(ratio, 0.8)}"
    )


def committer_cpu(root: Path) -> float:
    """CPU seconds used so far by the committer thread of the ``AuditLog`` at ``root``."""
    name = f"hydra-audit-committer {root}"
    thread = next(t for t in threading.enumerate() if t.name == name)
    assert thread.ident is not None
    return time.clock_gettime(time.pthread_getcpuclockid(thread.ident))


async def spin_cost(root: Path, records: int, chunks: int, gap_s: float) -> None:
    """CPU of isolated appends (one every ``gap_s``): every spin runs out without a catch.

    The three settings run interleaved in chunks (medians), each on its own ``AuditLog``;
    the committer thread's own CPU is read from its POSIX thread CPU clock.
    """
    print(f"\n## 1b. spin cost: {records} isolated appends each, one every {gap_s * 1e3:g} ms")
    spins = (0.0, SPIN_US, 200.0)
    roots = {spin: root / f"spin-{spin:g}" for spin in spins}
    process: dict[float, list[float]] = {spin: [] for spin in spins}
    thread: dict[float, list[float]] = {spin: [] for spin in spins}
    per_chunk = max(1, records // chunks)
    async with contextlib.AsyncExitStack() as stack:
        streams = {}
        for spin in spins:
            log = await stack.enter_async_context(AuditLog(roots[spin], sync="fsync", spin_us=spin))
            streams[spin] = await log.stream("loop.health")
            await streams[spin].append("tick.started", actor="orchestrator", payload=PAYLOAD)
        for _ in range(chunks):
            for spin in spins:
                cpu, own = cpu_seconds(), committer_cpu(roots[spin])
                for i in range(per_chunk):
                    await anyio.sleep(gap_s)
                    await streams[spin].append(
                        "tick.started", actor="orchestrator", run=f"r{i}", payload=PAYLOAD
                    )
                process[spin].append((cpu_seconds() - cpu) / per_chunk)
                thread[spin].append((committer_cpu(roots[spin]) - own) / per_chunk)
    print(
        f"{'spin_us':>7} | {'process CPU µs/append':>21} | {'committer thread CPU µs/append':>30}"
    )
    base_p, base_t = statistics.median(process[0.0]), statistics.median(thread[0.0])
    for spin in spins:
        p, t = statistics.median(process[spin]), statistics.median(thread[spin])
        print(
            f"{spin:>7g} | {p * 1e6:>11.1f} ({(p - base_p) * 1e6:>+6.1f}) |"
            f" {t * 1e6:>20.1f} ({(t - base_t) * 1e6:>+6.1f})"
        )


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
    audit_common.QUICK = args.quick
    run = work_dir(args.dir, "audit_append", allow_tmpfs=args.allow_tmpfs)
    with cleanup(run, keep=args.keep):
        await single_writer(run, 50 if args.quick else 4000, 2 if args.quick else 20)
        await spin_cost(run, 10 if args.quick else 1000, 2 if args.quick else 10, 0.005)
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
