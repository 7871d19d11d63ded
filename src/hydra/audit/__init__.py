"""Durable, hash-chained JSONL audit streams.

Layout: ``<root>/<stream>/00000001.jsonl``, ``00000002.jsonl``, … (the highest number is
the active segment), one JSON object per ``\\n``-terminated line, readable by ``jq``.

* Writing (async, anyio): :class:`AuditLog` and :class:`AuditStream` - group commit,
  fsync before acknowledging, multi-process safe through ``<stream>/.lock``.
* Reading (blocking, no anyio): :func:`list_streams`, :func:`iter_records`,
  :func:`iter_records_reverse`, :func:`last_record`, :func:`follow`, :func:`query`,
  :func:`verify`, and the operator's :func:`force_repair`.

The writer classes are imported lazily so ``hydra audit query``/``verify`` start without
importing anyio.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING

from hydra.audit._bulk import BulkEntry, bulk_append
from hydra.audit._errors import AuditFatal, DamageReport, RepairReport, StreamDamaged
from hydra.audit._filter import RecordFilter
from hydra.audit._follow import follow
from hydra.audit._force import force_repair
from hydra.audit._query import query
from hydra.audit._reader import (
    StreamInfo,
    iter_records,
    iter_records_reverse,
    last_record,
    list_streams,
)
from hydra.audit._sync import SyncMode
from hydra.audit._verify import Finding, VerifyReport, verify

if TYPE_CHECKING:
    from hydra.audit._log import AuditLog, OnCommit
    from hydra.audit._stream import AuditStream
    from hydra.audit._subscription import Subscription

__all__ = [
    "AuditFatal",
    "AuditLog",
    "AuditStream",
    "BulkEntry",
    "DamageReport",
    "Finding",
    "OnCommit",
    "RecordFilter",
    "RepairReport",
    "StreamDamaged",
    "StreamInfo",
    "Subscription",
    "SyncMode",
    "VerifyReport",
    "bulk_append",
    "follow",
    "force_repair",
    "iter_records",
    "iter_records_reverse",
    "last_record",
    "list_streams",
    "query",
    "verify",
]

_LAZY = {
    "AuditLog": "hydra.audit._log",
    "OnCommit": "hydra.audit._log",
    "AuditStream": "hydra.audit._stream",
    "Subscription": "hydra.audit._subscription",
}


def __getattr__(name: str) -> object:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
