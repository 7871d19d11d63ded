"""The transcript of one agent run: its stream's events as JSONL, bounded, redacted, pruned.

Events are kept in memory while the run streams (the first ``max_bytes / 2`` and the last
``max_bytes / 2``, a marker recording what was dropped between them; an event larger than
``max_event_bytes`` is replaced by a stub naming its type and size) and written once, in a
worker thread, when the run ends however it ends. Every line passes the secret redactor.
The directory keeps the newest ``keep`` transcripts; older ones are deleted on each write.

A transcript starts with a ``hydra.run`` record (provider, source, model, argv, prompt) and
ends with a ``hydra.end`` record (status, summary, cost, tokens, how the cost was metered).
"""

from __future__ import annotations

import os
import re
import secrets
from collections import deque
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

import anyio
import orjson

from hydra.redact import Redactor

__all__ = ["SUFFIX", "Transcript"]

SUFFIX: Final = ".jsonl"
_NAME: Final = re.compile(r"\d{8}T\d{6}\.\d{6}Z-[a-z]+-[A-Za-z0-9_.-]*-[0-9a-f]{8}\.jsonl")
_SAVE_LIMIT_S: Final = 5.0
_PROMPT_CHARS: Final = 16 * 1024
_RAW_CHARS: Final = 2 * 1024

Event = dict[str, Any]


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", text)[:40]


class Transcript:
    """One run's event log; `add` each stdout line, then `save` once."""

    def __init__(
        self,
        directory: Path,
        *,
        provider: str,
        source: str,
        max_bytes: int,
        keep: int,
        redactor: Redactor,
        max_event_bytes: int = 64 * 1024,
    ) -> None:
        self._dir = directory
        self._provider = provider
        self._source = source
        self._keep = keep
        self._redactor = redactor
        self._half = max(max_bytes // 2, 1)
        self._max_event = max_event_bytes
        self._head: list[bytes] = []
        self._head_size = 0
        self._tail: deque[bytes] = deque()
        self._tail_size = 0
        self._dropped = 0
        self._dropped_bytes = 0
        self._notes: list[bytes] = []

    def start(self, **fields: Any) -> None:
        """The ``hydra.run`` header (the prompt is cut at 16 KiB)."""
        prompt = str(fields.pop("prompt", ""))
        self._keep_line(
            self._encode({"type": "hydra.run", **fields, "prompt": prompt[:_PROMPT_CHARS]})
        )

    def add(self, line: bytes) -> Event | None:
        """Keep one stdout line; returns it parsed when it is a JSON object."""
        try:
            event = orjson.loads(line)
        except orjson.JSONDecodeError:
            text = line[:_RAW_CHARS].decode(errors="replace")
            self._keep_line(self._encode({"type": "hydra.raw", "text": text}))
            return None
        if not isinstance(event, dict):
            return None
        if len(line) > self._max_event:
            stub = {"type": "hydra.elided", "event_type": event.get("type"), "bytes": len(line)}
            self._keep_line(self._encode(stub))
        else:
            self._keep_line(self._redactor.redact_text(line.decode(errors="replace")).encode())
        return event

    def finish(self, **fields: Any) -> None:
        """The ``hydra.end`` footer (always kept, after any dropped middle)."""
        self._notes.append(self._encode({"type": "hydra.end", **fields}))

    async def save(self) -> str | None:
        """Write the file and prune old ones; the path, or ``None`` if it could not be written.

        Runs shielded and time-limited, so a cancelled run still leaves its transcript.
        """
        with anyio.CancelScope(shield=True), anyio.move_on_after(_SAVE_LIMIT_S):
            try:
                return await anyio.to_thread.run_sync(self._write)
            except OSError:
                return None
        return None

    # ------------------------------------------------------------------ internals
    def _encode(self, record: Event) -> bytes:
        return orjson.dumps(self._redactor.redact(record), default=str)

    def _keep_line(self, line: bytes) -> None:
        if self._head_size + len(line) <= self._half and not self._tail:
            self._head.append(line)
            self._head_size += len(line) + 1
            return
        self._tail.append(line)
        self._tail_size += len(line) + 1
        while self._tail_size > self._half and len(self._tail) > 1:
            gone = self._tail.popleft()
            self._tail_size -= len(gone) + 1
            self._dropped += 1
            self._dropped_bytes += len(gone) + 1

    def _lines(self) -> list[bytes]:
        lines = list(self._head)
        if self._dropped:
            marker = {
                "type": "hydra.dropped",
                "events": self._dropped,
                "bytes": self._dropped_bytes,
            }
            lines.append(orjson.dumps(marker))
        return [*lines, *self._tail, *self._notes]

    def _write(self) -> str:
        self._dir.mkdir(parents=True, exist_ok=True)
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S.%fZ")
        name = f"{stamp}-{self._provider}-{_slug(self._source)}-{secrets.token_hex(4)}{SUFFIX}"
        path = self._dir / name
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as out:
            out.write(b"\n".join(self._lines()) + b"\n")
        self._prune()
        return str(path)

    def _prune(self) -> None:
        names = sorted(p.name for p in self._dir.iterdir() if _NAME.fullmatch(p.name))
        for name in names[: max(len(names) - self._keep, 0)]:
            (self._dir / name).unlink(missing_ok=True)
