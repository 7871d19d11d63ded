"""Small JSON state files written atomically: temp file, fsync, rename, directory fsync.

A reader sees either the old or the new file, never a mix, across crashes. A failed fsync is
not retried (the kernel may already have dropped the data): it raises
:class:`DurabilityError`, which the daemon treats as fatal. The daemon's parts write through
:func:`store_json`, which also pulls the daemon's :class:`~hydra.fatal.FatalSignal`, so the
failure stops the daemon even where the exception itself is caught (a loop's crash isolation).

A writer killed between creating its temp file and the rename leaves the temp file behind:
:func:`temp_path` names it after the writing process and thread, so
:func:`sweep_stale_temps` (the daemon calls it at start-up) can remove those of dead processes.
"""

from __future__ import annotations

import contextlib
import functools
import os
import re
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

import anyio
import orjson

if TYPE_CHECKING:
    from hydra.fatal import FatalSignal


class DurabilityError(OSError):
    """Data could not be made durable; the daemon must stop."""


# ``.<target name>.<pid>.<thread id>.tmp``, as :func:`temp_path` builds it. A pid has no
# leading zero (and is never 0, which :func:`os.kill` would take for the process group).
_TEMP_NAME = re.compile(
    r"\.(?P<target>.+)\.(?P<pid>[1-9][0-9]{0,9})\.(?P<thread>[0-9]{1,20})\.tmp", re.DOTALL
)


class TempName(NamedTuple):
    target: str
    """The name of the file the temp file was to replace."""
    pid: int
    thread: int


def temp_path(path: Path) -> Path:
    """The temp file that replaces ``path``, beside it: unique per process and per thread (two
    worker threads may store the same file), so the writer of a left-over one is known."""
    return path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")


def parse_temp_name(name: str) -> TempName | None:
    """What a file name made by :func:`temp_path` says; ``None`` for any other name."""
    found = _TEMP_NAME.fullmatch(name)
    if found is None:
        return None
    return TempName(found["target"], int(found["pid"]), int(found["thread"]))


def _process_alive(pid: int) -> bool:
    """Whether process ``pid`` exists. Only a definite "no such process" says it does not: a
    ``PermissionError`` means someone else's live process."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (OSError, OverflowError):  # no permission (alive), or no pid this system can name
        return True
    return True


def sweep_stale_temps(directory: Path) -> list[Path]:
    """Remove the temp files (:func:`temp_path`) in ``directory`` whose writer is dead.

    Only files named exactly like :func:`temp_path` names them, only regular files, and only
    those of processes that no longer exist: never one of this process or of a live process
    (a CLI tool may be writing right now). A pid reused by a live process keeps its stale file.
    Not recursive. Returns the removed files; a missing directory removes nothing. Blocking;
    raises ``OSError`` when the directory cannot be read or a file cannot be removed.
    """
    try:
        with os.scandir(directory) as scan:
            entries = list(scan)
    except FileNotFoundError:
        return []
    me = os.getpid()
    removed: list[Path] = []
    for entry in entries:
        temp = parse_temp_name(entry.name)
        if temp is None or temp.pid == me or not entry.is_file(follow_symlinks=False):
            continue
        if _process_alive(temp.pid):
            continue
        path = directory / entry.name
        try:
            path.unlink()
        except FileNotFoundError:  # someone else swept it first
            continue
        removed.append(path)
    return removed


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
    tmp = temp_path(path)
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
