"""Small JSON state files written atomically: temp file, fsync, rename, directory fsync.

A reader sees either the old or the new file, never a mix, across crashes. A failed fsync is
not retried (the kernel may already have dropped the data): it raises
:class:`DurabilityError`, which the daemon treats as fatal.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import Any

import orjson


class DurabilityError(OSError):
    """Data could not be made durable; the daemon must stop."""


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    except OSError as exc:
        raise DurabilityError(
            exc.errno, f"fsync of directory {path} failed: {exc.strerror}"
        ) from exc
    finally:
        os.close(fd)


def write_json_atomic(path: Path, data: Any, *, mode: int = 0o644) -> None:
    """Replace ``path`` with ``data`` as pretty JSON, durably. Blocking: call off the event loop."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    payload = orjson.dumps(data, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS) + b"\n"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    try:
        view = memoryview(payload)
        while view:
            written = os.write(fd, view)
            view = view[written:]
        try:
            os.fsync(fd)
        except OSError as exc:
            raise DurabilityError(exc.errno, f"fsync of {tmp} failed: {exc.strerror}") from exc
    except BaseException:
        os.close(fd)
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    os.close(fd)
    tmp.replace(path)
    fsync_dir(path.parent)


def read_json(path: Path) -> Any:
    """The file's JSON, or ``None`` when it does not exist."""
    try:
        return orjson.loads(path.read_bytes())
    except FileNotFoundError:
        return None
