"""Exceptions and reports of the audit package (no I/O, no third-party imports)."""

from __future__ import annotations

import errno as errno_names
import os
from dataclasses import dataclass
from pathlib import Path


class AuditFatal(OSError):
    """A write or sync of an audit file failed; the process must stop appending.

    After a failed ``fsync`` the kernel may already have dropped the dirty pages, so a
    retry could report success for data that never reached the disk. The writer therefore
    never retries: the first failure is final for the :class:`~hydra.audit.AuditLog` that
    saw it, every waiting and later append raises this same exception, and
    ``AuditLog.wait_fatal()`` returns it so the daemon can stop. Restarting re-opens and
    re-validates every stream (a torn tail is then repaired and audited).
    """

    def __init__(self, operation: str, path: Path | str, cause: BaseException) -> None:
        code = getattr(cause, "errno", None)
        if isinstance(cause, OSError) and code is not None:
            name = errno_names.errorcode.get(code, str(code))
            what = f"[{name}] {os.strerror(code)}"
        else:  # not an OS error: a bug; the stream's position is unknown all the same
            code = errno_names.EIO
            what = f"unexpected {type(cause).__name__}: {cause}"
        message = (
            f"audit {operation} failed on {path}: {what}; records not yet synced may be "
            "lost, so this process refuses further audit appends (restart to re-validate "
            "the stream)"
        )
        super().__init__(code, message, str(path))
        self.operation = operation
        self.path = str(path)
        self.message = message
        self.__cause__ = cause

    def __str__(self) -> str:
        return self.message


@dataclass(frozen=True, slots=True)
class DamageReport:
    """Where a stream stops being a valid, chained sequence of records.

    ``offset`` is the byte offset of the first invalid line inside ``segment`` and
    ``line`` its 1-based line number. Damage is reported (never repaired silently) when a
    valid record exists after the invalid bytes, i.e. when it is not a torn tail.
    """

    stream: str
    segment: Path
    line: int
    offset: int
    reason: str

    def __str__(self) -> str:
        return (
            f"audit stream {self.stream!r} is damaged at {self.segment.name} line {self.line} "
            f"(byte {self.offset}): {self.reason}; valid records follow, so it was not repaired "
            f"automatically. Inspect it with `hydra audit verify {self.stream}`, then run "
            f"`hydra audit repair --force {self.stream}` with no daemon running."
        )


class StreamDamaged(Exception):
    """Raised by ``AuditStream.append`` while its stream is damaged (see :class:`DamageReport`)."""

    def __init__(self, report: DamageReport) -> None:
        super().__init__(str(report))
        self.report = report


@dataclass(frozen=True, slots=True)
class RepairReport:
    """What :func:`~hydra.audit.force_repair` did.

    ``repaired`` is false when the stream had no damage (nothing was moved). Otherwise the
    bytes from ``offset`` of ``segment`` to its end, and every later segment, were moved to
    ``broken_files`` and ``record`` is the ``audit.repaired`` record appended afterwards.
    """

    stream: str
    repaired: bool
    segment: Path | None = None
    offset: int | None = None
    reason: str | None = None
    dropped_bytes: int = 0
    broken_files: tuple[Path, ...] = ()
    record: dict[str, object] | None = None

    def format(self) -> str:
        if not self.repaired:
            return f"stream {self.stream}: no damage found, nothing changed"
        moved = ", ".join(p.name for p in self.broken_files)
        name = self.segment.name if self.segment is not None else "?"
        return (
            f"stream {self.stream}: damage at {name} byte {self.offset} ({self.reason}); "
            f"moved {self.dropped_bytes} bytes to {moved}; appended audit.repaired"
        )
