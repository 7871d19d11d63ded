"""Bounded capture under heavy output; both pipes drained at once."""

from __future__ import annotations

import sys
from collections.abc import Callable

import anyio
import psutil
import pytest

from hydra.runner import Runner, StdoutLine

pytestmark = pytest.mark.anyio

MIB = 1024 * 1024

# 200 MiB on stdout interleaved with 20 MiB on stderr: a runner that read one pipe at a
# time would deadlock as soon as the other filled (64 KiB).
FLOOD = """\
import sys
out, err = sys.stdout.buffer, sys.stderr.buffer
block = b"o" * (1024 * 1024 - 1) + b"\\n"
for i in range(200):
    out.write(block)
    err.write(b"e" * (100 * 1024 + 2))
    out.flush(); err.flush()
out.write(b"THE END\\n")
"""


async def test_two_hundred_mib_keeps_memory_bounded(make_runner: Callable[..., Runner]) -> None:
    me = psutil.Process()
    baseline = me.memory_info().rss
    peak = baseline
    done = anyio.Event()

    async def sample() -> None:
        nonlocal peak
        while not done.is_set():
            peak = max(peak, me.memory_info().rss)
            await anyio.sleep(0.005)

    runner = make_runner()
    async with anyio.create_task_group() as tg:
        tg.start_soon(sample)
        with anyio.fail_after(60):
            result = await runner.run([sys.executable, "-c", FLOOD], source="t", timeout=60)
        done.set()

    assert result.ok
    out, err = result.stdout, result.stderr
    assert out.total_bytes == 200 * MIB + len(b"THE END\n")
    assert (len(out.head), len(out.tail)) == (64 * 1024, 64 * 1024)
    assert out.dropped_bytes == out.total_bytes - 128 * 1024
    assert out.tail.endswith(b"\nTHE END\n")
    assert err.total_bytes == 200 * (100 * 1024 + 2)
    assert f"…[{out.dropped_bytes} bytes dropped]…" in out.text()
    # The capture is 256 KiB; allow generous slack for pipe buffers and the allocator.
    assert peak - baseline < 32 * MIB, f"RSS grew by {(peak - baseline) / MIB:.1f} MiB"


async def test_capture_limits_are_configurable(make_runner: Callable[..., Runner]) -> None:
    runner = make_runner(capture_head_bytes=3, capture_tail_bytes=4)
    with anyio.fail_after(10):
        result = await runner.run(["printf", "0123456789"], source="t", timeout=10)
    assert (result.stdout.head, result.stdout.tail, result.stdout.dropped_bytes) == (
        b"012",
        b"6789",
        3,
    )


async def test_streaming_hook_with_heavy_output(make_runner: Callable[..., Runner]) -> None:
    count = 0

    async def hook(line: StdoutLine) -> None:
        nonlocal count
        count += 1

    code = "import sys\nfor i in range(100000): print(i)\nsys.stderr.write('x' * 300000)"
    with anyio.fail_after(30):
        result = await make_runner().run(
            [sys.executable, "-c", code], source="t", timeout=30, on_stdout_line=hook
        )
    assert result.ok
    assert count == 100000
    assert result.stderr.total_bytes == 300000
