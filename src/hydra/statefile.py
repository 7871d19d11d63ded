"""Small JSON state files written atomically: temp file, fsync, rename, directory fsync.

A reader sees either the old or the new file, never a mix, across crashes. A failed fsync is
not retried (the kernel may already have dropped the data): it raises
:class:`DurabilityError`, which the daemon treats as fatal. The daemon's parts write through
:func:`store_json`, which also pulls the daemon's :class:`~hydra.fatal.FatalSignal`, so the
failure stops the daemon even where the exception itself is caught (a loop's crash isolation).

A writer killed between creating its temp file and the rename leaves the temp file behind:
:func:`temp_path` names it after the writing process and thread, so
:func:`sweep_stale_temps` (the daemon calls it at start-up) can remove those of dead processes
(and, at start-up only, those carrying the daemon's own pid: an earlier incarnation's).
"""

from __future__ import annotations

import contextlib
import functools
import os
import re
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, NamedTuple

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


# A temp file lives from the writer's open to its rename: milliseconds (the payload and one
# fsync). One older than this is no longer being written, whatever its pid says. The start-up
# sweep needs the age where writers do not hold the data dir's ``daemon.lock`` (the local
# inbox, which ``hydra issue`` writes): such a writer may run in another pid namespace (on the
# host into a bind-mounted data dir, or in another container), where its live pid looks dead
# here, or even equal to the daemon's own.
UNLOCKED_TEMP_MIN_AGE_S: Final = 60.0


class StateDir(NamedTuple):
    """A directory to sweep (:func:`sweep_stale_temps`) and how old its temp files must be."""

    path: Path
    min_age_s: float = 0.0


class Sweep(NamedTuple):
    """What a sweep did: the files it removed, and those (or directories) it could not sweep,
    each with the error."""

    removed: list[Path]
    failed: list[tuple[Path, str]]


def sweep_stale_temps(
    directory: Path,
    *,
    own_pid_is_stale: bool = False,
    min_age_s: float = 0.0,
    unlink: Callable[[Path], None] = os.unlink,
) -> Sweep:
    """Remove the temp files (:func:`temp_path`) in ``directory`` whose writer is dead.

    Only files named exactly like :func:`temp_path` names them, only regular files, only those
    at least ``min_age_s`` old (by mtime), and only those of processes that no longer exist:
    never one of a live process (a CLI tool may be writing right now) and, unless
    ``own_pid_is_stale``, never one of this process. ``own_pid_is_stale`` is for the daemon's
    start-up sweep alone: holding the data dir's lock and before any writer of its own runs,
    a temp file with its pid was left by an earlier incarnation that had the same pid (the same
    small pid at every start of a container). A pid reused by a live process keeps its stale
    file. Not recursive. A missing directory removes nothing.

    A file that cannot be checked or removed is reported in :attr:`Sweep.failed` and the sweep
    goes on with the next one; ``unlink`` removes one file (a test may stage a race with it).
    Blocking; raises ``OSError`` only when the directory itself cannot be read.
    """
    try:
        with os.scandir(directory) as scan:
            entries = list(scan)
    except FileNotFoundError:
        return Sweep([], [])
    me = os.getpid()
    now = time.time()
    done = Sweep([], [])
    for entry in entries:
        temp = parse_temp_name(entry.name)
        if temp is None or (temp.pid == me and not own_pid_is_stale):
            continue
        path = directory / entry.name
        try:
            if not entry.is_file(follow_symlinks=False):
                continue
            if min_age_s > 0 and now - entry.stat(follow_symlinks=False).st_mtime < min_age_s:
                continue  # maybe being written right now, by a writer whose pid we cannot see
            if temp.pid != me and _process_alive(temp.pid):
                continue
            unlink(path)
        except FileNotFoundError:  # renamed by its writer, or someone else swept it first
            continue
        except OSError as exc:
            done.failed.append((path, str(exc)))
            continue
        done.removed.append(path)
    return done


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
    payload = orjson.dumps(data, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS) + b"\n"
    write_bytes_atomic(path, payload, mode=mode)


def write_bytes_atomic(path: Path, payload: bytes, *, mode: int = 0o644) -> None:
    """Replace ``path`` with ``payload``, durably: temp file (:func:`temp_path`, created afresh
    with ``mode``, never through a symlink), fsync, rename, directory fsync. The temp file never
    outlives a failure. Blocking: call off the event loop."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = temp_path(path)
    tmp.unlink(missing_ok=True)  # a stale one of an earlier incarnation with the same pid
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
    fd = os.open(tmp, flags, mode)
    try:
        try:
            view = memoryview(payload)
            while view:
                view = view[os.write(fd, view) :]
            try:
                os.fsync(fd)
            except OSError as exc:
                raise DurabilityError(
                    exc.errno,
                    f"cannot make {path} durable: fsync of {tmp.name} failed: {exc.strerror}",
                ) from exc
        finally:
            os.close(fd)
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
