"""The contract floor of the scheduler benchmark: the durable work a no-op tick must do, bare.

``benchmarks/scheduler.py`` compares hydra against bare sleeping tasks, the cost of waking up.
That baseline leaves out what hydra's reading of the loop contract demands of every tick: a
durable, hash-chained ``tick.started`` before the tick runs and a ``tick.finished`` after it,
in the loop's own stream, serialised against other processes by that stream's file lock, with
the fsync off the event loop (``benchmarks/README.md`` discusses the two choices in this that
the contract could be read to leave open). This module does exactly that and nothing else, in
the leanest Python we could write, so the distance between it and hydra is what hydra's own
code costs:

* plain asyncio (no anyio), one heap-based timer task on hydra's 20 ms slot grid;
* per tick: two records of hydra's line format (``v, stream, seq, ts, actor, action, run,
  payload, prev, hash``; sha256 over the body), each awaited until durable;
* one committer thread, woken through a condition; per round and stream: ``flock``, one
  ``stat`` (has another process appended?), one ``os.write``, unlock; then one ``syncfs``
  for the round (``fsync`` per file under 4 files, as hydra's ``auto`` mode); one
  ``call_soon_threadsafe`` back.

Left out on purpose, although hydra needs them: the kill-switch gates, cancel scopes for
switch-off and the tick timeout, run ids, status and lateness bookkeeping, the check for a
rotated segment, catch-up and repair, record validation, redaction, error handling of every
kind, segment rotation. It is a floor, not a competitor: it could not run a real loop.
"""

from __future__ import annotations

import asyncio
import ctypes
import fcntl
import heapq
import os
import random
import resource
import threading
import time
from hashlib import sha256
from pathlib import Path

import orjson

SLOT_S = 0.02
SYNCFS_MIN_FILES = 4


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


class _Stream:
    __slots__ = ("fd", "lock_fd", "path", "prefix", "prev", "seq")

    def __init__(self, root: Path, name: str) -> None:
        self.path = str(root / f"{name}.jsonl")
        self.fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o644)
        self.lock_fd = os.open(f"{self.path}.lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        self.prefix = b'{"v":1,"stream":' + orjson.dumps(name) + b',"seq":'
        self.seq = 0
        self.prev = b"null"

    def close(self) -> None:
        os.close(self.fd)
        os.close(self.lock_fd)


Round = tuple[dict[_Stream, list[bytes]], list[asyncio.Future[None]]]


class _Committer:
    def __init__(self, loop: asyncio.AbstractEventLoop, root_fd: int) -> None:
        self._loop = loop
        self._root_fd = root_fd
        self._syncfs = ctypes.CDLL(None, use_errno=True).syncfs
        self._wakeup = threading.Condition()
        self._open: Round | None = None
        self._closing = False
        self._thread = threading.Thread(target=self._run, name="floor-committer")
        self._thread.start()

    async def append(self, stream: _Stream, middle: bytes) -> None:
        future = self._loop.create_future()
        with self._wakeup:
            if self._open is None:
                self._open = ({}, [])
                self._wakeup.notify()
            work, waiters = self._open
            work.setdefault(stream, []).append(middle)
            waiters.append(future)
        await future

    def close(self) -> None:
        with self._wakeup:
            self._closing = True
            self._wakeup.notify()
        self._thread.join()

    def _run(self) -> None:
        while True:
            with self._wakeup:
                while self._open is None and not self._closing:
                    self._wakeup.wait()
                if self._open is None:
                    return
                (work, waiters), self._open = self._open, None
            for stream, middles in work.items():
                fcntl.flock(stream.lock_fd, fcntl.LOCK_EX)
                os.stat(stream.path)  # noqa: PTH116 - the floor: a str path, as hydra
                lines = []
                for middle in middles:
                    stream.seq += 1
                    body = b"%b%d%b%b" % (stream.prefix, stream.seq, middle, stream.prev)
                    digest = sha256(body + b"}").hexdigest().encode()
                    stream.prev = b'"%b"' % digest
                    lines.append(b'%b,"hash":"%b"}\n' % (body, digest))
                os.write(stream.fd, b"".join(lines))
                fcntl.flock(stream.lock_fd, fcntl.LOCK_UN)
            if len(work) >= SYNCFS_MIN_FILES:
                self._syncfs(self._root_fd)
            else:
                for stream in work:
                    os.fsync(stream.fd)
            self._loop.call_soon_threadsafe(_release, waiters)


def _release(waiters: list[asyncio.Future[None]]) -> None:
    for future in waiters:
        if not future.done():
            future.set_result(None)


def _middle(action: str, run: str, payload: dict[str, object]) -> bytes:
    now = time.time()
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now)) + f".{int(now % 1 * 1e6):06d}Z"
    return b',"ts":"%b","actor":"loop:noop","action":"%b","run":"%b","payload":%b,"prev":' % (
        stamp.encode(),
        action.encode(),
        run.encode(),
        orjson.dumps(payload),
    )


async def _measure(loops: int, seconds: float, root: Path) -> tuple[float, int]:
    loop = asyncio.get_running_loop()
    root_fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY)
    committer = _Committer(loop, root_fd)
    streams = [_Stream(root, f"noop_{index}") for index in range(loops)]
    heap: list[tuple[float, int, asyncio.Future[None]]] = []
    order = iter(range(1 << 62))
    ticks = [0]

    async def timer() -> None:
        while True:
            now = time.monotonic()
            while heap and heap[0][0] <= now:
                future = heapq.heappop(heap)[2]
                if not future.done():
                    future.set_result(None)
            slot_end = (int(heap[0][0] / SLOT_S) + 1) * SLOT_S if heap else now + SLOT_S
            await asyncio.sleep(max(0.0, slot_end - now))

    async def noop_loop(index: int, stream: _Stream) -> None:
        due = time.monotonic() + random.random()
        for tick in range(1 << 62):
            future = loop.create_future()
            heapq.heappush(heap, (due, next(order), future))
            await future
            run = f"run-{index}-{tick}"
            started = {"trigger": "schedule", "mode": "live", "lateness_ms": 0.0}
            await committer.append(stream, _middle("tick.started", run, started))
            finished = {"status": "idle", "counts": {}, "duration_ms": 0.0}
            await committer.append(stream, _middle("tick.finished", run, finished))
            ticks[0] += 1
            due += 1.0

    tasks = [asyncio.ensure_future(timer())]
    tasks += [asyncio.ensure_future(noop_loop(i, s)) for i, s in enumerate(streams)]
    try:
        await asyncio.sleep(2.0)  # let the first ticks spread out, as the real run does
        cpu0, wall0, ticks0 = _cpu(), time.monotonic(), ticks[0]
        await asyncio.sleep(seconds)
        return (_cpu() - cpu0) / (time.monotonic() - wall0), ticks[0] - ticks0
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await asyncio.to_thread(committer.close)
        for stream in streams:
            stream.close()
        os.close(root_fd)


def contract_floor(loops: int, seconds: float, root: Path) -> tuple[float, int]:
    """CPU share of one core spent on the bare durable work of ``loops`` no-op loops at 1 s,
    and the ticks run while measuring."""
    root.mkdir(parents=True, exist_ok=True)
    return asyncio.run(_measure(loops, seconds, root))
