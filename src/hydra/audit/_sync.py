"""How a commit round makes its writes durable: ``fsync`` per file or one ``syncfs``.

``fsync(fd)`` flushes one file; on this class of machine it costs about 60-80 µs of CPU
and ~200 µs of wall time per file, so a round that touched 200 streams spends ~14 ms of
CPU and ~30 ms of wall time in fsync alone. Linux ``syncfs(fd)`` flushes every dirty
inode of the file system holding ``fd`` in one call (≈2 µs of CPU per dirty file when
many are dirty, one journal commit).

Trade-off: ``syncfs`` also flushes everything *else* dirty on that file system (other
processes' writes, a build directory, logs). When the audit root shares a busy file
system the call can take as long as that other data needs, so it trades CPU for latency
that depends on neighbours. It is only *honest* on Linux >= 5.8: older kernels return 0
even when writeback failed. Hence the modes:

* ``"fsync"``  - always fsync each file touched (predictable, per-file error reporting);
* ``"syncfs"`` - always one ``syncfs`` per round (requires Linux >= 5.8);
* ``"auto"``   - ``syncfs`` for a round that touched at least ``syncfs_min_files`` files
  on Linux >= 5.8, ``fsync`` otherwise (a lone append never pays for the neighbours).

Either way a record is acknowledged only after a successful fsync/syncfs that covers it;
``syncfs`` runs on a descriptor of the audit root opened when the log starts, so a
writeback error on any file of that file system since then is reported to us.
"""

from __future__ import annotations

import os
import platform
import re
import sys
from typing import Literal, Protocol

SyncMode = Literal["fsync", "syncfs", "auto"]
DEFAULT_SYNCFS_MIN_FILES = 4


class _SyncFs(Protocol):
    def __call__(self, fd: int, /) -> int: ...


_libc_syncfs: _SyncFs | None = None


def syncfs_reports_errors(release: str | None = None) -> bool:
    """True on Linux >= 5.8, where ``syncfs`` returns writeback errors."""
    if sys.platform != "linux":
        return False
    match = re.match(r"(\d+)\.(\d+)", platform.release() if release is None else release)
    return match is not None and (int(match.group(1)), int(match.group(2))) >= (5, 8)


def syncfs(fd: int) -> None:
    """``syncfs(2)`` through libc; raises ``OSError`` on failure. Releases the GIL."""
    global _libc_syncfs  # noqa: PLW0603 - one lazily bound libc symbol per process
    if _libc_syncfs is None:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        function = libc.syncfs
        function.argtypes = [ctypes.c_int]
        function.restype = ctypes.c_int
        _libc_syncfs = function
    if _libc_syncfs(fd) != 0:
        import ctypes

        code = ctypes.get_errno()
        raise OSError(code, os.strerror(code))


class SyncPolicy:
    """Decides, per round, between per-file fsync and one syncfs."""

    __slots__ = ("min_files", "mode", "syncfs_ok")

    def __init__(self, mode: SyncMode, min_files: int = DEFAULT_SYNCFS_MIN_FILES) -> None:
        if mode not in ("fsync", "syncfs", "auto"):
            raise ValueError(f"unknown sync mode {mode!r}: expected fsync, syncfs or auto")
        if min_files < 1:
            raise ValueError("syncfs_min_files must be >= 1")
        self.mode = mode
        self.min_files = min_files
        self.syncfs_ok = syncfs_reports_errors()
        if mode == "syncfs" and not self.syncfs_ok:
            raise ValueError("sync='syncfs' needs Linux >= 5.8 (older kernels hide errors)")

    def use_syncfs(self, files: int) -> bool:
        if self.mode == "fsync" or not self.syncfs_ok:
            return False
        return self.mode == "syncfs" or files >= self.min_files
