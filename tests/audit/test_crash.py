"""SIGKILL storm: no acknowledged record is ever lost, repairs only ever cut the tail.

Writers append continuously and report every acknowledged seq; the test kills them at
random moments (half of them write each line in pauses, so kills land mid-line), then
reopens the stream and checks every acknowledged record is still there, unchanged.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import anyio
import pytest

from hydra.audit import AuditLog, iter_records, verify
from tests.audit.conftest import HERE, subprocess_env

KILLS = 100
WRITERS = 3
MAX_BYTES = 4096  # small: rotations happen under the kills


@dataclass
class Writer:
    proc: subprocess.Popen[bytes]
    acks: list[tuple[int, str]] = field(default_factory=list)
    thread: threading.Thread | None = None

    def collect(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            parts = line.split()
            if len(parts) == 3:
                self.acks.append((int(parts[0]), parts[1].decode()))


def start(root: Path, tag: str, errors: Path, *, torn: bool) -> Writer:
    with errors.open("ab") as stderr:
        proc = subprocess.Popen(
            [
                sys.executable,
                str(HERE / "writer_proc.py"),
                str(root),
                "crash",
                tag,
                "--max-bytes",
                str(MAX_BYTES),
                "--concurrency",
                "4",
                "--report",
                *(["--torn-writes"] if torn else []),
            ],
            stdout=subprocess.PIPE,
            stderr=stderr,
            env=subprocess_env(),
        )
    writer = Writer(proc)
    writer.thread = threading.Thread(target=writer.collect, name=f"acks-{tag}", daemon=True)
    writer.thread.start()
    return writer


def kill(writer: Writer) -> int:
    os.kill(writer.proc.pid, signal.SIGKILL)
    code = writer.proc.wait(timeout=30)
    assert writer.thread is not None
    writer.thread.join(timeout=30)
    assert writer.proc.stdout is not None
    writer.proc.stdout.close()
    return code


@pytest.mark.slow
def test_sigkill_storm_loses_no_acknowledged_record(root: Path, tmp_path: Path) -> None:
    rng = random.Random(20261122)
    errors = tmp_path / "writers.stderr"
    live = [start(root, f"w{n}", errors, torn=n % 2 == 1) for n in range(WRITERS)]
    done: list[Writer] = []
    codes: list[int] = []
    started = time.monotonic()
    while len(done) < KILLS:
        assert time.monotonic() - started < 120, "storm took too long"
        time.sleep(rng.uniform(0.02, 0.3))
        victim = live.pop(rng.randrange(len(live)))
        codes.append(kill(victim))
        done.append(victim)
        number = len(done) + WRITERS
        live.append(start(root, f"w{number}", errors, torn=number % 2 == 1))
    for writer in live:
        codes.append(kill(writer))
        done.append(writer)
    assert set(codes) == {-signal.SIGKILL}, errors.read_text()[-3000:]

    async def reopen() -> None:
        with anyio.fail_after(30):
            async with AuditLog(root, segment_max_bytes=MAX_BYTES) as log:
                stream = await log.stream("crash")
                assert stream.damage is None, stream.damage
                await stream.append("test.after", actor="test")

    anyio.run(reopen)

    report = verify(root, "crash")
    assert report.ok, report.format()
    on_disk = {r["seq"]: r for r in iter_records(root, "crash")}
    acked = [ack for writer in done for ack in writer.acks]
    assert len(acked) > 500, "the storm should acknowledge plenty of records"
    for seq, digest in acked:
        assert seq in on_disk, f"acknowledged seq {seq} lost"
        assert on_disk[seq]["hash"] == digest, f"acknowledged seq {seq} changed"
    assert len(report.segments) > 10  # rotation happened while processes were killed
    broken = b"".join(p.read_bytes() for p in (root / "crash").glob("*.broken"))
    for _, digest in acked:  # a repair never cut away an acknowledged record
        assert b'"hash":"' + digest.encode() + b'"' not in broken
    repairs = [r for r in on_disk.values() if r["action"] == "audit.repaired"]
    assert repairs, "writers killed mid-line should have left torn tails to repair"
    for record in repairs:
        payload = record["payload"]
        assert isinstance(payload, dict)
        assert payload.get("forced") is None
        segment = root / "crash" / str(payload["segment"])
        # the cut happened at the end of the segment as it was then: only the tail
        assert segment.stat().st_size >= int(payload["offset"])
