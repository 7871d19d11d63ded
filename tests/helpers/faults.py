"""Real faults for durability tests: a failing ``fsync`` and a damaged audit stream.

* :data:`FSYNC_SABOTEUR` is a ``sitecustomize.py`` for the real daemon as a subprocess: once
  the file named by ``HYDRA_TEST_FAIL_FSYNC_MARKER`` exists, ``os.fsync`` fails with EIO, for
  every file or, with ``HYDRA_TEST_FAIL_FSYNC_PATTERN``, only for files whose path contains it.
* :func:`failing_fsync` does the same in this process (through ``pytest.MonkeyPatch``).
* :class:`UnlinkLosingARace` removes files, but the first one it is given was replaced by a
  non-empty directory just before: a real ``EISDIR`` from the kernel, root or not.
* :func:`damage_mid_stream` writes records with the real audit writer, then overwrites one in
  the middle: the mid-file damage that opening a stream refuses to repair.
"""

from __future__ import annotations

import errno
import os
import textwrap
from collections.abc import Sequence
from pathlib import Path

import pytest

from hydra.audit import bulk_append

FSYNC_SABOTEUR = textwrap.dedent(
    """
    import errno, os
    _real = os.fsync
    _marker = os.environ["HYDRA_TEST_FAIL_FSYNC_MARKER"]
    _pattern = os.environ.get("HYDRA_TEST_FAIL_FSYNC_PATTERN", "")

    def _path(fd):
        try:
            return os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            return ""

    def fsync(fd):
        if os.path.exists(_marker) and _pattern in _path(fd):
            raise OSError(errno.EIO, "Input/output error")
        return _real(fd)

    os.fsync = fsync
    """
)


def saboteur_env(tmp_path: Path, *, pattern: str = "") -> tuple[dict[str, str], Path]:
    """Environment for a daemon whose fsync fails once the returned marker file exists."""
    site = tmp_path / "site"
    site.mkdir(exist_ok=True)
    (site / "sitecustomize.py").write_text(FSYNC_SABOTEUR)
    marker = tmp_path / "fail-fsync-now"
    env = {"PYTHONPATH": str(site), "HYDRA_TEST_FAIL_FSYNC_MARKER": str(marker)}
    if pattern:
        env["HYDRA_TEST_FAIL_FSYNC_PATTERN"] = pattern
    return env, marker


def failing_fsync(monkeypatch: pytest.MonkeyPatch, pattern: str) -> list[str]:
    """Make ``os.fsync`` fail with EIO for files whose path contains ``pattern``; returns the
    list of paths refused so far."""
    real = os.fsync
    refused: list[str] = []

    def fsync(fd: int) -> None:
        try:
            path = str(Path(f"/proc/self/fd/{fd}").readlink())
        except OSError:
            path = ""
        if pattern in path:
            refused.append(path)
            raise OSError(errno.EIO, "Input/output error")
        real(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    return refused


def damage_mid_stream(audit_root: Path, stream: str, actions: Sequence[str]) -> None:
    """Append ``actions`` (at least three) to ``stream``, then overwrite the second-to-last
    record with garbage: a valid record follows, so this is damage, never a torn tail."""
    assert len(actions) >= 3
    bulk_append(audit_root, stream, [(a, "daemon", {}, "run-1") for a in actions])
    segment = sorted((audit_root / stream).glob("*.jsonl"))[-1]
    lines = segment.read_bytes().splitlines(keepends=True)
    victim = len(lines) - 2
    lines[victim] = b"x" * (len(lines[victim]) - 1) + b"\n"
    segment.write_bytes(b"".join(lines))


class UnlinkLosingARace:
    """An ``unlink`` whose first file is swapped for a non-empty directory just before it is
    removed (a race with another process): the kernel refuses, for root too. ``raced`` holds
    that file."""

    def __init__(self) -> None:
        self.raced: list[Path] = []

    def __call__(self, path: Path) -> None:
        if not self.raced:
            self.raced.append(path)
            path.unlink()
            path.mkdir()
            (path / "inside").write_bytes(b"")
        path.unlink()
