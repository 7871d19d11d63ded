"""The local inbox on disk: one JSON file per issue, ``<dir>/<id>.json``, ids 1, 2, 3…

The format of one file is :mod:`._inbox_record`.

Blocking by design (the adapter calls it from a worker thread). Every write replaces the file
atomically and durably (:func:`hydra.statefile.write_json_atomic`); id allocation and every
read-modify-write hold an advisory lock on ``<dir>/.lock``, so the CLI and the daemon can
write the same inbox at once. Readers take no lock: a rename is atomic, so they see a whole
old or a whole new file. A failed fsync propagates as :class:`DurabilityError` (never turned
into a ``PortError``); :class:`hydra.adapters.inbox.LocalInbox` pulls the daemon's fatal signal.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import filelock
import orjson

from hydra.adapters._inbox_record import CorruptRecord, IssueRecord, from_json, to_json
from hydra.statefile import DurabilityError, write_json_atomic
from ports import PortError

_FILE = re.compile(r"([1-9][0-9]{0,17})\.json")


Change = Callable[[IssueRecord], IssueRecord | None]
"""Returns the new record, or ``None`` when there is nothing to change (no write happens)."""


class InboxStore:
    """The issue files of one repository's inbox directory."""

    def __init__(self, directory: Path, *, lock_timeout_s: float = 30.0) -> None:
        self.directory = directory
        self._timeout_s = lock_timeout_s
        self._threads = threading.Lock()
        self._lock = filelock.FileLock(directory / ".lock", timeout=lock_timeout_s)

    def path(self, number: int) -> Path:
        return self.directory / f"{number}.json"

    def create(self, build: Callable[[int], IssueRecord]) -> IssueRecord:
        """Allocate the next id and write the record ``build(id)`` returns."""
        with self._locked():
            numbers = self._numbers()
            record = build(max(numbers, default=0) + 1)
            self._write(record)
            return record

    def load(self, number: int) -> IssueRecord:
        path = self.path(number)
        try:
            raw = path.read_bytes()
        except FileNotFoundError:
            raise PortError(
                "not_found", f"no issue {number} in {self.directory}", port="issues"
            ) from None
        except OSError as exc:
            raise PortError("failed", f"cannot read {path}: {exc}", port="issues") from exc
        try:
            record = from_json(orjson.loads(raw))
        except (orjson.JSONDecodeError, CorruptRecord) as exc:
            raise PortError("failed", f"corrupt issue file {path}: {exc}", port="issues") from None
        if record.id != number:
            raise PortError(
                "failed", f"corrupt issue file {path}: it holds issue {record.id}", port="issues"
            )
        return record

    def load_all(self) -> list[IssueRecord]:
        """Every issue, by id (which is creation order)."""
        return [self.load(number) for number in sorted(self._numbers())]

    def update(self, number: int, change: Change) -> IssueRecord:
        """Apply ``change`` to issue ``number`` under the lock; write only if it changed."""
        with self._locked():
            record = self.load(number)
            updated = change(record)
            if updated is None or updated == record:
                return record
            self._write(updated)
            return updated

    # ------------------------------------------------------------------ internals
    def _numbers(self) -> list[int]:
        try:
            names = [entry.name for entry in self.directory.iterdir()]
        except FileNotFoundError:
            return []
        except OSError as exc:
            raise PortError(
                "failed", f"cannot list {self.directory}: {exc}", port="issues"
            ) from exc
        return [int(m.group(1)) for m in map(_FILE.fullmatch, names) if m]

    @contextmanager
    def _locked(self) -> Iterator[None]:
        # Threads of this process queue on a plain lock (woken at once); only then does the
        # file lock, which polls while contended, serialise us with other processes.
        if not self._threads.acquire(timeout=self._timeout_s):
            raise PortError("timeout", f"the inbox {self.directory} is busy", port="issues")
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            self._lock.acquire()
        except filelock.Timeout:
            self._threads.release()
            raise PortError(
                "timeout", f"another process holds {self._lock.lock_file}", port="issues"
            ) from None
        except OSError as exc:
            self._threads.release()
            raise PortError(
                "failed", f"cannot lock {self.directory}: {exc}", port="issues"
            ) from exc
        try:
            yield
        finally:
            self._lock.release()
            self._threads.release()

    def _write(self, record: IssueRecord) -> None:
        try:
            write_json_atomic(self.path(record.id), to_json(record))
        except DurabilityError:
            raise
        except OSError as exc:
            raise PortError(
                "failed", f"cannot write {self.path(record.id)}: {exc}", port="issues"
            ) from exc
