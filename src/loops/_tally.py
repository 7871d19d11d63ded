"""Counting what a tick did, with a fixed set of keys so dashboards show zeros too."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final

__all__ = ["MAX_ERRORS", "Tally"]

MAX_ERRORS: Final = 20
"""Error lines kept in a tick result (the count keeps counting)."""


class Tally:
    def __init__(self, keys: Iterable[str]) -> None:
        self.counts: dict[str, int] = dict.fromkeys(keys, 0)
        self.errors: list[str] = []

    def add(self, key: str, n: int = 1) -> None:
        self.counts[key] = self.counts.get(key, 0) + n

    def __getitem__(self, key: str) -> int:
        return self.counts.get(key, 0)

    def error(self, message: str) -> None:
        self.add("errors")
        if len(self.errors) < MAX_ERRORS:
            self.errors.append(message)
