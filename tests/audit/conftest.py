"""Fixtures of the audit tests: a fresh root, fsync accounting, subprocess environment."""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass, field
from pathlib import Path

import pytest

import hydra
from hydra.audit import bulk_append

SRC = str(Path(hydra.__file__).resolve().parents[1])
HERE = Path(__file__).resolve().parent


def subprocess_env() -> dict[str, str]:
    """Environment for child Pythons that must import ``hydra`` from this checkout."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (SRC, env.get("PYTHONPATH", "")) if p)
    return env


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return tmp_path / "audit"


@dataclass
class FsyncCounter:
    """What ``os.fsync`` was called on (the real call still happens)."""

    files: list[str] = field(default_factory=list)
    dirs: list[str] = field(default_factory=list)

    def reset(self) -> None:
        self.files.clear()
        self.dirs.clear()


@pytest.fixture
def fsyncs(monkeypatch: pytest.MonkeyPatch) -> FsyncCounter:
    counter = FsyncCounter()
    real = os.fsync

    def counting(fd: int) -> None:
        target = str(Path(f"/proc/self/fd/{fd}").readlink())
        if stat.S_ISDIR(os.fstat(fd).st_mode):
            counter.dirs.append(target)
        else:
            counter.files.append(target)
        real(fd)

    monkeypatch.setattr(os, "fsync", counting)
    return counter


def make_stream(root: Path, name: str, count: int, **kwargs: object) -> int:
    """Write ``count`` records (actions alternate tick.started / tick.finished)."""
    entries = (
        (
            "tick.started" if i % 2 == 0 else "tick.finished",
            "orchestrator",
            {"i": i, "note": f"record {i}"},
            f"run-{i // 2}",
        )
        for i in range(count)
    )
    return bulk_append(root, name, entries, **kwargs)  # type: ignore[arg-type]


def stream_lines(root: Path, name: str) -> list[bytes]:
    """Every line (with newline) of every segment of ``name``, in order."""
    lines: list[bytes] = []
    for path in sorted((root / name).glob("*.jsonl")):
        lines += path.read_bytes().splitlines(keepends=True)
    return lines
