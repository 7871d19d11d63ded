"""Runtime implementations of the loop services: history (own stream), durable state.

A failed fsync of a loop's state file pulls the daemon's fatal signal: the loop's crash
isolation catches the exception, but the daemon must stop all the same.
"""

from __future__ import annotations

import io
from collections.abc import Collection, Mapping
from pathlib import Path
from typing import Any

import anyio
import orjson

from hydra.audit import AuditLog, RecordFilter, query
from hydra.escalations import EscalationQueue, LoopDesk
from hydra.fatal import FatalSignal
from hydra.statefile import read_json, store_json


class StreamHistory:
    """:class:`hydra.sdk.LoopHistory` over one audit stream, read off the event loop.

    Uses the same byte-level pre-filter as ``hydra audit query``, so a large stream is scanned at
    C speed and only candidate lines are parsed.
    """

    def __init__(self, audit_root: Path, stream: str) -> None:
        self._root = audit_root
        self._stream = stream

    async def find(
        self,
        actions: Collection[str],
        *,
        where: Mapping[str, object] | None = None,
        limit: int | None = None,
    ) -> list[Mapping[str, Any]]:
        return await anyio.to_thread.run_sync(
            self._find, frozenset(actions), dict(where or {}), limit
        )

    def _find(
        self, actions: frozenset[str], where: dict[str, object], limit: int | None
    ) -> list[Mapping[str, Any]]:
        if not (self._root / self._stream).is_dir():
            return []
        buffer = io.BytesIO()
        query(self._root, self._stream, RecordFilter(actions=actions), out=buffer)
        found: list[Mapping[str, Any]] = []
        for line in buffer.getvalue().splitlines():
            record = orjson.loads(line)
            payload = record.get("payload") or {}
            if all(payload.get(k) == v for k, v in where.items()):
                found.append(record)
        return found[-limit:] if limit is not None else found


class JsonStateStore:
    """:class:`hydra.sdk.StateStore` in one JSON file, rewritten atomically on every change."""

    def __init__(self, path: Path, *, fatal: FatalSignal | None = None) -> None:
        self._path = path
        self._fatal = fatal
        self._data: dict[str, Any] | None = None
        self._lock = anyio.Lock()

    async def _load(self) -> dict[str, Any]:
        if self._data is None:
            raw = await anyio.to_thread.run_sync(read_json, self._path)
            self._data = dict(raw) if isinstance(raw, dict) else {}
        return self._data

    async def get(self, key: str, default: Any = None) -> Any:
        return (await self._load()).get(key, default)

    async def put(self, key: str, value: Any) -> None:
        orjson.dumps(value)  # refuse what cannot be stored before changing anything
        async with self._lock:
            data = dict(await self._load())
            data[key] = value
            await store_json(self._path, data, fatal=self._fatal)
            self._data = data

    async def delete(self, key: str) -> None:
        async with self._lock:
            data = dict(await self._load())
            if data.pop(key, None) is None and key not in (self._data or {}):
                return
            await store_json(self._path, data, fatal=self._fatal)
            self._data = data

    async def items(self) -> dict[str, Any]:
        return dict(await self._load())


class LoopServices:
    """Builds each loop's history, state and escalation desk (cached per loop)."""

    def __init__(
        self,
        audit_root: Path,
        state_dir: Path,
        escalations: EscalationQueue,
        *,
        fatal: FatalSignal | None = None,
    ) -> None:
        self.audit_root = audit_root
        self.fatal = fatal
        self.state_dir = state_dir
        self.escalations = escalations
        self._histories: dict[str, StreamHistory] = {}
        self._states: dict[str, JsonStateStore] = {}

    def history(self, loop: str) -> StreamHistory:
        if loop not in self._histories:
            self._histories[loop] = StreamHistory(self.audit_root, loop)
        return self._histories[loop]

    def state(self, loop: str) -> JsonStateStore:
        if loop not in self._states:
            path = self.state_dir / "loops" / f"{loop}.json"
            self._states[loop] = JsonStateStore(path, fatal=self.fatal)
        return self._states[loop]

    def desk(self, loop: str, run: str | None) -> LoopDesk:
        return self.escalations.desk(loop, run)


async def open_services(
    audit: AuditLog, audit_root: Path, state_dir: Path, *, fatal: FatalSignal | None = None
) -> LoopServices:
    """The services of a daemon whose audit log is ``audit`` (opens the ``escalations`` stream)."""
    stream = await audit.stream("escalations")
    queue = await EscalationQueue.load(state_dir / "escalations.json", stream, fatal=fatal)
    return LoopServices(audit_root, state_dir, queue, fatal=fatal)
