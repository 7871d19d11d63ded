"""Several processes append to one stream: serialised by the lock, never interleaved."""

from __future__ import annotations

import subprocess
import sys
from collections import Counter
from pathlib import Path

import orjson
import pytest

from hydra.audit import verify
from tests.audit.conftest import HERE, stream_lines, subprocess_env

PROCESSES = 4
RECORDS = 5000


def writer(root: Path, tag: str, *extra: str) -> list[str]:
    return [sys.executable, str(HERE / "writer_proc.py"), str(root), "shared", tag, *extra]


@pytest.mark.parametrize("max_bytes", [64 << 20, 200_000])
def test_processes_append_without_interleaving(root: Path, max_bytes: int) -> None:
    procs = [
        subprocess.Popen(
            writer(
                root,
                f"p{n}",
                "--count",
                str(RECORDS),
                "--concurrency",
                "8",
                "--max-bytes",
                str(max_bytes),
            ),
            env=subprocess_env(),
        )
        for n in range(PROCESSES)
    ]
    for proc in procs:
        assert proc.wait(timeout=90) == 0
    lines = stream_lines(root, "shared")
    assert all(line.endswith(b"\n") for line in lines)
    records = [orjson.loads(line) for line in lines]  # every line parses: no interleaving
    assert [r["seq"] for r in records] == list(range(1, PROCESSES * RECORDS + 1))
    seen = Counter((r["payload"]["tag"], r["payload"]["i"]) for r in records)
    expected = {(f"p{n}", i) for n in range(PROCESSES) for i in range(RECORDS)}
    assert set(seen) == expected
    assert max(seen.values()) == 1
    report = verify(root, "shared")
    assert report.ok, report.format()
    if max_bytes < 1 << 20:
        assert len(report.segments) > 5
