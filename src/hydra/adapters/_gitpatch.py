"""A unified diff read from git up to a byte budget, cut on a line boundary with the marker.

The patch streams in line by line; once the next line would pass ``max_bytes`` the sink stops
git (the Runner ends the call) and the patch ends with :data:`ports.TRUNCATION_MARKER`. Memory
stays bounded by ``max_bytes`` however large the change is.
"""

from __future__ import annotations

from hydra.runner import StdoutLine
from ports import TRUNCATION_MARKER


class PatchSink:
    """Keeps whole lines while they fit in ``max_bytes`` (UTF-8, newline included).

    A line longer than the Runner keeps whole also ends the patch: it is never shown cut.
    """

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max(max_bytes, 0)
        self.lines: list[str] = []
        self.size = 0
        self.stopped = False

    async def __call__(self, line: StdoutLine) -> bool:
        text = line.decode(errors="replace")
        cost = len(text.encode()) + 1 + line.dropped_bytes
        if line.truncated or self.size + cost > self.max_bytes:
            self.stopped = True
            return False
        self.lines.append(text)
        self.size += cost
        return True

    def patch(self) -> str:
        """The patch as collected; with the marker line when it was cut."""
        body = "".join(f"{line}\n" for line in self.lines)
        if self.stopped:
            body += TRUNCATION_MARKER.format(max_bytes=self.max_bytes) + "\n"
        return body
