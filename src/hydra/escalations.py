"""The human-escalation queue: what the factory could not fix and a person must look at.

Every change is audited in the ``escalations`` stream (durable first) and then persisted as a
snapshot in ``<data>/state/escalations.json`` (a failed fsync of it pulls the daemon's fatal
signal). Loops open or update entries by key; operators
acknowledge and resolve them through the API (with a note, audited with the actor).
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import anyio

from hydra.fatal import FatalSignal
from hydra.ids import utc_iso
from hydra.redact import MASK
from hydra.sdk import AuditSink, Escalation, EscalationState
from hydra.statefile import read_json, store_json

_FIELDS = {f.name for f in dataclasses.fields(Escalation)}


class EscalationError(Exception):
    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


class EscalationQueue:
    def __init__(self, path: Path, stream: AuditSink, *, fatal: FatalSignal | None = None) -> None:
        self._path = path
        self._fatal = fatal
        self._stream = stream
        self._items: dict[str, Escalation] = {}
        self._next = 1
        self._lock = anyio.Lock()

    @classmethod
    async def load(
        cls, path: Path, stream: AuditSink, *, fatal: FatalSignal | None = None
    ) -> EscalationQueue:
        queue = cls(path, stream, fatal=fatal)
        raw = await anyio.to_thread.run_sync(read_json, path)
        if isinstance(raw, dict):
            for data in raw.get("items", []):
                item = Escalation(**{k: v for k, v in data.items() if k in _FIELDS})
                queue._items[item.id] = item
            queue._next = int(raw.get("next", len(queue._items) + 1))
        return queue

    # ------------------------------------------------------------------ reading
    def list(self, state: EscalationState | None = None) -> list[Escalation]:
        items = sorted(self._items.values(), key=lambda e: int(e.id.split("-")[1]), reverse=True)
        return [e for e in items if state is None or e.state == state]

    def get(self, escalation_id: str) -> Escalation:
        try:
            return self._items[escalation_id]
        except KeyError:
            raise EscalationError("not_found", f"unknown escalation {escalation_id!r}") from None

    def newest(self, key: str) -> Escalation | None:
        matching = [e for e in self.list() if e.key == key]
        return matching[0] if matching else None

    # ------------------------------------------------------------------ changing
    async def escalate(
        self,
        *,
        loop: str,
        key: str,
        title: str,
        summary: str,
        repo: str | None = None,
        details: Mapping[str, Any] | None = None,
        run: str | None = None,
    ) -> Escalation:
        async with self._lock:
            now = utc_iso(time.time())
            current = self.newest(key)
            if current is not None and current.state != "resolved":
                item = dataclasses.replace(
                    current,
                    title=title,
                    summary=summary,
                    details=dict(details or {}),
                    updated_at=now,
                )
                action = "escalation.updated"
            else:
                item = Escalation(
                    id=f"esc-{self._next}",
                    key=key,
                    loop=loop,
                    title=title,
                    summary=summary,
                    state="open",
                    created_at=now,
                    updated_at=now,
                    repo=repo,
                    details=dict(details or {}),
                )
                self._next += 1
                action = "escalation.opened"
            recorded = await self._record(action, f"loop:{loop}", item, run)
            return await self._store(recorded)

    async def transition(
        self, escalation_id: str, *, to: EscalationState, actor: str, note: str
    ) -> Escalation:
        """Acknowledge or resolve an entry (with a note); idempotent for the same state."""
        if not note.strip():
            raise EscalationError("invalid", "note is required")
        async with self._lock:
            current = self.get(escalation_id)
            if current.state == to:
                return current
            if current.state == "resolved":
                raise EscalationError("conflict", f"escalation {escalation_id} is already resolved")
            item = dataclasses.replace(
                current, state=to, note=note, by=actor, updated_at=utc_iso(time.time())
            )
            action = "escalation.acknowledged" if to == "acknowledged" else "escalation.resolved"
            recorded = await self._record(action, actor, item, None)
            return await self._store(recorded)

    async def _record(
        self, action: str, actor: str, item: Escalation, run: str | None
    ) -> Escalation:
        """Audit ``item`` and return it as recorded: its free text (title, summary, details,
        note) went through the audit log's redaction, and that version is what is stored and
        served, so a secret a loop put there never reaches ``escalations.json``. A text field
        the redaction turned into something else is stored as ``[REDACTED]`` (fail closed).
        Identity and state (id, key, loop, repo, state, times) stay as written: a key rewritten
        by redaction would no longer match, and open a duplicate every tick (the API redacts
        them when serving)."""
        record = await self._stream.append(action, actor=actor, payload=_payload(item), run=run)
        if record is None:  # a sink that returns no record (tests' sinks)
            return item
        payload = record.get("payload") if isinstance(record, Mapping) else None
        written = payload if isinstance(payload, Mapping) else {}

        def text(name: str) -> str:
            value = written.get(name)
            return value if isinstance(value, str) else MASK

        note = None if item.note is None else text("note")
        details = written.get("details")
        return dataclasses.replace(
            item,
            title=text("title"),
            summary=text("summary"),
            note=note,
            details=dict(details) if isinstance(details, Mapping) else {},
        )

    async def _store(self, item: Escalation) -> Escalation:
        items = {**self._items, item.id: item}
        snapshot = {"next": self._next, "items": [dataclasses.asdict(e) for e in items.values()]}
        await store_json(self._path, snapshot, fatal=self._fatal)
        self._items = items
        return item

    def desk(self, loop: str, run: str | None = None) -> LoopDesk:
        return LoopDesk(self, loop, run)


class LoopDesk:
    """:class:`hydra.sdk.EscalationDesk` for one loop's tick."""

    def __init__(self, queue: EscalationQueue, loop: str, run: str | None) -> None:
        self._queue = queue
        self._loop = loop
        self._run = run

    async def escalate(
        self,
        *,
        key: str,
        title: str,
        summary: str,
        repo: str | None = None,
        details: Mapping[str, Any] | None = None,
    ) -> Escalation:
        return await self._queue.escalate(
            loop=self._loop,
            key=key,
            title=title,
            summary=summary,
            repo=repo,
            details=details,
            run=self._run,
        )

    async def find(self, key: str) -> Escalation | None:
        return self._queue.newest(key)


def _payload(item: Escalation) -> dict[str, Any]:
    data = dataclasses.asdict(item)
    data["details"] = dict(item.details)
    return data
