"""File-system helpers of the git workspace; the blocking ones run in worker threads."""

from __future__ import annotations

import os
import shutil
import stat
import tempfile
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path

import anyio
import anyio.to_thread

from ports import TrackedFile


def is_repository(path: Path) -> bool:
    """Whether ``path`` looks like a git repository (a work tree or a bare one)."""
    return (path / ".git").exists() or ((path / "HEAD").is_file() and (path / "objects").is_dir())


@asynccontextmanager
async def scratch_index() -> AsyncIterator[str]:
    """A path for a throw-away ``GIT_INDEX_FILE`` in a fresh temporary directory."""
    directory = await anyio.to_thread.run_sync(tempfile.mkdtemp, "", "hydra-index-")
    try:
        yield str(Path(directory) / "index")
    finally:
        with anyio.CancelScope(shield=True):
            await anyio.to_thread.run_sync(rmtree, Path(directory))


def rmtree(path: Path) -> None:
    """Remove a directory tree, or just the link if ``path`` is a symlink. Blocking."""
    if path.is_symlink():
        path.unlink()
    elif path.exists():
        shutil.rmtree(path)


def files_on_disk(root: Path, paths: Sequence[str]) -> list[TrackedFile]:
    """The ``paths`` present in ``root`` as files or symlinks, with their sizes. Blocking."""
    found: list[TrackedFile] = []
    for rel in paths:
        try:
            info = os.lstat(root / rel)
        except OSError:
            continue
        if stat.S_ISREG(info.st_mode) or stat.S_ISLNK(info.st_mode):
            found.append(TrackedFile(path=rel, size=info.st_size))
    return found


def read_bounded(path: Path, max_bytes: int) -> bytes:
    """Up to ``max_bytes`` of a regular file; never blocks on a FIFO or follows a new link."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOFOLLOW | os.O_CLOEXEC)
    with os.fdopen(fd, "rb") as handle:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise IsADirectoryError(str(path))  # a directory, FIFO or device: not a file
        chunks: list[bytes] = []
        left = max_bytes
        while left > 0 and (chunk := handle.read(left)):
            chunks.append(chunk)
            left -= len(chunk)
        return b"".join(chunks)
