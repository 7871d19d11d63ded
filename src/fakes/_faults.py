"""Failure injection shared by the Fakes: make the next call(s) of a port method raise.

Loops must cope with a tracker that is down, a merge that conflicts, credentials that expire.
A test says so up front (``fake.faults.inject("get_issue", PortError("failed", "boom"))``)
and then asserts on what the loop did about it.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable


class Faults:
    """Errors queued per method name; each queued error is raised by exactly one call."""

    def __init__(self, methods: Iterable[str]) -> None:
        self._methods = frozenset(methods)
        self._queued: dict[str, deque[BaseException]] = {}

    def inject(self, method: str, error: BaseException, *, times: int = 1) -> None:
        """Make the next ``times`` calls of ``method`` raise ``error``."""
        if method not in self._methods:
            known = ", ".join(sorted(self._methods))
            raise ValueError(f"unknown method {method!r}; this fake has: {known}")
        if times < 1:
            raise ValueError("times must be at least 1")
        self._queued.setdefault(method, deque()).extend([error] * times)

    def pending(self, method: str) -> int:
        """How many injected errors ``method`` has not raised yet."""
        return len(self._queued.get(method, ()))

    def clear(self) -> None:
        self._queued.clear()

    def check(self, method: str) -> None:
        """Raise the next error queued for ``method``, if any (called by the Fakes)."""
        queue = self._queued.get(method)
        if queue:
            raise queue.popleft().with_traceback(None)
