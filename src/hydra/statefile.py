"""Small JSON state files written atomically: temp file, fsync, rename, directory fsync.

A reader sees either the old or the new file, never a mix, across crashes. A failed fsync is
not retried (the kernel may already have dropped the data): it raises
:class:`DurabilityError`, which the daemon treats as fatal. The daemon's parts write through
:func:`store_json`, which also pulls the daemon's :class:`~hydra.fatal.FatalSignal`, so the
failure stops the daemon even where the exception itself is caught (a loop's crash isolation).
"""

from __future__ import annotations

import contextlib
import functools
import os
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

import anyio
import orjson

if TYPE_CHECKING:
    from hydra.fatal import FatalSignal


class DurabilityError(OSError):
    """Data could not be made durable; the daemon must stop."""


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    except OSError as exc:
        raise DurabilityError(
            exc.errno, f"cannot make {path} durable: directory fsync failed: {exc.strerror}"
        ) from exc
    finally:
        os.close(fd)


def write_json_atomic(path: Path, data: Any, *, mode: int = 0o644) -> None:
    """Replace ``path`` with ``data`` as pretty JSON, durably. Blocking: call off the event loop."""
    path.parent.mkdir(parents=True, exist_ok=True)
    # Unique per thread, not only per process: two worker threads may store the same file.
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
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
            raise DurabilityError(
                exc.errno, f"cannot make {path} durable: fsync of {tmp.name} failed: {exc.strerror}"
            ) from exc
    except BaseException:
        os.close(fd)
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    os.close(fd)
    try:
        tmp.replace(path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    fsync_dir(path.parent)


async def store_json(
    path: Path, data: Any, *, fatal: FatalSignal | None = None, mode: int = 0o644
) -> None:
    """:func:`write_json_atomic` off the event loop; a :class:`DurabilityError` also triggers
    ``fatal`` (then propagates)."""
    try:
        await anyio.to_thread.run_sync(functools.partial(write_json_atomic, path, data, mode=mode))
    except DurabilityError as exc:
        if fatal is not None:
            fatal.trigger(exc)
        raise


def read_json(path: Path) -> Any:
    """The file's JSON, or ``None`` when it does not exist."""
    try:
        return orjson.loads(path.read_bytes())
    except FileNotFoundError:
        return None
