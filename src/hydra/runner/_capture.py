"""Bounded capture of a child's output, and the stdout line splitter for streaming hooks.

A child may print without limit; the daemon keeps only the first ``head`` and the last
``tail`` bytes of each stream and counts what it dropped, so memory per call is bounded
no matter what the child does.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

__all__ = ["Captured", "HeadTailBuffer", "LineSplitter", "StdoutLine"]

EMPTY_BYTES: Final = b""


@dataclass(frozen=True, slots=True)
class Captured:
    """What was kept of one output stream.

    ``head`` is the first bytes the child wrote, ``tail`` the last bytes after them
    (the two never overlap); ``dropped_bytes`` were between them and are gone.
    """

    head: bytes = EMPTY_BYTES
    tail: bytes = EMPTY_BYTES
    total_bytes: int = 0
    dropped_bytes: int = 0

    @property
    def complete(self) -> bool:
        """Whether nothing was dropped (``head + tail`` is the whole stream)."""
        return self.dropped_bytes == 0

    def text(self, encoding: str = "utf-8") -> str:
        """The kept output as text, with a marker where bytes were dropped.

        Undecodable bytes become U+FFFD; decoding never raises.
        """
        if self.complete:
            return (self.head + self.tail).decode(encoding, errors="replace")
        marker = f"\n…[{self.dropped_bytes} bytes dropped]…\n"
        return (
            self.head.decode(encoding, errors="replace")
            + marker
            + self.tail.decode(encoding, errors="replace")
        )


class HeadTailBuffer:
    """Keeps the first ``head_limit`` and the last ``tail_limit`` bytes fed to it."""

    __slots__ = ("_head", "_head_limit", "_tail", "_tail_limit", "_total")

    def __init__(self, head_limit: int, tail_limit: int) -> None:
        if head_limit < 0 or tail_limit < 0:
            msg = "capture limits must be >= 0"
            raise ValueError(msg)
        self._head_limit = head_limit
        self._tail_limit = tail_limit
        self._head = bytearray()
        self._tail = bytearray()
        self._total = 0

    def feed(self, chunk: bytes) -> None:
        self._total += len(chunk)
        room = self._head_limit - len(self._head)
        if room > 0:
            self._head += chunk[:room]
            chunk = chunk[room:]
        if not chunk or self._tail_limit == 0:
            return
        if len(chunk) >= self._tail_limit:
            self._tail[:] = chunk[-self._tail_limit :]
            return
        self._tail += chunk
        excess = len(self._tail) - self._tail_limit
        if excess > 0:
            del self._tail[:excess]

    def snapshot(self) -> Captured:
        kept = len(self._head) + len(self._tail)
        return Captured(bytes(self._head), bytes(self._tail), self._total, self._total - kept)


class StdoutLine(bytes):
    """One stdout line as handed to ``on_stdout_line``: the bytes without the ``\\n``.

    A ``bytes`` subclass, so a hook typed ``(line: bytes)`` works unchanged. When the
    line was longer than the runner's line limit, only its first bytes are here and
    ``truncated``/``dropped_bytes`` say so.
    """

    dropped_bytes: int

    def __new__(cls, data: bytes, dropped_bytes: int = 0) -> StdoutLine:
        line = super().__new__(cls, data)
        line.dropped_bytes = dropped_bytes
        return line

    @property
    def truncated(self) -> bool:
        return self.dropped_bytes > 0


class LineSplitter:
    """Splits a byte stream into `StdoutLine` s of at most ``max_line`` bytes each.

    Memory is bounded by ``max_line`` plus one chunk: the overlong rest of a line is
    counted, not kept.
    """

    __slots__ = ("_dropped", "_max_line", "_pending")

    def __init__(self, max_line: int) -> None:
        if max_line < 1:
            msg = "max_line must be >= 1"
            raise ValueError(msg)
        self._max_line = max_line
        self._pending = bytearray()
        self._dropped = 0

    def feed(self, chunk: bytes) -> list[StdoutLine]:
        """The lines completed by ``chunk``, in order."""
        lines: list[StdoutLine] = []
        start = 0
        while True:
            end = chunk.find(b"\n", start)
            if end < 0:
                self._keep(chunk, start, len(chunk))
                return lines
            self._keep(chunk, start, end)
            lines.append(self._emit())
            start = end + 1

    def flush(self) -> StdoutLine | None:
        """The unterminated last line at end of stream, if there is one."""
        if not self._pending and not self._dropped:
            return None
        return self._emit()

    def _keep(self, chunk: bytes, start: int, end: int) -> None:
        room = self._max_line - len(self._pending)
        take = min(room, end - start)
        if take > 0:
            self._pending += chunk[start : start + take]
        self._dropped += (end - start) - max(take, 0)

    def _emit(self) -> StdoutLine:
        line = StdoutLine(bytes(self._pending), self._dropped)
        self._pending.clear()
        self._dropped = 0
        return line
