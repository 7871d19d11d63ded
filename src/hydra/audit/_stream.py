"""``AuditStream``: the append handle of one stream inside an ``AuditLog``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from hydra.audit._encode import make_pending
from hydra.audit._errors import AuditFatal, DamageReport, StreamDamaged
from hydra.audit._stream_file import StreamFile

if TYPE_CHECKING:
    from hydra.audit._log import AuditLog


class AuditStream:
    """Append handle of one stream; obtain it with ``await AuditLog.stream(name)``."""

    __slots__ = ("_file", "_log", "name")

    def __init__(self, log: AuditLog, file: StreamFile) -> None:
        self._log = log
        self._file = file
        self.name = file.name

    @property
    def last_seq(self) -> int:
        """Seq of the last record this process knows of (0 for an empty stream)."""
        return self._file.last_seq

    @property
    def damage(self) -> DamageReport | None:
        """Set when the stream is damaged; appends then raise :class:`StreamDamaged`."""
        return self._file.damage

    async def append(
        self,
        action: str,
        *,
        actor: str,
        payload: Mapping[str, object] | None = None,
        run: str | None = None,
    ) -> dict[str, object]:
        """Append one record and return it once it is durable (fsynced).

        ``ts`` is taken now; ``seq``, ``prev`` and ``hash`` when the batch is written.
        ``payload`` goes through the log's ``redact`` hook first.

        Raises ``TypeError`` (nothing written) if the payload is not a JSON-serialisable
        mapping or a field has the wrong type; :class:`StreamDamaged` while the stream is
        damaged; :class:`AuditFatal` once a write or sync failed (this and every later
        append); ``RuntimeError`` if the log is not open. Cancelling the caller does not
        withdraw the record: once ``append`` was called it is committed (or fails fatally)
        with its batch.
        """
        log = self._log
        log._check_open()
        if self._file.damage is not None:
            raise StreamDamaged(self._file.damage)
        entry = make_pending(action, actor, payload, run, log._redact)
        await log._enqueue(self._file, entry).wait()
        if entry.error is not None:  # shared by many waiters: do not grow its traceback
            raise entry.error.with_traceback(None)
        record = entry.record
        if record is None:  # pragma: no cover - a settled round sets one of the two
            raise AuditFatal("commit", log.root, RuntimeError("the round was never committed"))
        return record

    def __repr__(self) -> str:
        state = "damaged" if self._file.damage is not None else f"last_seq={self.last_seq}"
        return f"<AuditStream {self.name} {state}>"
