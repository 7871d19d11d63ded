"""Child writer for the multi-process and crash tests (run as a script).

Appends records ``{"tag": TAG, "i": i}`` to one stream from ``--concurrency`` tasks,
``--count`` records in total (0 = until killed). With ``--report`` it prints
``<seq> <hash> <i>`` on stdout after each append returned, i.e. once it is durable.
``--torn-writes`` makes every ``os.write`` write half its bytes and pause first (mocking
the OS only), so a SIGKILL often lands mid-line and leaves a torn tail behind.
"""

from __future__ import annotations

import argparse
import itertools
import os
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import anyio

from hydra.audit import AuditLog


async def run(args: argparse.Namespace) -> None:
    numbers: Iterator[int] = iter(range(args.count)) if args.count else itertools.count()
    out = sys.stdout.buffer
    async with AuditLog(args.root, segment_max_bytes=args.max_bytes) as log:
        stream = await log.stream(args.stream)

        async def worker() -> None:
            for i in numbers:  # shared: each number is appended once
                record = await stream.append(
                    "test.write", actor=args.tag, payload={"tag": args.tag, "i": i}
                )
                if args.report:
                    out.write(f"{record['seq']} {record['hash']} {i}\n".encode())
                    out.flush()

        async with anyio.create_task_group() as tg:
            for _ in range(args.concurrency):
                tg.start_soon(worker)


def tear_writes() -> None:
    real = os.write

    def slow_write(fd: int, data: bytes) -> int:
        if len(data) < 2:
            return real(fd, data)
        written = real(fd, memoryview(data)[: len(data) // 2])
        time.sleep(0.0005)
        return written

    setattr(os, "write", slow_write)  # noqa: B010 - replace the OS call, typed loosely


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("root", type=Path)
    parser.add_argument("stream")
    parser.add_argument("tag")
    parser.add_argument("--count", type=int, default=0)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--max-bytes", type=int, default=64 << 20)
    parser.add_argument("--report", action="store_true")
    parser.add_argument("--torn-writes", action="store_true")
    args = parser.parse_args()
    if args.torn_writes:
        tear_writes()
    anyio.run(run, args)


if __name__ == "__main__":
    main()
