"""Shared bits of the audit benchmarks: a work dir on a real disk, CPU clocks, printing."""

from __future__ import annotations

import os
import resource
import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

DEFAULT_WORK = Path(__file__).resolve().parent / ".work"
MEMORY_FILE_SYSTEMS = {"tmpfs", "ramfs", "devtmpfs", "hugetlbfs"}


def file_system_of(path: Path) -> tuple[str, str]:
    """``(mount point, fs type)`` holding ``path`` (Linux: longest match in /proc/mounts)."""
    target = str(path.resolve())
    best = ("/", "unknown")
    try:
        mounts = Path("/proc/mounts").read_text().splitlines()
    except OSError:
        return best
    for line in mounts:
        fields = line.split()
        if len(fields) < 3:
            continue
        point = fields[1].replace("\\040", " ")
        inside = target == point or target.startswith(point.rstrip("/") + "/")
        if inside and len(point) >= len(best[0]):
            best = (point, fields[2])
    return best


def work_dir(requested: Path | None, name: str, *, allow_tmpfs: bool = False) -> Path:
    """A fresh directory for one run; refuses memory-backed file systems (fsync is free there)."""
    base = (requested or DEFAULT_WORK).resolve()
    base.mkdir(parents=True, exist_ok=True)
    point, kind = file_system_of(base)
    if kind in MEMORY_FILE_SYSTEMS and not allow_tmpfs:
        raise SystemExit(f"{base} is on {kind} ({point}): fsync costs nothing there; use --dir")
    run = base / f"{name}-{os.getpid()}-{time.time_ns()}"
    run.mkdir()
    print(f"work dir: {run} ({kind} on {point})")
    return run


@contextmanager
def cleanup(path: Path, *, keep: bool = False) -> Iterator[Path]:
    try:
        yield path
    finally:
        if not keep:
            shutil.rmtree(path, ignore_errors=True)


def cpu_seconds() -> float:
    """CPU time of this process, every thread included."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


QUICK = False
"""Set by a benchmark's ``--quick``: a smoke run is too small to judge, so it says so."""


def verdict(value: float, target: float) -> str:
    if QUICK:
        return "not judged (--quick)"
    return "meets target" if value >= target else "BELOW TARGET"
